"""Wallet sign-in (Sign-In-With-Solana) and scoped API keys, over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from earnest.adapters.chain.wallet import Wallet
from earnest.bootstrap import Market
from earnest.client import ApiError, AsyncEarnest, Earnest
from tests.e2e.helpers import campaign_spec, problem_of


def challenge(http: httpx.Client, wallet: Wallet) -> dict[str, Any]:
    response = http.post("/v1/auth/challenge", json={"address": wallet.address})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def session(http: httpx.Client, message: str, signature: str) -> httpx.Response:
    return http.post("/v1/auth/session", json={"message": message, "signature": signature})


def replace_line(text: str, prefix: str, new: str) -> str:
    return "\n".join(new if line.startswith(prefix) else line for line in text.split("\n"))


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_sign_in_gives_a_session_token(http: httpx.Client) -> None:
    wallet = Wallet.generate()
    issued = challenge(http, wallet)
    assert wallet.address in issued["message"]
    assert f"Nonce: {issued['nonce']}" in issued["message"]
    response = session(http, issued["message"], wallet.sign_message(issued["message"].encode()))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["address"] == wallet.address
    assert body["token"]
    assert http.get("/v1/balance", headers=bearer(body["token"])).json() == {
        "available": 0,
        "pending_withdrawal": 0,
        "payable": 0,
    }


def test_sdk_sign_in(base_url: str) -> None:
    wallet = Wallet.generate()
    with Earnest.sign_in(base_url, wallet) as api:
        assert api.token
        assert api.balance()["available"] == 0


def test_replayed_nonce_is_refused(http: httpx.Client) -> None:
    wallet = Wallet.generate()
    issued = challenge(http, wallet)
    signature = wallet.sign_message(issued["message"].encode())
    assert session(http, issued["message"], signature).status_code == 200
    body = problem_of(session(http, issued["message"], signature), 401)
    assert "nonce" in body["detail"]


def test_signature_of_another_wallet_is_refused(http: httpx.Client) -> None:
    wallet, other = Wallet.generate(), Wallet.generate()
    issued = challenge(http, wallet)
    response = session(http, issued["message"], other.sign_message(issued["message"].encode()))
    body = problem_of(response, 401)
    assert "signature" in body["detail"]
    assert response.headers["www-authenticate"] == "Bearer"
    # the refused attempt did not burn the nonce: the owner can still sign in with it
    ok = session(http, issued["message"], wallet.sign_message(issued["message"].encode()))
    assert ok.status_code == 200


def test_message_for_another_domain_is_refused(http: httpx.Client) -> None:
    wallet = Wallet.generate()
    issued = challenge(http, wallet)
    first = issued["message"].split("\n")[0]
    domain = first.split(" ")[0]
    forged = issued["message"].replace(domain, "evil.example", 1)
    assert forged != issued["message"]
    body = problem_of(session(http, forged, wallet.sign_message(forged.encode())), 401)
    assert "another site" in body["detail"]


def test_tampered_expiration_is_refused(http: httpx.Client) -> None:
    wallet = Wallet.generate()
    issued = challenge(http, wallet)
    later = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    forged = replace_line(issued["message"], "Expiration Time:", f"Expiration Time: {later}")
    assert forged != issued["message"]
    body = problem_of(session(http, forged, wallet.sign_message(forged.encode())), 401)
    assert "differs" in body["detail"]


class ShiftedClock:
    def __init__(self, shift: timedelta) -> None:
        self.shift = shift

    def now(self) -> datetime:
        return datetime.now(UTC) + self.shift


def test_expired_message_is_refused_and_its_nonce_stays_spent(
    http: httpx.Client, sqlite_market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    wallet = Wallet.generate()
    issued = challenge(http, wallet)
    signature = wallet.sign_message(issued["message"].encode())
    real_clock = sqlite_market.clock
    monkeypatch.setattr(sqlite_market, "clock", ShiftedClock(timedelta(minutes=11)))
    body = problem_of(session(http, issued["message"], signature), 401)
    assert "expired" in body["detail"]
    monkeypatch.setattr(sqlite_market, "clock", real_clock)
    problem_of(session(http, issued["message"], signature), 401)


def test_challenge_for_a_bad_address_is_422(http: httpx.Client) -> None:
    problem_of(http.post("/v1/auth/challenge", json={"address": "0" * 40}), 422)


def test_unknown_session_token_is_401(http: httpx.Client) -> None:
    problem_of(http.get("/v1/balance", headers=bearer("no-such-token")), 401)


# --- API keys --------------------------------------------------------------------------------


def test_api_key_lifecycle(
    http: httpx.Client, sign_in: Callable[..., Earnest], base_url: str
) -> None:
    api = sign_in()
    created = api.create_api_key("ci", ["campaigns:read", "campaigns:write"])
    secret = created["key"]
    assert secret.startswith("ek_")
    assert created["scopes"] == ["campaigns:read", "campaigns:write"]
    assert created["revoked_at"] is None

    listed = api.api_keys()
    assert [k["id"] for k in listed] == [created["id"]]
    assert listed[0]["key"] is None
    assert secret not in http.get("/v1/api-keys", headers=bearer(api.token or "")).text

    with Earnest(base_url, token=secret) as program:
        campaign = program.create_campaign(**campaign_spec())
        assert [c["id"] for c in program.campaigns()] == [campaign["id"]]
        assert campaign["requester"] == api.campaigns()[0]["requester"]

    assert api.revoke_api_key(created["id"]) is None
    assert api.api_keys()[0]["revoked_at"] is not None
    body = problem_of(http.get("/v1/campaigns", headers=bearer(secret)), 401)
    assert "revoked" in body["detail"]


def test_api_key_without_funds_scope_cannot_deposit(
    http: httpx.Client, sign_in: Callable[..., Earnest]
) -> None:
    secret = sign_in().create_api_key("reader", ["campaigns:read"])["key"]
    response = http.post("/v1/deposits", json={"signature": "1" * 88}, headers=bearer(secret))
    body = problem_of(response, 403)
    assert "funds:write" in body["detail"]
    problem_of(http.post("/v1/campaigns", json=campaign_spec(), headers=bearer(secret)), 403)
    assert http.get("/v1/campaigns", headers=bearer(secret)).status_code == 200


def test_api_key_cannot_create_keys(http: httpx.Client, sign_in: Callable[..., Earnest]) -> None:
    secret = sign_in().create_api_key("all", ["campaigns:read", "funds:write"])["key"]
    response = http.post(
        "/v1/api-keys", json={"name": "child", "scopes": ["campaigns:read"]}, headers=bearer(secret)
    )
    problem_of(response, 403)


def test_unknown_scope_is_422(sign_in: Callable[..., Earnest]) -> None:
    with pytest.raises(ApiError) as info:
        sign_in().create_api_key("bad", ["root"])
    assert info.value.status == 422


def test_cannot_revoke_someone_elses_key(sign_in: Callable[..., Earnest]) -> None:
    owner, other = sign_in(), sign_in()
    key = owner.create_api_key("mine", ["campaigns:read"])
    with pytest.raises(ApiError) as info:
        other.revoke_api_key(key["id"])
    assert info.value.status == 404
    assert owner.api_keys()[0]["revoked_at"] is None


class _LoseFirstSessionAnswer(httpx.AsyncBaseTransport):
    """Delivers every request, but loses the answer to the first session request."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.sent: list[tuple[str, str | None]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.url.path, request.headers.get("idempotency-key")))
        response = await self.inner.handle_async_request(request)
        if request.url.path == "/v1/auth/session" and len(self.sent) == 2:
            await response.aread()
            raise httpx.ReadError("connection reset", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_sdk_signs_in_afresh_when_a_session_answer_is_lost(base_url: str) -> None:
    """The lost answer spent its nonce: resending it would be refused, so the SDK starts over
    with a new challenge. Sign-in requests carry no Idempotency-Key (none is recorded)."""
    transport = _LoseFirstSessionAnswer()

    async def run() -> Any:
        async with httpx.AsyncClient(base_url=base_url, transport=transport) as http:
            api = await AsyncEarnest.sign_in(base_url, Wallet.generate(), http=http)
            return await api.api_keys()

    assert asyncio.run(run()) == []
    paths = [path for path, _ in transport.sent]
    assert paths[:4] == ["/v1/auth/challenge", "/v1/auth/session"] * 2
    assert all(key is None for _, key in transport.sent[:4])
