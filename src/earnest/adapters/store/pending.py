"""Rows written at the next flush: insert-only records that a transaction writes many of.

A suite of answers writes a receipt, a payout and a reputation event per answer. Buffered
here, they reach the database as one multi-row insert per table: when the unit of work
commits, or before their repository reads that table (so a transaction always reads its
own writes).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, insert


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
