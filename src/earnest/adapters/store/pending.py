"""Rows written at the next flush: insert-only records that a transaction writes many of.

A suite of answers writes a receipt, a payout and a reputation event per answer. Buffered
here, they reach the database as one multi-row insert per table: when the unit of work
commits, or before their repository reads that table (so a transaction always reads its
own writes).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, insert

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
