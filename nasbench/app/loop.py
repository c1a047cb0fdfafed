"""The search loop: seeds first, then a strategy's proposals, evaluated, deduplicated, stored and told.

The loop keeps ``executor.capacity`` evaluations in flight; whenever one finishes it is stored, told to the strategy,
and the next candidate is asked for. Budget: the number of distinct architectures evaluated in the study, seeds and
failures included (a candidate over ``max_params`` / ``max_macs``, or whose evaluation raised or diverged, is a FAIL
trial that counts). A proposal whose canonical hash the study already holds is not evaluated again and uses no budget:
the strategy is told the stored result and asked again; after ``max_duplicates`` duplicates in a row the search stops
(the strategy has converged); a strategy that has nothing new to propose stops the search by raising
``StrategyExhausted``.

Exact resume. Every ``checkpoint_every`` evaluations, and when the loop ends, the strategy's ``state_dict`` and the
loop's counters (evaluations told, asks, duplicates in a row) are stored with the study. Every evaluation records its
place in the order of tells. A resumed search restores the checkpoint, marks the RUNNING trials of the killed run FAIL
(stale), and runs the loop again from there: where the loop would evaluate a candidate that the study already holds
as the next evaluation after the checkpoint, it tells the stored result instead of evaluating it again (checking that
the re-asked candidate is the stored one). With one evaluation in flight the loop is deterministic, so the resumed
search proposes exactly the sequence of an uninterrupted one. Should the strategy propose something else (a study
written by an older version, before checkpoints, or a strategy that is not deterministic), the remaining stored
evaluations are told in their order and the search goes on from there.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState

from nasbench.architecture import Architecture
from nasbench.errors import GenomeError, NasbenchError
from nasbench.limits import size_limit_error
from nasbench.objectives import ANALYTIC_METRICS, Objective, oriented, values_of
from nasbench.threads import num_threads
from results.artifacts import TrialArtifacts
from results.display import SearchProgress
from results.store import TrialHandle, TrialWriter, evaluated_trials
from search_spaces.base import SearchSpace, Variable
from strategies.base import Candidate, Observation, Strategy, StrategyExhausted
from workers.base import PRUNED, Result
from workers.executor import Executor
from workers.weights import WeightStore

MAX_DUPLICATES = 100
CHECKPOINT_EVERY = 25
KEEP_BEST = 5  # --keep-weights best: the weights of this many best evaluations are kept
CHECKPOINT_VERSION = 1

@dataclass
class Prepared:
    """A candidate ready to store: genome JSON, canonical hash, size, or why it cannot be built."""

    genome: str
    hash: str
    params: int | None
    macs: int | None
    error: str | None

    def analytic(self) -> dict[str, float]:
        """The analytic metrics every candidate reports, whatever the evaluator."""
        return {key: float(value) for key, value in zip(ANALYTIC_METRICS, (self.params, self.macs))
                if value is not None}


# A strategy's models (a controller, a GP, a regressor) are too small to gain from threads, and two searches sharing the
# cores with two threads each lose most of their time to OpenMP's spinning: ask and tell run on one thread.
STRATEGY_THREADS = 1
SEED, REDO, ASKED = "seed", "redo", "asked"  # where a candidate comes from: a seed, an interrupted trial, the strategy


@dataclass
class Pending:
    """An evaluation in flight: its trial, candidate, prepared form and where the candidate came from."""

    handle: TrialHandle
    candidate: Candidate
    prepared: Prepared
    source: str


def distribution(variable: Variable) -> BaseDistribution:
    """The Optuna distribution of a space variable: evenly spaced integer ordinals are integer ranges."""
    choices = variable.choices
    steps = {b - a for a, b in zip(choices, choices[1:])} if variable.ordinal else set()
    if all(isinstance(c, int) and not isinstance(c, bool) for c in choices) and len(steps) == 1:
        return IntDistribution(choices[0], choices[-1], step=steps.pop())
    return CategoricalDistribution(list(choices))


class SearchLoop:
    """One search over an open study: resume, seeds, then ask/evaluate/store/tell, ``executor.capacity`` in flight."""

    def __init__(self, study: optuna.Study, space: SearchSpace, strategy: Strategy, executor: Executor,
                 objectives: tuple[Objective, ...], budget: int, seed: int = 0,
                 fidelity: int | None = None, max_params: int | None = None, max_macs: int | None = None,
                 max_duplicates: int = MAX_DUPLICATES, checkpoint_every: int = CHECKPOINT_EVERY,
                 artifacts: TrialArtifacts | None = None, best_weights: WeightStore | None = None) -> None:
        self.study, self.space, self.strategy = study, space, strategy
        self.artifacts = artifacts  # each trial's drawings and note, written while it is evaluated
        self.best_weights = best_weights  # where only the KEEP_BEST best candidates' weights are kept
        self.executor, self.objectives = executor, objectives
        self.budget, self.seed, self.fidelity = budget, seed, fidelity
        self.max_params, self.max_macs, self.max_duplicates = max_params, max_macs, max_duplicates
        self.checkpoint_every = checkpoint_every
        self.writer = TrialWriter(study, objectives)
        self.distributions = self._distributions(space)
        self.known: dict[str, Observation] = {}  # hash -> stored observation, over the whole study
        self.replay: deque[FrozenTrial] = deque()  # stored evaluations after the checkpoint, in the order told
        self.evaluated = 0  # evaluations told to the strategy (what counts toward the budget)
        self.asks = 0
        self.duplicates = 0  # duplicate proposals in a row
        self.checkpointed = 0
        self.best: float | None = None

    @staticmethod
    def _distributions(space: SearchSpace) -> dict[str, BaseDistribution] | None:
        variables = space.variables()
        if variables is None:
            return None
        return {name: distribution(variable) for name, variable in variables.items()}

    def run(self, seeds: list[Architecture], bar: SearchProgress) -> str | None:
        """Resume, evaluate the seeds, then search until the budget is used; returns why it stopped early, if so."""
        queue: deque[tuple[Candidate, str]] = deque(
            (Candidate(arch, {"origin": "seed", "seed": arch.name}), SEED) for arch in seeds)
        queue.extend((candidate, REDO) for candidate in self.resume())
        bar.update(self.evaluated, self.best)
        pending: dict[Any, Pending] = {}
        running: set[str] = set()
        stopped = None
        capacity = max(1, self.executor.capacity)
        with self.executor as pool:
            while True:
                while (stopped is None and len(pending) < capacity
                       and self.evaluated + len(pending) + len(self.replay) < self.budget):
                    if queue:
                        candidate, source = queue.popleft()
                    elif any(job.source == SEED for job in pending.values()):
                        break  # seeds are told before the strategy is first asked
                    else:
                        try:
                            candidate, source = self.ask(), ASKED
                        except StrategyExhausted as exhausted:
                            stopped = str(exhausted)
                            break
                        self.asks += 1
                    prepared = self.prepare(candidate)
                    candidate.info["hash"] = prepared.hash
                    taken = prepared.hash in self.known or prepared.hash in running
                    # An interrupted evaluation proposed before the checkpoint is redone, never replayed.
                    replayable = source != REDO and bool(self.replay)
                    if replayable and not taken and not self._replays(prepared.hash, capacity):
                        self.flush_replay(bar)
                        replayable, taken = False, prepared.hash in self.known
                    if taken:
                        if source != SEED:
                            stopped = self.duplicate(candidate, prepared.hash)
                        continue
                    self.duplicates = 0
                    if replayable:
                        self.conclude(candidate, prepared.hash, self._take_replay(prepared.hash), bar)
                        continue
                    attrs = self.attrs(candidate, prepared)
                    handle = self.writer.start(attrs, *self.encoding(candidate.arch))
                    reason = prepared.error or size_limit_error(prepared.params, prepared.macs, self.max_params,
                                                                self.max_macs)
                    if reason is not None:
                        self.finish(Pending(handle, candidate, prepared, source), Result.failure(reason), bar)
                        continue
                    if self.artifacts is not None:
                        self.artifacts.attach(handle.trial_id, candidate.arch, attrs)
                    job = pool.submit(candidate.arch, self.fidelity, self.seed)
                    pending[job] = Pending(handle, candidate, prepared, source)
                    running.add(prepared.hash)
                if not pending:
                    break
                finished = pool.wait_any(list(pending))
                if finished is None:
                    raise NasbenchError("the executor lost track of the evaluations in flight")
                job, result = finished
                done = pending.pop(job)
                running.discard(done.prepared.hash)
                self.finish(done, result, bar)
        self.flush_replay(bar)
        self.checkpoint()
        return stopped

    def ask(self) -> Candidate:
        """The strategy's next proposal."""
        with num_threads(STRATEGY_THREADS):
            return self.strategy.ask()

    def tell(self, candidate: Candidate, observation: Observation) -> None:
        """Tell the strategy an evaluation."""
        with num_threads(STRATEGY_THREADS):
            self.strategy.tell(candidate, observation)

    def duplicate(self, candidate: Candidate, arch_hash: str) -> str | None:
        """Tell the stored result of a duplicate proposal; why the search stops, once too many came in a row."""
        self.duplicates += 1
        if arch_hash in self.known:
            self.tell(candidate, self.known[arch_hash])
        if self.duplicates >= self.max_duplicates:
            return f"{self.duplicates} duplicate proposals in a row: the strategy has converged"
        return None

    def resume(self) -> list[Candidate]:
        """Restore the checkpoint, queue the stored evaluations after it for replay; returns candidates to redo.

        Candidates to redo are those of interrupted (stale) trials that the strategy proposed before the checkpoint,
        so that a restored strategy will not propose them again.
        """
        stale = self.writer.fail_stale("interrupted: the search stopped while this evaluation ran; evaluated again")
        checkpoint = self.writer.load_checkpoint()
        trials = evaluated_trials(self.study)
        stored = next((trial.distributions for trial in trials if trial.distributions), None)
        if stored and self.distributions is not None:
            self.distributions.update(stored)  # Optuna refuses another kind of distribution for a stored param
        told = 0
        if checkpoint is not None:
            if checkpoint.get("version") != CHECKPOINT_VERSION:
                raise NasbenchError(f"study {self.study.study_name!r}: checkpoint version {checkpoint.get('version')} "
                                    f"is not {CHECKPOINT_VERSION} (written by another nasbench version)")
            self.strategy.load_state_dict(checkpoint["strategy"])
            told = min(int(checkpoint["evaluated"]), len(trials))
            self.asks, self.duplicates = int(checkpoint["asks"]), int(checkpoint["duplicates"])
        for trial in trials[:told]:
            observation = self.observation(trial)
            self.known[trial.user_attrs["hash"]] = observation
            self.evaluated += 1
            self.track(observation)
        self.checkpointed = self.evaluated
        # Evaluations proposed before the checkpoint and finished after it: the restored strategy will not ask again.
        for trial in trials[told:]:
            if trial.user_attrs.get("ask", 0) <= self.asks and checkpoint is not None:
                self.tell_stored(trial)
            else:
                self.replay.append(trial)
        redo, seen = [], set(self.known)
        for trial in stale:
            candidate, _ = self.restore(trial)
            arch_hash = candidate.info["hash"]
            # Without a checkpoint the fresh strategy proposes the interrupted candidate again by itself.
            before = checkpoint is not None and trial.user_attrs.get("ask", math.inf) <= self.asks
            if before and arch_hash not in seen and candidate.info.get("origin") != "seed":
                seen.add(arch_hash)
                redo.append(candidate)
        return redo

    def _replays(self, arch_hash: str, capacity: int) -> bool:
        """Whether the fresh proposal ``arch_hash`` is a stored evaluation waiting to be replayed."""
        if capacity == 1:
            return self.replay[0].user_attrs["hash"] == arch_hash
        return any(trial.user_attrs["hash"] == arch_hash for trial in self.replay)

    def _take_replay(self, arch_hash: str) -> Observation:
        for trial in self.replay:
            if trial.user_attrs["hash"] == arch_hash:
                self.replay.remove(trial)
                return self.observation(trial)
        raise AssertionError(f"{arch_hash} is not waiting for replay")

    def flush_replay(self, bar: SearchProgress) -> None:
        """Tell every stored evaluation still waiting for replay, in the order told (the strategy diverged)."""
        while self.replay:
            self.tell_stored(self.replay.popleft())
            bar.update(self.evaluated, self.best)

    def tell_stored(self, trial: FrozenTrial) -> None:
        """Tell a stored evaluation as its own candidate."""
        candidate, observation = self.restore(trial)
        self.conclude(candidate, candidate.info["hash"], observation, None)

    def restore(self, trial: FrozenTrial) -> tuple[Candidate, Observation]:
        """The candidate and observation a stored trial holds."""
        attrs = trial.user_attrs
        info = {key: attrs[key] for key in ("origin", "parent", "mutations", "derived", "hash")
                if attrs.get(key) is not None}
        if attrs.get("seed_name"):
            info["seed"] = attrs["seed_name"]
        return Candidate(Architecture.from_json(attrs["genome"]), info), self.observation(trial)

    def observation(self, trial: FrozenTrial) -> Observation:
        """What the strategy was told about a stored trial."""
        attrs = trial.user_attrs
        outcome = attrs.get("outcome") or {}
        metrics = {key: math.nan if value is None else value for key, value in (outcome.get("metrics") or {}).items()}
        if trial.state == TrialState.COMPLETE:
            return Observation(True, tuple(trial.values), metrics)
        if trial.state == TrialState.PRUNED:
            values = values_of(self.objectives, metrics)
            if all(math.isfinite(value) for value in values):
                return Observation(True, values, metrics, outcome.get("error"), pruned=True)
        return Observation(False, None, metrics, outcome.get("error", "failed"))

    def prepare(self, candidate: Candidate) -> Prepared:
        """Genome JSON, hash, parameters and MACs (one lowering per distinct genome: ``Architecture.measure``)."""
        genome = candidate.arch.to_json(indent=None)
        try:
            measured = candidate.arch.measure()
        except GenomeError as error:
            digest = hashlib.sha256(genome.encode()).hexdigest()
            return Prepared(genome, f"invalid-{digest[:24]}", None, None, f"invalid architecture: {error}")
        return Prepared(genome, measured.hash, measured.params, measured.macs, None)

    def attrs(self, candidate: Candidate, prepared: Prepared) -> dict[str, Any]:
        """The user attributes a trial starts with (``ask``: how many proposals the strategy had made by then)."""
        info = candidate.info
        attrs = {"genome": prepared.genome, "hash": prepared.hash, "name": candidate.arch.name,
                 "params": prepared.params, "macs": prepared.macs, "strategy": self.strategy.name,
                 "origin": info.get("origin"), "parent": info.get("parent"), "mutations": info.get("mutations"),
                 "seed_name": info.get("seed"), "derived": info.get("derived"), "fidelity": self.fidelity,
                 "mutation": candidate.arch.meta.get("mutation"), "ask": self.asks}
        return {key: value for key, value in attrs.items() if value is not None}  # one storage write per attribute

    def encoding(self, arch: Architecture) -> tuple[dict[str, Any] | None, dict[str, BaseDistribution] | None]:
        """(params, distributions) of the space's flat encoding, or (None, None) for open-ended spaces."""
        if self.distributions is None:
            return None, None
        try:
            return self.space.encode(arch), self.distributions
        except (NasbenchError, NotImplementedError, KeyError):
            return None, None

    def finish(self, job: Pending, result: Result, bar: SearchProgress) -> None:
        """Store the result with every objective's value (after the trial's artifacts), then tell it."""
        if self.artifacts is not None:
            self.artifacts.wait(job.handle.trial_id)
        pruned = result.status == PRUNED
        scored = result.ok or pruned
        metrics = {**result.metrics, **job.prepared.analytic()} if scored else dict(result.metrics)
        values, error = self.writer.finish(job.handle, result.ok, metrics, result.curve, result.seconds, result.error,
                                           {"order": self.evaluated}, pruned=pruned)
        # Built from exactly what was stored, so that a replay after a resume tells the strategy the same thing.
        stored = {key: value if math.isfinite(value) else math.nan for key, value in metrics.items()}
        told = Observation(values is not None, values, stored, result.error if pruned else error,
                           pruned=pruned and values is not None)
        self.conclude(job.candidate, job.prepared.hash, told, bar)
        if self.best_weights is not None:
            # Only finished evaluations lose their weights: one still running may have saved its own already.
            self.best_weights.discard(set(self.known) - set(self.best_hashes(KEEP_BEST)))

    def best_hashes(self, count: int) -> list[str]:
        """The hashes of the ``count`` best evaluations by the first objective (full fidelity only)."""
        scored = [(oriented(self.objectives, observation.values)[0], arch_hash)
                  for arch_hash, observation in self.known.items()
                  if observation.ok and not observation.pruned and observation.values is not None]
        return [arch_hash for _, arch_hash in sorted(scored, key=lambda pair: -pair[0])[:count]]

    def conclude(self, candidate: Candidate, arch_hash: str, observation: Observation,
                 bar: SearchProgress | None) -> None:
        """Tell an evaluation, count it against the budget, checkpoint every ``checkpoint_every``."""
        self.known[arch_hash] = observation
        self.tell(candidate, observation)
        self.evaluated += 1
        self.track(observation)
        if self.evaluated - self.checkpointed >= self.checkpoint_every:
            self.checkpoint()
        if bar is not None:
            bar.update(self.evaluated, self.best)

    def checkpoint(self) -> None:
        """Store the strategy's state and the loop's counters with the study."""
        if self.replay:
            return  # the state must not run ahead of the stored evaluations it has not been told yet
        self.writer.save_checkpoint({"version": CHECKPOINT_VERSION, "evaluated": self.evaluated, "asks": self.asks,
                                     "duplicates": self.duplicates, "strategy": self.strategy.state_dict()})
        self.checkpointed = self.evaluated

    def track(self, observation: Observation) -> None:
        """Follow the best value of the first objective."""
        if not observation.ok or observation.values is None or observation.pruned:
            return  # a pruned candidate's score is of fewer epochs than the others'
        value = observation.values[0]
        first = self.objectives[0]
        if math.isfinite(value) and (self.best is None or first.better(value, self.best)):
            self.best = value
