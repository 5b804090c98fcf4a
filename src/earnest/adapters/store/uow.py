"""The SQL store and its unit of work: `with store.uow() as uow: ...; uow.commit()`."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from earnest.adapters.store.repos_assignments import Assignments
from earnest.adapters.store.repos_bandwidth import Bodies
from earnest.adapters.store.repos_campaigns import Campaigns
from earnest.adapters.store.repos_money import Deposits, Ledger, Payouts, Receipts
from earnest.adapters.store.repos_people import Auth, Idempotency, Parties, RateCounts, Workers
from earnest.adapters.store.repos_quality import Appeals, Confusions, Limits, Reputations
from earnest.adapters.store.repos_reports import Reports
from earnest.adapters.store.repos_review import Devices, Facts, PeerReviews
from earnest.adapters.store.repos_tasks import Tasks
from earnest.domain.errors import Conflict, Unavailable


class SqlUnitOfWork:
    """One database transaction; nothing is written unless `commit()` is called."""

    def __init__(
        self,
        engine: Engine,
        *,
        readonly: bool = False,
        single: bool = False,
        write_lock: threading.RLock | None = None,
    ) -> None:
        self._engine = engine
        self._readonly = readonly
        self._single = single
        self._committed = False
        self._lock = None if readonly else write_lock

    def __enter__(self) -> SqlUnitOfWork:
        if self._lock is not None:
            self._lock.acquire()
        try:
            self._begin()
        except BaseException as exc:
            # No __exit__ follows a failed __enter__: a lock kept here (the database was
            # unreachable, or busy past its timeout) would stall every writer after it.
            if self._lock is not None:
                self._lock.release()
            _raise_if_outage(exc)
            raise
        self._repositories()
        return self

    def _begin(self) -> None:
        conn: Connection = self._engine.connect()
        if self._readonly:
            conn = conn.execution_options(earnest_readonly=True)
        if (self._readonly or self._single) and self._engine.dialect.name == "postgresql":
            # READ COMMITTED gives each statement its own snapshot in a transaction too:
            # reading, or writing one statement, without BEGIN and COMMIT is the same, two
            # round trips cheaper.
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        try:
            self._tx = conn.begin()
        except BaseException:
            conn.close()
            raise
        self.conn = conn

    def _repositories(self) -> None:
        conn = self.conn
        pg = self._engine.dialect.name == "postgresql"
        self.parties = Parties(conn)
        self.auth = Auth(conn)
        self.idempotency = Idempotency(conn)
        self.rates = RateCounts(conn, pg)
        self.workers = Workers(conn, pg)
        self.ledger = Ledger(conn, pg)
        self.deposits = Deposits(conn)
        self.campaigns = Campaigns(conn, pg)
        self.tasks = Tasks(conn, pg)
        self.assignments = Assignments(conn, pg)
        self.receipts = Receipts(conn)
        self.payouts = Payouts(conn, pg)
        self.confusions = Confusions(conn, pg)
        self.reputations = Reputations(conn)
        self.limits = Limits(conn)
        self.appeals = Appeals(conn, pg)
        self.peer_reviews = PeerReviews(conn, pg)
        self.facts = Facts(conn)
        self.devices = Devices(conn)
        self.bodies = Bodies(conn, pg)
        self.reports = Reports(conn)

    def _deferring(self) -> list[Any]:
        """The repositories that hold writes until a flush (and what they read meanwhile)."""
        return [
            self.assignments.later,
            self.tasks.later,
            self.receipts.later,
            self.payouts.later,
            self.reputations,
            self.workers,
            # Last, just before COMMIT: rows every answer of a campaign writes (its class
            # counts, its escrow and the fees), whose row locks queue other transactions
            # until this one commits.
            self.confusions,
            self.ledger,
        ]

    @contextmanager
    def batched(self) -> Iterator[None]:
        """Hold the assignments' and tasks' single-row updates (submitted, decided,
        resolved) and send each statement's rows together at the end, or before those
        repositories next read. Inside, nothing may read those tables through another
        repository."""
        held = [self.assignments.later, self.tasks.later]
        for later in held:
            later.holding = True
        try:
            yield
            for later in held:
                later.flush()
        finally:
            for later in held:
                later.holding = False

    def flush(self) -> None:
        """Write what the repositories deferred (commit does this)."""
        for deferring in self._deferring():
            deferring.flush()

    def commit(self) -> None:
        try:
            self.flush()  # deferred rows and entries are part of this transaction
            self._tx.commit()
        except IntegrityError as exc:
            raise Conflict("a concurrent request changed the same object; retry") from exc
        self._committed = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self._committed and self._tx.is_active:
                self._tx.rollback()
        except DBAPIError:
            if exc is None:
                raise
            # The connection died under the transaction: the database rolls it back itself.
        finally:
            self.conn.close()
            if self._lock is not None:
                self._lock.release()
        _raise_if_outage(exc)
        if isinstance(exc, IntegrityError):
            raise Conflict("a concurrent request changed the same object; retry") from exc


def _raise_if_outage(exc: BaseException | None) -> None:
    """Raise Unavailable for an error that says the database is out of reach (restarting,
    connection lost, pool exhausted): an outage, not a fault of the request."""
    lost = isinstance(exc, OperationalError | InterfaceError | PoolTimeout) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )
    if lost:
        raise Unavailable("the database is out of reach; retry shortly") from exc


class SqlStore:
    """The Store port over one SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # SQLite has one writer at a time. Queueing writers on a lock in-process is far
        # cheaper than letting them collide on BEGIN IMMEDIATE, whose busy handler sleeps.
        self._write_lock = threading.RLock() if engine.dialect.name == "sqlite" else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def uow(self, *, readonly: bool = False, single: bool = False) -> SqlUnitOfWork:
        """A unit of work; `single`: it writes one statement (no BEGIN on PostgreSQL)."""
        return SqlUnitOfWork(
            self.engine, readonly=readonly, single=single, write_lock=self._write_lock
        )

    def dispose(self) -> None:
        self.engine.dispose()
