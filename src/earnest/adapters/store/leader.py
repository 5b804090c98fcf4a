"""One settler at a time on PostgreSQL: the lead is a session-level advisory lock.

Every process of a market (N API workers, `earnest settle` runs) builds a settler; each
round, a settler first asks for the lead. The leader holds `pg_try_advisory_lock` on a
connection of its own, kept open while it leads, so the lock lives exactly as long as that
session: when the leader dies (even by SIGKILL) PostgreSQL ends the session and frees the
lock, and the next follower to try takes it. A follower never blocks: it tries each round.
"""

from __future__ import annotations

import contextlib
import threading

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

# The advisory lock key of the settler (migrations hold 727001 per transaction).
SETTLER_LOCK = 727002


class AdvisoryLeader:
    """Leadership as a PostgreSQL session-level advisory lock on a dedicated connection."""

    def __init__(self, engine: Engine, key: int = SETTLER_LOCK) -> None:
        self._engine = engine
        self._key = key
        self._conn: Connection | None = None
        self._guard = threading.Lock()

    def acquire(self) -> bool:
        """Whether this process leads now, taking the lead if it is free."""
        with self._guard:
            if self._conn is not None and self._alive(self._conn):
                return True
            self._drop()
            try:
                conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            except DBAPIError:
                return False  # the database is away: nobody settles until it is back
            with contextlib.suppress(DBAPIError):
                got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key})
                if got.scalar_one():
                    self._conn = conn
                    return True
            conn.close()
            return False

    def release(self) -> None:
        """Give the lead up (closing the session frees the lock)."""
        with self._guard:
            if self._conn is not None:
                with contextlib.suppress(DBAPIError):
                    self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            self._drop()

    def _alive(self, conn: Connection) -> bool:
        # A lost session has lost its lock too: the lead must be taken again.
        try:
            conn.execute(text("SELECT 1"))
        except DBAPIError:
            return False
        return True

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(DBAPIError):
                self._conn.close()
            self._conn = None
