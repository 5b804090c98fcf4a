"""The settler loop: a settlement round every few hundred milliseconds, until stopped."""

from __future__ import annotations

import logging
import threading

from earnest.domain.errors import EarnestError
from earnest.services.chain_port import Chain
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
        self._interval = interval
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one round at a time, loop or drain
        self._thread: threading.Thread | None = None
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
        self._thread = threading.Thread(target=self._run, name="earnest-settler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.round()
            except EarnestError as exc:
                log.warning("settlement round failed: %s", exc.detail)
            except Exception:
                log.exception("settlement round crashed; retrying next round")
