"""``nasbench results report``: one Markdown or HTML page about a search, with its pictures beside it.

The page holds the study's settings, what its evaluations came to, the leaderboard, the best architecture (its
drawing and per-layer summary), the plots of ``results.plots`` and the lineage of the best: from the seed or sample
it descends from, each step's mutations, down to the best. The pictures are files next to the page
(``<page stem>-files/``), which the page links to.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from nasbench.architecture import Architecture
from nasbench.draw import draw
from nasbench.errors import NasbenchError
from nasbench.summary import human, summary
from results.artifacts import mutation_text
from results.plots import plot
from results.records import origin, ranked
from results.store import evaluated_trials, genome_json, study_objectives

REPORT_SUFFIXES = (".md", ".html")
LEADERBOARD = 10
SETTINGS = ("strategy", "space", "evaluator", "dataset", "search_dataset", "objectives", "budget", "seed",
            "strategy_config")

Block = tuple[Any, ...]  # ("h1"|"h2"|"p"|"pre", text), ("table", headers, rows), ("img", file, alt)


def write_report(study: optuna.Study, path: str | Path) -> list[Path]:
    """Write the report of ``study`` to ``path`` (``.md`` or ``.html``); every file written, the page first."""
    path = Path(path)
    if path.suffix.lower() not in REPORT_SUFFIXES:
        raise NasbenchError(f"cannot write a report to {path.name!r}: use a file name ending in .md or .html")
    files = path.parent / f"{path.stem}-files"
    files.mkdir(parents=True, exist_ok=True)
    blocks, written = report_blocks(study, files)
    text = to_html(blocks, study.study_name, path.parent) if path.suffix.lower() == ".html" else to_markdown(
        blocks, path.parent)
    path.write_text(text)
    return [path, *written]


def report_blocks(study: optuna.Study, files: Path) -> tuple[list[Block], list[Path]]:
    """The report's content, with its pictures written to ``files``."""
    objectives = study_objectives(study)
    attrs = study.user_attrs
    trials = evaluated_trials(study)
    states = {state: sum(trial.state == state for trial in trials)
              for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)}
    blocks: list[Block] = [("h1", f"Search {study.study_name}")]
    settings = [(key, json.dumps(attrs[key]) if isinstance(attrs[key], (dict, list)) else str(attrs[key]))
                for key in SETTINGS if key in attrs]
    blocks += [("h2", "Settings"), ("table", ("setting", "value"), settings)]
    best = ranked(study)[:1]
    summary_line = (f"{len(trials)} evaluations: {states[TrialState.COMPLETE]} complete, "
                    f"{states[TrialState.PRUNED]} stopped early, {states[TrialState.FAIL]} failed.")
    if best:
        first = best[0][1]
        summary_line += (f" Best {objectives[0].metric}: {first.values[0]:.4g} "
                         f"(trial {first.number}, {first.user_attrs.get('name', '')}).")
    blocks.append(("p", summary_line))
    metrics = [objective.metric for objective in objectives]
    rows = []
    for rank, (_, trial) in enumerate(ranked(study)[:LEADERBOARD], start=1):
        attrs_t = trial.user_attrs
        rows.append((str(rank), str(trial.number), str(attrs_t.get("name", ""))[:40],
                     *(f"{value:.4g}" for value in trial.values), human(attrs_t.get("params", 0)),
                     human(attrs_t.get("macs", 0)), origin(attrs_t)))
    blocks += [("h2", "Leaderboard"), ("table", ("rank", "trial", "name", *metrics, "params", "MACs", "origin"), rows)]
    written: list[Path] = []
    if best:
        blocks += _best(best[0][1], files, written)
        blocks += _lineage(study, best[0][1], objectives[0].metric)
    blocks.append(("h2", "Plots"))
    for kind, caption in (("best", "Best so far against evaluations"),
                          ("pareto", "Every completed trial, the Pareto front and the seeds"),
                          ("curves", "Per-epoch validation curves of the best trials")):
        try:
            written.append(plot([study], kind, files / f"{kind}.png"))
        except NasbenchError as error:
            blocks.append(("p", f"{caption}: none ({error})."))
            continue
        blocks.append(("img", files / f"{kind}.png", caption))
    return blocks, written


def _best(trial: FrozenTrial, files: Path, written: list[Path]) -> list[Block]:
    text = genome_json(trial)
    if text is None:
        return []
    arch = Architecture.from_json(text)
    where = f"Trial {trial.number}, {origin(trial.user_attrs)}; hash {trial.user_attrs.get('hash')}."
    blocks: list[Block] = [("h2", f"Best architecture: {arch.name}"), ("p", where)]
    try:
        picture = draw(arch, files / "best.svg")
    except NasbenchError as error:
        blocks.append(("p", f"No drawing: {error}."))
    else:
        written.append(picture)
        blocks.append(("img", picture, f"The network of {arch.name}"))
    blocks.append(("pre", summary(arch, cells=False)))
    return blocks


def lineage(study: optuna.Study, trial: FrozenTrial) -> list[FrozenTrial]:
    """``trial`` and its ancestors by ``parent`` hash, the oldest first (a seed or a sample starts it)."""
    by_hash = {t.user_attrs.get("hash"): t for t in evaluated_trials(study) if t.user_attrs.get("hash")}
    chain = [trial]
    while (parent := chain[-1].user_attrs.get("parent")) in by_hash and by_hash[parent] not in chain:
        chain.append(by_hash[parent])
    return chain[::-1]


def _lineage(study: optuna.Study, best: FrozenTrial, metric: str) -> list[Block]:
    chain = lineage(study, best)
    rows = []
    for trial in chain:
        value = f"{trial.values[0]:.4g}" if trial.values else trial.state.name.lower()
        rows.append((str(trial.number), str(trial.user_attrs.get("name", ""))[:40], origin(trial.user_attrs),
                     mutation_text(trial.user_attrs).removeprefix(" by ") or "-", value))
    intro = (f"From {origin(chain[0].user_attrs)} to the best in {len(chain) - 1} mutation step(s)."
             if len(chain) > 1 else "The best has no parent in the study: it is where its line starts.")
    return [("h2", "Lineage of the best"), ("p", intro),
            ("table", ("trial", "name", "origin", "mutation", metric), rows)]


def to_markdown(blocks: Sequence[Block], base: Path) -> str:
    """The blocks as Markdown, pictures linked relative to ``base``."""
    lines: list[str] = []
    for block in blocks:
        kind = block[0]
        if kind == "h1":
            lines += [f"# {block[1]}", ""]
        elif kind == "h2":
            lines += [f"## {block[1]}", ""]
        elif kind == "p":
            lines += [block[1], ""]
        elif kind == "pre":
            lines += ["```", block[1], "```", ""]
        elif kind == "img":
            lines += [f"![{block[2]}]({block[1].relative_to(base).as_posix()})", ""]
        elif kind == "table":
            headers, rows = block[1], block[2]
            lines.append("| " + " | ".join(headers) + " |")
            lines.append("| " + " | ".join("---" for _ in headers) + " |")
            lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows]
            lines.append("")
    return "\n".join(lines)


def to_html(blocks: Sequence[Block], title: str, base: Path) -> str:
    """The blocks as one HTML page, pictures linked relative to ``base``."""
    body: list[str] = []
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2", "p"):
            body.append(f"<{kind}>{html.escape(block[1])}</{kind}>")
        elif kind == "pre":
            body.append(f"<pre>{html.escape(block[1])}</pre>")
        elif kind == "img":
            body.append(f'<figure><img src="{html.escape(block[1].relative_to(base).as_posix())}" '
                        f'alt="{html.escape(block[2])}"><figcaption>{html.escape(block[2])}</figcaption></figure>')
        elif kind == "table":
            head = "".join(f"<th>{html.escape(cell)}</th>" for cell in block[1])
            rows = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
                           for row in block[2])
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}"
             "pre{background:#f6f6f6;padding:1em;overflow:auto}img{max-width:100%}")
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
