"""Security headers on pages and API answers, and requesters' external images (finding 10).

Before the fix no answer carried a CSP, X-Frame-Options, nosniff, Referrer-Policy or
Cache-Control, and a task's `https://` image was an `<img>` every worker's browser fetched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from earnest.adapters.chain.wallet import Wallet
from earnest.bootstrap import Market
from earnest.client import Earnest
from earnest.domain.money import unit_cost
from tests.e2e.helpers import OUTPUT_SCHEMA, campaign_spec, deposit

TRACKER = "https://tracker.example/pixel.png?worker=1"
LOCAL = "/static/samples/street.svg"
INPUT = {
    "type": "object",
    "properties": {"photo": {"type": "string"}, "local": {"type": "string"}},
    "required": ["photo", "local"],
}

CookieClient = Callable[..., httpx.Client]


@pytest.fixture
def cookie_client(base_url: str) -> Iterator[CookieClient]:
    """A client signed in like the sign-in page (session cookie)."""
    opened: list[httpx.Client] = []

    def _make(wallet: Wallet | None = None) -> httpx.Client:
        wallet = wallet or Wallet.generate()
        client = httpx.Client(base_url=base_url, timeout=30)
        opened.append(client)
        challenge = client.post("/v1/auth/challenge", json={"address": wallet.address})
        message = challenge.json()["message"]
        signed = wallet.sign_message(message.encode())
        session = client.post("/session", json={"message": message, "signature": signed})
        assert session.status_code == 200, session.text
        return client

    yield _make
    for client in opened:
        client.close()


def _assert_hardened(answer: httpx.Response, *, cached: bool = False) -> dict[str, str]:
    """The headers every answer carries; `cached` only for static assets."""
    csp = _policy(answer)
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "same-origin"
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    if not cached:
        assert answer.headers["cache-control"] == "no-store"
    return csp


def _policy(answer: httpx.Response) -> dict[str, str]:
    directives = answer.headers["content-security-policy"].split(";")
    return {d.split()[0]: " ".join(d.split()[1:]) for d in directives if d.strip()}


def test_pages_api_answers_and_the_keys_page_carry_the_headers(
    http: httpx.Client, cookie_client: CookieClient
) -> None:
    page = _assert_hardened(http.get("/signin"))
    assert page["script-src"] == "'self'" and "unsafe-inline" not in page["style-src"]
    assert page["img-src"] == "'self' data: blob:" and page["base-uri"] == "'none'"
    _assert_hardened(http.get("/v1/health"))
    _assert_hardened(http.get("/v1/campaigns/cmp_nope"))  # a problem JSON too
    wallet = Wallet.generate()
    message = http.post("/v1/auth/challenge", json={"address": wallet.address}).json()["message"]
    signed = wallet.sign_message(message.encode())
    session = http.post("/v1/auth/session", json={"message": message, "signature": signed})
    assert session.status_code == 200 and _assert_hardened(session)  # it holds the token
    bearer = {"Authorization": f"Bearer {session.json()['token']}"}
    keys_api = http.get("/v1/api-keys", headers=bearer)
    assert keys_api.status_code == 200 and _assert_hardened(keys_api)
    requester = cookie_client()
    made = requester.post("/dashboard/keys", data={"name": "ci", "scopes": ["campaigns:read"]})
    assert made.status_code == 201 and "data-secret" in made.text
    _assert_hardened(made)
    _assert_hardened(requester.get("/dashboard/keys"))
    static = http.get("/static/app.css")
    _assert_hardened(static, cached=True)
    assert "no-store" not in static.headers.get("cache-control", "")


def test_the_api_docs_page_has_its_own_narrow_policy(http: httpx.Client) -> None:
    docs = http.get("/docs")
    csp = _assert_hardened(docs)
    assert "https://cdn.jsdelivr.net" in docs.text  # Swagger UI's own script, allowed below
    assert "https://cdn.jsdelivr.net" in csp["script-src"]
    assert csp["default-src"] == "'none'" and csp["connect-src"] == "'self'"
    assert "cdn.jsdelivr.net" not in _policy(http.get("/signin"))["script-src"]


def _image_campaign(market: Market, sign_in: Callable[..., Earnest]) -> dict[str, Any]:
    wallet = Wallet.generate()
    api = sign_in(wallet)
    spec = campaign_spec(input_schema=INPUT, output_schema=OUTPUT_SCHEMA)
    budget = unit_cost(spec["reward"], api.market()["fee_bps"])
    deposit(market, api, wallet, budget)
    campaign = api.create_campaign(**spec)
    api.upload_tasks(campaign["id"], [{"id": "p1", "data": {"photo": TRACKER, "local": LOCAL}}])
    api.fund(campaign["id"], budget)
    return campaign


def test_a_requesters_external_image_is_not_loaded_by_the_worker_page(
    sqlite_market: Market, sign_in: Callable[..., Earnest], cookie_client: CookieClient
) -> None:
    campaign = _image_campaign(sqlite_market, sign_in)
    worker = cookie_client()
    leased = worker.post(f"/work/{campaign['id']}/claim")
    assert leased.status_code == 303, leased.text
    task = worker.get(leased.headers["location"])
    html = task.text
    assert task.status_code == 200 and "tracker.example" in html  # shown, as a link
    assert '<img src="https://' not in html and '<img src="//' not in html
    assert f'<a href="{TRACKER.replace("&", "&amp;")}" rel="noopener noreferrer nofollow"' in html
    assert f'<img src="{LOCAL}"' in html  # this site's own image still shows
    img_src = _policy(task)["img-src"].split()
    assert (
        "https:" not in img_src and "*" not in img_src and "https://tracker.example" not in img_src
    )
