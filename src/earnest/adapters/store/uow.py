"""The SQL store and its unit of work: `with store.uow() as uow: ...; uow.commit()`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import Token
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
from earnest.adapters.store.repos_webhooks import Webhooks
from earnest.domain.errors import Conflict, Unavailable
from earnest.services.ports import HELD, IdempotencyRepo


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
        self._held = False  # its commit waits for the request's Idempotency-Key record
        self._borrowed = False  # a read in the held transaction of the same request
        self._lock = None if readonly else write_lock

    def __enter__(self) -> SqlUnitOfWork:
        held = HELD.get()
        if held is not None:
            # A unit after the held one must see what it wrote: a read runs in the held
            # transaction itself, a write commits the held one first.
            borrowed = held.connection() if self._readonly else None
            if borrowed is not None:
                self.conn, self._borrowed = borrowed, True
                self._repositories()
                return self
            held.release()
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
        self.webhooks = Webhooks(conn, pg)

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
        held = HELD.get()
        try:
            self.flush()  # deferred rows and entries are part of this transaction
            if held is not None and held.keep(self):
                self._committed = self._held = True  # committed with the request's record
                return
            self._tx.commit()
        except IntegrityError as exc:
            raise Conflict("a concurrent request changed the same object; retry") from exc
        self._committed = True

    def _commit_held(self, write: Callable[[IdempotencyRepo], None] | None) -> None:
        """Commit the held transaction, with `write` to the Idempotency-Key record first."""
        try:
            if write is not None:
                write(self.idempotency)
            self._tx.commit()
        except BaseException as exc:
            self._close_held()
            _raise_if_outage(exc)
            if isinstance(exc, IntegrityError):
                raise Conflict("a concurrent request changed the same object; retry") from exc
            raise
        self.conn.close()

    def _close_held(self) -> None:
        """Drop the held transaction unwritten (a crash, as far as the database knows)."""
        try:
            if self._tx.is_active:
                self._tx.rollback()
        except DBAPIError:
            pass  # the connection died: the database rolls the transaction back itself
        finally:
            self.conn.close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._held or self._borrowed:
            _raise_if_outage(exc)  # the HeldCommit commits it, or drops it
            return
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


class HeldCommit:
    """The record and the effects of one request commit together (PostgreSQL).

    The middleware runs a request with an Idempotency-Key inside `with store.held(slot):`.
    A route marked `@recorded` (api/recorded.py) arms it around its use case: the
    transaction the use case commits is held open, and when the route has its answer, still
    in its own thread, `answer()` writes it into the key's record in that same transaction
    and commits both. A process dying in between leaves neither: the retry runs afresh,
    once the record's lease is over, instead of finding the effect done and its answer
    lost. Nothing waits on another thread while the transaction is held (its row locks may
    queue every other route thread: a wait for one of them would never end).

    A read later in the request runs in the held transaction (and sees its writes); a
    second write commits the held one first ("wherever possible": the last one joins the
    record). On SQLite, whose one writer is queued on a lock of the thread that took it,
    nothing is held; nor for a route not marked: the middleware writes the record after.
    """

    def __init__(self, store: SqlStore, slot: str) -> None:
        self._store, self.slot = store, slot
        self._uow: SqlUnitOfWork | None = None
        self._token: Token[Any] | None = None
        self._lock = threading.Lock()
        self._armed = False
        self.recorded = False  # the answer is in the record, with the effects

    def __enter__(self) -> HeldCommit:
        self._token = HELD.set(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            HELD.reset(self._token)
        self.settle(exc)

    def arm(self) -> None:
        self._armed = True

    def keep(self, uow: SqlUnitOfWork) -> bool:
        """Hold `uow`'s commit, if armed, on PostgreSQL, and nothing else is held."""
        if not self._armed or self._store.dialect != "postgresql":
            return False
        if uow._single or uow._readonly:
            return False
        with self._lock:
            if self._uow is not None:
                return False
            self._uow = uow
            return True

    def connection(self) -> Connection | None:
        """The held transaction's connection, for a read in the same request."""
        with self._lock:
            return self._uow.conn if self._uow is not None else None

    def _take(self) -> SqlUnitOfWork | None:
        with self._lock:
            uow, self._uow = self._uow, None
            return uow

    def release(self) -> None:
        """Commit what is held, without the record (something else comes first)."""
        uow = self._take()
        if uow is not None:
            uow._commit_held(None)

    def settle(self, exc: BaseException | None) -> None:
        """Disarm; commit what is still held, or drop it if the process is going down (a
        BaseException such as a test's crash: as far as the database knows, it died)."""
        self._armed = False
        uow = self._take()
        if uow is None:
            return
        if exc is not None and not isinstance(exc, Exception):
            uow._close_held()
        else:
            uow._commit_held(None)

    def answer(self, status: int, body: bytes) -> None:
        """The route's answer: into the record, in the held transaction, committing both."""
        self._armed = False
        uow = self._take()
        if uow is not None:
            uow._commit_held(lambda records: records.finish(self.slot, status, body))
            self.recorded = True

    def record(self, write: Callable[[IdempotencyRepo], None]) -> None:
        """Write the key's record alone (the middleware, when the route did not)."""
        self.release()
        with self._store.uow(single=True) as alone:
            write(alone.idempotency)
            alone.commit()


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

    def held(self, slot: str) -> HeldCommit:
        """The request whose Idempotency-Key record is `slot` (HeldCommit)."""
        return HeldCommit(self, slot)

    def dispose(self) -> None:
        self.engine.dispose()
