"""``export(...)``, the Python twin of ``nasbench export``: a found network out of the study, ready to use elsewhere.

A trial of a stored study (by number) or any architecture (a zoo name or genome file) is written to a folder:

- ``genome.yaml``, the architecture as data;
- ``weights.safetensors`` (``weights.pt`` without safetensors: a ``torch.save`` of the state dict, which loads
  back with ``weights_only=True``): the trial's kept weights (``--keep-weights``), or the file given;
- ``model.onnx``, checked with onnxruntime where it is installed: the largest difference from PyTorch's outputs on
  random inputs must be within ``ONNX_TOLERANCE`` of their scale;
- ``README.md``: what it is (name, origin, scores), its size and the per-layer summary, and how to load it.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from nasbench.app.load import load
from nasbench.app.search import weights_directory
from nasbench.architecture import Architecture
from nasbench.compiler import build
from nasbench.errors import NasbenchError, error_line
from nasbench.summary import human, summary
from results.records import origin
from results.store import DEFAULT_STORAGE, genome_json, load_study, trial_with_genome
from workers.weights import WeightStore, load_state, save_state

ONNX_TOLERANCE = 1e-4  # of max(1, the largest output magnitude)
CHECK_BATCH = 4
EXPORT_MISSING = "pip install 'nasbench[export]'"


@dataclass
class Exported:
    """What ``export`` wrote: the folder, the files, and the ONNX check (None where it was not run)."""

    folder: Path
    files: list[Path]
    trained: bool
    onnx_difference: float | None
    onnx_note: str


def export(source: str | Architecture, output: str | Path | None = None, storage: str | None = None,
           study: str | None = None, weights: str | Path | None = None) -> Exported:
    """Write ``source`` (a trial number of the study in ``storage``, or an architecture) to ``output``.

    ``weights`` is a state dict file to export with the architecture (default: a trial's kept weights; none for an
    architecture, which is then exported untrained and says so).
    """
    title, facts, arch, state = _resolve(source, storage, study)
    if weights is not None:
        state = load_state(_existing(weights))
    folder = Path(output) if output is not None else Path("export") / title
    folder.mkdir(parents=True, exist_ok=True)
    model = build(arch, seed=0)
    if state is not None:
        try:
            model.load_state_dict(state)
        except RuntimeError as error:
            raise NasbenchError(f"the weights do not fit {arch.name} (trained at another size, with cells/width?): "
                                f"{error_line(error)}") from None
    model.eval()
    files = [folder / "genome.yaml"]
    files[0].write_text(arch.to_yaml())
    if state is not None:
        files.append(save_state(model.state_dict(), folder / "weights"))
    difference, note = _onnx(model, arch, folder / "model.onnx")
    if (folder / "model.onnx").is_file():
        files.append(folder / "model.onnx")
    readme = folder / "README.md"
    readme.write_text(_readme(title, arch, facts, state is not None, [f.name for f in files], note))
    files.append(readme)
    return Exported(folder, files, state is not None, difference, note)


def _existing(path: str | Path) -> Path:
    if not Path(path).is_file():
        raise NasbenchError(f"weights file not found: {path}")
    return Path(path)


def _resolve(source: str | Architecture, storage: str | None, study: str | None
             ) -> tuple[str, dict[str, str], Architecture, dict[str, torch.Tensor] | None]:
    """(title, facts, architecture, kept weights) of a trial number or an architecture."""
    if isinstance(source, str) and source.isdigit():
        url = storage or DEFAULT_STORAGE
        the_study = load_study(url, study)
        number = int(source)
        trial = trial_with_genome(the_study, number)
        arch = Architecture.from_json(genome_json(trial) or "")
        attrs = trial.user_attrs
        facts = {"study": the_study.study_name, "trial": str(number), "state": trial.state.name.lower(),
                 "origin": origin(attrs), "hash": str(attrs.get("hash"))}
        if trial.values:
            facts.update({metric: f"{value:.4g}" for metric, value in
                          zip(the_study.metric_names or ["objective"], trial.values)})
        folder = weights_directory(url, the_study.study_name)
        state = WeightStore(folder).load(arch.hash()) if folder is not None else None
        return f"{the_study.study_name}-trial{number}", facts, arch, state
    arch = load(source)
    return arch.name, {"hash": arch.hash()}, arch, None


def _onnx(model: nn.Module, arch: Architecture, path: Path) -> tuple[float | None, str]:
    """Export to ONNX (batch size free) and compare onnxruntime with PyTorch; (difference, what to say of it)."""
    try:
        import onnxscript  # noqa: F401 -- torch's ONNX exporter needs it
    except ImportError:
        return None, f"model.onnx not written: the ONNX exporter needs onnxscript ({EXPORT_MISSING})"
    example = torch.randn(2, *arch.input_shape, generator=torch.Generator().manual_seed(0))
    batch = torch.export.Dim("batch", min=1, max=4096)
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # it names every torchvision op it skips when torchvision is not installed
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(model, (example,), input_names=["images"], output_names=["logits"],
                                        dynamic_shapes=({0: batch},), dynamo=True, verbose=False)
        program.save(str(path))
    except Exception as error:  # noqa: BLE001 -- any exporter failure is reported, the other files stand
        path.unlink(missing_ok=True)
        return None, f"model.onnx not written: {error_line(error)}"
    finally:
        quiet.setLevel(level)
    try:
        import onnxruntime
    except ImportError:
        return None, f"model.onnx not checked: onnxruntime is not installed ({EXPORT_MISSING})"
    inputs = torch.randn(CHECK_BATCH, *arch.input_shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = model(inputs).float().numpy()
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: inputs.numpy()})[0]
    difference = float(np.abs(got - expected).max())
    scale = max(1.0, float(np.abs(expected).max()))
    if difference > ONNX_TOLERANCE * scale:
        raise NasbenchError(f"model.onnx differs from PyTorch by {difference:.3g} (over {ONNX_TOLERANCE:g} x "
                            f"{scale:.3g}); it was written to {path} for inspection")
    return difference, (f"model.onnx checked: onnxruntime is within {difference:.2g} of PyTorch on "
                        f"{CHECK_BATCH} random inputs")


def _readme(title: str, arch: Architecture, facts: dict[str, str], trained: bool, files: list[str],
            onnx_note: str) -> str:
    lowered = arch.lower()
    lines = [f"# {title}", "", f"Architecture `{arch.name}`: {human(lowered.params)} parameters, "
             f"{human(lowered.macs)} MACs, input {'x'.join(map(str, arch.input_shape))}, output "
             f"{'x'.join(map(str, lowered.output_shape))}.", ""]
    lines += [f"- **{key}**: {value}" for key, value in facts.items()]
    lines += ["", "## Files", ""]
    lines += [f"- `{name}`" for name in files]
    if not trained:
        lines.append("- no trained weights: the study kept none for this trial (`--keep-weights`), or none were "
                     "given (`--weights FILE`); the ONNX model holds the initial weights")
    lines += ["", onnx_note, "", "## Loading it", "", "```python", "from pathlib import Path",
              "from nasbench import Architecture", "from nasbench.compiler import build",
              "from workers.weights import load_state", "",
              'arch = Architecture.from_yaml(Path("genome.yaml").read_text())', "model = build(arch).eval()"]
    if trained:
        weights = next(name for name in files if name.startswith("weights."))
        lines.append(f'model.load_state_dict(load_state("{weights}"))')
    lines += ["```", "", "With onnxruntime alone: `onnxruntime.InferenceSession(\"model.onnx\").run(None, {\"images\": "
              "batch})`, a float32 batch of normalized images.", "", "## Layers", "", "```", summary(arch), "```", ""]
    return "\n".join(lines)
