"""FractalNet (Larsson et al. 2017) as a zoo network: fractal blocks joined by element-wise means, with drop-path.

Two CIFAR configurations are registered: ``fractalnet`` (C=4 columns, B=5 blocks: the 40-layer network of the paper's
Figure 1, 76,106,634 parameters with the CIFAR widths 64-128-256-512-512) and ``fractalnet20`` (C=3: the 20-layer
network of Table 1). The paper's own counts (38.6M for 20 layers, 22.9M for 40 layers) cannot be reproduced from its
text, which gives no widths that yield them; ``fractalnet20`` matches osmr/imgclsmob's ``fractalnet_cifar10`` exactly
(33,724,618), the standard PyTorch implementation with the same layout.
"""

from __future__ import annotations

from collections.abc import Sequence

from nasbench.architecture import Architecture
from nasbench.cell import NETWORK_INPUT, Cell
from nasbench.errors import NasbenchError
from search_spaces.zoo.networks.mobilenet import check_input, reduction_strides
from search_spaces.zoo.networks.scaling import width
from search_spaces.zoo.registry import register

PAPER = "Larsson, Maire, Shakhnarovich, FractalNet: Ultra-Deep Neural Networks without Residuals, ICLR 2017"
WIDTHS = (64, 128, 256, 512, 512)  # filters per block on CIFAR (Section 4)
DROPOUT = (0.0, 0.1, 0.2, 0.3, 0.4)  # dropout per block, as in the paper's "+ drop-path + dropout" runs


def fractal_block(columns: int) -> Cell:
    """The fractal block f_C of the expansion rule f_{C+1}(z) = join(f_C(f_C(z)), conv(z)), laid out in columns.

    Column k (counted from the deepest, k = 0) has 2^(C-1-k) conv-BN-ReLU-dropout layers; after level i of the deepest
    column, the columns that end a conv there are joined (concat, then the drop-path mean) and the join feeds all of
    them. Join inputs are listed deepest first, the convention of ``drop_path_mean``. Variables: width W, dropout q,
    local drop-path probability p.
    """
    cell = Cell(vars={"W": None, "q": 0.0, "p": 0.15})
    current = ["x"] * columns
    for level in range(1, 2 ** (columns - 1) + 1):
        ends = [k for k in range(columns) if level % 2**k == 0]
        outputs = []
        for k in ends:
            conv = cell.add(f"conv{k}_{level}", "conv_bn_relu", inputs=[current[k]], args={"out": "W", "kernel": 3})
            outputs.append(cell.add(f"drop{k}_{level}", "dropout", inputs=[conv], args={"p": "q"}))
        joined = outputs[0]
        if len(outputs) > 1:
            joined = cell.add(f"join{level}", "drop_path_mean", inputs=outputs, merge="concat",
                              args={"branches": len(outputs), "p": "p"})
        for k in ends:
            current[k] = joined
    cell.output = current[0]
    return cell


def fractalnet(num_classes: int = 10, input_shape: Sequence[int] = (3, 32, 32), width_mult: float = 1.0,
               columns: int = 4, widths: Sequence[int] = WIDTHS, dropout: Sequence[float] = DROPOUT,
               drop_path: float = 0.15, global_ratio: float = 0.5) -> Architecture:
    """FractalNet for CIFAR (Larsson et al. 2017): B blocks of C columns, each followed by a 2x2 max pool, then an FC.

    With the defaults (C=4 columns, B=5 blocks of 64, 128, 256, 512, 512 filters) it is the paper's 40-layer network.
    Drop-path is a training option: ``drop_path`` is the local drop probability of every join (the paper's 15 %) and
    ``global_ratio`` the share of batches trained with global drop-path (one column for the whole network, 50 % in
    the paper); both 0 train with plain mean joins. In eval every join is the plain mean.
    """
    if columns < 1 or not widths or len(dropout) != len(widths):
        raise NasbenchError("fractalnet: columns must be at least 1 and dropout must give one rate per block")
    shape = check_input(input_shape)
    pools = reduction_strides(min(shape[1:]), len(widths), min_final=1)
    net = Cell(inputs=[NETWORK_INPUT])
    previous = net.add("drop_path", "drop_path_sampler", inputs=[NETWORK_INPUT],
                       args={"global_ratio": global_ratio, "columns": columns})
    for index, (filters, rate, stride) in enumerate(zip(widths, dropout, pools), start=1):
        previous = net.add(f"block{index}", cell=f"fractal{columns}", inputs=[previous],
                           vars={"W": width(filters, width_mult), "q": rate, "p": drop_path})
        if stride == 2:
            previous = net.add(f"pool{index}", "max_pool", inputs=[previous], args={"kernel": 2, "stride": 2})
    net.add("gap", "global_avg_pool", inputs=[previous])
    net.add("fc", "linear", inputs=["gap"], args={"out": num_classes})
    net.output = "fc"
    return Architecture(f"fractalnet_c{columns}", shape, net, {f"fractal{columns}": fractal_block(columns)})


register("fractalnet", family="fractalnet", paper=PAPER + " (CIFAR, C=4, B=5: 40 layers)")(fractalnet)
register("fractalnet20", family="fractalnet", paper=PAPER + " (CIFAR, C=3, B=5: 20 layers)", params=33_724_618,
         exact=True, columns=3)(fractalnet)
