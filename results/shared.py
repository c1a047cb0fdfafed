"""Many searchers, one study: each process joins the study's ledger, claims before it evaluates, and beats.

A searcher (one ``nasbench search`` process) takes the lowest free slot of the study (slot 0 alone, so a lone
search keeps its seed and its checkpoint; slot k searches with its own seed and checkpoint). Before a candidate is
evaluated its hash is claimed in the ledger (``results.ledger``): a claim that another searcher holds is a duplicate,
and once the budget's claims are taken every searcher stops proposing. While it evaluates, a background thread
records Optuna's heartbeat of every trial it runs (``RDBStorage.record_heartbeat``) and the searcher's own beat.

A RUNNING trial of another searcher is stale when its heartbeat is older than the grace period (Optuna's
``_get_stale_trial_ids``), when its searcher's beat is, when its searcher ran on this host and its process is gone
(told at once, so that a search killed and restarted on one machine redoes its work without waiting), or when no
searcher holds it any more (it left, or the trial was written by a version without the ledger). A stale trial is
marked FAIL (``stale``), and its claim is taken over by a compare-and-swap: exactly one searcher evaluates it again.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
import weakref
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage, InMemoryStorage, RDBStorage
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.trial import FrozenTrial, TrialState

from results.ledger import Claim, Ledger, MemoryLedger, Searcher, SqlLedger
from results.store import FINISHED, RETRAIN, is_stale

HEARTBEAT_SECONDS = 10
GRACE_SECONDS = 60
STALE_REASON = "interrupted: the searcher evaluating it stopped; evaluated again"

# One per in-memory storage, living as long as it does (a new storage may reuse an old one's id and study ids).
_MEMORY_LEDGERS: weakref.WeakKeyDictionary[InMemoryStorage, MemoryLedger] = weakref.WeakKeyDictionary()


def rdb_of(storage: BaseStorage) -> RDBStorage | None:
    """The RDB storage behind ``storage`` (Optuna wraps one in a cache), or None for another kind."""
    backend = getattr(storage, "_backend", storage)
    return backend if isinstance(backend, RDBStorage) else None


def machine() -> str:
    """The name and process table of this machine (containers that share a host name do not share their processes)."""
    try:
        table = os.readlink("/proc/self/ns/pid")
    except OSError:
        table = ""
    return f"{socket.gethostname()}/{table}" if table else socket.gethostname()


def ledger_of(storage: BaseStorage) -> Ledger:
    """The ledger kept with ``storage``: SQL tables in an RDB storage's database, a dict for an in-memory one."""
    rdb = rdb_of(storage)
    if rdb is not None:
        return SqlLedger(rdb.engine)
    if isinstance(storage, InMemoryStorage):
        return _MEMORY_LEDGERS.setdefault(storage, MemoryLedger())
    raise TypeError(f"a shared study needs an RDB or in-memory Optuna storage, not {type(storage).__name__}")


def process_start(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks) of a process from ``/proc`` (None where there is no such process)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[19])


def process_alive(pid: int, started: int | None) -> bool:
    """Whether process ``pid`` of this host, started at ``started``, still runs (a zombie or a reused pid is gone)."""
    if Path("/proc/self/stat").exists():
        found = process_start(pid)
        return found is not None and found[0] not in "ZX" and (started is None or found[1] == started)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SharedStudy:
    """A process's membership of a study: its slot, its claims, its heartbeats, and the others' stale work."""

    def __init__(self, study: optuna.Study, heartbeat: int = HEARTBEAT_SECONDS, grace: int = GRACE_SECONDS,
                 warn: Callable[[str], None] | None = None) -> None:
        self.study = study
        self.storage: BaseStorage = study._storage  # Optuna exposes no public getter for a study's storage
        self.study_id = study._study_id
        self.heartbeat, self.grace = heartbeat, grace
        self.warn = warn or (lambda text: None)
        self.ledger = ledger_of(self.storage)
        rdb = rdb_of(self.storage)
        if rdb is not None:
            # Optuna's stale-trial query reads its settings from the storage; this search's are the ones that hold.
            rdb.heartbeat_interval, rdb.grace_period = heartbeat, grace
        self.token = uuid.uuid4().hex
        self.host = machine()
        started = process_start(os.getpid())
        self.me = Searcher(-1, self.token, self.host, os.getpid(), started[1] if started else None, datetime.min)
        self.slot = -1
        self.running: set[int] = set()  # trial ids this searcher evaluates now
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.evicted = False  # another searcher took this one's slot (it missed its beats for the grace period)

    def join(self) -> int:
        """Start the study's ledger if it has none (adopting what it holds), take a slot, start beating."""
        self.ledger.ensure_budget(self.study_id, self._holdings())
        self.slot = self.ledger.join(self.study_id, self.me, self.gone)
        self._thread = threading.Thread(target=self._beat, name="nasbench-heartbeat", daemon=True)
        self._thread.start()
        return self.slot

    def leave(self) -> None:
        """Stop beating and give the slot up (this searcher's RUNNING trials, if any, become stale at once)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.slot >= 0:
            self.ledger.leave(self.study_id, self.slot, self.token)

    def _holdings(self) -> dict[str, int | None]:
        """What a study without a ledger holds: its evaluated and running architectures (hash -> trial id)."""
        held: dict[str, int | None] = {}
        for trial in self.study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING)):
            arch_hash = trial.user_attrs.get("hash")
            if arch_hash is None or is_stale(trial) or trial.user_attrs.get("origin") == RETRAIN:
                continue
            if arch_hash not in held or trial.state != TrialState.RUNNING:
                held[arch_hash] = trial._trial_id
        return held

    def claim(self, arch_hash: str, budget: int) -> str:
        """Claim an architecture before evaluating it: CLAIMED, TAKEN (held by a searcher) or FULL (budget spent)."""
        return self.ledger.claim(self.study_id, arch_hash, self.token, budget)

    def started(self, arch_hash: str, trial_id: int) -> bool:
        """Record the trial evaluating a claim, to beat for it; False if the claim was lost meanwhile.

        Its first heartbeat is the next beat's: until then the searcher's own beat vouches for it.
        """
        with self._lock:
            self.running.add(trial_id)
        return self.ledger.bind(self.study_id, arch_hash, self.token, trial_id)

    def ended(self, trial_id: int) -> None:
        """The evaluation in ``trial_id`` is over: no more beats for it."""
        with self._lock:
            self.running.discard(trial_id)

    def _record_heartbeat(self, trial_id: int) -> None:
        if isinstance(self.storage, BaseHeartbeat):
            self.storage.record_heartbeat(trial_id)

    def holds(self, arch_hash: str) -> bool:
        """Whether this searcher still holds the claim of ``arch_hash`` (no other took it over as stale)."""
        claim = self.ledger.holder(self.study_id, arch_hash)
        return claim is not None and claim.token == self.token

    def settle(self, arch_hash: str, trial_id: int) -> None:
        """Point a claim this searcher took over at the trial that evaluated its architecture already."""
        self.ledger.bind(self.study_id, arch_hash, self.token, trial_id)

    def release(self, arch_hash: str) -> None:
        """Give back the budget of a claim this searcher took over and will not evaluate (it was evaluated already)."""
        self.ledger.release(self.study_id, Claim(arch_hash, self.token, None))

    def claimed(self) -> int:
        """How many architectures the study's searchers have claimed."""
        return self.ledger.claimed(self.study_id)

    def gone(self, searcher: Searcher, now: datetime) -> bool:
        """Whether ``searcher`` stopped: its process on this host is gone, or it has not beaten for the grace period."""
        if searcher.token == self.token:
            return False
        if searcher.host == self.host and not process_alive(searcher.pid, searcher.started):
            return True
        return now - searcher.beat > timedelta(seconds=self.grace)

    def stale_trials(self) -> list[FrozenTrial]:
        """The other searchers' RUNNING trials that are stale, marked FAIL (``stale``) as they were."""
        with self._lock:
            mine = set(self.running)
        running = [trial for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
                   if trial._trial_id not in mine and trial.user_attrs.get("origin") != RETRAIN]
        if not running:
            return []
        searchers = self.ledger.searchers(self.study_id)
        now = self.ledger.now()
        silent = set(self.storage._get_stale_trial_ids(self.study_id)) if rdb_of(self.storage) else set()
        stale = []
        for trial in running:
            searcher = searchers.get(trial.user_attrs.get("searcher", ""))
            if (trial._trial_id in silent or searcher is None or self.gone(searcher, now)) and self.mark_stale(
                    trial._trial_id):
                stale.append(trial)
        return stale

    def mark_stale(self, trial_id: int) -> bool:
        """Mark a RUNNING trial FAIL (``stale``); False if it finished first (its searcher was alive after all)."""
        try:
            self.storage.set_trial_user_attr(trial_id, "outcome",
                                             {"error": STALE_REASON, "stale": True, "metrics": {}, "seconds": 0.0})
            self.storage.set_trial_state_values(trial_id, TrialState.FAIL)
        except UpdateFinishedTrialError:
            return False  # its own searcher finished it just now, or another searcher marked it first
        return True

    def take_over(self, stale: list[FrozenTrial]) -> list[FrozenTrial]:
        """Take over the claims that no live searcher will finish; returns the trials whose work is now this one's.

        Those are the claims of ``stale`` trials, and claims without a trial whose searcher is gone; each is taken by
        exactly one searcher. A claim whose searcher died before writing any trial of it holds no genome to evaluate
        again: its budget is given back instead.
        """
        by_id = {trial._trial_id: trial for trial in stale}
        # Also the stale trials marked earlier whose claims are still theirs (a searcher died between the two steps).
        by_id.update((trial._trial_id, trial) for trial in self.study.get_trials(deepcopy=False,
                                                                               states=(TrialState.FAIL,))
                     if is_stale(trial))
        claims = self.ledger.claims(self.study_id)
        orphans = [claim for claim in claims if claim.trial_id is None and claim.token != self.token]
        searchers = self.ledger.searchers(self.study_id) if orphans else {}
        now = self.ledger.now()
        taken = []
        for claim in claims:
            if claim.trial_id in by_id:
                trial = by_id[claim.trial_id]
            elif claim in orphans and (claim.token not in searchers or self.gone(searchers[claim.token], now)):
                trial = self._first_trial(claim)
                if trial is None:
                    self.ledger.release(self.study_id, claim)
                    continue
            else:
                continue
            if self.ledger.take_over(self.study_id, claim, self.token):
                taken.append(trial)
        return taken

    def _first_trial(self, claim: Claim) -> FrozenTrial | None:
        return next((trial for trial in self.study.get_trials(deepcopy=False)
                     if trial.user_attrs.get("hash") == claim.hash and "genome" in trial.user_attrs), None)

    def unfinished(self) -> int:
        """How many claims of the study are not finished yet (running somewhere, or waiting to be redone)."""
        done = {trial._trial_id for trial in self.study.get_trials(deepcopy=False, states=FINISHED)
                if not is_stale(trial)}
        return sum(1 for claim in self.ledger.claims(self.study_id) if claim.trial_id not in done)

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            try:
                with self._lock:
                    running = list(self.running)
                for trial_id in running:
                    self._record_heartbeat(trial_id)
                if not self.ledger.beat(self.study_id, self.slot, self.token):
                    self.evicted = True
            except Exception as error:  # noqa: BLE001 -- a failed beat is retried at the next one
                self.warn(f"heartbeat failed: {error}")
