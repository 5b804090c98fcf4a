"""The node's limits without a network: address policy, robots.txt reading, pace, byte cap."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from earnest.node import CapReached, DailyCap, FetchRefused, Guard, Journal, refusal
from earnest.node.fetcher import DomainPace
from earnest.node.robots import parse_robots


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata services live here
        ("fe80::1", "link-local"),
        ("224.0.0.251", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not globally routable"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("2002:c0a8:0101::1", "private"),  # 6to4 around 192.168.1.1
        ("fd00::1", "private"),
        ("93.184.215.14", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_only_public_addresses_pass(address: str, why: str | None) -> None:
    assert refusal(address) == why


def test_a_name_with_any_private_address_is_refused_unless_allowed() -> None:
    answers = {"mixed.test": ["93.184.215.14", "10.0.0.5"], "public.test": ["93.184.215.14"]}

    def resolve(host: str, port: int) -> list[str]:
        return answers[host]

    with pytest.raises(FetchRefused, match=re.escape("10.0.0.5, a private address")):
        Guard(resolve=resolve).addresses("mixed.test", 80)
    assert Guard(resolve=resolve).addresses("public.test", 80) == ["93.184.215.14"]
    assert Guard(allow_private=True, resolve=resolve).addresses("mixed.test", 80)


def test_robots_answers_are_read_as_rfc_9309_says() -> None:
    rules = parse_robots((200, b"User-agent: EarnestNode\nDisallow: /private\nCrawl-delay: 2\n"))
    assert rules.can_fetch("EarnestNode", "http://a.test/public")
    assert not rules.can_fetch("EarnestNode", "http://a.test/private/x")
    assert float(rules.crawl_delay("EarnestNode") or 0) == 2.0
    assert parse_robots((404, b"")).can_fetch("EarnestNode", "http://a.test/x")
    for unreachable in [(503, b""), (403, b""), None]:
        assert not parse_robots(unreachable).can_fetch("EarnestNode", "http://a.test/x")


def test_pace_spaces_requests_to_one_host() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pace = DomainPace(2.0, max_wait=5.0, sleep=sleep, monotonic=lambda: now[0])
    pace.wait("a.test")
    pace.wait("b.test")
    pace.wait("a.test")
    assert slept == [0.5]
    pace.wait("a.test", at_least=3.0)  # the site's Crawl-delay is longer than the rate
    assert slept == [0.5, 3.0]
    with pytest.raises(FetchRefused):
        pace.wait("a.test", at_least=60.0)


def test_the_cap_counts_the_log_of_today_and_refuses_what_could_exceed_it(
    tmp_path: Path,
) -> None:
    clock = [datetime(2025, 5, 1, 23, 0, tzinfo=UTC)]
    path = tmp_path / "node.jsonl"
    journal = Journal(path, now=lambda: clock[0])
    journal.write("page", url="http://a.test/1", bytes=600)
    journal.write("verdict", url="http://a.test/1", bytes=600)  # not a request: not counted
    cap = DailyCap(1000, journal)
    assert cap.used == 600
    cap.reserve(400)
    with pytest.raises(CapReached):
        cap.reserve(401)
    assert cap.exhausted
    clock[0] += timedelta(hours=2)  # a new UTC day
    assert not cap.exhausted and cap.used == 0
    journal.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [e["kind"] for e in lines] == ["page", "verdict"]
    assert path.stat().st_mode & 0o777 == 0o600
