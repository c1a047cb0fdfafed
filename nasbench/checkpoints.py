"""Files written whole or not at all: a process killed while writing never leaves half a checkpoint behind."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write`` on a temporary file beside ``path`` (folders created), then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    write(partial)
    os.replace(partial, path)
    return path


def atomic_save(payload: Any, path: str | Path) -> Path:
    """``torch.save`` of ``payload`` to ``path`` through ``atomic_write``."""
    return atomic_write(path, lambda partial: torch.save(payload, partial))
