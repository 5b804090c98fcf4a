"""The settler: a settlement round every few hundred milliseconds, until stopped."""

from __future__ import annotations

import logging
import threading

from earnest.services.chain_port import Chain
from earnest.services.loop import Every
from earnest.services.ports import Clock, Random, Store
from earnest.services.settlement import Faults, SettleReport, settle_once

log = logging.getLogger("earnest.settler")


class Settler:
    """Runs `settle_once` in a background thread; `drain()` settles everything now."""

    def __init__(
        self,
        *,
        store: Store,
        chain: Chain,
        clock: Clock,
        rand: Random,
        interval: float,
        faults: Faults | None = None,
    ) -> None:
        self._deps = {
            "store": store,
            "chain": chain,
            "clock": clock,
            "rand": rand,
            "faults": faults,
        }
        self._lock = threading.Lock()  # one round at a time, loop or drain
        self._loop = Every("earnest-settler", interval, self.round, log)
        self.totals = SettleReport()

    def round(self) -> SettleReport:
        """One settlement round (recover, then pay what is pending)."""
        with self._lock:
            report = settle_once(**self._deps)  # type: ignore[arg-type]
        self.totals.sent += report.sent
        self.totals.confirmed += report.confirmed
        self.totals.dropped += report.dropped
        self.totals.transfers += report.transfers
        return report

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()
