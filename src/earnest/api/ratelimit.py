"""Rate limits per verified wallet and per client IP, counted by every API process at once.

A limit of `rate` a second with bursts of `burst` is kept as a sliding window: at most
`burst` requests in any `burst / rate` seconds, estimated from two fixed windows (the count
of the window before, weighted by how much of it still overlaps, plus the current one: the
"sliding window counter" of the `limits` library, and of most gateways).

Counts are shared through the market's store without a database trip per request: each
process counts locally and, every SYNC_INTERVAL, sends what it counted to the store in one
upsert that returns the totals of every process (`LimitsSync`). A process refuses when the
last totals it read plus its own unsent requests reach the limit. So N processes together
let through at most the limit plus what the others accepted for the same key since this
one last read: within one sync interval (about 0.2 s) of requests, documented as the
overshoot in docs/security.md. If the store cannot be reached, each process goes on
limiting with its own counts (a process alone never exceeds the limit).

The key is the verified identity, never a raw header: the wallet behind a session token,
API key or session cookie, as this process last verified it (SessionCache.owner, no I/O).
A credential not yet verified here counts against the client's IP; once the IP is out of
requests, the credential is looked up in the store off the event loop, so a real user
behind a busy address still gets in while a burst of made-up tokens is refused with 429.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from anyio import to_thread
from starlette.types import ASGIApp as App
from starlette.types import Receive, Scope, Send

from earnest.api.middleware import credential_of
from earnest.api.problems import problem
from earnest.domain.errors import RateLimited, Unauthenticated
from earnest.services.identity import SessionCache, digest, read_revocations
from earnest.services.loop import Every
from earnest.services.ports import Clock, PeopleStore

log = logging.getLogger("earnest.ratelimit")

MAX_KEYS = 100_000
# Load balancers probe this; refusing them would take a healthy process out of rotation.
EXEMPT_PATHS = frozenset({"/v1/health"})
SYNC_INTERVAL = 0.2  # seconds between a process's shares of counts (and revocation reads)
REVOCATION_WINDOW = timedelta(seconds=10)  # how far back each read of revocations looks
# The key a request was charged to, for the route's own checks (deps.principal).
CHARGED = "earnest.rate_charged"

Hits = dict[tuple[str, int], tuple[int, int]]  # (key, window slot) -> (hits, slot's end)


@dataclass
class _Seen:
    """One key's totals of every process, as last read, by window slot."""

    totals: dict[int, int] = field(default_factory=dict)


class Windows:
    """Sliding-window counts by key, shared through `drain` and `apply`; rate 0 = no limit."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.time,
        max_keys: int = MAX_KEYS,
    ) -> None:
        # Wall-clock windows: every process and machine must agree on where one starts.
        self.rate, self.limit, self.clock, self.max_keys = rate, burst, clock, max_keys
        self.window = burst / rate if rate > 0 else 0.0
        self._seen: OrderedDict[str, _Seen] = OrderedDict()
        self._pending: dict[tuple[str, int], int] = {}  # counted here, not yet sent
        self._sending: dict[tuple[str, int], int] = {}  # sent, totals not yet back
        self._lock = threading.Lock()  # taken from the event loop and the sync thread

    def take(self, key: str) -> float:
        """Count one request for `key`: 0 if it fits, else the seconds until one would."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        slot, into = divmod(now, self.window)
        slot_i, frac = int(slot), into / self.window
        with self._lock:
            current = self._count(key, slot_i)
            before = self._count(key, slot_i - 1)
            if before * (1 - frac) + current + 1 <= self.limit:
                self._pending[(key, slot_i)] = self._pending.get((key, slot_i), 0) + 1
                if len(self._pending) > self.max_keys:
                    self._keep_locally()
                return 0.0
        return self._wait(current, before, frac)

    def _count(self, key: str, slot: int) -> int:
        seen = self._seen.get(key)
        total = seen.totals.get(slot, 0) if seen is not None else 0
        return total + self._pending.get((key, slot), 0) + self._sending.get((key, slot), 0)

    def _wait(self, current: int, before: int, frac: float) -> float:
        """Seconds until the estimate falls below the limit (refused requests count not)."""
        room = self.limit - 1
        if current > room:  # wait for the next window, and for enough of it to pass
            return ((1 - frac) + max(0.0, 1 - room / current)) * self.window
        return max(0.0, (1 - (room - current) / before) - frac) * self.window

    def _keep_locally(self) -> None:
        """Nothing sends the counts (no sync running): keep them as this process's totals,
        so memory stays bounded by max_keys."""
        for (key, slot), n in self._pending.items():
            seen = self._seen.pop(key, None) or _Seen()
            seen.totals[slot] = seen.totals.get(slot, 0) + n
            self._seen[key] = seen
        self._pending = {}
        while len(self._seen) > self.max_keys:
            self._seen.popitem(last=False)

    def drain(self) -> Hits:
        """The hits counted here since the last drain, to send to the store."""
        if self.rate <= 0:
            return {}
        with self._lock:
            for slot_key, n in self._pending.items():
                self._sending[slot_key] = self._sending.get(slot_key, 0) + n
            self._pending = {}
            ends = self.window * 2  # a window counts until the end of the next one
            return {
                (key, slot): (n, math.ceil((slot + 1) * self.window + ends))
                for (key, slot), n in self._sending.items()
            }

    def apply(self, totals: dict[tuple[str, int], int], *, sent: bool) -> None:
        """Take in every process's totals for what was drained (or, if not `sent`, keep
        counting it here for the next try)."""
        with self._lock:
            if not sent:
                return  # _sending stays, and is sent again with the next drain
            oldest = int(self.clock() // self.window) - 1 if self.window else 0
            for (key, slot), total in totals.items():
                if (key, slot) not in self._sending:
                    continue  # another limiter's row
                del self._sending[(key, slot)]
                seen = self._seen.pop(key, None) or _Seen()
                seen.totals = {s: t for s, t in seen.totals.items() if s >= oldest}
                seen.totals[slot] = total
                self._seen[key] = seen  # most recently used last
            while len(self._seen) > self.max_keys:
                self._seen.popitem(last=False)


def retry_after(wait: float) -> int:
    """Whole seconds for the Retry-After header (at least 1)."""
    return max(1, math.ceil(wait))


class Limits:
    """The windows of one API: per wallet (over all its credentials), and per client IP."""

    def __init__(self, keyed: Windows, anonymous: Windows) -> None:
        self.keyed, self.anonymous = keyed, anonymous

    def check_address(self, address: str) -> None:
        """Raise RateLimited when this wallet, over all its credentials, asks too often."""
        _refuse(self.keyed.take(f"address:{address}"), "for this wallet")

    def check_client(self, host: str) -> None:
        """Raise RateLimited when a client IP sends too many requests without a credential
        verified here (none, made-up ones, or one not yet looked up)."""
        _refuse(self.anonymous.take(f"ip:{host}"), "from this address")


def _refuse(wait: float, whose: str) -> None:
    if wait:
        raise RateLimited(f"too many requests {whose}; slow down", retry_after=retry_after(wait))


Totals = dict[tuple[str, int], int]
Counter = Callable[[Hits], Totals]  # adds hits where every process counts, returns totals


def store_counter(store: PeopleStore) -> Counter:
    """Counts in the market's store: one upsert for all the hits of one share."""

    def add(hits: Hits) -> Totals:
        with store.uow(single=True) as uow:
            totals = uow.rates.add(hits)
            uow.commit()
        return totals

    return add


def redis_counter(url: str) -> Counter:
    """Counts in Redis, through the `limits` library's storage (an atomic INCRBY with an
    expiry per window, so Redis forgets old windows by itself)."""
    from limits.storage import RedisStorage  # only a market configured for Redis needs it

    storage = RedisStorage(url, key_prefix="earnest", wrap_exceptions=True)

    def add(hits: Hits) -> Totals:
        now = time.time()
        return {
            (key, slot): storage.incr(f"{key}:{slot}", max(1, math.ceil(ends - now)), amount=n)
            for (key, slot), (n, ends) in sorted(hits.items())
        }

    return add


class LimitsSync:
    """Every SYNC_INTERVAL: this process's counts to where every process counts (the store,
    or Redis) and everyone's totals back, in one statement; then the revocations of the
    last seconds into the session cache."""

    def __init__(
        self,
        limits: Limits,
        sessions: SessionCache,
        *,
        store: PeopleStore,
        clock: Clock,
        counter: Counter | None = None,
    ) -> None:
        self.limits, self.sessions, self.store, self.clock = limits, sessions, store, clock
        self.counter = counter or store_counter(store)
        self._loop = Every("earnest-limits-sync", SYNC_INTERVAL, self.round, log)

    def round(self) -> None:
        """One share of counts and one read of revocations."""
        try:
            self.share()
        finally:
            read_revocations(
                store=self.store, clock=self.clock, sessions=self.sessions, window=REVOCATION_WINDOW
            )

    def share(self) -> None:
        """Send what was counted here, take in the totals of every process."""
        windows = (self.limits.keyed, self.limits.anonymous)
        hits: Hits = {}
        for w in windows:
            hits.update(w.drain())  # keys differ: "address:..." and "ip:..."
        if not hits:
            return
        totals: Totals = {}
        try:
            totals = self.counter(hits)
        finally:
            for w in windows:
                w.apply(totals, sent=bool(totals))

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()


Resolve = Callable[[str], str]  # a credential -> its wallet address, or Unauthenticated


class RateLimit:
    """ASGI middleware: one request counted against the caller's wallet, or its client IP.

    Credentials are looked up by their sha256, so no secret is kept as a dictionary key.
    """

    def __init__(
        self, app: App, *, limits: Limits, sessions: SessionCache, resolve: Resolve
    ) -> None:
        self.app, self.limits, self.sessions, self.resolve = app, limits, sessions, resolve

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            return await self.app(scope, receive, send)
        credential = credential_of(scope)
        owner = self.sessions.owner(digest(credential)) if credential else None
        client = (scope.get("client") or ("unknown", 0))[0]
        if owner is not None:
            key, wait = f"address:{owner}", self.limits.keyed.take(f"address:{owner}")
        else:
            key, wait = f"ip:{client}", self.limits.anonymous.take(f"ip:{client}")
            if wait and credential:
                key, wait = await self._verified(credential, key, wait)
        scope[CHARGED] = key
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

    async def _verified(self, credential: str, key: str, wait: float) -> tuple[str, float]:
        """The IP is out of requests: a real credential still counts against its wallet
        (looked up in the store, off the event loop); a made-up one stays refused."""
        try:
            owner = await to_thread.run_sync(self.resolve, credential)
        except Unauthenticated:
            return key, wait
        return f"address:{owner}", self.limits.keyed.take(f"address:{owner}")
