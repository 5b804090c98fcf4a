"""The real clock, randomness and fault points."""

from __future__ import annotations

import os
import random
import secrets
import time
from datetime import UTC, datetime

_PAUSE_SECONDS = 120.0  # a paused process ends by itself after this, should nobody kill it


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SystemRandom:
    """OS randomness: tokens and ids from `secrets`, choices from a SystemRandom."""

    def __init__(self) -> None:
        self._rng = random.SystemRandom()

    def random(self) -> float:
        return self._rng.random()

    def token(self, nbytes: int) -> str:
        return secrets.token_urlsafe(nbytes)


class EnvFaults:
    """Kill the process at a named point, for crash tests: EARNEST_FAULTS=after_send,...

    `point:pause` stops the process there instead, for a test to kill it from outside.

    The exit is immediate (os._exit): no cleanup, no flushing, as a power cut would be.
    """

    def __init__(self, points: str | None = None) -> None:
        spec = points if points is not None else os.environ.get("EARNEST_FAULTS", "")
        self.points = {p.strip() for p in spec.split(",") if p.strip()}

    def hit(self, point: str) -> None:
        if point in self.points:
            os._exit(137)
        if f"{point}:pause" in self.points:
            # Stop here holding whatever the process holds, until a test kills it.
            time.sleep(_PAUSE_SECONDS)
            os._exit(137)
