"""Trained weights of evaluated candidates, one file per architecture hash in a folder beside the study.

A state dict is written as safetensors where the ``safetensors`` package is installed (``<hash>.safetensors``),
else with ``torch.save`` (``<hash>.pt``, read back with ``weights_only=True``). Tensors are moved to the CPU first,
so that weights trained on a GPU load anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch

from nasbench.errors import NasbenchError
from nasbench.files import atomic_write

WEIGHTS_SUFFIX = ".weights"
SUFFIXES = (".safetensors", ".pt")


def _safetensors() -> object | None:
    try:
        import safetensors.torch
    except ImportError:
        return None
    return safetensors.torch


class WeightStore:
    """The weights of a search's candidates in ``folder``, by architecture hash."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def path(self, arch_hash: str) -> Path | None:
        """The file holding ``arch_hash``'s weights (None if none is kept)."""
        return next((self.folder / f"{arch_hash}{suffix}" for suffix in SUFFIXES
                     if (self.folder / f"{arch_hash}{suffix}").is_file()), None)

    def save(self, arch_hash: str, state: dict[str, torch.Tensor]) -> Path:
        """Write ``state`` for ``arch_hash`` (whole or not at all: ``atomic_write``)."""
        return save_state(state, self.folder / arch_hash)

    def load(self, arch_hash: str) -> dict[str, torch.Tensor] | None:
        """The state dict kept for ``arch_hash`` (None if none is)."""
        path = self.path(arch_hash)
        return None if path is None else load_state(path)

    def hashes(self) -> set[str]:
        """The hashes whose weights are kept."""
        if not self.folder.is_dir():
            return set()
        return {path.name.split(".")[0] for path in self.folder.iterdir() if path.suffix in SUFFIXES}

    def discard(self, hashes: Iterable[str]) -> None:
        """Delete the weights of ``hashes`` (those not kept are ignored)."""
        for arch_hash in hashes:
            for suffix in SUFFIXES:
                (self.folder / f"{arch_hash}{suffix}").unlink(missing_ok=True)


def save_state(state: dict[str, torch.Tensor], stem: str | Path) -> Path:
    """Write a state dict to ``<stem>.safetensors`` (or ``<stem>.pt`` without safetensors); the path written."""
    tensors = {key: value.detach().cpu().contiguous() for key, value in state.items()}
    backend = _safetensors()
    if backend is None:
        return atomic_write(Path(f"{stem}{SUFFIXES[1]}"), lambda partial: torch.save(tensors, partial))
    return atomic_write(Path(f"{stem}{SUFFIXES[0]}"),
                        lambda partial: backend.save_file(tensors, str(partial)))  # type: ignore[attr-defined]


def load_state(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from a safetensors file or a ``torch.save`` file (tensors only: ``weights_only=True``)."""
    path = Path(path)
    if path.suffix == ".safetensors":
        backend = _safetensors()
        if backend is None:
            raise NasbenchError(f"{path} is a safetensors file: pip install safetensors")
        return backend.load_file(str(path))  # type: ignore[attr-defined]
    return torch.load(path, map_location="cpu", weights_only=True)
