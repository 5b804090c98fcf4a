"""The operator's consent and audit trail: an append-only log, and the bytes-per-day cap.

Every request the node carries (robots.txt too), every job it declines and every verdict
it gets is one JSON line in the log, appended and never rewritten. The day's bytes are
counted from the same log at start (UTC days), so a restart does not reset the cap.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from earnest.node.guard import FetchRefused

CARRIED = ("page", "robots")  # the entries that record bytes the node carried


class CapReached(FetchRefused):
    """The day's bytes are spent: the operator's cap stops the node until tomorrow (UTC)."""

    code = "byte_cap"


def utc_now() -> datetime:
    """The time the log and the cap go by (aware, UTC)."""
    return datetime.now(UTC)


class Journal:
    """One JSON object per line, appended to `path` (created with mode 0600)."""

    def __init__(self, path: Path, *, now: Callable[[], datetime] = utc_now) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self.path = path
        self.now = now
        self._file = os.fdopen(fd, "a", encoding="utf-8")

    def write(self, kind: str, **fields: Any) -> None:
        """Append one entry, stamped with the time, and flush it to the file at once."""
        entry = {"at": self.now().isoformat(timespec="milliseconds"), "kind": kind} | fields
        self._file.write(json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n")
        self._file.flush()

    def bytes_on(self, day: str) -> int:
        """Bytes carried on `day` (YYYY-MM-DD, UTC) by the entries already in the log."""
        total = 0
        with self.path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a crash is no reason to stop counting
                if not isinstance(entry, dict) or entry.get("kind") not in CARRIED:
                    continue
                if str(entry.get("at", "")).startswith(day):
                    size = entry.get("bytes", 0)
                    total += size if isinstance(size, int) else 0
        return total

    def close(self) -> None:
        """Close the log file (entries are already on disk: each write flushes)."""
        self._file.close()


class DailyCap:
    """The most bytes the node carries in one UTC day; `reserve` refuses what could exceed it.

    The day is over for the node once less than `per_request` bytes are left (its largest
    response): it then takes no job it might have to give back half done."""

    def __init__(self, limit: int, journal: Journal, *, per_request: int = 1) -> None:
        if limit < 0:
            raise ValueError("the daily byte cap cannot be negative")
        self.limit = limit
        self.per_request = per_request
        self.now = journal.now
        self.day = self._today()
        self.used = journal.bytes_on(self.day)
        self.refused = False  # a request was refused today: the rest of the day is off

    def _today(self) -> str:
        return self.now().date().isoformat()

    def _roll(self) -> None:
        today = self._today()
        if today != self.day:
            self.day, self.used, self.refused = today, 0, False

    @property
    def exhausted(self) -> bool:
        """Whether the node should stop taking jobs for the rest of the day."""
        self._roll()
        return self.refused or self.limit - self.used < self.per_request

    def reserve(self, limit: int) -> None:
        """Refuse (CapReached) a request that could carry more than the day has left."""
        self._roll()
        if self.used + limit > self.limit:
            self.refused = True
            raise CapReached(
                f"today's cap of {self.limit} bytes has {self.limit - self.used} left, less "
                f"than this request may carry ({limit}); the node resumes tomorrow (UTC)"
            )

    def spend(self, size: int) -> None:
        """Count `size` bytes carried today."""
        self._roll()
        self.used += size
