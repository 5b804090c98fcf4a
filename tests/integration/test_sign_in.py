"""Sign-in through the HTTP app and on both SQL stores: sign-in and a new API key keep no
Idempotency-Key record (docs/security.md, "Requests and sign-in"), and a party signs in
again without a conflict. The rules of sign-in, on the use cases, are in
tests/unit/test_sign_in.py.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from earnest.adapters.chain import Wallet
from earnest.adapters.store.tables import idempotency
from earnest.api import create_app
from earnest.bootstrap import Market
from earnest.domain import siws
from earnest.services import identity


def challenge(m: Market, wallet: Wallet) -> siws.SignInMessage:
    return m.identity.challenge(identity.Challenge(wallet.address))


def sign_in(m: Market, message: str, signature: str, kind: str = "person") -> str:
    token, _, _ = m.identity.sign_in(identity.SignIn(message, signature, kind))
    return token


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
