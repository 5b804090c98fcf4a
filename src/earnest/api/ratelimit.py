"""Rate limits: token buckets per credential, per wallet address and per anonymous client IP.

A bucket holds up to `burst` requests and refills at `rate` a second; a request takes one.
An empty bucket answers 429 with Retry-After (seconds until a request fits). Buckets live
in memory per API process, so N processes behind a balancer allow N times the rate: the
limit bounds abuse, it is not a quota. Memory is bounded by forgetting the least recently
used keys (a forgotten key starts again with a full bucket).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from earnest.api.middleware import App, Receive, Scope, Send, header
from earnest.api.problems import problem
from earnest.domain.errors import RateLimited

MAX_KEYS = 100_000
# Load balancers probe this; refusing them would take a healthy process out of rotation.
EXEMPT_PATHS = frozenset({"/v1/health"})


@dataclass
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """Buckets by key: `rate` requests a second, bursts up to `burst`; rate 0 = no limit."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.rate, self.burst, self.clock, self.max_keys = rate, burst, clock, max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()  # taken from the event loop and the route threads

    def take(self, key: str) -> float:
        """Take one request from `key`'s bucket: 0 if it fits, else the seconds to wait."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            bucket = self._buckets.pop(key, None) or _Bucket(float(self.burst), now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.rate


def retry_after(wait: float) -> int:
    """Whole seconds for the Retry-After header (at least 1)."""
    return max(1, math.ceil(wait))


class Limits:
    """The buckets of one API: per credential and address, and per anonymous client IP."""

    def __init__(self, keyed: TokenBuckets, anonymous: TokenBuckets) -> None:
        self.keyed, self.anonymous = keyed, anonymous

    def check_address(self, address: str) -> None:
        """Raise RateLimited when this wallet, over all its credentials, asks too often."""
        _refuse(self.keyed.take(f"address:{address}"), "for this wallet")

    def check_client(self, host: str) -> None:
        """Raise RateLimited when a client IP has sent too many credentials that failed:
        each made-up token has a bucket of its own, its sender's address has one too."""
        _refuse(self.anonymous.take(f"ip:{host}"), "with failed credentials from this address")


def _refuse(wait: float, whose: str) -> None:
    if wait:
        raise RateLimited(f"too many requests {whose}; slow down", retry_after=retry_after(wait))


class RateLimit:
    """ASGI middleware: one token per request from the credential's or the client IP's bucket.

    Credentials are keyed by their sha256, so no secret is kept as a dictionary key.
    """

    def __init__(self, app: App, *, limits: Limits) -> None:
        self.app, self.limits = app, limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            return await self.app(scope, receive, send)
        credential = header(scope, b"authorization")
        if credential:
            digest = hashlib.sha256(credential.encode("latin-1")).hexdigest()
            wait = self.limits.keyed.take(f"credential:{digest}")
        else:
            client = scope.get("client") or ("unknown", 0)
            wait = self.limits.anonymous.take(f"ip:{client[0]}")
        if not wait:
            return await self.app(scope, receive, send)
        seconds = retry_after(wait)
        refusal = problem(
            429,
            RateLimited.title,
            f"too many requests; retry in {seconds} s",
            RateLimited.code,
            retry_after=seconds,
        )
        await refusal(scope, receive, send)
