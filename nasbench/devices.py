"""Where training runs: the device (``auto`` = CUDA when visible) and mixed precision on CUDA.

Shared by every training loop: the evaluators' and the one-shot strategies' supernet jobs.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; anything else as torch spells it."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class Precision:
    """Mixed precision on CUDA: bfloat16 autocast where supported, else float16 with a GradScaler; off elsewhere."""

    def __init__(self, device: torch.device, enabled: bool) -> None:
        self.device_type = device.type
        self.enabled = enabled and device.type == "cuda"
        self.dtype = torch.bfloat16 if self.enabled and torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.enabled and self.dtype == torch.float16)

    def autocast(self) -> torch.autocast | nullcontext:
        """The autocast context for a forward pass (a no-op when mixed precision is off)."""
        return torch.autocast(self.device_type, dtype=self.dtype) if self.enabled else nullcontext()
