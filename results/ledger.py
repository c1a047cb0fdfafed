"""The ledger of a shared study: its budget, who evaluates each architecture, and the searchers that work on it.

Three tables in the study's own database, beside Optuna's (an in-memory study keeps them in a dict):

- ``nasbench_budget(study_id, claimed)``: how many distinct architectures the study's searchers have claimed;
- ``nasbench_claims(study_id, hash, token, trial_id)``: who evaluates each architecture, and in which trial;
- ``nasbench_searchers(study_id, slot, token, host, pid, started, beat)``: the processes searching the study.

Every operation that decides something is one statement or one transaction that the database serializes:

- a claim is ``UPDATE budget SET claimed = claimed + 1 WHERE claimed < budget`` then ``INSERT`` of the claim, in one
  transaction. On PostgreSQL the UPDATE takes the counter's row lock, so concurrent claims queue on it and each
  re-checks ``claimed < budget`` on the row as the previous one committed it (READ COMMITTED re-evaluates the WHERE of
  an UPDATE on the newest row version); the primary key (study, hash) makes a second INSERT of one hash wait for the
  first transaction and fail once it commits. On SQLite the UPDATE takes the database's write lock, so claims run one
  after another. A failed INSERT rolls the counter back with it: the budget counts exactly the claimed hashes;
- taking over a claim, or a searcher's slot, is an ``UPDATE ... WHERE token = :theirs`` (a compare-and-swap): of any
  number of searchers that find one stale claim at once, exactly one changes the row.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

CLAIMED, TAKEN, FULL = "claimed", "taken", "full"  # what a claim comes to
CREATE_ATTEMPTS = 8

METADATA = sa.MetaData()
BUDGET = sa.Table("nasbench_budget", METADATA,
                  sa.Column("study_id", sa.Integer, primary_key=True, autoincrement=False),
                  sa.Column("claimed", sa.Integer, nullable=False))
CLAIMS = sa.Table("nasbench_claims", METADATA,
                  sa.Column("study_id", sa.Integer, primary_key=True, autoincrement=False),
                  sa.Column("hash", sa.String(128), primary_key=True),
                  sa.Column("token", sa.String(64), nullable=False),
                  sa.Column("trial_id", sa.Integer, nullable=True))
SEARCHERS = sa.Table("nasbench_searchers", METADATA,
                     sa.Column("study_id", sa.Integer, primary_key=True, autoincrement=False),
                     sa.Column("slot", sa.Integer, primary_key=True, autoincrement=False),
                     sa.Column("token", sa.String(64), nullable=False),
                     sa.Column("host", sa.String(255), nullable=False),
                     sa.Column("pid", sa.Integer, nullable=False),
                     sa.Column("started", sa.BigInteger, nullable=True),
                     sa.Column("beat", sa.DateTime, nullable=False))


@dataclass(frozen=True)
class Claim:
    """Who evaluates an architecture: the claiming searcher's token and its trial (None until it is created)."""

    hash: str
    token: str
    trial_id: int | None


@dataclass(frozen=True)
class Searcher:
    """A process searching the study: its slot, token, host, process id and start time, and its last beat."""

    slot: int
    token: str
    host: str
    pid: int
    started: int | None
    beat: datetime


class Ledger:
    """The budget, claims and searchers of the studies of one storage."""

    def ensure_budget(self, study_id: int, adopted: dict[str, int | None]) -> None:
        """Start the study's ledger, once, with the claims of what it already holds (``adopted``: hash -> trial)."""
        raise NotImplementedError

    def claim(self, study_id: int, arch_hash: str, token: str, budget: int) -> str:
        """Claim ``arch_hash`` for ``token`` within ``budget``: CLAIMED, TAKEN (someone holds it) or FULL."""
        raise NotImplementedError

    def bind(self, study_id: int, arch_hash: str, token: str, trial_id: int) -> bool:
        """Record the trial that evaluates a claim ``token`` holds; False if it no longer holds it."""
        raise NotImplementedError

    def take_over(self, study_id: int, claim: Claim, token: str) -> bool:
        """Make ``claim`` ``token``'s (without a trial), if nobody changed it since it was read."""
        raise NotImplementedError

    def claims(self, study_id: int) -> list[Claim]:
        """Every claim of the study."""
        raise NotImplementedError

    def holder(self, study_id: int, arch_hash: str) -> Claim | None:
        """The claim of ``arch_hash``, if any."""
        raise NotImplementedError

    def release(self, study_id: int, claim: Claim) -> bool:
        """Give ``claim``'s budget back (its searcher died before writing its trial), if nobody changed it."""
        raise NotImplementedError

    def claimed(self, study_id: int) -> int:
        """How many architectures the study's searchers have claimed."""
        raise NotImplementedError

    def join(self, study_id: int, searcher: Searcher, free: Any) -> int:
        """Take the lowest slot that is empty or whose searcher ``free(searcher, now)`` says is gone; returns it."""
        raise NotImplementedError

    def beat(self, study_id: int, slot: int, token: str) -> bool:
        """Record that the searcher in ``slot`` is alive; False if another searcher has taken the slot."""
        raise NotImplementedError

    def leave(self, study_id: int, slot: int, token: str) -> None:
        """Give the slot up."""
        raise NotImplementedError

    def searchers(self, study_id: int) -> dict[str, Searcher]:
        """The study's searchers by token."""
        raise NotImplementedError

    def now(self) -> datetime:
        """The database's clock (naive UTC), which every searcher's beats are stamped with."""
        raise NotImplementedError


class MemoryLedger(Ledger):
    """The ledger of an in-memory study (one process: a lock serializes what the database would)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._budget: dict[int, int] = {}
        self._claims: dict[tuple[int, str], Claim] = {}
        self._searchers: dict[tuple[int, int], Searcher] = {}

    def ensure_budget(self, study_id: int, adopted: dict[str, int | None]) -> None:
        with self._lock:
            if study_id not in self._budget:
                self._budget[study_id] = len(adopted)
                for arch_hash, trial_id in adopted.items():
                    self._claims[(study_id, arch_hash)] = Claim(arch_hash, adopted_token(trial_id), trial_id)

    def claim(self, study_id: int, arch_hash: str, token: str, budget: int) -> str:
        with self._lock:
            if (study_id, arch_hash) in self._claims:
                return TAKEN
            if self._budget[study_id] >= budget:
                return FULL
            self._budget[study_id] += 1
            self._claims[(study_id, arch_hash)] = Claim(arch_hash, token, None)
            return CLAIMED

    def bind(self, study_id: int, arch_hash: str, token: str, trial_id: int) -> bool:
        with self._lock:
            held = self._claims.get((study_id, arch_hash))
            if held is None or held.token != token:
                return False
            self._claims[(study_id, arch_hash)] = Claim(arch_hash, token, trial_id)
            return True

    def take_over(self, study_id: int, claim: Claim, token: str) -> bool:
        with self._lock:
            if self._claims.get((study_id, claim.hash)) != claim:
                return False
            self._claims[(study_id, claim.hash)] = Claim(claim.hash, token, None)
            return True

    def claims(self, study_id: int) -> list[Claim]:
        with self._lock:
            return [claim for (study, _), claim in self._claims.items() if study == study_id]

    def holder(self, study_id: int, arch_hash: str) -> Claim | None:
        with self._lock:
            return self._claims.get((study_id, arch_hash))

    def release(self, study_id: int, claim: Claim) -> bool:
        with self._lock:
            if self._claims.get((study_id, claim.hash)) != claim or claim.trial_id is not None:
                return False
            del self._claims[(study_id, claim.hash)]
            self._budget[study_id] -= 1
            return True

    def claimed(self, study_id: int) -> int:
        with self._lock:
            return self._budget.get(study_id, 0)

    def join(self, study_id: int, searcher: Searcher, free: Any) -> int:
        with self._lock:
            slot, now = 0, self.now()
            while (study_id, slot) in self._searchers and not free(self._searchers[(study_id, slot)], now):
                slot += 1
            self._searchers[(study_id, slot)] = Searcher(slot, searcher.token, searcher.host, searcher.pid,
                                                         searcher.started, now)
            return slot

    def beat(self, study_id: int, slot: int, token: str) -> bool:
        with self._lock:
            held = self._searchers.get((study_id, slot))
            if held is None or held.token != token:
                return False
            self._searchers[(study_id, slot)] = Searcher(slot, token, held.host, held.pid, held.started, self.now())
            return True

    def leave(self, study_id: int, slot: int, token: str) -> None:
        with self._lock:
            held = self._searchers.get((study_id, slot))
            if held is not None and held.token == token:
                del self._searchers[(study_id, slot)]

    def searchers(self, study_id: int) -> dict[str, Searcher]:
        with self._lock:
            return {s.token: s for (study, _), s in self._searchers.items() if study == study_id}

    def now(self) -> datetime:
        return datetime.now(timezone.utc).replace(tzinfo=None)


class SqlLedger(Ledger):
    """The ledger in the study's SQL database (PostgreSQL, SQLite, MySQL), through SQLAlchemy Core."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        self.engine = engine
        for attempt in range(CREATE_ATTEMPTS):
            try:
                METADATA.create_all(engine, checkfirst=True)
                return
            except (IntegrityError, OperationalError, ProgrammingError):
                # Another process created a table between this one's check and its CREATE: look again.
                if attempt == CREATE_ATTEMPTS - 1:
                    raise
                time.sleep(0.02 * (attempt + 1) * (1.0 + random.random()))

    def ensure_budget(self, study_id: int, adopted: dict[str, int | None]) -> None:
        with self.engine.connect() as connection:
            if connection.execute(sa.select(BUDGET.c.claimed).where(BUDGET.c.study_id == study_id)).first():
                return
        try:
            with self.engine.begin() as connection:
                connection.execute(BUDGET.insert().values(study_id=study_id, claimed=len(adopted)))
                if adopted:
                    connection.execute(CLAIMS.insert(), [
                        {"study_id": study_id, "hash": arch_hash, "token": adopted_token(trial_id),
                         "trial_id": trial_id} for arch_hash, trial_id in adopted.items()])
        except IntegrityError:
            pass  # another searcher started the ledger first, with the same claims

    def claim(self, study_id: int, arch_hash: str, token: str, budget: int) -> str:
        held = (CLAIMS.c.study_id == study_id) & (CLAIMS.c.hash == arch_hash)
        with self.engine.connect() as connection:
            if connection.execute(sa.select(CLAIMS.c.token).where(held)).first():
                return TAKEN  # the common duplicate, told without taking the counter's lock
        try:
            with self.engine.begin() as connection:
                counted = connection.execute(
                    BUDGET.update().where((BUDGET.c.study_id == study_id) & (BUDGET.c.claimed < budget))
                    .values(claimed=BUDGET.c.claimed + 1))
                if counted.rowcount != 1:
                    return FULL
                connection.execute(CLAIMS.insert().values(study_id=study_id, hash=arch_hash, token=token,
                                                          trial_id=None))
        except IntegrityError:
            return TAKEN  # claimed by another searcher since the check; the counter rolled back with the insert
        return CLAIMED

    def bind(self, study_id: int, arch_hash: str, token: str, trial_id: int) -> bool:
        with self.engine.begin() as connection:
            return connection.execute(
                CLAIMS.update().where((CLAIMS.c.study_id == study_id) & (CLAIMS.c.hash == arch_hash)
                                      & (CLAIMS.c.token == token)).values(trial_id=trial_id)).rowcount == 1

    def take_over(self, study_id: int, claim: Claim, token: str) -> bool:
        same_trial = (CLAIMS.c.trial_id.is_(None) if claim.trial_id is None
                      else CLAIMS.c.trial_id == claim.trial_id)
        with self.engine.begin() as connection:
            return connection.execute(
                CLAIMS.update().where((CLAIMS.c.study_id == study_id) & (CLAIMS.c.hash == claim.hash)
                                      & (CLAIMS.c.token == claim.token) & same_trial)
                .values(token=token, trial_id=None)).rowcount == 1

    def claims(self, study_id: int) -> list[Claim]:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(CLAIMS.c.hash, CLAIMS.c.token, CLAIMS.c.trial_id)
                                      .where(CLAIMS.c.study_id == study_id))
            return [Claim(row.hash, row.token, row.trial_id) for row in rows]

    def holder(self, study_id: int, arch_hash: str) -> Claim | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(CLAIMS.c.hash, CLAIMS.c.token, CLAIMS.c.trial_id).where(
                (CLAIMS.c.study_id == study_id) & (CLAIMS.c.hash == arch_hash))).first()
            return None if row is None else Claim(row.hash, row.token, row.trial_id)

    def release(self, study_id: int, claim: Claim) -> bool:
        with self.engine.connect() as connection, connection.begin() as transaction:
            # The counter first, as a claim locks it first: two transactions never wait for each other in a circle.
            connection.execute(BUDGET.update().where(BUDGET.c.study_id == study_id)
                               .values(claimed=BUDGET.c.claimed - 1))
            removed = connection.execute(CLAIMS.delete().where(
                (CLAIMS.c.study_id == study_id) & (CLAIMS.c.hash == claim.hash) & (CLAIMS.c.token == claim.token)
                & CLAIMS.c.trial_id.is_(None))).rowcount
            if removed != 1:
                transaction.rollback()
            return removed == 1

    def claimed(self, study_id: int) -> int:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(BUDGET.c.claimed).where(BUDGET.c.study_id == study_id)).first()
            return 0 if row is None else int(row.claimed)

    def join(self, study_id: int, searcher: Searcher, free: Any) -> int:
        slot = 0
        while True:
            with self.engine.connect() as connection:
                row = connection.execute(sa.select(SEARCHERS).where(
                    (SEARCHERS.c.study_id == study_id) & (SEARCHERS.c.slot == slot))).first()
            now = self.now()
            values = {"token": searcher.token, "host": searcher.host, "pid": searcher.pid,
                      "started": searcher.started, "beat": now}
            if row is None:
                try:
                    with self.engine.begin() as connection:
                        connection.execute(SEARCHERS.insert().values(study_id=study_id, slot=slot, **values))
                    return slot
                except IntegrityError:
                    continue  # another searcher took this empty slot first: look at it again
            if free(searcher_of(row), now):
                with self.engine.begin() as connection:
                    if connection.execute(
                            SEARCHERS.update().where((SEARCHERS.c.study_id == study_id) & (SEARCHERS.c.slot == slot)
                                                     & (SEARCHERS.c.token == row.token))
                            .values(**values)).rowcount == 1:
                        return slot
                continue  # another searcher replaced the gone one first: look at the slot again
            slot += 1

    def beat(self, study_id: int, slot: int, token: str) -> bool:
        with self.engine.begin() as connection:
            return connection.execute(
                SEARCHERS.update().where((SEARCHERS.c.study_id == study_id) & (SEARCHERS.c.slot == slot)
                                         & (SEARCHERS.c.token == token)).values(beat=self.now())).rowcount == 1

    def leave(self, study_id: int, slot: int, token: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(SEARCHERS.delete().where((SEARCHERS.c.study_id == study_id)
                                                        & (SEARCHERS.c.slot == slot) & (SEARCHERS.c.token == token)))

    def searchers(self, study_id: int) -> dict[str, Searcher]:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(SEARCHERS).where(SEARCHERS.c.study_id == study_id))
            return {row.token: searcher_of(row) for row in rows}

    def now(self) -> datetime:
        with self.engine.connect() as connection:
            stamp = connection.execute(sa.select(sa.func.now())).scalar()  # SQLite's CURRENT_TIMESTAMP is UTC
        return stamp.astimezone(timezone.utc).replace(tzinfo=None) if stamp.tzinfo else stamp


def searcher_of(row: Any) -> Searcher:
    """A searcher from its row."""
    return Searcher(row.slot, row.token, row.host, row.pid, row.started, row.beat)


def adopted_token(trial_id: int | None) -> str:
    """The token of a claim adopted from a study that had no ledger: its trial's, held by no live searcher."""
    return f"adopted:{trial_id}"
