"""Registry of search spaces: built-in names, YAML space files and ``module:attr`` references.

A space registers itself with ``@register_space("name")`` on its class (which sets the class's ``name``) or on a
factory returning a SearchSpace; the built-in space modules are imported on the first lookup.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from nasbench.errors import NasbenchError
from nasbench.registry import Registry, bind_options
from search_spaces.base import SearchSpace
from search_spaces.custom import load_space_file

SpaceFactory = Callable[..., SearchSpace]
SPACES: Registry[SpaceFactory] = Registry("search space", builtins=(
    "search_spaces.darts",
    "search_spaces.enas_macro",
    "search_spaces.graph",
    "search_spaces.mobilenet_space",
    "search_spaces.nasnet",
    "search_spaces.nb101",
    "search_spaces.nb201",
))
register_space = SPACES.register


def names() -> list[str]:
    """Names of the registered spaces."""
    return SPACES.names()


def get(name_or_path: str | SearchSpace, input_shape: Sequence[int] = (3, 32, 32), num_classes: int = 10,
        **options: Any) -> SearchSpace:
    """A space from a registered name, a YAML space file, or ``module:attr`` (a SearchSpace, class or factory).

    An unknown name or an option the space does not take is a one-line NasbenchError.
    """
    if isinstance(name_or_path, SearchSpace):
        return name_or_path
    text = str(name_or_path)
    if text in SPACES:
        return SPACES.create(text, input_shape=input_shape, num_classes=num_classes, **options)
    if text.endswith((".yaml", ".yml")):
        return load_space_file(Path(text), input_shape=input_shape, num_classes=num_classes)
    if ":" in text:
        return _from_reference(text, input_shape, num_classes, options)
    raise NasbenchError(f"{SPACES.unknown(text)}; or give a .yaml space file or module:attr")


def _from_reference(text: str, input_shape: Sequence[int], num_classes: int, options: dict[str, Any]) -> SearchSpace:
    module_name, _, attr = text.partition(":")
    try:
        target = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as error:
        raise NasbenchError(f"cannot load search space {text!r}: {error}") from None
    if isinstance(target, SearchSpace):
        return target
    if callable(target):
        bind_options(target, f"search space {text!r}", input_shape=input_shape, num_classes=num_classes, **options)
        space = target(input_shape=input_shape, num_classes=num_classes, **options)
        if isinstance(space, SearchSpace):
            return space
    raise NasbenchError(f"{text!r} is not a SearchSpace, a SearchSpace class or a factory returning one")
