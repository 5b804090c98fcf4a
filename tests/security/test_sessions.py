"""Sessions from outside (issue 21, findings 6 to 8): signing out and revoking a key end them
in every process within a second; Idempotency-Key answers belong to their principal and
hold no secret; the sign-in page's `next` never leads off the site."""

from __future__ import annotations

import html
import re
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from earnest.adapters.chain.wallet import Wallet
from earnest.adapters.store.tables import idempotency
from earnest.bootstrap import Market
from earnest.client import Earnest
from tests.security.served import processes

WITHIN = 1.0  # seconds: "signing out or revoking a key ends it everywhere within a second"


def _refused_within(client: httpx.Client, headers: dict[str, str]) -> float:
    """Seconds until GET /v1/balance with `headers` answers 401 (fails after 3 s)."""
    started = time.monotonic()
    while time.monotonic() - started < 3.0:
        if client.get("/v1/balance", headers=headers).status_code == 401:
            return time.monotonic() - started
        time.sleep(0.02)
    pytest.fail("the credential still works 3 s after it ended")


def test_signing_out_over_the_api_ends_the_token_on_every_process(tmp_path: Path) -> None:
    with processes(tmp_path / "m", n=2) as [(one, _), (two, _)]:
        api = Earnest.sign_in(one, Wallet.generate())
        bearer = {"authorization": f"Bearer {api.token}"}
        with api, httpx.Client(base_url=one) as a, httpx.Client(base_url=two) as b:
            assert b.get("/v1/balance", headers=bearer).status_code == 200  # cached there
            assert a.get("/v1/balance", headers=bearer).status_code == 200
            api.sign_out()
            assert a.get("/v1/balance", headers=bearer).status_code == 401  # at once here
            assert _refused_within(b, bearer) < WITHIN  # and within a second there


def test_signing_out_of_the_pages_ends_the_token_too(tmp_path: Path) -> None:
    with processes(tmp_path / "m", n=2) as [(one, _), (two, _)]:
        api = Earnest.sign_in(one, Wallet.generate())
        bearer = {"authorization": f"Bearer {api.token}"}
        cookies = {"earnest_session": api.token or ""}
        with (
            api,
            httpx.Client(base_url=one, cookies=cookies) as browser,
            httpx.Client(base_url=two) as b,
        ):
            assert b.get("/v1/balance", headers=bearer).status_code == 200
            assert browser.post("/signout").status_code == 303
            assert _refused_within(b, bearer) < WITHIN
            # The old cookie, kept by a copy of the browser, opens no page either.
            again = httpx.get(f"{two}/dashboard", cookies=cookies)
            assert again.status_code == 303 and "/signin" in again.headers["location"]


def test_a_revoked_key_is_refused_on_every_process(tmp_path: Path) -> None:
    with processes(tmp_path / "m", n=2) as [(one, _), (two, _)]:
        api = Earnest.sign_in(one, Wallet.generate())
        key = api.create_api_key("ci", ["campaigns:read"])
        bearer = {"authorization": f"Bearer {key['key']}"}
        with api, httpx.Client(base_url=one) as a, httpx.Client(base_url=two) as b:
            assert b.get("/v1/campaigns", headers=bearer).status_code == 200
            api.revoke_api_key(key["id"])
            assert a.get("/v1/campaigns", headers=bearer).status_code == 401
            assert b.get("/v1/campaigns", headers=bearer).status_code == 401


def _create_key_page(client: httpx.Client, key: str, session: str = "") -> httpx.Response:
    """The keys page's form, with an Idempotency-Key, signed in by cookie if `session`."""
    headers = {"idempotency-key": key}
    if session:
        headers["cookie"] = f"earnest_session={session}"
    return client.post(
        "/dashboard/keys", data={"name": "mine", "scopes": "campaigns:read"}, headers=headers
    )


def _secrets(page: str) -> set[str]:
    return set(re.findall(r"ek_[A-Za-z0-9_\-]{20,}", page))


def test_a_replayed_idempotency_key_never_returns_another_callers_answer(
    tmp_path: Path,
) -> None:
    with processes(tmp_path / "m", n=1) as [(url, _)]:
        victim, other = (
            Earnest.sign_in(url, Wallet.generate()),
            Earnest.sign_in(url, Wallet.generate()),
        )
        key = uuid.uuid4().hex
        with victim, other, httpx.Client(base_url=url) as client:
            made = _create_key_page(client, key, victim.token or "")
            assert made.status_code == 201
            (secret,) = _secrets(made.text)
            anonymous = _create_key_page(client, key)
            assert (
                secret not in anonymous.text
                and anonymous.headers.get("idempotent-replayed") is None
            )
            someone = _create_key_page(client, key, other.token or "")
            assert secret not in someone.text and someone.headers.get("idempotent-replayed") is None


def test_no_idempotency_record_holds_a_secret(tmp_path: Path) -> None:
    with processes(tmp_path / "m", n=1) as [(url, market)]:
        api = Earnest.sign_in(url, Wallet.generate())
        with api, httpx.Client(base_url=url) as client:
            made = [api.create_api_key("sdk", ["campaigns:read"])["key"]]  # the SDK sends a key
            page = _create_key_page(client, uuid.uuid4().hex, api.token or "")
            made += sorted(_secrets(page.text))
            signed = Earnest.sign_in(url, Wallet.generate())  # session tokens
            signed.close_client()
            bodies = _idempotency_bodies(market)
        assert len(made) == 2
        for secret in [*made, api.token or "", signed.token or ""]:
            assert not any(secret.encode() in body for body in bodies), "a secret was kept"


def _idempotency_bodies(market: Market) -> list[bytes]:
    """Every answer body kept for an Idempotency-Key, read straight from the table."""
    with market.store.engine.connect() as conn:
        return [body or b"" for body in conn.execute(select(idempotency.c.body)).scalars()]


OFF_SITE = [
    "/%09/evil.example/x",
    "/\t/evil.example/x",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "/\\evil.example",
    "/%5cevil.example",
    "\\\\evil.example",
    "//evil.example",
    "/%2f%2fevil.example",
    "%2f%2fevil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "/\x00//evil.example",
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_the_next_parameter_stays_on_site(http: httpx.Client, target: str) -> None:
    page = http.get("/signin", params={"next": target})
    if page.status_code != 200:  # refused outright (a NUL byte is): no redirect at all
        assert 400 <= page.status_code < 500 and "location" not in page.headers
        return
    (found,) = re.findall(r'data-next="([^"]*)"', page.text)
    chosen = html.unescape(found)
    assert chosen == "/work", chosen


def test_a_path_on_this_site_is_kept_as_next(http: httpx.Client) -> None:
    page = http.get("/signin", params={"next": "/dashboard/campaigns?x=1"})
    assert 'data-next="/dashboard/campaigns?x=1"' in page.text
