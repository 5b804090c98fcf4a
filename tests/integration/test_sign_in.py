"""Sign-in refusals the HTTP tests (tests/e2e/test_api_auth.py) leave out, on the use cases.

Covered there: a replayed nonce, another wallet's signature, another domain, a tampered
expiry, an expired message. Here: another URI or chain, a nonce stolen for another address,
malformed signatures, an unknown nonce, a wrong party kind, expired sessions, and a nonce
that outlives neither a success nor an expiry; the per-process session cache, and sign-in
keeping no Idempotency-Key record (docs/security.md, "Requests and sign-in").
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from earnest.adapters.chain import Wallet
from earnest.adapters.store.tables import idempotency, sessions
from earnest.api import create_app
from earnest.bootstrap import Market
from earnest.domain import siws
from earnest.domain.errors import InvalidInput, Unauthenticated
from earnest.services import identity
from tests.factories import FakeClock


@pytest.fixture
def clock(sqlite_market: Market) -> FakeClock:
    sqlite_market.clock = FakeClock()
    return sqlite_market.clock


def challenge(m: Market, wallet: Wallet) -> siws.SignInMessage:
    return identity.create_challenge(
        wallet.address, site=m.site, store=m.store, crypto=m.crypto, clock=m.clock, rand=m.rand
    )


def sign_in(m: Market, message: str, signature: str, kind: str = "person") -> str:
    token, _, _ = identity.sign_in(
        message,
        signature,
        kind=kind,
        site=m.site,
        store=m.store,
        crypto=m.crypto,
        clock=m.clock,
        rand=m.rand,
    )
    return token


@pytest.mark.parametrize(
    "change",
    [{"uri": "https://evil.example"}, {"chain_id": "mainnet"}, {"domain": "evil.example"}],
)
def test_a_message_for_another_site_or_chain_is_refused(
    sqlite_market: Market, clock: FakeClock, change: dict[str, str]
) -> None:
    wallet = Wallet.generate()
    forged = replace(challenge(sqlite_market, wallet), **change).text()
    with pytest.raises(Unauthenticated, match="another site"):
        sign_in(sqlite_market, forged, wallet.sign_message(forged.encode()))


def test_a_nonce_issued_to_one_wallet_cannot_sign_in_another(
    sqlite_market: Market, clock: FakeClock
) -> None:
    victim, thief = Wallet.generate(), Wallet.generate()
    issued = challenge(sqlite_market, victim)
    stolen = replace(issued, address=thief.address).text()
    with pytest.raises(Unauthenticated, match="differs"):
        sign_in(sqlite_market, stolen, thief.sign_message(stolen.encode()))
    # The refusal did not spend the victim's nonce.
    text = issued.text()
    assert sign_in(sqlite_market, text, victim.sign_message(text.encode()))


@pytest.mark.parametrize("signature", ["", "not base58 0OIl", "1" * 88, "x" * 100, "🔑" * 30])
def test_malformed_signatures_are_refused_not_crashed_on(
    sqlite_market: Market, clock: FakeClock, signature: str
) -> None:
    text = challenge(sqlite_market, Wallet.generate()).text()
    with pytest.raises(Unauthenticated, match="signature"):
        sign_in(sqlite_market, text, signature)


def test_a_well_formed_message_with_an_unknown_nonce_is_refused(
    sqlite_market: Market, clock: FakeClock
) -> None:
    wallet = Wallet.generate()
    made_up = replace(challenge(sqlite_market, wallet), nonce="A" * 22).text()
    with pytest.raises(Unauthenticated, match="nonce"):
        sign_in(sqlite_market, made_up, wallet.sign_message(made_up.encode()))


def test_only_people_and_agents_sign_in(sqlite_market: Market, clock: FakeClock) -> None:
    wallet = Wallet.generate()
    text = challenge(sqlite_market, wallet).text()
    with pytest.raises(InvalidInput, match="kind"):
        sign_in(sqlite_market, text, wallet.sign_message(text.encode()), kind="operator")


def test_an_expired_message_spends_its_nonce(sqlite_market: Market, clock: FakeClock) -> None:
    wallet = Wallet.generate()
    text = challenge(sqlite_market, wallet).text()
    signature = wallet.sign_message(text.encode())
    clock.advance(identity.CHALLENGE_TTL.total_seconds())
    with pytest.raises(Unauthenticated, match="expired"):
        sign_in(sqlite_market, text, signature)
    clock.advance(-60)  # even back inside the window, it is gone
    with pytest.raises(Unauthenticated, match="nonce"):
        sign_in(sqlite_market, text, signature)


def test_sessions_expire_after_a_day(sqlite_market: Market, clock: FakeClock) -> None:
    wallet = Wallet.generate()
    text = challenge(sqlite_market, wallet).text()
    token = sign_in(sqlite_market, text, wallet.sign_message(text.encode()))
    deps = {"store": sqlite_market.store, "clock": clock}
    assert identity.authenticate(token, **deps).address == wallet.address
    clock.advance(identity.SESSION_TTL.total_seconds() - 1)
    assert identity.authenticate(token, **deps).address == wallet.address
    clock.advance(1)
    with pytest.raises(Unauthenticated, match="expired"):
        identity.authenticate(token, **deps)
    for forged in ("", "ek_" + token, token.upper(), token + "x"):
        with pytest.raises(Unauthenticated):
            identity.authenticate(forged, **deps)


def test_a_cached_session_still_expires_and_is_re_read_after_its_ttl(
    sqlite_market: Market, clock: FakeClock
) -> None:
    ticks = [0.0]
    cache = identity.SessionCache(ttl=60, clock=lambda: ticks[0])
    wallet = Wallet.generate()
    text = challenge(sqlite_market, wallet).text()
    token, _, _ = identity.sign_in(
        text,
        wallet.sign_message(text.encode()),
        kind="person",
        site=sqlite_market.site,
        store=sqlite_market.store,
        crypto=sqlite_market.crypto,
        clock=clock,
        rand=sqlite_market.rand,
        sessions=cache,
    )
    deps = {"store": sqlite_market.store, "clock": clock, "sessions": cache}
    with sqlite_market.store.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(delete(sessions))  # gone from the store: only the cache knows it now
    assert identity.authenticate(token, **deps).address == wallet.address
    clock.advance(identity.SESSION_TTL.total_seconds())
    with pytest.raises(Unauthenticated, match="expired"):  # expiry is checked on every use
        identity.authenticate(token, **deps)
    clock.advance(-identity.SESSION_TTL.total_seconds())
    ticks[0] = 61.0
    with pytest.raises(Unauthenticated, match="expired"):  # past the ttl: the store decides
        identity.authenticate(token, **deps)


def test_api_keys_are_never_cached_a_revoked_one_stops_at_once(
    sqlite_market: Market, clock: FakeClock
) -> None:
    cache = identity.SessionCache()
    wallet = Wallet.generate()
    text = challenge(sqlite_market, wallet).text()
    token = sign_in(sqlite_market, text, wallet.sign_message(text.encode()))
    deps = {"store": sqlite_market.store, "clock": clock, "sessions": cache}
    who = identity.authenticate(token, **deps)
    secret, key = identity.create_api_key(
        who, "bot", ["work"], store=sqlite_market.store, clock=clock, rand=sqlite_market.rand
    )
    assert identity.authenticate(secret, **deps).credential == f"api_key:{key.id}"
    identity.revoke_api_key(who, key.id, store=sqlite_market.store, clock=clock)
    with pytest.raises(Unauthenticated, match="revoked"):
        identity.authenticate(secret, **deps)


def test_sign_in_keeps_no_idempotency_record_and_a_replay_is_refused(market: Market) -> None:
    """A record would hold the session token in clear and hand it to whoever replays the
    request; without one, a replayed session request finds its nonce spent."""
    client = TestClient(create_app(market))
    wallet = Wallet.generate()
    keyed = {"idempotency-key": "same-key"}
    issued = client.post("/v1/auth/challenge", json={"address": wallet.address}, headers=keyed)
    again = client.post("/v1/auth/challenge", json={"address": wallet.address}, headers=keyed)
    assert issued.status_code == again.status_code == 200
    assert issued.json()["nonce"] != again.json()["nonce"]  # a fresh, valid challenge
    message = issued.json()["message"]
    body = {"message": message, "signature": wallet.sign_message(message.encode())}
    first = client.post("/v1/auth/session", json=body, headers=keyed)
    assert first.status_code == 200, first.text
    replayed = client.post("/v1/auth/session", json=body, headers=keyed)
    assert replayed.status_code == 401 and "idempotent-replayed" not in replayed.headers
    with market.store.engine.connect() as conn:  # type: ignore[attr-defined]
        assert conn.execute(select(idempotency)).first() is None
    token = first.json()["token"]
    assert client.get("/v1/api-keys", headers={"authorization": f"Bearer {token}"}).json() == []


def test_a_new_api_key_keeps_no_idempotency_record_of_its_secret(market: Market) -> None:
    """A record would keep the key's secret in clear (the store keeps only its hash) and hand
    it to whoever repeats the request; a retry creates another key instead."""
    client = TestClient(create_app(market))
    wallet = Wallet.generate()
    text = challenge(market, wallet).text()
    token = sign_in(market, text, wallet.sign_message(text.encode()))
    headers = {"authorization": f"Bearer {token}", "idempotency-key": "same-key"}
    body = {"name": "ci", "scopes": ["work"]}
    first = client.post("/v1/api-keys", json=body, headers=headers)
    again = client.post("/v1/api-keys", json=body, headers=headers)
    assert first.status_code == again.status_code == 201, first.text
    assert "idempotent-replayed" not in again.headers
    assert first.json()["key"] != again.json()["key"] and first.json()["key"]
    with market.store.engine.connect() as conn:  # type: ignore[attr-defined]
        assert conn.execute(select(idempotency)).first() is None
    listed = client.get("/v1/api-keys", headers={"authorization": f"Bearer {token}"}).json()
    assert len(listed) == 2 and all(k["key"] is None for k in listed)


def test_signing_in_again_keeps_the_party_and_opens_another_session(market: Market) -> None:
    """On both stores: the party is created once (one statement, no conflict on a return)."""
    wallet = Wallet.generate()
    tokens = set()
    for _ in range(2):
        text = challenge(market, wallet).text()
        tokens.add(sign_in(market, text, wallet.sign_message(text.encode()), kind="agent"))
    assert len(tokens) == 2
    with market.store.uow(readonly=True) as uow:
        assert uow.parties.kind(wallet.address) == "agent"
