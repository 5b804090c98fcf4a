"""The node's fetcher against a real web site on 127.0.0.1: guard, robots.txt, redirects, cut.

The site is on loopback, so a node's default guard refuses it; the tests that fetch from it
either allow private addresses (as `--allow-private` does) or exempt 127.0.0.1 alone.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

import pytest

from earnest.demo.website import Page, Website
from earnest.node import Fetcher, FetchRefused, Guard, Limits

FAST = Limits(timeout=5.0, per_domain_rate=1000.0)
PAGES = {
    "/public": Page(b"<p>hello</p>" * 20, cookie="session=tracked; Path=/"),
    "/private/secret": Page(b"secret"),
    "/go": Page(status=302, location="/public"),
    "/to-metadata": Page(status=302, location="http://169.254.169.254/latest/meta-data/"),
}
ROBOTS = "User-agent: EarnestNode\nDisallow: /private\n\nUser-agent: *\nDisallow: /\n"


@pytest.fixture
def site() -> Iterator[Website]:
    web = Website(PAGES, robots=ROBOTS)
    web.start()
    yield web
    web.stop()


def anything(url: str) -> None:
    return None


def fetcher(guard: Guard) -> Fetcher:
    return Fetcher(FAST, guard)


def test_loopback_is_refused_by_default_before_any_request(site: Website) -> None:
    f = fetcher(Guard())
    with pytest.raises(FetchRefused, match=re.escape("127.0.0.1, a loopback address")):
        f.fetch(f"{site.url}/public", max_bytes=4096, allowed=anything)
    f.close()
    assert site.hits == []  # not even robots.txt was asked for


def test_robots_txt_is_honored_for_the_nodes_user_agent(site: Website) -> None:
    f = fetcher(Guard(allow_private=True))
    got = f.fetch(f"{site.url}/public", max_bytes=4096, allowed=anything)
    assert (got.status, got.body, got.truncated) == (200, PAGES["/public"].body, False)
    with pytest.raises(FetchRefused, match=re.escape("robots.txt")):
        f.fetch(f"{site.url}/private/secret", max_bytes=4096, allowed=anything)
    f.close()
    assert site.hits == ["/robots.txt", "/public"]  # cached, and the secret never asked for
    assert [c.kind for c in f.carried] == ["robots", "page"]


def test_requests_carry_no_cookie_and_ask_for_the_bytes_as_sent(site: Website) -> None:
    f = fetcher(Guard(allow_private=True))
    for _ in range(2):
        f.fetch(f"{site.url}/public", max_bytes=4096, allowed=anything)
    f.close()
    assert all("cookie" not in h for h in site.headers)  # the site's cookie was dropped
    assert {h["accept-encoding"] for h in site.headers} == {"identity"}
    assert all(h["user-agent"].startswith("EarnestNode/") for h in site.headers)


def test_every_redirect_hop_passes_the_guard(site: Website) -> None:
    # 127.0.0.1 alone is exempt, as an operator might allow one lab network.
    guard = Guard(exempt=[ipaddress.ip_network("127.0.0.1/32")])
    f = fetcher(guard)
    got = f.fetch(f"{site.url}/go", max_bytes=4096, allowed=anything)
    assert got.final_url == f"{site.url}/public" and got.status == 200
    with pytest.raises(FetchRefused, match=re.escape("169.254.169.254, a link-local address")):
        f.fetch(f"{site.url}/to-metadata", max_bytes=4096, allowed=anything)
    f.close()


def test_the_campaign_allowlist_is_checked_on_every_hop(site: Website) -> None:
    f = fetcher(Guard(allow_private=True))
    with pytest.raises(FetchRefused, match="not allowed"):
        f.fetch(
            f"{site.url}/go",
            max_bytes=4096,
            allowed=lambda url: "not allowed" if url.endswith("/public") else None,
        )
    f.close()


def test_a_body_is_cut_hard_at_the_limit(site: Website) -> None:
    f = fetcher(Guard(allow_private=True))
    got = f.fetch(f"{site.url}/public", max_bytes=50, allowed=anything)
    f.close()
    assert got.truncated and got.body == PAGES["/public"].body[:50]
