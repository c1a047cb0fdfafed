"""Registry of search spaces: built-in names, YAML space files and ``module:attr`` references."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from nasbench.errors import NasbenchError
from search_spaces.base import SearchSpace

SpaceFactory = Callable[..., SearchSpace]
_SPACES: dict[str, SpaceFactory] = {}


def register_space(name: str) -> Callable[[SpaceFactory], SpaceFactory]:
    """Register a SearchSpace subclass (or a factory returning one) under ``name``."""

    def decorate(factory: SpaceFactory) -> SpaceFactory:
        if name in _SPACES:
            raise ValueError(f"search space {name!r} is already registered")
        _SPACES[name] = factory
        return factory

    return decorate


def names() -> list[str]:
    """Names of the registered spaces."""
    _load_builtin()
    return sorted(_SPACES)


def get(name_or_path: str | SearchSpace, input_shape: Sequence[int] = (3, 32, 32), num_classes: int = 10,
        **options: Any) -> SearchSpace:
    """A space from a registered name, a YAML space file, or ``module:attr`` (a SearchSpace, class or factory)."""
    if isinstance(name_or_path, SearchSpace):
        return name_or_path
    _load_builtin()
    text = str(name_or_path)
    if text in _SPACES:
        return _SPACES[text](input_shape=input_shape, num_classes=num_classes, **options)
    if text.endswith((".yaml", ".yml")):
        from search_spaces.custom import load_space_file

        return load_space_file(Path(text), input_shape=input_shape, num_classes=num_classes)
    if ":" in text:
        return _from_reference(text, input_shape, num_classes, options)
    raise NasbenchError(f"unknown search space {text!r} (registered: {', '.join(sorted(_SPACES))}; "
                        "or give a .yaml file or module:attr)")


def _from_reference(text: str, input_shape: Sequence[int], num_classes: int, options: dict[str, Any]) -> SearchSpace:
    module_name, _, attr = text.partition(":")
    try:
        target = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as error:
        raise NasbenchError(f"cannot load search space {text!r}: {error}") from None
    if isinstance(target, SearchSpace):
        return target
    if callable(target):
        space = target(input_shape=input_shape, num_classes=num_classes, **options)
        if isinstance(space, SearchSpace):
            return space
    raise NasbenchError(f"{text!r} is not a SearchSpace, a SearchSpace class or a factory returning one")


def _load_builtin() -> None:
    # Importing the module of each built-in space registers it.
    import search_spaces.builtin  # noqa: F401
