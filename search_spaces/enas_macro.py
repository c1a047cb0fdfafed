"""ENAS's macro search space (Pham et al. 2018, section 2.3): a whole network chosen layer by layer.

Each of the ``layers`` layers applies one of six ops (conv 3x3/5x5, separable conv 3x3/5x5, max/avg pool 3x3) to the
previous layer and picks a subset of the earlier layers as skip connections; the skipped-in outputs are concatenated
with the op's output along the channels and a 1x1 conv brings the width back to C. After layers
``layers//3 - 1`` and ``2*layers//3 - 1`` every earlier output is reduced (factorized reduce, stride 2) and the width
doubles, as in ENAS's macro child network.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from nasbench.architecture import Architecture
from nasbench.cell import NETWORK_INPUT, Cell
from nasbench.errors import NasbenchError
from nasbench.ops import get_op
from nasbench.ops.layers import FactorizedReduce
from search_spaces.base import Variable
from search_spaces.custom import RecordedChoiceSpace
from search_spaces.registry import register_space
from search_spaces.supernet import Active, MixedOp, Supernet, _search_op, genome_module

OPS: dict[str, tuple[str, dict[str, Any]]] = {
    "conv_3x3": ("conv_bn_relu", {"kernel": 3}),
    "conv_5x5": ("conv_bn_relu", {"kernel": 5}),
    "sep_conv_3x3": ("dw_sep_conv", {"kernel": 3}),
    "sep_conv_5x5": ("dw_sep_conv", {"kernel": 5}),
    "max_pool_3x3": ("max_pool", {"kernel": 3}),
    "avg_pool_3x3": ("avg_pool", {"kernel": 3}),
}


def _layer_args(op: str, args: Mapping[str, Any], width: int) -> dict[str, Any]:
    # The pools keep their input's width and take no ``out``; the convs are set to the layer's width.
    return {"out": width, **args} if "out" in get_op(op).args else dict(args)


def op_variable(layer: int) -> str:
    """Name of the op variable of ``layer``."""
    return f"layer{layer}_op"


def skip_variable(layer: int, earlier: int) -> str:
    """Name of the variable that connects ``earlier`` to ``layer`` by a skip connection (0 or 1)."""
    return f"layer{layer}_skip{earlier}"


@register_space("enas-macro")
class EnasMacroSpace(RecordedChoiceSpace):
    """ENAS macro space: per layer one of 6 ops and a skip mask over the earlier layers (``layers`` = 12 as in ENAS).

    ``C`` is the width of the first layers (doubled at each of the two reductions).
    """

    def __init__(self, input_shape: Sequence[int] = (3, 32, 32), num_classes: int = 10, layers: int = 12,
                 C: int = 16) -> None:  # noqa: N803 - the papers' name for the width
        super().__init__(input_shape, num_classes)
        if layers < 3 or C < 1:
            raise NasbenchError(f"enas-macro: needs at least 3 layers and C >= 1, got layers={layers}, C={C}")
        self.layers, self.C = int(layers), int(C)
        distance = self.layers // 3
        self.pool_layers = (distance - 1, 2 * distance - 1)

    def variables(self) -> dict[str, Variable]:
        """In ENAS's sampling order: each layer's op, then its skip bits over the earlier layers (all categorical)."""
        variables: dict[str, Variable] = {}
        for layer in range(self.layers):
            variables[op_variable(layer)] = Variable(tuple(OPS))
            for earlier in range(layer):
                variables[skip_variable(layer, earlier)] = Variable((0, 1))
        return variables

    def build(self, choices: Mapping[str, Any]) -> Architecture:
        """The macro network of ``choices``."""
        net = Cell(inputs=[NETWORK_INPUT], output="fc")
        width = self.C
        previous = net.add("stem", "conv_bn", inputs=[NETWORK_INPUT], args={"out": width})
        outputs: list[str] = []  # the output of every layer, at the current resolution
        for layer in range(self.layers):
            op, args = OPS[choices[op_variable(layer)]]
            main = net.add(f"layer{layer}", op, inputs=[previous], args=_layer_args(op, args, width))
            skips = [outputs[j] for j in range(layer) if choices[skip_variable(layer, j)]]
            if skips:
                main = net.add(f"layer{layer}_join", "conv_bn_relu", inputs=[main, *skips], merge="concat",
                               args={"out": width, "kernel": 1})
            outputs.append(main)
            if layer in self.pool_layers:
                width *= 2
                needed = {j for k in range(layer + 1, self.layers) for j in range(layer + 1)
                          if choices[skip_variable(k, j)]} | {layer}
                for j in sorted(needed):
                    outputs[j] = net.add(f"reduce{layer}_{j}", "fact_reduce", inputs=[outputs[j]],
                                         args={"out": width})
            previous = outputs[layer]
        net.add("gap", "global_avg_pool", inputs=[previous])
        net.add("fc", "linear", inputs=["gap"], args={"out": self.num_classes})
        return Architecture("enas_macro", self.input_shape, net)

    def supernet(self, C: int, layers: int, in_channels: int | None = None,  # noqa: N803
                 num_classes: int | None = None, **relaxation: Any) -> EnasMacroSupernet:
        """The one-shot network over this space (``layers`` must be the space's own, as the encoding is per layer).

        It trains on images of ``in_channels`` channels and ``num_classes`` classes (default: the space's own). Its
        layers choose among ops without edges to normalize or partial channels to pass: it takes no ``relaxation``.
        """
        if layers != self.layers:
            raise NasbenchError(f"enas-macro: the supernet has the space's {self.layers} layers, got {layers}")
        unsupported = sorted(key for key, value in relaxation.items() if value not in (None, False, 1))
        if unsupported:
            raise NasbenchError(f"enas-macro: the supernet has no {', '.join(unsupported)} (nb201 and darts have)")
        return EnasMacroSupernet(self, C, in_channels or self.input_shape[0], num_classes or self.num_classes)


class EnasMacroSupernet(Supernet):
    """ENAS's macro network relaxed as DARTS does, with architecture weights ``alpha`` and ``beta``.

    Each layer mixes the 6 ops by the softmax of its ``alpha`` row; each skip connection is scaled by the sigmoid of
    its ``beta``. ``genotype()`` keeps the strongest op per layer and the skips with positive ``beta``.
    """

    # The skip gates are a sigmoid, not a softmax over ops: Gumbel-softmax sampling (GDAS) does not apply.
    categorical = False

    def __init__(self, space: EnasMacroSpace, C: int, in_channels: int, num_classes: int) -> None:  # noqa: N803
        super().__init__()
        self.space = space
        count = space.layers
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        self.mixed = nn.ModuleList()
        self.joins = nn.ModuleList()
        self.reduce = nn.ModuleDict()
        width = C
        for layer in range(count):
            self.mixed.append(MixedOp([_search_op(op, _layer_args(op, args, width), width)
                                       for op, args in OPS.values()]))
            self.joins.append(genome_module("conv_bn_relu", {"out": width, "kernel": 1, "affine": False},
                                            width * (layer + 1), width) if layer else nn.Identity())
            if layer in space.pool_layers:
                self.reduce[str(layer)] = nn.ModuleList(FactorizedReduce(width, 2 * width, affine=False)
                                                        for _ in range(layer + 1))
                width *= 2
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.classifier = nn.Linear(width, num_classes)
        self.alpha = nn.Parameter(1e-3 * torch.randn(count, len(OPS)))
        self.beta = nn.Parameter(1e-3 * torch.randn(count * (count - 1) // 2))

    def op_parameters(self) -> list[nn.Parameter]:
        """[alpha (layers, 6 ops)]."""
        return [self.alpha]

    def arch_parameters(self) -> list[nn.Parameter]:
        """[alpha (layers, 6 ops), beta (one per skip connection, in the order of ``variables``)]."""
        return [self.alpha, self.beta]

    def mixture(self) -> list[torch.Tensor]:
        """The softmax of alpha over each layer's ops and the sigmoid gate of every skip connection."""
        return [F.softmax(self.alpha, dim=-1), torch.sigmoid(self.beta)]

    def forward(self, x: torch.Tensor, weights: Sequence[torch.Tensor] | None = None,
                active: Active | None = None) -> torch.Tensor:
        """Logits of the mixed network (``weights``: op weights and skip gates, the relaxation unless given)."""
        ops, gates = weights or self.mixture()
        layer_active = None if active is None else active[0]
        previous = self.stem(x)
        outputs: list[torch.Tensor] = []
        offset = 0
        for layer, mixed in enumerate(self.mixed):
            out = mixed(previous, ops[layer], None if layer_active is None else layer_active[layer])
            if layer:
                skips = [gates[offset + j] * outputs[j] for j in range(layer)]
                offset += layer
                out = self.joins[layer](torch.cat([out, *skips], dim=1))
            outputs.append(out)
            if str(layer) in self.reduce:
                outputs = [reduce(h) for reduce, h in zip(self.reduce[str(layer)], outputs)]
            previous = outputs[-1]
        return self.classifier(self.pool(previous))

    def genotype(self) -> Architecture:
        """The member of the space with each layer's strongest op and the skips whose gate is above one half."""
        names = list(OPS)
        choices: dict[str, Any] = {}
        beta = iter(self.beta.detach().tolist())
        for layer, best in enumerate(self.alpha.detach().argmax(dim=-1).tolist()):
            choices[op_variable(layer)] = names[best]
            for earlier in range(layer):
                choices[skip_variable(layer, earlier)] = int(next(beta) > 0)
        return self.space.decode(choices)

    def path(self, choices: Mapping[str, Any]) -> tuple[list[torch.Tensor], list[list[list[int]]]]:
        """One-hot op weights per layer (that op alone runs) and 0/1 gates of the skip connections."""
        names = list(OPS)
        indices = [names.index(choices[op_variable(layer)]) for layer in range(self.space.layers)]
        gates = [float(choices[skip_variable(layer, earlier)]) for layer in range(self.space.layers)
                 for earlier in range(layer)]
        return [F.one_hot(torch.tensor(indices), len(names)).float(), torch.tensor(gates)], [[[k] for k in indices]]
