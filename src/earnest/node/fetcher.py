"""One fetch job's HTTP under the operator's limits: guard, robots.txt, pace, bytes, time.

Every request (robots.txt included) goes through the address guard; a page is fetched only
if its campaign's allowlist and its site's robots.txt allow it, at most once per interval
per host, within a total time limit, and its body is cut hard at the job's byte limit.
Redirects are followed by hand, so each hop is checked like the first URL.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Protocol
from urllib.parse import urljoin, urlsplit

import httpx

from earnest import __version__
from earnest.domain.errors import EarnestError
from earnest.node.guard import FetchRefused, Guard, guarded_transport
from earnest.node.robots import Answer, RobotsCache

AGENT = "EarnestNode"  # the token robots.txt rules name
# Sites see who fetches and where to read why (docs/node.md is published there).
USER_AGENT = f"{AGENT}/{__version__} (+https://earnest.dev/node)"
MAX_REDIRECTS = 5
ROBOTS_MAX_BYTES = 500 << 10  # RFC 9309: crawlers must parse at least 500 KiB
MAX_HOSTS = 10_000
_REDIRECTS = (301, 302, 303, 307, 308)


class FetchFailed(EarnestError):
    """The site could not be fetched (network error, timeout, too many redirects)."""

    title = "Fetch failed"
    code = "fetch_failed"


class Budget(Protocol):
    """The day's byte allowance: `reserve` refuses a request that could exceed it."""

    def reserve(self, limit: int) -> None: ...

    def spend(self, size: int) -> None: ...


@dataclass(frozen=True)
class Limits:
    """What the operator allows one fetch: time, bytes, and pace per host."""

    timeout: float = 10.0  # seconds for a whole request, body included
    max_bytes: int = 1 << 20  # the most one response may add to the day's bytes
    per_domain_rate: float = 1.0  # requests per second to one host, at most
    max_wait: float = 30.0  # the longest a job waits for its host's turn

    def __post_init__(self) -> None:
        if self.timeout <= 0 or self.max_bytes <= 0 or self.per_domain_rate <= 0:
            raise ValueError("timeout, max_bytes and per_domain_rate must be positive")


@dataclass(frozen=True)
class Carried:
    """One request the node carried, as the operator's log keeps it."""

    kind: str  # "page" or "robots"
    url: str
    status: int
    bytes: int


@dataclass(frozen=True)
class Fetched:
    """A page as the site sent it (cut at the job's limit when `truncated`)."""

    url: str
    final_url: str
    status: int
    body: bytes
    truncated: bool
    content_type: str


@dataclass
class _Response:
    status: int = 0
    body: bytearray = field(default_factory=bytearray)
    truncated: bool = False
    content_type: str = ""
    location: str | None = None


class Unlimited:
    """No daily byte cap (a node always runs with one; tests may not)."""

    def reserve(self, limit: int) -> None:
        return None

    def spend(self, size: int) -> None:
        return None


class DomainPace:
    """At most one request per interval to each host: the operator's rate, or the longer
    delay the site's robots.txt asks for."""

    def __init__(
        self,
        rate: float,
        max_wait: float,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval, self.max_wait = 1.0 / rate, max_wait
        self.sleep, self.monotonic = sleep, monotonic
        self._last: dict[str, float] = {}

    def wait(self, host: str, at_least: float = 0.0) -> None:
        """Sleep until `host` may be asked again; FetchRefused if that is too far off."""
        interval = max(self.interval, at_least)
        now = self.monotonic()
        turn = self._last.get(host, now - interval) + interval
        if turn - now > self.max_wait:
            raise FetchRefused(f"{host} may be asked again only in {turn - now:.0f}s")
        if turn > now:
            self.sleep(turn - now)
        if len(self._last) >= MAX_HOSTS:
            self._last.pop(next(iter(self._last)))
        self._last[host] = max(now, turn)


@dataclass
class Fetcher:
    """Fetches jobs' URLs for one node; `carried` lists the requests made, for its log."""

    limits: Limits
    guard: Guard = field(default_factory=Guard)
    budget: Budget = field(default_factory=Unlimited)
    sleep: Callable[[float], None] = time.sleep
    carried: list[Carried] = field(default_factory=list)

    def __post_init__(self) -> None:
        # No cookie is ever stored or sent: jobs of different requesters share this client.
        no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
        self.http = httpx.Client(
            transport=guarded_transport(self.guard),
            timeout=self.limits.timeout,
            follow_redirects=False,
            trust_env=False,
            cookies=no_cookies,
            # The body is metered and hashed as sent: no compression to undo, no guessing.
            headers={"user-agent": USER_AGENT, "accept-encoding": "identity"},
        )
        self.robots = RobotsCache(AGENT, self._robots_txt)
        self.pace = DomainPace(self.limits.per_domain_rate, self.limits.max_wait, sleep=self.sleep)

    def fetch(self, url: str, *, max_bytes: int, allowed: Callable[[str], str | None]) -> Fetched:
        """Fetch `url` for a job whose terms `allowed` checks; cut the body at `max_bytes`."""
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            problem = allowed(current)
            if problem:
                raise FetchRefused(problem)
            if not self.robots.allows(current):
                raise FetchRefused(f"robots.txt of {urlsplit(current).netloc} disallows {current}")
            self.pace.wait(urlsplit(current).hostname or "", self.robots.delay(current))
            got = self._get(current, "page", max_bytes)
            if got.location is None:
                body = bytes(got.body)
                return Fetched(url, current, got.status, body, got.truncated, got.content_type)
            current = urljoin(current, got.location)
        raise FetchFailed(f"{url} redirects more than {MAX_REDIRECTS} times")

    def _robots_txt(self, url: str) -> Answer:
        """A robots.txt, following up to 5 redirects; None when the site is unreachable."""
        try:
            for _ in range(MAX_REDIRECTS + 1):
                got = self._get(url, "robots", min(ROBOTS_MAX_BYTES, self.limits.max_bytes))
                if got.location is None:
                    return got.status, bytes(got.body)
                url = urljoin(url, got.location)
        except FetchFailed:
            return None
        return None

    def _get(self, url: str, kind: str, limit: int) -> _Response:
        """One request, its body read up to `limit` bytes, each byte counted as it arrives."""
        self.budget.reserve(limit)
        got = _Response()
        try:
            with self.http.stream("GET", url) as response:
                self._read(response, limit, got)
        except httpx.HTTPError as exc:
            raise FetchFailed(f"{url}: {type(exc).__name__}: {exc}") from exc
        finally:
            if got.status:  # a refused or failed connection carried nothing
                self.carried.append(Carried(kind, url, got.status, len(got.body)))
        return got

    def _read(self, response: httpx.Response, limit: int, got: _Response) -> None:
        got.status = response.status_code
        got.content_type = response.headers.get("content-type", "")[:200]
        location = response.headers.get("location")
        if response.status_code in _REDIRECTS and location:
            got.location = location
            return
        # httpx's timeout bounds each read; this bounds the whole body (a slow drip).
        deadline = time.monotonic() + self.limits.timeout
        for chunk in response.iter_raw():
            if time.monotonic() > deadline:
                raise FetchFailed(f"the response took longer than {self.limits.timeout}s")
            piece = chunk[: limit - len(got.body)]
            got.body += piece
            self.budget.spend(len(piece))
            if len(piece) < len(chunk):
                got.truncated = True
                return

    def drain(self) -> list[Carried]:
        """The requests carried since the last call."""
        done, self.carried = self.carried, []
        return done

    def close(self) -> None:
        """Close the node's HTTP connections."""
        self.http.close()
