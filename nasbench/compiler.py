"""Compile an Architecture to a PyTorch module with a straight-line forward (a ``torch.fx.GraphModule``).

Every layer's module sits at its lowered path (``layer1.0.conv1``); ``nn.Sequential`` op modules are unrolled into the
graph so that the generated forward calls each conv, norm and activation directly, as a hand-written model does.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Sequence

import torch
from torch import fx, nn

from nasbench.architecture import Architecture
from nasbench.cell import NETWORK_INPUT
from nasbench.lowering import Layer, Lowered
from nasbench.ops import get_op


def highway_gate(h: torch.Tensor, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """HighwayNet's gate: ``h * T + x * (1 - T)`` with the transform gate ``T = sigmoid(t)``."""
    gate = torch.sigmoid(t)
    return h * gate + x * (1.0 - gate)


class WithAuxiliaryHeads(nn.Module):
    """A network with auxiliary heads: in training it returns ``(logits, aux_1, ...)``, in eval the logits alone.

    Eval runs a second straight-line graph that leaves the heads out; it calls the same modules, so it is kept out of
    the module tree (one set of parameters, one state dict).
    """

    def __init__(self, training_graph: fx.GraphModule, inference_graph: fx.GraphModule) -> None:
        super().__init__()
        self.net = training_graph
        object.__setattr__(self, "inference_graph", inference_graph)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        return self.net(x) if self.training else self.inference_graph(x)


def _set_module(root: nn.Module, path: str, module: nn.Module) -> None:
    parent = root
    *parents, leaf = path.split(".")
    for name in parents:
        if not hasattr(parent, name):
            parent.add_module(name, nn.Module())
        parent = getattr(parent, name)
    parent.add_module(leaf, module)


def _emit_merge(graph: fx.Graph, layer: Layer, values: Sequence[fx.Node]) -> fx.Node:
    if layer.merge is None:
        return values[0]
    if layer.merge == "concat":
        return graph.call_function(torch.cat, (list(values), 1))
    if layer.merge == "gate":
        return graph.call_function(highway_gate, tuple(values))
    total = values[0]
    for value in values[1:]:
        total = graph.call_function(operator.add, (total, value))
    if layer.merge == "mean":
        total = graph.call_function(operator.mul, (total, 1.0 / len(values)))
    return total


def _init_weights(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def compile_lowered(lowered: Lowered, name: str = "Network", aux: bool = True) -> nn.Module:
    """Build the module for a lowered architecture (random initialization: seed the RNG first)."""
    root = nn.Module()
    layers = [layer for layer in lowered.layers if aux or not layer.aux]
    for layer in layers:
        if layer.op == "identity":
            continue
        module = get_op(layer.op).build(layer.in_shape, layer.args)
        if isinstance(module, (nn.ReLU, nn.ReLU6)) and layer.merge is not None and len(layer.inputs) > 1:
            # The merge produced a fresh tensor that nothing else reads, so the activation may overwrite it.
            module.inplace = True
        _set_module(root, layer.path, module)
    _init_weights(root)
    class_name = re.sub(r"\W", "_", name) or "Network"
    if class_name[0].isdigit():
        class_name = f"Net_{class_name}"
    main = [layer for layer in layers if not layer.aux]
    if not aux or not lowered.aux_outputs:
        return fx.GraphModule(root, _trace(root, main, [lowered.output]), class_name=class_name)
    training = fx.GraphModule(root, _trace(root, layers, [lowered.output, *lowered.aux_outputs]), class_name=class_name)
    inference = fx.GraphModule(root, _trace(root, main, [lowered.output]), class_name=class_name)
    return WithAuxiliaryHeads(training, inference)


def _trace(root: nn.Module, layers: Sequence[Layer], outputs: Sequence[str]) -> fx.Graph:
    """The straight-line graph calling ``root``'s modules for ``layers``; one output or a tuple of them."""
    graph = fx.Graph()
    values: dict[str, fx.Node] = {NETWORK_INPUT: graph.placeholder("x")}
    for layer in layers:
        merged = _emit_merge(graph, layer, [values[source] for source in layer.inputs])
        if layer.op == "identity":
            values[layer.path] = merged
            continue
        module = root.get_submodule(layer.path)
        if isinstance(module, nn.Sequential):
            value = merged
            for index in range(len(module)):
                value = graph.call_module(f"{layer.path}.{index}", (value,))
            values[layer.path] = value
        else:
            values[layer.path] = graph.call_module(layer.path, (merged,))
    results = [values[path] for path in outputs]
    graph.output(results[0] if len(results) == 1 else tuple(results))
    return graph


def build(arch: Architecture, seed: int | None = 0, input_shape: Sequence[int] | None = None,
          aux: bool = True) -> nn.Module:
    """Compile ``arch`` to a ``torch.nn.Module``, initialized deterministically from ``seed`` (None: the global RNG).

    ``input_shape`` builds for another input size than the genome's (the layer widths that depend on it, such as the
    first linear layer after a flatten, follow). With ``aux=False`` auxiliary heads are left out.
    """
    lowered = arch.lower(input_shape)
    if seed is None:
        return compile_lowered(lowered, arch.name, aux)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return compile_lowered(lowered, arch.name, aux)
