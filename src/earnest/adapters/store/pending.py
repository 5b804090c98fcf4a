"""Writes held until the next flush: inserts a transaction writes many of, and a suite's
single-row updates.

A suite of answers writes a receipt, a payout and a reputation event per answer, and
updates each answer's assignment (submitted, then decided) and task (resolved). Buffered
here, they reach the database as one multi-row insert or one executemany per statement:
when the unit of work commits, or before their repository reads that table (so a
transaction always reads its own writes).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Executable, Table, insert

from earnest.domain.errors import Conflict

T = TypeVar("T")


class PendingRows:
    def __init__(self, conn: Connection, table: Table) -> None:
        self.c = conn
        self.table = table
        self._rows: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any]) -> None:
        self._rows.append(row)

    def flush(self) -> None:
        if self._rows:
            rows, self._rows = self._rows, []
            self.c.execute(insert(self.table), rows)


def flushed_first(*deferred: str) -> Callable[[type[T]], type[T]]:
    """A class decorator for a repository with a `later` buffer: every public method but
    the `deferred` ones (those that add to it) flushes the buffer first."""

    def decorate(cls: type[T]) -> type[T]:
        for name, method in list(vars(cls).items()):
            if name.startswith("_") or name in deferred or not callable(method):
                continue
            setattr(cls, name, _flushing(method))
        return cls

    return decorate


def _flushing(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        self.later.flush()
        return method(self, *args, **kwargs)

    return run


class PendingUpdates:
    """Single-row updates of a repository: sent at once, or, while held (a suite's answers),
    queued and sent at the next flush as one executemany per statement.

    Each update must change exactly one row (its WHERE names the row and the state it must
    still be in). Sent at once, `add` says whether it did; queued, a flush that changed
    fewer rows than it sent raises Conflict, and the caller's transaction is refused.

    A queued update can be taken back (`take`) by a repository that folds two updates of
    one row into one statement: an answer stored and decided in the same transaction is
    one row version, not two.
    """

    def __init__(self, conn: Connection) -> None:
        self.c = conn
        self.holding = False
        # statement name → (statement, row id ("b_id") → its parameters), in queued order
        self._queued: dict[str, tuple[Executable, dict[Any, dict[str, Any]]]] = {}
        self._rows: dict[Any, str] = {}  # row id → the statement queued for it

    def add(self, name: str, stmt: Executable, params: dict[str, Any]) -> bool:
        """Update one row; True if it changed (always True while held: checked at flush)."""
        if not self.holding:
            return bool(self.c.execute(stmt, params).rowcount == 1)
        # Statements are sent one after the other: a row already queued by another one is
        # sent first, so that a row's updates keep their order.
        if self._rows.setdefault(params["b_id"], name) != name:
            self.flush()
            self._rows[params["b_id"]] = name
        rows = self._queued.setdefault(name, (stmt, {}))[1]
        if params["b_id"] in rows:  # the same update of one row twice: send both, in order
            self.flush()
            return self.add(name, stmt, params)
        rows[params["b_id"]] = params
        return True

    def names(self) -> set[str]:
        """The statements with updates queued."""
        return {name for name, (_, rows) in self._queued.items() if rows}

    def queued(self, name: str) -> list[dict[str, Any]]:
        """The parameters queued for this statement, in the order they came."""
        return list(self._queued[name][1].values()) if name in self._queued else []

    def take(self, row_id: Any, name: str) -> dict[str, Any] | None:
        """Take back the update queued for this row, if it is this statement's; else None."""
        if self._rows.get(row_id) != name:
            return None
        del self._rows[row_id]
        return self._queued[name][1].pop(row_id)

    def flush(self) -> None:
        queued, self._queued, self._rows = self._queued, {}, {}
        for name, (stmt, by_row) in queued.items():
            if not by_row:
                continue
            rows = list(by_row.values())
            changed = self.c.execute(stmt, rows).rowcount
            if changed != len(rows):
                raise Conflict(
                    f"{len(rows) - changed} of {len(rows)} rows changed meanwhile ({name}); retry"
                )
