"""The search loop: seeds first, then a strategy's proposals, claimed, evaluated, deduplicated, stored and told.

The loop keeps ``executor.capacity`` evaluations in flight; whenever one finishes it is stored, told to the strategy,
and the next candidate is asked for. Budget: the number of distinct architectures evaluated in the study, seeds and
failures included (a candidate over ``max_params`` / ``max_macs``, or whose evaluation raised or diverged, is a FAIL
trial that counts). A proposal whose canonical hash the study already holds is not evaluated again and uses no budget:
the strategy is told the stored result and asked again; after ``max_duplicates`` duplicates in a row the search stops
(the strategy has converged); a strategy that has nothing new to propose stops the search by raising
``StrategyExhausted``.

Many searchers (``results.shared``). Every candidate is claimed in the study's ledger before it is evaluated: a hash
another searcher claimed is a duplicate, and once the budget's claims are all taken no searcher proposes more. The
other searchers' evaluations are told to the strategy as they reach the store (read every ``SYNC_SECONDS``), and the
ones they have started are announced (``Strategy.evaluating``), as this searcher's own are, so that N evolution
processes are one asynchronous population. Every heartbeat the stale trials of searchers that died are
taken over, and evaluated again here. A searcher with nothing left to do waits until every claim of the study is
finished, so that work a searcher leaves behind when it dies is always redone by one that survives.

Exact resume. Every ``checkpoint_every`` evaluations, and when the loop ends, the strategy's ``state_dict``, the
loop's counters (asks, duplicates in a row) and the trials told so far are stored with the study, one checkpoint per
searcher slot. Every evaluation records its place in the order of tells. A resumed search restores the checkpoint,
takes the RUNNING trials of the killed run over (stale), and runs the loop again from there: where the loop would
evaluate a candidate that the study already holds as the next evaluation after the checkpoint, it tells the stored
result instead of evaluating it again (checking that the re-asked candidate is the stored one). With one evaluation in
flight and one searcher the loop is deterministic, so the resumed search proposes exactly the sequence of an
uninterrupted one. Should the strategy propose something else (a study written by an older version, before
checkpoints, a strategy that is not deterministic, or other searchers' evaluations), the remaining stored
evaluations are told in their order and the search goes on from there.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from nasbench.architecture import Architecture
from nasbench.errors import GenomeError, NasbenchError
from nasbench.limits import size_limit_error
from nasbench.objectives import ANALYTIC_METRICS, Objective, oriented, values_of
from nasbench.threads import num_threads
from results.artifacts import TrialArtifacts
from results.display import SearchProgress
from results.ledger import CLAIMED, FULL, TAKEN
from results.shared import SharedStudy
from results.store import FINISHED, RETRAIN, TrialHandle, TrialWriter, evaluated_trials, is_stale
from search_spaces.base import SearchSpace, Variable
from strategies.base import Candidate, Observation, Strategy, StrategyExhausted
from workers.base import PRUNED, Result
from workers.executor import Executor
from workers.weights import WeightStore

MAX_DUPLICATES = 100
CHECKPOINT_EVERY = 25
KEEP_BEST = 5  # --keep-weights best: the weights of this many best evaluations are kept
# 1: the strategy was told the first ``evaluated`` evaluations; 2: it was told the trials ``told`` (id ranges).
CHECKPOINT_VERSIONS = (1, 2)
SYNC_SECONDS = 0.1  # how often the other searchers' new evaluations are read from the store
POLL_SECONDS = 0.2  # how often a searcher with nothing left to do looks at the others' unfinished claims

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


def id_ranges(ids: set[int]) -> list[list[int]]:
    """``ids`` as sorted inclusive ranges ``[first, last]`` (a checkpoint's told trials, mostly consecutive)."""
    ranges: list[list[int]] = []
    for trial_id in sorted(ids):
        if ranges and trial_id == ranges[-1][1] + 1:
            ranges[-1][1] = trial_id
        else:
            ranges.append([trial_id, trial_id])
    return ranges


def ids_of(ranges: list[list[int]]) -> set[int]:
    """The ids that ``id_ranges`` wrote."""
    return {trial_id for first, last in ranges for trial_id in range(int(first), int(last) + 1)}


class SearchLoop:
    """One search over an open study: resume, seeds, then ask/evaluate/store/tell, ``executor.capacity`` in flight."""

    def __init__(self, study: optuna.Study, space: SearchSpace, strategy: Strategy, executor: Executor,
                 objectives: tuple[Objective, ...], budget: int, seed: int = 0,
                 fidelity: int | None = None, max_params: int | None = None, max_macs: int | None = None,
                 max_duplicates: int = MAX_DUPLICATES, checkpoint_every: int = CHECKPOINT_EVERY,
                 artifacts: TrialArtifacts | None = None, best_weights: WeightStore | None = None,
                 *, shared: SharedStudy) -> None:
        self.study, self.space, self.strategy = study, space, strategy
        self.shared = shared  # this searcher's membership of the study's ledger (joined)
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
        self.told_ids: set[int] = set()  # trials told to the strategy (what a checkpoint records)
        self.seen_ids: set[int] = set()  # trials told, waiting for replay, or not to be told
        self.announced_ids: set[int] = set()  # other searchers' running trials the strategy knows are in flight
        self.trial_of: dict[str, int] = {}  # hash -> the trial that evaluated it
        self.reserved: dict[str, Candidate] = {}  # claims taken over from stale trials, not evaluated again yet
        self.full = False  # the study's budget is claimed
        self.synced_at = self.checked_at = -math.inf

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
                self.sync(queue, bar)
                while len(pending) < capacity:
                    if queue and queue[0][1] == REDO:
                        candidate, source = queue.popleft()  # claimed already: it needs no budget of its own
                        if self.reserved.pop(candidate.info["hash"], None) is None:
                            continue  # proposed again and evaluated meanwhile
                        held = candidate.info["hash"]
                    elif stopped is not None or self.full or (
                            self.evaluated + len(pending) + len(self.replay) >= self.budget):
                        while queue and queue[0][1] != REDO:
                            queue.popleft()  # no budget is left for new work
                        if not queue and not self._redo_reserved(queue):
                            break
                        continue
                    elif queue:
                        candidate, source = queue.popleft()
                    elif any(job.source == SEED for job in pending.values()):
                        break  # seeds are told before the strategy is first asked
                    else:
                        try:
                            candidate, source = self.ask(), ASKED
                        except StrategyExhausted as exhausted:
                            stopped = str(exhausted)
                            continue
                        self.asks += 1
                    prepared = self.prepare(candidate)
                    candidate.info["hash"] = prepared.hash
                    taken = prepared.hash in self.known or prepared.hash in running
                    # An interrupted evaluation proposed before the checkpoint is redone, never replayed.
                    replayable = source != REDO and bool(self.replay)
                    if replayable and not taken and not self._replays(prepared.hash, capacity):
                        self.flush_replay(bar)
                        replayable, taken = False, prepared.hash in self.known
                    if not taken and not replayable and source != REDO:
                        claim = self.claim(prepared.hash)
                        taken = claim == TAKEN
                        if claim == FULL:
                            self.full = True
                            continue
                    if source == REDO and prepared.hash != held:
                        self.shared.release(held)  # not the architecture it claimed (hashed otherwise now)
                        continue
                    if source == REDO and taken:
                        if held in self.trial_of:
                            self.shared.settle(held, self.trial_of[held])  # evaluated meanwhile: that counts
                        continue
                    if taken:
                        if source != SEED:
                            stopped = stopped or self.duplicate(candidate, prepared.hash)
                        continue
                    self.duplicates = 0
                    if replayable:
                        trial = self._take_replay(prepared.hash)
                        self.conclude(candidate, prepared.hash, self.observation(trial), bar, trial._trial_id)
                        continue
                    started = self.start(pool, candidate, prepared, source, bar)
                    if started is not None:
                        job, record = started
                        pending[job] = record
                        running.add(prepared.hash)
                if not pending:
                    if queue or self.wait_for_others(stopped):
                        continue
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

    def claim(self, arch_hash: str) -> str:
        """Claim ``arch_hash`` in the study's ledger before evaluating it (one this searcher took over is its own)."""
        if arch_hash in self.reserved:
            return CLAIMED
        return self.shared.claim(arch_hash, self.budget)

    def start(self, pool: Executor, candidate: Candidate, prepared: Prepared, source: str,
              bar: SearchProgress) -> tuple[Any, Pending] | None:
        """Store a RUNNING trial for a claimed candidate and submit it; None if it failed at once (too big, invalid)."""
        self.reserved.pop(prepared.hash, None)
        attrs = self.attrs(candidate, prepared)
        handle = self.writer.start(attrs, *self.encoding(candidate.arch))
        if not self.shared.started(prepared.hash, handle.trial_id):
            self.shared.mark_stale(handle.trial_id)  # its claim was taken over meanwhile: another searcher has it
            self.shared.ended(handle.trial_id)
            return None
        self.announce(candidate)
        record = Pending(handle, candidate, prepared, source)
        reason = prepared.error or size_limit_error(prepared.params, prepared.macs, self.max_params, self.max_macs)
        if reason is not None:
            self.finish(record, Result.failure(reason), bar)
            return None
        if self.artifacts is not None:
            self.artifacts.attach(handle.trial_id, candidate.arch, attrs)
        return pool.submit(candidate.arch, self.fidelity, self.seed), record

    def _redo_reserved(self, queue: deque[tuple[Candidate, str]]) -> bool:
        """Queue the claims this searcher took over and has not evaluated yet; whether there were any."""
        queued = {candidate.info["hash"] for candidate, source in queue if source == REDO}
        left = [candidate for arch_hash, candidate in self.reserved.items() if arch_hash not in queued]
        queue.extend((candidate, REDO) for candidate in left)
        return bool(left)

    def sync(self, queue: deque[tuple[Candidate, str]], bar: SearchProgress, force: bool = False) -> None:
        """Tell the strategy the other searchers' new evaluations and those they started; take over stale claims.

        The claims taken over are queued to be evaluated again.
        """
        if self.shared.evicted:
            raise NasbenchError(f"another searcher of study {self.study.study_name!r} took this one's place: it "
                                f"sent no beat for {self.shared.grace} s (a machine too busy?); its evaluations "
                                "in flight are evaluated again there. Run the search again to rejoin")
        now = time.monotonic()
        if force or now - self.synced_at >= SYNC_SECONDS:
            self.synced_at = now
            for trial in self.study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING)):
                if trial._trial_id in self.seen_ids or trial._trial_id in self.shared.running:
                    continue
                attrs = trial.user_attrs
                if trial.state == TrialState.RUNNING:
                    news = trial._trial_id not in self.announced_ids and attrs.get("hash") not in self.known
                    if news and "genome" in attrs and attrs.get("origin") != RETRAIN:
                        self.announced_ids.add(trial._trial_id)
                        self.announce(self.candidate_of(trial))
                    continue
                self.seen_ids.add(trial._trial_id)
                if ("genome" not in attrs or attrs.get("hash") in self.known or is_stale(trial)
                        or attrs.get("origin") == RETRAIN):
                    continue  # not an evaluation of a searcher, or one told already
                self.tell_stored(trial)
                bar.update(self.evaluated, self.best)
        if force or now - self.checked_at >= self.shared.heartbeat:
            self.checked_at = now
            for trial in self.shared.take_over(self.shared.stale_trials()):
                candidate = self.reserve(trial)
                if candidate is not None:
                    queue.append((candidate, REDO))

    def reserve(self, trial: FrozenTrial) -> Candidate | None:
        """Keep the candidate of a stale trial whose claim this searcher took over, to evaluate it again.

        None if its architecture was evaluated already: the claim is pointed at that evaluation instead.
        """
        candidate, _ = self.restore(trial)
        arch_hash = candidate.info["hash"]
        if arch_hash in self.trial_of:
            self.shared.settle(arch_hash, self.trial_of[arch_hash])
            return None
        self.reserved[arch_hash] = candidate
        return candidate

    def wait_for_others(self, stopped: str | None) -> bool:
        """With nothing left to do here, whether to go on: the budget is given back, or others still evaluate.

        A searcher whose strategy stopped waits too: a searcher that dies may leave work that only it can redo.
        """
        if self.full and stopped is None and self.shared.claimed() < self.budget:
            self.full = False  # a claim whose searcher died before writing its trial gave its budget back
            return True
        if self.shared.unfinished() == 0:
            return False
        time.sleep(POLL_SECONDS)  # another searcher's evaluation may finish, or go stale and be taken over here
        return True

    def ask(self) -> Candidate:
        """The strategy's next proposal."""
        with num_threads(STRATEGY_THREADS):
            return self.strategy.ask()

    def tell(self, candidate: Candidate, observation: Observation) -> None:
        """Tell the strategy an evaluation."""
        with num_threads(STRATEGY_THREADS):
            self.strategy.tell(candidate, observation)

    def announce(self, candidate: Candidate) -> None:
        """Tell the strategy an evaluation started, here or by another searcher."""
        with num_threads(STRATEGY_THREADS):
            self.strategy.evaluating(candidate)

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

        The stale trials' claims (``SharedStudy.take_over``) become this searcher's. Candidates to redo at once are
        those that the restored strategy will not propose again: its own interrupted ones proposed before the
        checkpoint, and the other searchers'. Without a checkpoint the fresh strategy proposes its own again.
        """
        taken = self.shared.take_over(self.shared.stale_trials())
        checkpoint = self.writer.load_checkpoint(self.shared.slot)
        trials = evaluated_trials(self.study)
        stored = next((trial.distributions for trial in trials if trial.distributions), None)
        if stored and self.distributions is not None:
            self.distributions.update(stored)  # Optuna refuses another kind of distribution for a stored param
        told: set[int] = set()
        if checkpoint is not None:
            version = checkpoint.get("version")
            if version not in CHECKPOINT_VERSIONS:
                raise NasbenchError(f"study {self.study.study_name!r}: checkpoint version {version} is not one of "
                                    f"{', '.join(map(str, CHECKPOINT_VERSIONS))} (written by another nasbench version)")
            self.strategy.load_state_dict(checkpoint["strategy"])
            if version == 1:  # its strategy was told the first ``evaluated`` evaluations in their order
                told = {trial._trial_id for trial in trials[:int(checkpoint["evaluated"])]}
            else:
                told = ids_of(checkpoint["told"])
            self.asks, self.duplicates = int(checkpoint["asks"]), int(checkpoint["duplicates"])
        self.seen_ids.update(told)
        for trial in trials:
            if trial._trial_id in told:
                observation = self.observation(trial)
                self.known[trial.user_attrs["hash"]] = observation
                self.trial_of[trial.user_attrs["hash"]] = trial._trial_id
                self.told_ids.add(trial._trial_id)
                self.evaluated += 1
                self.track(observation)
        self.checkpointed = self.evaluated

        def proposed_before(trial: FrozenTrial, unknown: float) -> bool:
            """Whether the checkpointed strategy proposed ``trial`` already (another slot's: never).

            ``unknown``: the proposal count of a trial written before trials recorded it.
            """
            own = trial.user_attrs.get("slot", 0) == self.shared.slot
            return checkpoint is not None and (not own or trial.user_attrs.get("ask", unknown) <= self.asks)

        # Evaluations finished after the checkpoint: told now if the restored strategy will not ask for them again.
        for trial in trials:
            if trial._trial_id in told:
                continue
            if proposed_before(trial, 0):
                self.tell_stored(trial)
            else:
                self.replay.append(trial)
                self.seen_ids.add(trial._trial_id)
        redo = []
        for trial in taken:
            candidate = self.reserve(trial)
            if candidate is not None and proposed_before(trial, math.inf) and candidate.info.get("origin") != "seed":
                redo.append(candidate)
        return redo

    def _replays(self, arch_hash: str, capacity: int) -> bool:
        """Whether the fresh proposal ``arch_hash`` is a stored evaluation waiting to be replayed."""
        if capacity == 1:
            return self.replay[0].user_attrs["hash"] == arch_hash
        return any(trial.user_attrs["hash"] == arch_hash for trial in self.replay)

    def _take_replay(self, arch_hash: str) -> FrozenTrial:
        for trial in self.replay:
            if trial.user_attrs["hash"] == arch_hash:
                self.replay.remove(trial)
                return trial
        raise AssertionError(f"{arch_hash} is not waiting for replay")

    def flush_replay(self, bar: SearchProgress) -> None:
        """Tell every stored evaluation still waiting for replay, in the order told (the strategy diverged)."""
        while self.replay:
            self.tell_stored(self.replay.popleft())
            bar.update(self.evaluated, self.best)

    def tell_stored(self, trial: FrozenTrial) -> None:
        """Tell a stored evaluation as its own candidate."""
        candidate, observation = self.restore(trial)
        self.conclude(candidate, candidate.info["hash"], observation, None, trial._trial_id)

    def restore(self, trial: FrozenTrial) -> tuple[Candidate, Observation]:
        """The candidate and observation a stored trial holds."""
        return self.candidate_of(trial), self.observation(trial)

    @staticmethod
    def candidate_of(trial: FrozenTrial) -> Candidate:
        """The candidate a stored trial evaluates (or evaluated)."""
        attrs = trial.user_attrs
        info = {key: attrs[key] for key in ("origin", "parent", "mutations", "derived", "hash")
                if attrs.get(key) is not None}
        if attrs.get("seed_name"):
            info["seed"] = attrs["seed_name"]
        return Candidate(Architecture.from_json(attrs["genome"]), info)

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
                 "mutation": candidate.arch.meta.get("mutation"), "ask": self.asks, "searcher": self.shared.token,
                 "slot": self.shared.slot}
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
        """Store the result with every objective's value (after the trial's artifacts), then tell it.

        A result whose claim another searcher took over meanwhile (this one missed its beats for the grace period)
        is dropped: that searcher's evaluation is the one the study keeps.
        """
        if self.artifacts is not None:
            self.artifacts.wait(job.handle.trial_id)
        self.shared.ended(job.handle.trial_id)
        pruned = result.status == PRUNED
        scored = result.ok or pruned
        metrics = {**result.metrics, **job.prepared.analytic()} if scored else dict(result.metrics)
        try:
            if not self.shared.holds(job.prepared.hash):
                raise UpdateFinishedTrialError("claim taken over")
            values, error = self.writer.finish(job.handle, result.ok, metrics, result.curve, result.seconds,
                                               result.error, {"order": self.evaluated}, pruned=pruned)
        except UpdateFinishedTrialError:
            bar.warn(f"{job.candidate.arch.name}: another searcher took this evaluation over as stale (no heartbeat "
                     f"for {self.shared.grace} s); its result here is dropped")
            return
        # Built from exactly what was stored, so that a replay after a resume tells the strategy the same thing.
        stored = {key: value if math.isfinite(value) else math.nan for key, value in metrics.items()}
        told = Observation(values is not None, values, stored, result.error if pruned else error,
                           pruned=pruned and values is not None)
        self.conclude(job.candidate, job.prepared.hash, told, bar, job.handle.trial_id)
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
                 bar: SearchProgress | None, trial_id: int) -> None:
        """Tell an evaluation, count it against the budget, checkpoint every ``checkpoint_every``."""
        self.known[arch_hash] = observation
        self.trial_of[arch_hash] = trial_id
        self.told_ids.add(trial_id)
        self.seen_ids.add(trial_id)
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
        self.writer.save_checkpoint({"version": CHECKPOINT_VERSIONS[-1], "searcher": self.shared.token,
                                     "told": id_ranges(self.told_ids), "asks": self.asks, "duplicates": self.duplicates,
                                     "strategy": self.strategy.state_dict()}, self.shared.slot)
        self.checkpointed = self.evaluated

    def track(self, observation: Observation) -> None:
        """Follow the best value of the first objective."""
        if not observation.ok or observation.values is None or observation.pruned:
            return  # a pruned candidate's score is of fewer epochs than the others'
        value = observation.values[0]
        first = self.objectives[0]
        if math.isfinite(value) and (self.best is None or first.better(value, self.best)):
            self.best = value
