"""The zoo registry: hand-designed networks registered by name, as timm registers models.

A zoo factory returns an Architecture built only from the genome. It takes keyword options, always including
``num_classes``, ``input_shape`` and ``width_mult``; at ``input_shape=(3, 224, 224)`` (299 for Inception), 1000 classes
and ``width_mult=1.0`` it is the published ImageNet network. For a small input it removes early reductions (as the CIFAR
variants of ResNet do) so that no spatial size drops below 1. ``get`` records the name and options in ``arch.meta`` so
that ``adapt`` can rebuild the same network for another dataset.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from nasbench.architecture import Architecture
from nasbench.errors import NasbenchError
from nasbench.registry import Registry

Factory = Callable[..., Architecture]


@dataclass(frozen=True)
class ZooEntry:
    """A registered network: its factory, family, paper and the published figures it must reproduce."""

    name: str
    factory: Factory
    family: str
    paper: str
    options: dict[str, Any] = field(default_factory=dict)  # factory options that define this entry (depth, ...)
    params: int | None = None  # published parameter count at the default configuration
    macs: float | None = None  # published multiply-accumulates at the default configuration
    exact: bool = False  # the published parameter count must match exactly (torchvision's metadata)
    tolerance: float = 0.03  # relative tolerance when not exact
    plain: bool = False  # deep and without normalization: ``adapt`` gives its conv_relu layers batch norm


# Importing the family modules registers their networks, on the first lookup, so that the registry module stays light.
REGISTRY: Registry[ZooEntry] = Registry("zoo network", builtins=("search_spaces.zoo.networks",))


def register(name: str, *, family: str, paper: str, params: int | None = None, macs: float | None = None,
             exact: bool = False, tolerance: float = 0.03, plain: bool = False,
             **options: Any) -> Callable[[Factory], Factory]:
    """Register ``factory(**options)`` as zoo network ``name``; stackable to register variants of one factory."""

    def decorate(factory: Factory) -> Factory:
        REGISTRY.register(name, ZooEntry(name, factory, family, paper, dict(options), params, macs, exact, tolerance,
                                         plain))
        return factory

    return decorate


def names() -> list[str]:
    """Names of all registered zoo networks."""
    return REGISTRY.names()


def entry(name: str) -> ZooEntry:
    """The registry entry of ``name``; an unknown name raises NasbenchError listing close matches."""
    return REGISTRY.get(name)


def get(name: str, **options: Any) -> Architecture:
    """Build zoo network ``name``; ``options`` override the entry's (``num_classes``, ``input_shape``, ...)."""
    item = entry(name)
    merged = {**item.options, **options}
    arch = item.factory(**merged)
    arch.name = name if not options else arch.name
    arch.meta.setdefault("family", item.family)
    arch.meta.setdefault("paper", item.paper)
    arch.meta["zoo"] = {"name": name, "options": _plain(options)}
    return arch


def adapt(arch: Architecture, input_shape: Sequence[int], num_classes: int, width_mult: float = 1.0,
          batch_norm: bool | None = None) -> Architecture:
    """Rebuild a zoo network for a small dataset.

    Input channels and classes change, early reductions are removed where the input is small, widths scale by
    ``width_mult``. ``batch_norm`` (default: for the entries registered ``plain``) gives every conv_relu layer batch
    norm (``conv_bn_relu``): a deep network without normalization does not train from scratch on a small task in a
    few epochs (SqueezeNet 1.1, Highway and GoogLeNet stayed at chance on digits in 3 epochs: 7.8 %, 16.7 %, 9.2 %),
    as the later versions of each, with batch norm, do.
    """
    record = arch.meta.get("zoo")
    if not record:
        raise NasbenchError(f"cannot adapt {arch.name!r}: it was not built from the zoo (no meta.zoo record)")
    options = {**record.get("options", {}), "input_shape": tuple(int(x) for x in input_shape),
               "num_classes": int(num_classes), "width_mult": float(width_mult)}
    adapted = get(record["name"], **options)
    adapted.name = f"{record['name']}_adapted"
    if entry(record["name"]).plain if batch_norm is None else batch_norm:
        with_batch_norm(adapted)
        adapted.meta["adapted"] = {"batch_norm": True}
    return adapted


def with_batch_norm(arch: Architecture) -> Architecture:
    """Give every ``conv_relu`` layer of ``arch`` (network and cell templates) batch norm, in place; returns it."""
    for _, graph in arch.graphs():
        for name in graph.nodes():
            node = graph.node(name)
            if node.get("op") == "conv_relu":
                node["op"] = "conv_bn_relu"
                node["args"].pop("bias", None)  # batch norm's shift replaces the bias
    return arch


def _plain(options: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}
