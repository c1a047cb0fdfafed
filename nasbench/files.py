"""Files written whole or not at all, and a user's text files read with a clear error for what is not one.

A process killed while writing never leaves half a checkpoint behind; a genome, space or config file that is
missing, empty, huge or binary is a one-line NasbenchError, not a decoding traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from nasbench.errors import NasbenchError

MAX_TEXT_BYTES = 16 * 1024 * 1024  # a genome of the largest zoo network is under 200 KB


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


def read_text_file(path: str | Path, what: str) -> str:
    """The UTF-8 text of ``what`` file ``path``; missing, empty, huge or binary files are one-line NasbenchErrors."""
    path = Path(path)
    if not path.is_file():
        raise NasbenchError(f"{what} file not found: {path}")
    size = path.stat().st_size
    if size == 0:
        raise NasbenchError(f"{what} file {path} is empty")
    if size > MAX_TEXT_BYTES:
        raise NasbenchError(f"{what} file {path} is {size:,} bytes, over the {MAX_TEXT_BYTES:,}-byte limit for a "
                            f"{what} file")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        byte = error.object[error.start]
        raise NasbenchError(f"{what} file {path} is not UTF-8 text (byte {error.start} is {byte:#04x})") from None
    if not text.strip():
        raise NasbenchError(f"{what} file {path} is empty")
    return text
