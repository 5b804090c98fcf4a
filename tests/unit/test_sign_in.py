"""The rules of sign-in, on the use cases over the in-memory people store (tests/fakes).

Covered over HTTP (tests/e2e/test_api_auth.py): a replayed nonce, another wallet's
signature, another domain, a tampered expiry, an expired message. Here: another URI or
chain, a nonce stolen for another address, malformed signatures, an unknown nonce, a wrong
party kind, expired sessions, and a nonce that outlives neither a success nor an expiry;
the per-process session cache; API keys, never cached, stop at once when revoked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from solders.keypair import Keypair

from earnest.adapters.chain import MarketCrypto, Wallet
from earnest.adapters.system import SystemRandom
from earnest.domain import siws
from earnest.domain.errors import InvalidInput, Unauthenticated
from earnest.services import identity
from tests.factories import FakeClock
from tests.fakes import FakeStore


@dataclass
class Deps:
    store: FakeStore
    crypto: MarketCrypto
    rand: SystemRandom
    site: identity.SiteIdentity
    clock: FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def m(clock: FakeClock) -> Deps:
    site = identity.SiteIdentity("market.test", "https://market.test", "localnet")
    return Deps(FakeStore(), MarketCrypto(Keypair()), SystemRandom(), site, clock)


def challenge(m: Deps, wallet: Wallet) -> siws.SignInMessage:
    return identity.create_challenge(
        identity.Challenge(wallet.address),
        site=m.site,
        store=m.store,
        crypto=m.crypto,
        clock=m.clock,
        rand=m.rand,
    )


def sign_in(m: Deps, message: str, signature: str, kind: str = "person") -> str:
    token, _, _ = identity.sign_in(
        identity.SignIn(message, signature, kind),
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
    m: Deps, clock: FakeClock, change: dict[str, str]
) -> None:
    wallet = Wallet.generate()
    forged = replace(challenge(m, wallet), **change).text()
    with pytest.raises(Unauthenticated, match="another site"):
        sign_in(m, forged, wallet.sign_message(forged.encode()))


def test_a_nonce_issued_to_one_wallet_cannot_sign_in_another(m: Deps, clock: FakeClock) -> None:
    victim, thief = Wallet.generate(), Wallet.generate()
    issued = challenge(m, victim)
    stolen = replace(issued, address=thief.address).text()
    with pytest.raises(Unauthenticated, match="differs"):
        sign_in(m, stolen, thief.sign_message(stolen.encode()))
    # The refusal did not spend the victim's nonce.
    text = issued.text()
    assert sign_in(m, text, victim.sign_message(text.encode()))


@pytest.mark.parametrize("signature", ["", "not base58 0OIl", "1" * 88, "x" * 100, "🔑" * 30])
def test_malformed_signatures_are_refused_not_crashed_on(
    m: Deps, clock: FakeClock, signature: str
) -> None:
    text = challenge(m, Wallet.generate()).text()
    with pytest.raises(Unauthenticated, match="signature"):
        sign_in(m, text, signature)


def test_a_well_formed_message_with_an_unknown_nonce_is_refused(m: Deps, clock: FakeClock) -> None:
    wallet = Wallet.generate()
    made_up = replace(challenge(m, wallet), nonce="A" * 22).text()
    with pytest.raises(Unauthenticated, match="nonce"):
        sign_in(m, made_up, wallet.sign_message(made_up.encode()))


def test_only_people_and_agents_sign_in(m: Deps, clock: FakeClock) -> None:
    wallet = Wallet.generate()
    text = challenge(m, wallet).text()
    with pytest.raises(InvalidInput, match="kind"):
        sign_in(m, text, wallet.sign_message(text.encode()), kind="operator")


def test_an_expired_message_spends_its_nonce(m: Deps, clock: FakeClock) -> None:
    wallet = Wallet.generate()
    text = challenge(m, wallet).text()
    signature = wallet.sign_message(text.encode())
    clock.advance(identity.CHALLENGE_TTL.total_seconds())
    with pytest.raises(Unauthenticated, match="expired"):
        sign_in(m, text, signature)
    clock.advance(-60)  # even back inside the window, it is gone
    with pytest.raises(Unauthenticated, match="nonce"):
        sign_in(m, text, signature)


def test_sessions_expire_after_a_day(m: Deps, clock: FakeClock) -> None:
    wallet = Wallet.generate()
    text = challenge(m, wallet).text()
    token = sign_in(m, text, wallet.sign_message(text.encode()))
    deps = {"store": m.store, "clock": clock}
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
    m: Deps, clock: FakeClock
) -> None:
    ticks = [0.0]
    cache = identity.SessionCache(ttl=60, clock=lambda: ticks[0])
    wallet = Wallet.generate()
    text = challenge(m, wallet).text()
    token, _, _ = identity.sign_in(
        identity.SignIn(text, wallet.sign_message(text.encode())),
        site=m.site,
        store=m.store,
        crypto=m.crypto,
        clock=clock,
        rand=m.rand,
        sessions=cache,
    )
    deps = {"store": m.store, "clock": clock, "sessions": cache}
    m.store.rows.people.sessions.clear()  # gone from the store: only the cache knows it now
    assert identity.authenticate(token, **deps).address == wallet.address
    clock.advance(identity.SESSION_TTL.total_seconds())
    with pytest.raises(Unauthenticated, match="expired"):  # expiry is checked on every use
        identity.authenticate(token, **deps)
    clock.advance(-identity.SESSION_TTL.total_seconds())
    ticks[0] = 61.0
    with pytest.raises(Unauthenticated, match="expired"):  # past the ttl: the store decides
        identity.authenticate(token, **deps)


def test_api_keys_are_never_cached_a_revoked_one_stops_at_once(m: Deps, clock: FakeClock) -> None:
    cache = identity.SessionCache()
    wallet = Wallet.generate()
    text = challenge(m, wallet).text()
    token = sign_in(m, text, wallet.sign_message(text.encode()))
    deps = {"store": m.store, "clock": clock, "sessions": cache}
    who = identity.authenticate(token, **deps)
    secret, key = identity.create_api_key(
        identity.CreateApiKey(who, "bot", ("work",)), store=m.store, clock=clock, rand=m.rand
    )
    assert identity.authenticate(secret, **deps).credential == f"api_key:{key.id}"
    identity.revoke_api_key(identity.RevokeApiKey(who, key.id), store=m.store, clock=clock)
    with pytest.raises(Unauthenticated, match="revoked"):
        identity.authenticate(secret, **deps)
