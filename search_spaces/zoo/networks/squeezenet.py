"""SqueezeNet 1.0 and 1.1 (Iandola et al. 2016) as zoo networks, with torchvision's layout."""

from __future__ import annotations

from collections.abc import Sequence

from nasbench.architecture import Architecture
from nasbench.cell import NETWORK_INPUT, Cell
from search_spaces.zoo.networks.mobilenet import check_input, reduction_strides
from search_spaces.zoo.networks.scaling import width
from search_spaces.zoo.registry import register

PAPER = ("Iandola et al., SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and <0.5MB model size, "
         "arXiv 1602.07360, 2016")

# Per version: stem (channels, kernel), then the sequence of stages; "pool" is a 3x3/2 max pool, a pair is a fire
# module (squeeze channels, expand channels of each of the 1x1 and 3x3 branches).
LAYOUTS = {
    "1_0": ((96, 7), ["pool", (16, 64), (16, 64), (32, 128), "pool", (32, 128), (48, 192), (48, 192), (64, 256),
                      "pool", (64, 256)]),
    "1_1": ((64, 3), ["pool", (16, 64), (16, 64), "pool", (32, 128), (32, 128), "pool", (48, 192), (48, 192),
                      (64, 256), (64, 256)]),
}


def _fire() -> Cell:
    """The fire module: a 1x1 squeeze conv, then 1x1 and 3x3 expand convs side by side, concatenated."""
    cell = Cell(vars={"S": None, "E1": None, "E3": None})
    cell.add("squeeze", "conv_relu", inputs=["x"], args={"out": "S", "kernel": 1})
    cell.add("expand1x1", "conv_relu", inputs=["squeeze"], args={"out": "E1", "kernel": 1})
    cell.add("expand3x3", "conv_relu", inputs=["squeeze"], args={"out": "E3", "kernel": 3, "padding": 1})
    cell.add("out", "identity", inputs=["expand1x1", "expand3x3"], merge="concat")
    cell.output = "out"
    return cell


def squeezenet(version: str = "1_0", num_classes: int = 1000, input_shape: Sequence[int] = (3, 224, 224),
               width_mult: float = 1.0, dropout: float = 0.5) -> Architecture:
    """SqueezeNet (Iandola et al. 2016): a stem conv, fire modules between 3x3/2 ceil-mode max pools, conv classifier.

    The classifier is torchvision's: dropout, a 1x1 conv to ``num_classes`` with ReLU, global average pooling. On a
    small input the stem conv runs at stride 1 with 'same' padding and the earliest pools are left out.
    """
    shape = check_input(input_shape)
    (stem_width, kernel), stages = LAYOUTS[version]
    strides = iter(reduction_strides(min(shape[1:]), 1 + stages.count("pool")))
    net = Cell(inputs=[NETWORK_INPUT])
    stride = next(strides)
    stem_args = {"out": width(stem_width, width_mult), "kernel": kernel, "stride": stride}
    if stride == 2:
        stem_args["padding"] = 0
    previous = net.add("conv1", "conv_relu", inputs=[NETWORK_INPUT], args=stem_args)
    fires = pools = 0
    for stage in stages:
        if stage == "pool":
            pools += 1
            if next(strides) == 2:
                previous = net.add(f"pool{pools}", "max_pool", inputs=[previous],
                                   args={"kernel": 3, "stride": 2, "padding": 0, "ceil_mode": True})
            continue
        squeeze, expand = stage
        fires += 1
        previous = net.add(f"fire{fires + 1}", cell="fire", inputs=[previous],
                           vars={"S": width(squeeze, width_mult), "E1": width(expand, width_mult),
                                 "E3": width(expand, width_mult)})
    net.add("dropout", "dropout", inputs=[previous], args={"p": dropout})
    net.add("classifier", "conv_relu", inputs=["dropout"], args={"out": num_classes, "kernel": 1})
    net.add("pool", "global_avg_pool", inputs=["classifier"])
    net.output = "pool"
    return Architecture(f"squeezenet{version}", shape, net, {"fire": _fire()})


register("squeezenet1_0", family="squeezenet", paper=PAPER, params=1_248_424, macs=0.819e9, exact=True,
         plain=True, version="1_0")(squeezenet)
register("squeezenet1_1", family="squeezenet", paper=PAPER + " (v1.1 of the authors' repository)",
         params=1_235_496, macs=0.349e9, exact=True, plain=True, version="1_1")(squeezenet)
