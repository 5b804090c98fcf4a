"""Fault injection for the seeded fault schedules: crashes, expiries, dropped connections.

A schedule is a list of steps drawn from a seed (the same seed gives the same steps): units
of work, withdrawals, settlement rounds with a fault at a named point of the settler, an
expired blockhash, a database connection killed under the Nth statement, RPC answers lost.
A crash in process raises `Crash` (a BaseException: nothing may swallow it) where the real
settler would die by os._exit: what was committed stays, the rest is rolled back.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event, text

POINTS = ("before_send", "after_send", "after_confirm")


class Crash(BaseException):  # not an error: the process dying, which nothing may catch
    """The settler's process died at a fault point."""


class PointFaults:
    """The settler's Faults port: do `action` the first time `point` is reached."""

    def __init__(self, point: str | None, action: Callable[[], None]) -> None:
        self.point, self.action, self.fired = point, action, False

    def hit(self, point: str) -> None:
        if point == self.point and not self.fired:
            self.fired = True
            self.action()


def crash() -> None:
    raise Crash


class DbDrops:
    """Kill the connection under the Nth statement after `arm(n)`: PostgreSQL terminates the
    backend (pg_terminate_backend), SQLite has its connection closed under it."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.countdown, self.drops = engine, -1, 0
        self.pg = engine.dialect.name == "postgresql"
        url = engine.url.render_as_string(hide_password=False)
        self._admin = create_engine(url, isolation_level="AUTOCOMMIT") if self.pg else None
        event.listen(engine, "before_cursor_execute", self._before)

    def arm(self, statements: int) -> None:
        self.countdown = statements

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        if self._admin is not None:
            self._admin.dispose()

    def _before(self, conn: Any, *_: Any) -> None:
        if self.countdown < 0:
            return
        if self.countdown > 0:
            self.countdown -= 1
            return
        self.countdown, self.drops = -1, self.drops + 1
        raw = conn.connection.dbapi_connection
        if self._admin is None:
            raw.close()  # the statement about to run finds its database closed
            return
        with self._admin.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:p)"), {"p": raw.info.backend_pid})


@dataclass(frozen=True)
class Step:
    """One step of a schedule: `kind` with its argument."""

    kind: str  # work | withdraw | settle | expire | drop_db | drop_rpc
    n: int = 0  # units, base units, statements or lost answers
    point: str | None = None  # settle: where the fault strikes
    fault: str | None = None  # settle: crash | expire | drop_db | drop_rpc | None

    def __str__(self) -> str:
        return f"{self.kind}({self.n}{f', {self.fault} at {self.point}' if self.fault else ''})"


def schedule(seed: int, *, rpc: bool = False) -> list[Step]:
    """The steps for `seed` (always the same ones): every fault at every point of the
    settler once, in an order and among other steps drawn from the seed. Each settlement
    round follows new work or a withdrawal, so that it has a batch to send."""
    rng = random.Random(seed)
    faults = ["crash", "expire", "drop_db"] + (["drop_rpc"] if rpc else [])
    rounds = [(point, fault) for point in POINTS for fault in faults]
    rng.shuffle(rounds)
    extras = ["expire", "drop_db", "work", "none", "none"] + (["drop_rpc"] if rpc else [])
    out = []
    for point, fault in rounds:
        out.append(Step("withdraw" if rng.random() < 0.25 else "work", n=rng.randint(1, 3)))
        extra = rng.choice(extras)
        if extra == "drop_db":
            out.append(Step(extra, n=rng.randint(0, 30)))
        elif extra != "none":
            out.append(Step(extra, n=rng.randint(1, 3)))
        out.append(Step("settle", point=point, fault=fault))
    return out
