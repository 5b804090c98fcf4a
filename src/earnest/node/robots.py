"""robots.txt, read as RFC 9309 says, with urllib.robotparser, cached per origin."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

ROBOTS_TTL = 3600.0  # RFC 9309: a crawler should not use a cached robots.txt over 24 hours
MAX_ORIGINS = 1000
_DISALLOW_ALL = ["User-agent: *", "Disallow: /"]

# (status, body) of a robots.txt request, or None when the site could not be reached.
Answer = tuple[int, bytes] | None


def parse_robots(answer: Answer) -> RobotFileParser:
    """The rules a robots.txt answer sets.

    2xx: its rules. 401 and 403: nothing may be fetched (as `RobotFileParser.read` reads
    them). Other 4xx: the site has no robots.txt, anything may be fetched. 5xx or no
    answer: the site is unreachable, and RFC 9309 says to assume nothing may be fetched.
    """
    parser = RobotFileParser()
    if answer is None or answer[0] >= 500 or answer[0] in (401, 403):
        parser.parse(_DISALLOW_ALL)
    elif answer[0] >= 400:
        parser.parse([])
    else:
        parser.parse(answer[1].decode("utf-8", "replace").splitlines())
    return parser


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL: the scope one robots.txt covers."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2].lower()}"


class RobotsCache:
    """The robots.txt rules of each origin a node fetches from, kept for an hour."""

    def __init__(
        self,
        agent: str,
        load: Callable[[str], Answer],
        *,
        ttl: float = ROBOTS_TTL,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.agent = agent
        self.load = load  # fetches a robots.txt URL through the node's guarded client
        self.ttl = ttl
        self.monotonic = monotonic
        self._rules: dict[str, tuple[float, RobotFileParser]] = {}

    def rules(self, url: str) -> RobotFileParser:
        """The parsed robots.txt that governs `url`, fetched if not cached or stale."""
        origin = origin_of(url)
        now = self.monotonic()
        cached = self._rules.get(origin)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        rules = parse_robots(self.load(f"{origin}/robots.txt"))
        if len(self._rules) >= MAX_ORIGINS:
            self._rules.pop(next(iter(self._rules)))  # the oldest entry: dicts keep order
        self._rules[origin] = (now, rules)
        return rules

    def allows(self, url: str) -> bool:
        """Whether this node's user agent may fetch `url`."""
        return self.rules(url).can_fetch(self.agent, url)

    def delay(self, url: str) -> float:
        """Seconds the site asks between two requests (Crawl-delay, Request-rate), or 0."""
        rules = self.rules(url)
        delay = float(rules.crawl_delay(self.agent) or 0)
        rate = rules.request_rate(self.agent)
        if rate is not None and rate.requests > 0:
            delay = max(delay, rate.seconds / rate.requests)
        return delay
