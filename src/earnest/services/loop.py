"""A background loop: one function run every few seconds in a daemon thread, until stopped."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from earnest.domain.errors import EarnestError


class Every:
    """Calls `work` every `interval` seconds; a failed round is logged and the next one runs."""

    def __init__(
        self, name: str, interval: float, work: Callable[[], object], log: logging.Logger
    ) -> None:
        self._name = name
        self._interval = interval
        self._work = work
        self._log = log
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._work()
            except EarnestError as exc:
                self._log.warning("%s round failed: %s", self._name, exc.detail)
            except Exception:
                self._log.exception("%s round crashed; retrying next round", self._name)
