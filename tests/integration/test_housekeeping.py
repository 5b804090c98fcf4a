"""Housekeeping: expired sessions and sign-in challenges, and Idempotency-Key records past
their retention, are removed in bounded batches; everything still live is kept."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select

from earnest.adapters.chain import Wallet
from earnest.adapters.store import migrate
from earnest.adapters.store.tables import idempotency, nonces, schema_version, sessions
from earnest.api import create_app
from earnest.bootstrap import Market
from earnest.services.housekeeping import sweep
from tests.factories import FakeClock
from tests.integration.api_world import session_token

DAY = timedelta(hours=24)


def _count(market: Market, table: object) -> int:
    with market.store.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(table)) or 0)  # type: ignore[arg-type]


def _seed(market: Market, clock: FakeClock) -> None:
    """Three sessions and challenges expiring an hour apart, and three idempotency records
    made an hour apart, the first of each made now."""
    owner = Wallet.generate().address
    with market.store.uow() as uow:
        uow.parties.ensure(owner, "person", clock.now())
        for i in range(3):
            at = clock.now() + timedelta(hours=i)
            uow.auth.add_session(f"s{i}", owner, clock.now(), at + timedelta(minutes=30))
            uow.auth.add_nonce(f"n{i}", owner, "sign in", at + timedelta(minutes=10))
            uow.idempotency.claim(f"k{i}", "fingerprint", at)
        uow.commit()


def test_what_expired_goes_and_what_is_live_stays(market: Market) -> None:
    clock = FakeClock()
    _seed(market, clock)
    clock.advance(timedelta(hours=1, minutes=20).total_seconds())
    assert sweep(store=market.store, clock=clock, idempotency_ttl=DAY) == {
        "sessions": 1,  # s0 ended at +0:30; s1 ends at +1:30
        "challenges": 2,  # n0 at +0:10, n1 at +1:10
        "idempotency_keys": 0,  # none is a day old
        "revocations": 0,
        "rate_counts": 0,
    }
    with market.store.uow(readonly=True) as uow:
        assert uow.auth.session("s1", clock.now()) is not None
        assert uow.auth.consume_nonce("n2", clock.now()) is not None
    clock.advance(timedelta(hours=24, minutes=30).total_seconds())  # +25:50
    assert sweep(store=market.store, clock=clock, idempotency_ttl=DAY) == {
        "sessions": 2,
        "challenges": 1,
        "idempotency_keys": 2,  # made at +0 and +1; the one made at +2 is kept a while
        "revocations": 0,
        "rate_counts": 0,
    }
    with market.store.uow(readonly=True) as uow:
        assert uow.idempotency.get("k2") is not None
        assert uow.idempotency.get("k1") is None
    assert (_count(market, sessions), _count(market, nonces), _count(market, idempotency)) == (
        0,
        0,
        1,
    )


NONE_NEW = {"revocations": 0, "rate_counts": 0}  # kinds this test does not seed


def test_a_backlog_drains_in_bounded_batches(market: Market) -> None:
    clock = FakeClock()
    for _ in range(3):
        _seed_more(market, clock)
    clock.advance(timedelta(days=2).total_seconds())
    first = sweep(store=market.store, clock=clock, idempotency_ttl=DAY, batch=2, max_batches=2)
    assert first == {"sessions": 4, "challenges": 4, "idempotency_keys": 4, **NONE_NEW}
    second = sweep(store=market.store, clock=clock, idempotency_ttl=DAY, batch=2, max_batches=2)
    assert second == {"sessions": 4, "challenges": 4, "idempotency_keys": 4, **NONE_NEW}
    third = sweep(store=market.store, clock=clock, idempotency_ttl=DAY, batch=2, max_batches=2)
    assert third == {"sessions": 1, "challenges": 1, "idempotency_keys": 1, **NONE_NEW}
    assert sweep(store=market.store, clock=clock, idempotency_ttl=DAY) == dict.fromkeys(third, 0)


def _seed_more(market: Market, clock: FakeClock) -> None:
    """Three more of each kind under fresh names."""
    owner = Wallet.generate().address
    with market.store.uow() as uow:
        uow.parties.ensure(owner, "person", clock.now())
        for i in range(3):
            name = f"{owner[:8]}{i}"
            uow.auth.add_session(name, owner, clock.now(), clock.now() + timedelta(hours=1))
            uow.auth.add_nonce(name, owner, "sign in", clock.now() + timedelta(minutes=10))
            uow.idempotency.claim(name, "fingerprint", clock.now())
        uow.commit()


def test_a_key_is_replayed_within_its_retention_and_runs_anew_after(market: Market) -> None:
    clock = FakeClock()
    market.clock = clock  # the idempotency middleware reads the market's clock
    client = TestClient(create_app(market))
    token = session_token(market, Wallet.generate())
    headers = {"authorization": f"Bearer {token}", "idempotency-key": "fund-1"}
    hour = timedelta(hours=1)  # shorter than the session's day
    first = client.post("/v1/campaigns/cmp_none/fund", json={"amount": 5}, headers=headers)
    assert first.status_code == 404
    clock.advance((hour - timedelta(minutes=1)).total_seconds())
    sweep(store=market.store, clock=clock, idempotency_ttl=hour)
    again = client.post("/v1/campaigns/cmp_none/fund", json={"amount": 5}, headers=headers)
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    clock.advance(timedelta(minutes=2).total_seconds())
    assert sweep(store=market.store, clock=clock, idempotency_ttl=hour)["idempotency_keys"] == 1
    later = client.post("/v1/campaigns/cmp_none/fund", json={"amount": 6}, headers=headers)
    assert later.status_code == 404  # a new request: a different body is no conflict now
    assert "idempotent-replayed" not in later.headers


def test_a_market_made_before_the_indexes_gets_them(market: Market) -> None:
    """A database at schema 7 (no expiry indexes) gains them when it next starts."""
    engine = market.store.engine
    names = ("ix_sessions_expires_at", "ix_nonces_expires_at", "ix_idempotency_created_at")
    with engine.begin() as conn:
        for name in names:
            conn.exec_driver_sql(f"DROP INDEX {name}")
        conn.execute(schema_version.delete().where(schema_version.c.version == 8))
    migrate(engine)
    found = set()
    for table in ("sessions", "nonces", "idempotency"):
        found |= {ix["name"] for ix in inspect(engine).get_indexes(table)}
    assert set(names) <= found
