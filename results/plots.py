"""Pictures of searches (PNG, SVG or PDF, by the file's suffix), drawn with matplotlib's object API.

- ``best``: the best value of the first objective so far against evaluations, one line per study, so that
  strategies run on the same problem compare at a glance;
- ``pareto``: every completed trial on two objectives (params or MACs against accuracy, say), the Pareto front
  drawn as a staircase, the seed networks marked and labelled;
- ``curves``: the per-epoch validation curves of a study's best trials.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import optuna
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from nasbench.errors import NasbenchError
from nasbench.objectives import ANALYTIC_METRICS, Objective, pareto_fronts
from results.records import ranked
from results.store import evaluated_trials, study_objectives

PLOT_KINDS = ("best", "pareto", "curves")
SUFFIXES = (".png", ".svg", ".pdf")
CURVES = 5  # trials whose curves ``curves`` draws


def plot(studies: Sequence[optuna.Study], kind: str, path: str | Path, x: str | None = None,
         y: str | None = None) -> Path:
    """Draw ``kind`` of ``studies`` to ``path`` (``pareto`` and ``curves`` draw the first study); the path."""
    path = Path(path)
    if kind not in PLOT_KINDS:
        raise NasbenchError(f"plot kind must be one of {', '.join(PLOT_KINDS)}, got {kind!r}")
    if path.suffix.lower() not in SUFFIXES:
        raise NasbenchError(f"cannot plot to {path.name!r}: use a file name ending in {', '.join(SUFFIXES)}")
    if not studies:
        raise NasbenchError("no study to plot")
    figure = Figure(figsize=(8, 5.2), layout="constrained")
    axes = figure.add_subplot()
    if kind == "best":
        best_so_far(axes, studies)
    elif kind == "pareto":
        pareto_front(axes, studies[0], x, y)
    else:
        epoch_curves(axes, studies[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=130 if path.suffix.lower() == ".png" else 72, facecolor="white")
    return path


def best_so_far(axes: Axes, studies: Sequence[optuna.Study]) -> None:
    """The best first objective so far against evaluations, one line per study."""
    first = study_objectives(studies[0])[0]
    for study in studies:
        objective = study_objectives(study)[0]
        if objective.metric != first.metric:
            raise NasbenchError(f"study {study.study_name!r} optimizes {objective.metric}, not {first.metric}: "
                                "best-so-far lines compare one objective")
        best: float | None = None
        xs, ys = [], []
        for count, trial in enumerate(evaluated_trials(study), start=1):
            if trial.state.name == "COMPLETE" and trial.values and math.isfinite(trial.values[0]):
                value = trial.values[0]
                best = value if best is None or objective.better(value, best) else best
            if best is not None:
                xs.append(count)
                ys.append(best)
        if xs:
            axes.step(xs, ys, where="post", linewidth=1.8, label=f"{study.study_name} (best {ys[-1]:.4g})")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("evaluations")
    axes.set_ylabel(f"best {first.metric} so far ({first.direction[:3]})")
    axes.set_title("best so far", fontsize=11, weight="bold")
    axes.grid(alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=8, loc="lower right" if first.direction == "maximize" else "upper right")


def _metric(study: optuna.Study, name: str) -> Objective:
    for objective in study_objectives(study):
        if objective.metric == name:
            return objective
    if name in ANALYTIC_METRICS:
        return Objective(name, "minimize")
    raise NasbenchError(f"study {study.study_name!r} has no objective {name!r} (its objectives: "
                        f"{', '.join(o.metric for o in study_objectives(study))}; params and macs always exist)")


def _value(trial: optuna.trial.FrozenTrial, study: optuna.Study, metric: str) -> float | None:
    objectives = [o.metric for o in study_objectives(study)]
    if metric in objectives and trial.values:
        return trial.values[objectives.index(metric)]
    found = trial.user_attrs.get(metric)
    return float(found) if isinstance(found, (int, float)) else None


def pareto_front(axes: Axes, study: optuna.Study, x: str | None, y: str | None) -> None:
    """Every completed trial on objectives ``x`` and ``y``, the front as a staircase, the seeds labelled."""
    objectives = study_objectives(study)
    y_objective = _metric(study, y or objectives[0].metric)
    x_objective = _metric(study, x or next((o.metric for o in objectives[1:]), "params"))
    points = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        px, py = _value(trial, study, x_objective.metric), _value(trial, study, y_objective.metric)
        if px is not None and py is not None and math.isfinite(px) and math.isfinite(py):
            points.append((px, py, trial))
    if not points:
        raise NasbenchError(f"study {study.study_name!r} has no completed trial to plot")
    oriented = [(x_objective.oriented(px), y_objective.oriented(py)) for px, py, _ in points]
    front = sorted(pareto_fronts(oriented)[0], key=lambda i: points[i][0])
    axes.scatter([p[0] for p in points], [p[1] for p in points], s=16, color="#9aa7b8", label="trials", zorder=2)
    axes.step([points[i][0] for i in front], [points[i][1] for i in front], where="post", color="#c0392b",
              linewidth=1.6, zorder=3)
    axes.scatter([points[i][0] for i in front], [points[i][1] for i in front], s=30, color="#c0392b",
                 label=f"Pareto front ({len(front)})", zorder=4)
    seeds = [(px, py, trial.user_attrs["seed_name"]) for px, py, trial in points if trial.user_attrs.get("seed_name")]
    if seeds:
        axes.scatter([s[0] for s in seeds], [s[1] for s in seeds], s=70, marker="*", color="#2471a3",
                     label="seed networks", zorder=5)
    if x_objective.metric in ANALYTIC_METRICS and min(p[0] for p in points) > 0:
        axes.set_xscale("log")
    if seeds:
        label_points(axes, seeds)
    axes.set_xlabel(f"{x_objective.metric} ({x_objective.direction[:3]})")
    axes.set_ylabel(f"{y_objective.metric} ({y_objective.direction[:3]})")
    axes.set_title(f"{study.study_name}: {y_objective.metric} against {x_objective.metric}", fontsize=11,
                   weight="bold")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)


# Where a label may sit beside its point: (offset in points, alignment), nearest first.
LABEL_PLACES = (((5, 5), "left"), ((-5, 5), "right"), ((5, -12), "left"), ((-5, -12), "right"),
                ((5, 16), "left"), ((-5, 16), "right"), ((5, -23), "left"), ((-5, -23), "right"))


def label_points(axes: Axes, labelled: Sequence[tuple[float, float, str]], size: float = 8.0) -> None:
    """Name each point, choosing for each the nearest place where its name overlaps no name placed before."""
    figure = axes.get_figure()
    scale = figure.dpi / 72.0 if figure is not None else 1.0
    taken: list[tuple[float, float, float, float]] = []
    for px, py, name in sorted(labelled, key=lambda point: point[0]):
        x0, y0 = axes.transData.transform((px, py)) / scale  # in points
        width, height = 0.6 * size * len(name), size
        boxes = []
        for (dx, dy), align in LABEL_PLACES:
            left = x0 + dx - (width if align == "right" else 0.0)
            boxes.append(((left, y0 + dy, left + width, y0 + dy + height), (dx, dy), align))
        box, offset, align = next((candidate for candidate in boxes
                                   if not any(_overlap(candidate[0], other) for other in taken)), boxes[0])
        taken.append(box)
        axes.annotate(name, (px, py), textcoords="offset points", xytext=offset, ha=align, fontsize=size,
                      color="#1b4f72")


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def epoch_curves(axes: Axes, study: optuna.Study, count: int = CURVES) -> None:
    """The per-epoch validation curves of the ``count`` best trials of ``study``."""
    drawn = 0
    for _, trial in ranked(study):
        curve = (trial.user_attrs.get("outcome") or {}).get("curve") or []
        epochs = [entry.get("epoch", step) for step, entry in enumerate(curve, start=1) if "val_acc" in entry]
        values = [entry["val_acc"] for entry in curve if "val_acc" in entry]
        if not values and trial.intermediate_values:
            epochs, values = list(trial.intermediate_values), list(trial.intermediate_values.values())
        if not values:
            continue
        label = f"#{trial.number} {trial.user_attrs.get('name', '')}"[:40]
        axes.plot(epochs, values, marker="o", markersize=3, linewidth=1.5, label=label)
        drawn += 1
        if drawn == count:
            break
    if not drawn:
        raise NasbenchError(f"study {study.study_name!r} has no per-epoch curve to plot (a table study has none)")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("epoch")
    axes.set_ylabel("val_acc")
    axes.set_title(f"{study.study_name}: curves of the {drawn} best trials", fontsize=11, weight="bold")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="lower right")
