"""The settler: a settlement round every few hundred milliseconds, until stopped."""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from earnest.domain.errors import Unavailable
from earnest.services.chain_port import Chain
from earnest.services.loop import Every
from earnest.services.ports import Clock, MoneyStore, Random
from earnest.services.settlement import Faults, SettleReport, settle_once

log = logging.getLogger("earnest.settler")


class Leadership(Protocol):
    """Who may settle: exactly one settler of a market at a time."""

    def acquire(self) -> bool:
        """Whether this process leads now, taking the lead if it is free (never blocks)."""
        ...

    def release(self) -> None:
        """Give the lead up."""
        ...


class SingleProcess:
    """The lead on SQLite: one process owns the database file, so it always leads."""

    def acquire(self) -> bool:
        """Always: there is no other settler."""
        return True

    def release(self) -> None:
        """Nothing to give up."""


class Settler:
    """Runs `settle_once` in a background thread; `drain()` settles everything now."""

    def __init__(
        self,
        *,
        store: MoneyStore,
        chain: Chain,
        clock: Clock,
        rand: Random,
        interval: float,
        faults: Faults | None = None,
        leader: Leadership | None = None,
    ) -> None:
        self._deps = {
            "store": store,
            "chain": chain,
            "clock": clock,
            "rand": rand,
            "faults": faults,
        }
        self._lock = threading.Lock()  # one round at a time, loop or drain
        self._leader = leader or SingleProcess()
        self.leading = False
        self.outage = False  # the last round met a database outage
        self._loop = Every("earnest-settler", interval, self.round, log)
        self.totals = SettleReport()

    def round(self) -> SettleReport:
        """One settlement round (recover, then pay what is pending) if this settler leads."""
        with self._lock:
            leading = self._leader.acquire()
            if leading != self.leading:
                log.info("settler %s", "takes the lead" if leading else "follows")
            self.leading = leading
            if not leading:
                return SettleReport()
            try:
                report = settle_once(**self._deps)  # type: ignore[arg-type]
            except Unavailable as exc:
                # Nothing half-done: what a round committed stays, the next round recovers the
                # rest. One line per outage; the loop carries on at its interval.
                if not self.outage:
                    log.warning(
                        "database out of reach, the settler retries each round: %s",
                        exc.__cause__ or exc,
                    )
                self.outage = True
                return SettleReport()
            if self.outage:
                log.warning("database reachable again, the settler carries on")
            self.outage = False
        self.totals.sent += report.sent
        self.totals.confirmed += report.confirmed
        self.totals.dropped += report.dropped
        self.totals.transfers += report.transfers
        return report

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()
        with self._lock:
            self._leader.release()
            self.leading = False
