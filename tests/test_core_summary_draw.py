"""The per-layer summary (rows and text) and the drawings (PNG and SVG of a network and of a cell template)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from genomes import tiny_resnet

import nasbench
from nasbench.architecture import Architecture
from search_spaces import zoo

TINY = tiny_resnet(size=16, width=8, aux=True)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_summary_rows_cover_every_layer() -> None:
    arch = Architecture.from_yaml(TINY)
    lowered = arch.lower()
    rows = nasbench.summary_rows(arch)
    layers = [row for row in rows if row.kind == "layer"]
    assert [row.path for row in layers] == [layer.path for layer in lowered.layers]
    assert {row.path: row.output_shape for row in layers} == arch.shapes()
    assert sum(row.params for row in layers) == arch.params()
    assert sum(row.macs for row in layers if not row.aux) == arch.macs()
    headers = [row for row in rows if row.kind == "cell"]
    assert [row.path for row in headers] == ["b.0", "b.1"]
    for header in headers:
        members = [row for row in layers if row.path.startswith(header.path + ".")]
        assert header.params == sum(row.params for row in members)
        assert header.output_shape == members[-1].output_shape == (8, 16, 16)
    aux = next(row for row in layers if row.path == "aux")
    assert aux.aux and aux.output_shape == (10,)


def test_summary_text() -> None:
    arch = Architecture.from_yaml(TINY)
    text = nasbench.summary(arch)
    lines = text.splitlines()
    for layer in arch.lower().layers:
        name = layer.path.rsplit(".", 1)[-1] if layer.path.startswith("b.") else layer.path
        shape = "(" + ", ".join(map(str, layer.out_shape)) + ")"
        assert any(name in line and shape in line for line in lines), (layer.path, shape)
    assert f"Total params:  {arch.params():,}" in text
    assert f"Total MACs:    {arch.macs():,}" in text
    assert "Output shape:  (10)" in text
    assert "auxiliary heads" in text
    short = nasbench.summary(arch, cells=False)
    assert len(short.splitlines()) < len(lines) and "c1" not in short


def test_lowering_names_the_layer_of_every_node_in_every_copy() -> None:
    # The summary, the drawings and the graph mutations read node paths from here instead of re-deriving them.
    lowered = Architecture.from_yaml(TINY).lower()
    assert [(c.chain, c.cell, c.path) for c in lowered.copies] == [((), None, ""), (("b",), "basic", "b.0"),
                                                                    (("b",), "basic", "b.1")]
    network, first, second = lowered.copies
    assert network.outputs["input"] == "input" and network.outputs["b"] == "b.1.out"
    assert first.outputs == {"x": "stem", "c1": "b.0.c1", "c2": "b.0.c2", "out": "b.0.out"}
    assert second.outputs["x"] == "b.0.out"
    assert lowered.shape_at("input") == (3, 16, 16) and lowered.shape_at("b.1.out") == (8, 16, 16)
    assert lowered.shape_at("b.9.out") is None


def test_summary_of_zoo_network_totals() -> None:
    arch = zoo.get("resnet18")
    text = nasbench.summary(arch, input_shape=(3, 64, 64))
    assert f"Total params:  {arch.params():,}" in text
    assert f"Total MACs:    {arch.macs((3, 64, 64)):,}" in text
    assert "(512, 2, 2)" in text


def _check_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 2000  # not an empty canvas


def _check_svg(path: Path, *texts: str) -> None:
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    content = path.read_text()
    assert "<svg" in content
    for text in texts:
        assert text in content, text


def test_draw_network_and_cell(tmp_path: Path) -> None:
    arch = Architecture.from_yaml(TINY)
    png = nasbench.draw(arch, tmp_path / "net.png")
    assert png == tmp_path / "net.png"
    _check_png(png)
    svg = nasbench.draw(arch, tmp_path / "net.svg")
    _check_svg(svg, "stem", "gap")
    _check_png(nasbench.draw(arch, tmp_path / "cell.png", cell="basic"))
    _check_svg(nasbench.draw(arch, tmp_path / "cell.svg", cell="basic"), "c1", "c2")


def test_draw_zoo_cells(tmp_path: Path) -> None:
    arch = zoo.get("darts_v2_cifar", input_shape=(3, 16, 16), num_classes=10)
    _check_png(nasbench.draw(arch, tmp_path / "normal.png", cell="normal"))
    _check_svg(nasbench.draw(arch, tmp_path / "reduce.svg", cell="reduce"), "max_pool")


def test_draw_errors(tmp_path: Path) -> None:
    arch = Architecture.from_yaml(TINY)
    with pytest.raises(nasbench.NasbenchError, match="ending in"):
        nasbench.draw(arch, tmp_path / "net.gif")
    with pytest.raises(nasbench.NasbenchError, match="no cell template 'nope'"):
        nasbench.draw(arch, tmp_path / "net.png", cell="nope")
    with pytest.raises(nasbench.NasbenchError, match="does not exist"):
        nasbench.draw(arch, tmp_path / "missing" / "net.png")
