"""Sign-in refusals the HTTP tests (tests/e2e/test_api_auth.py) leave out, on the use cases.

Covered there: a replayed nonce, another wallet's signature, another domain, a tampered
expiry, an expired message. Here: another URI or chain, a nonce stolen for another address,
malformed signatures, an unknown nonce, a wrong party kind, expired sessions, and a nonce
that outlives neither a success nor an expiry.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from earnest.adapters.chain import Wallet
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
