"""Kept weights (``--keep-weights``) and ``nasbench export``: genome, weights, a checked ONNX model, a README."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
import torch

import workers.weights
from nasbench import Architecture
from nasbench.app.export import export
from nasbench.app.search import search
from nasbench.compiler import build
from results.store import evaluated_trials
from workers.weights import WeightStore, load_state


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """A short train search on digits whose 8 evaluations keep their weights (all of them)."""
    folder = tmp_path_factory.mktemp("kept")
    url = f"sqlite:///{folder / 'kept.db'}"
    found = search(budget=8, epochs=1, seeds="lenet5,alexnet,mobilenet_v1", storage=url, study="kept",
                   progress=False, keep_weights="all", drawings=False)
    return url, folder, found


def test_all_keeps_every_evaluations_weights_by_hash(searched):
    url, folder, found = searched
    hashes = {trial.user_attrs["hash"] for trial in evaluated_trials(found.study) if trial.state.name == "COMPLETE"}
    assert WeightStore(folder / "kept.weights" / "kept").hashes() == hashes and len(hashes) == 8


def test_best_keeps_the_five_best_and_none_keeps_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'best.db'}"
    found = search(budget=8, epochs=1, seeds="lenet5,alexnet", storage=url, progress=False, drawings=False)
    complete = [t for t in evaluated_trials(found.study) if t.state.name == "COMPLETE"]
    best = sorted(complete, key=lambda trial: -trial.values[0])[:5]
    kept = WeightStore(tmp_path / "best.weights" / found.study.study_name).hashes()
    assert len(kept) == 5 and kept == {trial.user_attrs["hash"] for trial in best}
    other = search(budget=6, epochs=1, seeds="lenet5", storage=url, study="other", progress=False, drawings=False)
    assert WeightStore(tmp_path / "best.weights" / found.study.study_name).hashes() == kept  # its own folder
    assert len(WeightStore(tmp_path / "best.weights" / other.study.study_name).hashes()) == 5
    search(budget=2, epochs=1, seeds="lenet5", storage=f"sqlite:///{tmp_path / 'none.db'}", progress=False,
           keep_weights="none", drawings=False)
    assert not (tmp_path / "none.weights").exists()


def test_an_exported_trial_loads_back_and_its_onnx_model_matches_pytorch(searched, tmp_path):
    url, _, found = searched
    trial = evaluated_trials(found.study)[2]
    done = export(str(trial.number), tmp_path / "out", storage=url, study="kept")
    assert done.trained and {path.name for path in done.files} == {"genome.yaml", "weights.safetensors",
                                                                   "model.onnx", "README.md"}
    arch = Architecture.from_yaml((tmp_path / "out" / "genome.yaml").read_text())
    assert arch.hash() == trial.user_attrs["hash"]
    model = build(arch).eval()
    model.load_state_dict(load_state(tmp_path / "out" / "weights.safetensors"))
    images = torch.randn(5, *arch.input_shape)  # another batch size than the export's
    session = onnxruntime.InferenceSession(str(tmp_path / "out" / "model.onnx"), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = model(images).numpy()
    assert np.abs(session.run(None, {"images": images.numpy()})[0] - expected).max() <= 1e-4
    readme = (tmp_path / "out" / "README.md").read_text()
    assert f"**trial**: {trial.number}" in readme and "model.onnx checked" in readme and "load_state" in readme


def test_without_safetensors_the_weights_are_a_state_dict_read_back_weights_only(tmp_path, monkeypatch):
    monkeypatch.setattr(workers.weights, "_safetensors", lambda: None)
    state = {"w": torch.arange(6.0).reshape(2, 3)}
    path = WeightStore(tmp_path).save("abc", state)
    assert path.name == "abc.pt" and torch.equal(load_state(path)["w"], state["w"])


def test_an_architecture_exports_untrained_and_says_so(tmp_path, cli, monkeypatch):
    code, out, _ = cli("export", "lenet5", "-o", str(tmp_path / "lenet"))
    assert code == 0 and "no trained weights" in out and "model.onnx checked" in out
    assert not (tmp_path / "lenet" / "weights.safetensors").exists()
    assert "no trained weights" in (tmp_path / "lenet" / "README.md").read_text()


@pytest.mark.parametrize(("args", "words"), [
    (["99"], "has no trial 99"),
    (["0", "--weights", "missing.pt"], "weights file not found: missing.pt"),
])
def test_bad_export_input_is_one_line(searched, cli, args, words):
    url = searched[0]
    code, _, err = cli("export", *args, "--storage", url, "--study", "kept")
    assert code == 2 and len(err.strip().splitlines()) == 1 and words in err


def test_exporting_from_a_missing_store_creates_nothing(cli, tmp_path):
    code, _, err = cli("export", "0", "--storage", f"sqlite:///{tmp_path / 'none.db'}")
    assert code == 2 and "no store at" in err and sorted(p.name for p in tmp_path.iterdir()) == []
