"""Rate-limit counts and revocations shared through the store, on SQLite and PostgreSQL: two
markets over one database stand for two API processes (or machines)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from earnest.adapters.chain import Wallet
from earnest.api import create_app
from earnest.api.ratelimit import Limits, LimitsSync, Windows, redis_counter
from earnest.bootstrap import Market, build_market
from earnest.config import Settings
from earnest.domain.errors import Unauthenticated
from earnest.services import identity
from earnest.services.housekeeping import sweep
from earnest.services.identity import SessionCache
from tests.factories import FakeClock
from tests.integration.api_world import session_token


@pytest.fixture
def other(tmp_path: Path, database_url: str, market: Market) -> Iterator[Market]:
    """A second market on the same database: another API process."""
    m = build_market(Settings(data_dir=tmp_path / "market", database_url=database_url, port=0))
    yield m
    m.close()


def _process(m: Market, burst: int = 10) -> tuple[Limits, SessionCache, LimitsSync]:
    limits = Limits(Windows(0.01, burst), Windows(0.01, burst))
    sessions = SessionCache()
    return limits, sessions, LimitsSync(limits, sessions, store=m.store, clock=m.clock)


def test_the_upsert_adds_every_processes_hits_and_returns_the_totals(market: Market) -> None:
    with market.store.uow(single=True) as uow:
        assert uow.rates.add({("ip:a", 7): (3, 100), ("address:b", 7): (1, 100)}) == {
            ("ip:a", 7): 3,
            ("address:b", 7): 1,
        }
        uow.commit()
    with market.store.uow(single=True) as uow:
        assert uow.rates.add({("ip:a", 7): (2, 100)}) == {("ip:a", 7): 5}
        uow.commit()
    with market.store.uow(single=True) as uow:
        assert uow.rates.drop_ended(101, 10) == 2
        uow.commit()


def test_two_processes_share_one_window(market: Market, other: Market) -> None:
    (one, _, sync_one), (two, _, sync_two) = _process(market), _process(other)
    accepted = 0
    for n in range(20):  # alternately, sharing counts after every request: no overshoot
        limits, sync = (one, sync_one) if n % 2 else (two, sync_two)
        accepted += limits.keyed.take("address:w") == 0.0
        sync.share()
    assert accepted <= 11  # the burst, plus the one a process sends before it reads
    assert accepted >= 10


def test_a_sign_out_reaches_the_other_processes_cache(market: Market, other: Market) -> None:
    token = session_token(market, Wallet.generate())
    _, cache, sync = _process(other)
    who = identity.authenticate(token, store=other.store, clock=other.clock, sessions=cache)
    sync.round()  # the list has been read: the entry is trusted from now on
    assert identity.cached_session(token, clock=other.clock, sessions=cache) == who
    assert market.identity.sign_out(identity.SignOut(token))
    sync.round()
    assert identity.cached_session(token, clock=other.clock, sessions=cache) is None
    with pytest.raises(Unauthenticated):
        identity.authenticate(token, store=other.store, clock=other.clock, sessions=cache)


def test_an_entry_is_not_trusted_when_the_list_has_not_been_read_lately(market: Market) -> None:
    token = session_token(market, Wallet.generate())
    cache = SessionCache(lag=0.05)
    identity.authenticate(token, store=market.store, clock=market.clock, sessions=cache)
    time.sleep(0.1)  # neither the store nor the revocation list read since
    assert identity.cached_session(token, clock=market.clock, sessions=cache) is None


def test_a_session_read_before_its_sign_out_is_never_trusted_after(market: Market) -> None:
    token = session_token(market, Wallet.generate())
    token_hash = identity.digest(token)
    cache = SessionCache()
    cache.revoke([token_hash])  # the sign-out was heard first
    cache.put(token_hash, "someone", market.clock.now() + timedelta(hours=1))  # a late read
    assert cache.get(token_hash, market.clock.now()) is None
    assert cache.owner(token_hash) is None


def test_housekeeping_drops_old_revocations(market: Market) -> None:
    token = session_token(market, Wallet.generate())
    market.identity.sign_out(identity.SignOut(token))
    clock = FakeClock(market.clock.now())
    clock.advance(timedelta(hours=1).total_seconds())
    removed = sweep(store=market.store, clock=clock, idempotency_ttl=timedelta(days=1))
    assert removed["revocations"] == 1


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A real redis-server on a free loopback port, or skip (with the reason) if none."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen([*args, "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_two_processes_share_one_window_in_redis(market: Market, redis_url: str) -> None:
    processes = []
    for _ in range(2):
        limits, sessions, _ = _process(market)
        sync = LimitsSync(
            limits,
            sessions,
            store=market.store,
            clock=market.clock,
            counter=redis_counter(redis_url),
        )
        processes.append((limits, sync))
    accepted = 0
    for n in range(20):
        limits, sync = processes[n % 2]
        accepted += limits.keyed.take("address:w") == 0.0
        sync.share()
    assert 10 <= accepted <= 11


def test_the_app_runs_its_sync_for_as_long_as_it_serves(sqlite_market: Market) -> None:
    app = create_app(sqlite_market)
    with TestClient(app) as client:  # runs the lifespan, as `earnest serve` does
        assert client.get("/v1/health").status_code == 200
        thread = app.state.sync._loop._thread
        assert thread is not None and thread.is_alive()
    assert not thread.is_alive()
