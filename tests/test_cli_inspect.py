"""The inspection commands: ``nasbench show``, ``nasbench draw`` and ``nasbench seeds`` (issue 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from genomes import TINY_RESNET_YAML
from typer.testing import CliRunner

from nasbench.app.cli import _register_commands, app
from search_spaces import zoo

_register_commands()
runner = CliRunner()


SAMPLE = ["vgg16", "inception_v3", "densenet121", "nasnet_a_cifar", "shufflenet_v2_x1_0"]


def invoke(*args: str):
    return runner.invoke(app, list(args))


def assert_one_line_error(result, *words: str) -> None:
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize("name", SAMPLE)
def test_show_json_matches_the_analytic_counts(name: str) -> None:
    result = invoke("show", name, "--json")
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)
    arch = zoo.get(name)
    item = zoo.entry(name)
    assert facts["name"] == name
    assert facts["params"] == arch.params() and facts["macs"] == arch.macs()
    assert facts["hash"] == arch.hash()
    assert facts["input_shape"] == list(arch.input_shape)
    assert facts["output_shape"] == list(arch.output_shape())
    assert facts["family"] == item.family and facts["paper"] == item.paper


def test_show_table_lists_layers_and_totals() -> None:
    result = invoke("show", "resnet18")
    assert result.exit_code == 0, result.output
    assert "11,689,512" in result.stdout
    assert zoo.get("resnet18").hash() in result.stdout


def test_show_input_shape_changes_macs_not_params() -> None:
    full = json.loads(invoke("show", "resnet50", "--json").stdout)
    half = json.loads(invoke("show", "resnet50", "--json", "--input-shape", "3,112,112").stdout)
    assert half["input_shape"] == [3, 112, 112]
    assert half["params"] == full["params"] == 25557032
    # Every layer of a ResNet works at a quarter of the positions (the FC head aside), so MACs drop about 4x.
    assert 3.5 < full["macs"] / half["macs"] < 4.0


def test_show_reads_genome_files_and_text(tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_RESNET_YAML)
    from_file = json.loads(invoke("show", str(path), "--json").stdout)
    from_text = json.loads(invoke("show", TINY_RESNET_YAML, "--json").stdout)
    assert from_file == from_text
    assert from_file["name"] == "tiny" and from_file["output_shape"] == [10]
    assert from_file["family"] is None


def test_console_script_prints_one_json_object() -> None:
    script = Path(sys.executable).with_name("nasbench")
    done = subprocess.run([str(script), "show", "resnet50", "--json"], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout)
    assert facts["params"] == 25557032
    assert facts["family"] == "resnet"


@pytest.mark.parametrize(("name", "cell"), [("vgg16", None), ("inception_v3", None), ("densenet121", None),
                                            ("nasnet_a_cifar", "normal"), ("shufflenet_v2_x1_0", "shuffle_down")])
def test_draw_writes_svg(tmp_path: Path, name: str, cell: str | None) -> None:
    out = tmp_path / f"{name}.svg"
    args = ["draw", name, "-o", str(out)] + (["--cell", cell] if cell else [])
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "<svg" in text
    if cell is None:
        assert len(text) > 5000


def test_draw_writes_png(tmp_path: Path) -> None:
    out = tmp_path / "cell.png"
    result = invoke("draw", "nasnet_a_cifar", "--cell", "reduce", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_seeds_lists_the_whole_zoo() -> None:
    result = invoke("seeds", "--json")
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert set(rows) == set(zoo.names())
    assert rows["resnet50"]["params"] == 25557032 and rows["resnet50"]["family"] == "resnet"
    assert rows["densenet121"]["macs"] == zoo.get("densenet121").macs()
    assert all(row["paper"] for row in rows.values())
    table = invoke("seeds")
    assert table.exit_code == 0
    assert "25,557,032" in table.stdout and f"{len(rows)} networks" in table.stdout


@pytest.mark.parametrize(("args", "words"), [
    (["show", "no_such_net"], ["no_such_net"]),
    (["show", "missing.yaml"], ["not found", "missing.yaml"]),
    (["show", "name: broken\ninput_shape: [3, 32, 32]\nnetwork: {nodes: {}, output: fc}\n"], []),
    (["show", "resnet18", "--input-shape", "3,x,224"], ["--input-shape"]),
    (["show", "resnet18", "--input-shape", "3,0,224"], ["--input-shape"]),
    (["draw", "no_such_net", "-o", "net.svg"], ["no_such_net"]),
    (["draw", "resnet18", "-o", "net.txt"], [".png", ".svg"]),
    (["draw", "resnet18", "-o", "net.svg", "--cell", "no_such_cell"], ["no_such_cell"]),
])
def test_bad_input_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str],
                                       words: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(invoke(*args), *words)
    assert not list(tmp_path.iterdir())


def test_invalid_genome_file_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(TINY_RESNET_YAML.replace("out: 16}", "out: -16}"))
    assert_one_line_error(invoke("show", str(path)), "stem")


@pytest.mark.parametrize(("content", "words"), [
    (b"\x96\xff\x00binary", "is not UTF-8 text (byte 0 is 0x96)"),
    (b"", "is empty"),
    (b"   \n\n", "is empty"),
])
@pytest.mark.parametrize("command", [["show"], ["search", "--config"]])
def test_a_file_that_is_not_text_is_a_one_line_error(cli, tmp_path, content, words, command):
    (tmp_path / "bad.yaml").write_bytes(content)
    code, _, err = cli(*command, "bad.yaml")
    assert code == 2 and len(err.strip().splitlines()) == 1 and words in err


def test_a_huge_genome_file_is_refused_before_it_is_read(cli, tmp_path, monkeypatch):
    import nasbench.files

    monkeypatch.setattr(nasbench.files, "MAX_TEXT_BYTES", 1024)
    (tmp_path / "big.yaml").write_text("name: x\n" * 200)
    code, _, err = cli("show", "big.yaml")
    assert code == 2 and "is 1,600 bytes, over the 1,024-byte limit for a genome file" in err
