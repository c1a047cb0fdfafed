"""The public Python API that composes the packages: ``load`` an architecture from a zoo name, a file or text."""

from __future__ import annotations

from pathlib import Path

from nasbench.architecture import Architecture
from nasbench.files import read_text_file
from search_spaces import zoo


def load(source: str | Path | Architecture) -> Architecture:
    """An Architecture from a zoo name (``resnet50``), a path to a YAML/JSON genome, or YAML/JSON text."""
    if isinstance(source, Architecture):
        return source
    text = str(source)
    path = Path(text)
    if "\n" not in text and path.suffix.lower() in {".yaml", ".yml", ".json"}:
        content = read_text_file(path, "genome")
        return Architecture.from_json(content) if path.suffix.lower() == ".json" else Architecture.from_yaml(content)
    if "\n" in text or ":" in text:
        return Architecture.from_json(text) if text.lstrip().startswith("{") else Architecture.from_yaml(text)
    return zoo.get(text)
