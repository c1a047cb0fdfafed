"""Family checks for FractalNet (fractal layout, local and global drop-path) and DPN-92 (dual paths)."""

from __future__ import annotations

import pytest
import torch

import nasbench
from nasbench.errors import GenomeError
from nasbench.ops import get_op
from nasbench.ops.drop_path import CONTEXT
from search_spaces import zoo
from search_spaces.zoo.networks.fractalnet import fractalnet


@pytest.mark.parametrize(("name", "columns"), [("fractalnet", 4), ("fractalnet20", 3)])
def test_fractal_layout(name: str, columns: int) -> None:
    arch = zoo.get(name)
    layers = arch.lower().layers
    convs = [layer for layer in layers if layer.op == "conv_bn_relu"]
    assert len(convs) == 5 * (2**columns - 1)  # a block of C columns holds 2^C - 1 convolutions
    deepest = [layer for layer in convs if ".conv0_" in layer.path]
    assert len(deepest) == 5 * 2 ** (columns - 1)  # 40 layers for C=4, 20 for C=3
    joins = [layer for layer in layers if layer.op == "drop_path_mean"]
    assert len(joins) == 5 * (2 ** (columns - 1) // 2)  # a join after every second level of the deepest column
    assert max(join.args["branches"] for join in joins) == columns
    assert arch.shapes()["pool5"] == (512, 1, 1)  # 32 x 32 halved by five 2x2 pools


def test_fractalnet20_matches_imgclsmob() -> None:
    # osmr/imgclsmob's fractalnet_cifar10 (C=3, widths 64-128-256-512-512): 33,724,618 parameters.
    assert zoo.get("fractalnet20").params() == 33_724_618


def _join(p: float, branches: int = 3) -> torch.nn.Module:
    return get_op("drop_path_mean").build((4 * branches, 3, 3), {"branches": branches, "p": p})


def test_join_is_the_mean_in_eval_and_drops_inputs_in_training() -> None:
    x = torch.randn(16, 12, 3, 3)
    groups = x.view(16, 3, 4, 3, 3)
    join = _join(0.5).eval()
    assert torch.allclose(join(x), groups.mean(1))
    CONTEXT.column = None
    join.train()
    torch.manual_seed(0)
    first = join(x)
    assert not torch.allclose(first, groups.mean(1))
    torch.manual_seed(1)
    assert not torch.allclose(join(x), first)  # a fresh draw per batch
    # Almost every input dropped: each sample still keeps exactly one, so its output is one of its inputs.
    out = _join(0.999).train()(x)
    for sample in range(16):
        assert any(torch.equal(out[sample], groups[sample, k]) for k in range(3))


def test_join_validates_its_arguments() -> None:
    with pytest.raises(GenomeError, match="branches"):
        get_op("drop_path_mean").output_shape((10, 2, 2), {"branches": 3, "p": 0.1})
    with pytest.raises(GenomeError, match="p"):
        get_op("drop_path_mean").output_shape((9, 2, 2), {"branches": 3, "p": 1.0})


def _tiny(drop_path: float, global_ratio: float) -> torch.nn.Module:
    arch = fractalnet(num_classes=4, input_shape=(1, 8, 8), columns=3, widths=(4, 8), dropout=(0.0, 0.0),
                      drop_path=drop_path, global_ratio=global_ratio)
    return nasbench.build(arch, seed=0)


def _forward(module: torch.nn.Module, x: torch.Tensor, seed: int) -> torch.Tensor:
    torch.manual_seed(seed)
    with torch.no_grad():
        return module(x)


@pytest.mark.parametrize(("drop_path", "global_ratio"), [(0.5, 0.0), (0.0, 1.0)])
def test_local_and_global_drop_path_act_in_training_only(drop_path: float, global_ratio: float) -> None:
    x = torch.randn(8, 1, 8, 8)
    plain, dropping = _tiny(0.0, 0.0), _tiny(drop_path, global_ratio)
    plain.eval(), dropping.eval()  # first, while both hold the same batch-norm statistics
    assert torch.allclose(_forward(plain, x, 0), _forward(dropping, x, 0))
    plain.train(), dropping.train()
    assert not torch.allclose(_forward(plain, x, 0), _forward(dropping, x, 0))


def test_global_drop_path_keeps_one_column_for_the_whole_network() -> None:
    x = torch.randn(8, 1, 8, 8)
    original = _tiny(0.0, 1.0)
    # Perturb every convolution outside the deepest column: a batch that keeps only that column cannot see it.
    perturbed = _tiny(0.0, 1.0)
    with torch.no_grad():
        for name, parameter in perturbed.named_parameters():
            if ".conv" in name and ".conv0_" not in name:
                parameter.add_(1.0)
    original.train(), perturbed.train()
    seen = set()
    for seed in range(12):
        out = _forward(original, x, seed)
        column = CONTEXT.column
        seen.add(column)
        assert torch.allclose(out, _forward(perturbed, x, seed)) == (column == 0)
    assert seen == {0, 1, 2}
    original.eval(), perturbed.eval()
    assert not torch.allclose(_forward(original, x, 0), _forward(perturbed, x, 0))


def test_dpn92_dual_paths() -> None:
    arch = zoo.get("dpn92")
    shapes = arch.shapes()
    # Residual width 256 plus a dense path of 3 x 16 after the projection block, growing by 16 per block.
    assert shapes["conv2_1.out"] == (304, 56, 56)
    assert shapes["conv2_3.out"] == (336, 56, 56)
    assert shapes["conv5_3.out"] == (2048 + 5 * 128, 7, 7)
    assert arch.params() == 37_668_392  # timm's dpn92
    assert arch.macs() == pytest.approx(6.5e9, rel=0.02)  # the paper's 6.5 GFLOPs (multiply-adds)
    layers = {layer.path: layer for layer in arch.lower().layers}
    block = layers["conv3_2.sum"]  # the residual path adds; the dense path concatenates
    assert block.merge == "add" and layers["conv3_2.out"].merge == "concat"
    assert layers["conv3_2.conv2"].args["groups"] == 32
