"""Residual networks: ResNet, pre-activation ResNet, ResNeXt and Wide ResNet, as cell templates plus a stage plan.

Every block is a cell template over its width ``C`` and stride ``s``; a stage is a projection block (a 1x1 conv on the
shortcut, where the shape changes) followed by a repeated plain block. The factories only differ in the templates and
the plan they assemble.
"""

from __future__ import annotations

from collections.abc import Sequence

from nasbench.architecture import Architecture
from nasbench.cell import Cell
from nasbench.errors import NasbenchError
from search_spaces.zoo.networks.scaling import is_small, width
from search_spaces.zoo.registry import register

IMAGENET = (3, 224, 224)
CIFAR = (3, 32, 32)
EXPANSION = {"basic": 1, "bottleneck": 4}
_VARIANTS = (("", False), ("_proj", True))  # template name suffix, projection shortcut


def basic_block(projection: bool) -> Cell:
    """He et al. 2016 basic block: 3x3 conv-BN-ReLU, 3x3 conv-BN, add the shortcut, ReLU."""
    cell = Cell(vars={"C": None, "s": 1})
    cell.add("conv1", "conv_bn_relu", inputs=["x"], args={"out": "C", "stride": "s"})
    cell.add("conv2", "conv_bn", inputs=["conv1"], args={"out": "C"})
    shortcut = _projection(cell, "x", "conv_bn", "C") if projection else "x"
    cell.add("out", "relu", inputs=["conv2", shortcut], merge="add")
    cell.output = "out"
    return cell


def bottleneck_block(projection: bool) -> Cell:
    """Bottleneck block: 1x1 (width w), 3x3 with stride s and g groups (ResNet v1.5 / ResNeXt), 1x1 to 4C, add, ReLU."""
    cell = Cell(vars={"C": None, "s": 1, "g": 1, "w": "C"})
    cell.add("conv1", "conv_bn_relu", inputs=["x"], args={"out": "w", "kernel": 1})
    cell.add("conv2", "conv_bn_relu", inputs=["conv1"], args={"out": "w", "stride": "s", "groups": "g"})
    cell.add("conv3", "conv_bn", inputs=["conv2"], args={"out": "4*C", "kernel": 1})
    shortcut = _projection(cell, "x", "conv_bn", "4*C") if projection else "x"
    cell.add("out", "relu", inputs=["conv3", shortcut], merge="add")
    cell.output = "out"
    return cell


def preact_basic_block(projection: bool, dropout: float = 0.0) -> Cell:
    """He et al. 2016b pre-activation unit: (BN-ReLU-3x3 conv) twice plus the identity.

    A projection shortcut reads the pre-activated input. With ``dropout`` it is the Wide ResNet block (dropout between
    the two convolutions, after the second ReLU).
    """
    cell = Cell(vars={"C": None, "s": 1})
    source = "x"
    if projection:
        source = cell.add("preact", "bn_relu", inputs=["x"])
        cell.add("conv1", "conv", inputs=[source], args={"out": "C", "stride": "s"})
    else:
        cell.add("conv1", "bn_relu_conv", inputs=["x"], args={"out": "C", "stride": "s"})
    if dropout > 0:
        cell.add("act2", "bn_relu", inputs=["conv1"])
        cell.add("drop", "dropout", inputs=["act2"], args={"p": dropout})
        cell.add("conv2", "conv", inputs=["drop"], args={"out": "C"})
    else:
        cell.add("conv2", "bn_relu_conv", inputs=["conv1"], args={"out": "C"})
    shortcut = _projection(cell, source, "conv", "C") if projection else "x"
    cell.add("out", "identity", inputs=["conv2", shortcut], merge="add")
    cell.output = "out"
    return cell


def preact_bottleneck_block(projection: bool) -> Cell:
    """Pre-activation bottleneck unit: BN-ReLU-1x1, BN-ReLU-3x3 (stride s), BN-ReLU-1x1 to 4C, plus the identity."""
    cell = Cell(vars={"C": None, "s": 1})
    source = "x"
    if projection:
        source = cell.add("preact", "bn_relu", inputs=["x"])
        cell.add("conv1", "conv", inputs=[source], args={"out": "C", "kernel": 1})
    else:
        cell.add("conv1", "bn_relu_conv", inputs=["x"], args={"out": "C", "kernel": 1})
    cell.add("conv2", "bn_relu_conv", inputs=["conv1"], args={"out": "C", "stride": "s"})
    cell.add("conv3", "bn_relu_conv", inputs=["conv2"], args={"out": "4*C", "kernel": 1})
    shortcut = _projection(cell, source, "conv", "4*C") if projection else "x"
    cell.add("out", "identity", inputs=["conv3", shortcut], merge="add")
    cell.output = "out"
    return cell


def _projection(cell: Cell, source: str, op: str, channels: str) -> str:
    return cell.add("downsample", op, inputs=[source], args={"out": channels, "kernel": 1, "stride": "s"})


def _templates(block: str, preact: bool, dropout: float) -> dict[str, Cell]:
    if block not in EXPANSION:
        raise NasbenchError(f"unknown residual block {block!r} (use basic or bottleneck)")
    if preact and block == "basic":
        return {f"preact_basic{suffix}": preact_basic_block(proj, dropout) for suffix, proj in _VARIANTS}
    if preact:
        return {f"preact_bottleneck{suffix}": preact_bottleneck_block(proj) for suffix, proj in _VARIANTS}
    make = basic_block if block == "basic" else bottleneck_block
    return {f"{block}{suffix}": make(proj) for suffix, proj in _VARIANTS}


def _add_stages(net: Cell, source: str, template: str, c_in: int, widths: Sequence[int], layers: Sequence[int],
                strides: Sequence[int], expansion: int, extra: Sequence[dict[str, int]]) -> str:
    """Append the stages: each is a projection block where the shape changes, then the repeated plain block."""
    for i, (c, n, s, more) in enumerate(zip(widths, layers, strides, extra), start=1):
        plain_vars = {"C": c, **more}
        first = 0
        if s != 1 or c_in != c * expansion:
            source = net.add(f"layer{i}_0", cell=f"{template}_proj", vars={**plain_vars, "s": s}, inputs=[source])
            first = 1
        if n > first:
            source = net.add(f"layer{i}", cell=template, vars=plain_vars, inputs=[source], repeat=n - first)
        c_in = c * expansion
    return source


def resnet(num_classes: int = 1000, input_shape: Sequence[int] = IMAGENET, width_mult: float = 1.0,
           block: str = "basic", layers: Sequence[int] = (2, 2, 2, 2), groups: int = 1, width_per_group: int = 64,
           preact: bool = False) -> Architecture:
    """ImageNet ResNet, pre-activation ResNet and ResNeXt, as torchvision builds them (stride on the 3x3 conv).

    Papers: He et al. 2016, "Deep Residual Learning for Image Recognition"; He et al. 2016, "Identity Mappings in Deep
    Residual Networks" (``preact``); Xie et al. 2017, "Aggregated Residual Transformations for Deep Neural Networks"
    (ResNeXt: ``groups`` x ``width_per_group``).

    The pre-activation networks keep the conv-BN-ReLU stem and max pool (as fb.resnet.torch's preresnet) and end with
    BN-ReLU before the pool. For inputs below 64 pixels the 7x7/2 stem and the max pool give way to a 3x3 stride-1
    stem, as in the CIFAR variants.
    """
    expansion = EXPANSION.get(block, 1)
    templates = _templates(block, preact, 0.0)
    template = next(iter(templates))
    stem = width(64, width_mult)
    net = Cell(inputs=["input"])
    if is_small(input_shape[1]):
        source = net.add("conv1", "conv_bn_relu", inputs=["input"], args={"out": stem, "kernel": 3})
    else:
        net.add("conv1", "conv_bn_relu", inputs=["input"], args={"out": stem, "kernel": 7, "stride": 2})
        source = net.add("maxpool", "max_pool", inputs=["conv1"], args={"kernel": 3, "stride": 2})
    widths = [width(64 * 2**i, width_mult) for i in range(len(layers))]
    extra = [{} for _ in layers]
    if groups > 1 or width_per_group != 64:
        if block != "bottleneck":
            raise NasbenchError("grouped or widened blocks need block='bottleneck'")
        # ResNeXt keeps the cardinality and scales the width of each group: w = groups * d.
        extra = [{"g": groups, "w": groups * max(1, round(width_per_group * 2**i * width_mult))}
                 for i in range(len(layers))]
    strides = [1] + [2] * (len(layers) - 1)
    source = _add_stages(net, source, template, stem, widths, layers, strides, expansion, extra)
    depth = sum(layers) * (2 if block == "basic" else 3) + 2
    prefix = "preact_" if preact else ""
    name = f"resnext{depth}_{groups}x{width_per_group}d" if groups > 1 else f"{prefix}resnet{depth}"
    if preact:
        source = net.add("post", "bn_relu", inputs=[source])
    net.add("avgpool", "global_avg_pool", inputs=[source])
    net.add("fc", "linear", inputs=["avgpool"], args={"out": num_classes})
    net.output = "fc"
    return Architecture(name, input_shape, net, templates)


def cifar_preact_resnet(num_classes: int = 10, input_shape: Sequence[int] = CIFAR, width_mult: float = 1.0,
                        blocks: int = 18, block: str = "basic", widen: int = 1, dropout: float = 0.0) -> Architecture:
    """The CIFAR pre-activation ResNet and Wide ResNet.

    He et al. 2016, "Identity Mappings in Deep Residual Networks": a 3x3 conv with 16 filters, three stages of
    ``blocks`` units at widths 16/32/64 on 32/16/8 pixels, BN-ReLU, global pool, FC. Zagoruyko & Komodakis 2016,
    "Wide Residual Networks": the same with widths multiplied by ``widen`` and optional dropout.

    Projection shortcuts are 1x1 convs on the pre-activated input. Depth is 6n+2 (basic) or 9n+2 (bottleneck) in He et
    al.'s count and 6n+4 in Zagoruyko's, which also counts the projections.
    """
    per_block = 2 if block == "basic" else 3
    depth = 6 * blocks + 4 if widen > 1 else 3 * per_block * blocks + 2
    expansion = EXPANSION.get(block, 1)
    templates = _templates(block, True, dropout)
    template = next(iter(templates))
    stem = width(16, width_mult)
    net = Cell(inputs=["input"])
    source = net.add("conv1", "conv", inputs=["input"], args={"out": stem})
    widths = [width(16 * widen * 2**i, width_mult) for i in range(3)]
    source = _add_stages(net, source, template, stem, widths, [blocks] * 3, [1, 2, 2], expansion, [{}, {}, {}])
    net.add("post", "bn_relu", inputs=[source])
    net.add("avgpool", "global_avg_pool", inputs=["post"])
    net.add("fc", "linear", inputs=["avgpool"], args={"out": num_classes})
    net.output = "fc"
    name = f"wrn{depth}_{widen}" if widen > 1 else f"preact_resnet{depth}"
    return Architecture(name, input_shape, net, templates)


_HE = "He, Zhang, Ren, Sun. Deep Residual Learning for Image Recognition. CVPR 2016"
_PREACT = "He, Zhang, Ren, Sun. Identity Mappings in Deep Residual Networks. ECCV 2016"
_DEPTHS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)), 50: ("bottleneck", (3, 4, 6, 3)),
           101: ("bottleneck", (3, 4, 23, 3)), 152: ("bottleneck", (3, 8, 36, 3))}
_PUBLISHED = {18: (11_689_512, 1.814e9), 34: (21_797_672, 3.664e9), 50: (25_557_032, 4.089e9),
              101: (44_549_160, 7.801e9), 152: (60_192_808, 11.514e9)}

for _depth, (_block, _layers) in _DEPTHS.items():
    _params, _macs = _PUBLISHED[_depth]
    register(f"resnet{_depth}", family="resnet", paper=_HE, params=_params, macs=_macs, exact=True,
             block=_block, layers=_layers)(resnet)
    register(f"preact_resnet{_depth}", family="resnet", paper=_PREACT, block=_block, layers=_layers,
             preact=True)(resnet)

register("resnext50_32x4d", family="resnet", params=25_028_904, macs=4.230e9, exact=True,
         paper="Xie, Girshick, Dollar, Tu, He. Aggregated Residual Transformations for Deep Neural Networks. CVPR 2017",
         block="bottleneck", layers=(3, 4, 6, 3), groups=32, width_per_group=4)(resnet)
# The paper's table gives 1.7M parameters for both CIFAR pre-activation networks.
register("preact_resnet110", family="resnet", paper=_PREACT, params=1_700_000, tolerance=0.03,
         blocks=18, block="basic")(cifar_preact_resnet)
register("preact_resnet164", family="resnet", paper=_PREACT, params=1_700_000, tolerance=0.03,
         blocks=18, block="bottleneck")(cifar_preact_resnet)
register("wrn28_10", family="resnet", params=36_500_000, tolerance=0.005,
         paper="Zagoruyko, Komodakis. Wide Residual Networks. BMVC 2016",
         blocks=4, block="basic", widen=10)(cifar_preact_resnet)
