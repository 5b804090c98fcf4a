"""Crashes and outages as clients see them: an Idempotency-Key left "in progress" by a
request that died heals after its lease; a database out of reach answers 503 with
Retry-After (one log line per outage, no traceback), the settler rides it out, and the SDK
resends under the same key, then says when it gives up."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from earnest.adapters.chain import Wallet
from earnest.adapters.store.uow import HeldCommit
from earnest.api import create_app
from earnest.api.problems import OUTAGE
from earnest.bootstrap import Market
from earnest.client import Earnest, RetriesExhausted
from earnest.domain.errors import Unavailable
from earnest.services.ports import IDEMPOTENCY_LEASE
from earnest.services.settler import Settler
from tests.factories import FakeClock
from tests.integration.api_world import session_token
from tests.rpc_helpers import serving

FUND = "/v1/campaigns/cmp_none/fund"


class Blackout:
    """The market's database refuses every connection (as while PostgreSQL restarts),
    from start() to stop(): ALLOW_CONNECTIONS false, and its backends terminated."""

    def __init__(self, market: Market) -> None:
        url = market.store.engine.url
        self.name = url.database
        self.admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def start(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false'))
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": self.name},
            )

    def stop(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true'))
        self.admin.dispose()


@contextmanager
def blackout(market: Market) -> Iterator[None]:
    outage = Blackout(market)
    outage.start()
    try:
        yield
    finally:
        outage.stop()


def test_a_key_left_in_progress_by_a_dead_request_heals_after_its_lease(market: Market) -> None:
    clock = FakeClock()
    market.clock = clock  # the idempotency middleware reads the market's clock
    client = TestClient(create_app(market))
    wallet = Wallet.generate()
    headers = {
        "authorization": f"Bearer {session_token(market, wallet)}",
        "idempotency-key": "fund-1",
    }
    # The request's process died after claiming its key: the record has no answer.
    slot = hashlib.sha256(f"{wallet.address} session\nfund-1".encode()).hexdigest()
    body = b'{"amount": 5}'
    fingerprint = hashlib.sha256(b"\n".join([b"POST", FUND.encode(), b"", body])).hexdigest()
    with market.store.uow() as uow:
        assert uow.idempotency.claim(slot, fingerprint, clock.now()) is None
        uow.commit()
    headers["content-type"] = "application/json"
    early = client.post(FUND, content=body, headers=headers)
    assert early.status_code == 409 and early.json()["code"] == "idempotency_conflict"
    clock.advance((IDEMPOTENCY_LEASE + IDEMPOTENCY_LEASE / 10).total_seconds())
    late = client.post(FUND, content=body, headers=headers)
    assert late.status_code == 404  # run afresh: the campaign does not exist
    again = client.post(FUND, content=body, headers=headers)
    assert again.headers["idempotent-replayed"] == "true" and again.json() == late.json()


@pytest.mark.postgres
def test_an_outage_met_writing_the_keys_record_answers_503_not_500(
    market: Market, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The record is written from inside the route's own send: an outage there (the fault
    soak met it around a PostgreSQL restart) once reached the route's error handling as a
    response already started, a 500 with a traceback."""
    client = TestClient(create_app(market))  # a server error would raise here
    auth = {"authorization": f"Bearer {session_token(market, Wallet.generate())}"}

    def cut(self: HeldCommit, write: object) -> None:
        raise Unavailable("the database is out of reach; retry shortly")

    monkeypatch.setattr(HeldCommit, "record", cut)
    with caplog.at_level(logging.INFO):
        answer = client.post(FUND, json={"amount": 5}, headers=auth | {"idempotency-key": "k"})
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "2"
    assert answer.json()["code"] == "unavailable"
    assert not any(r.exc_info for r in caplog.records)
    monkeypatch.undo()
    # No answer was kept under the key: it stays "in progress" until its lease runs out
    # (then a retry runs afresh, as the test above shows), never a replayed answer.
    again = client.post(FUND, json={"amount": 5}, headers=auth | {"idempotency-key": "k"})
    assert again.status_code == 409 and again.json()["code"] == "idempotency_conflict"


def test_an_outage_answers_503_with_retry_after_and_logs_one_line_each_way(
    pg_market: Market, caplog: pytest.LogCaptureFixture
) -> None:
    client = TestClient(create_app(pg_market))  # a server error would raise here
    auth = {"authorization": f"Bearer {session_token(pg_market, Wallet.generate())}"}
    assert client.get("/v1/assignments", headers=auth).status_code == 200
    OUTAGE.up()
    caplog.clear()
    with caplog.at_level(logging.INFO), blackout(pg_market):
        answers = [client.get("/v1/assignments", headers=auth) for _ in range(3)]
        answers += [
            client.post(FUND, json={"amount": 5}, headers=auth | {"idempotency-key": f"k{i}"})
            for i in range(3)
        ]
    back = client.get("/v1/assignments", headers=auth)
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == "2"
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["code"] == "unavailable"
    assert back.status_code == 200
    # The keys whose requests met the outage were not kept: they run now.
    retried = client.post(FUND, json={"amount": 5}, headers=auth | {"idempotency-key": "k0"})
    assert retried.status_code == 404 and "idempotent-replayed" not in retried.headers
    lines = [r for r in caplog.records if r.name.startswith("earnest")]
    assert [r.getMessage().split(":")[0] for r in lines] == [
        "database out of reach, answering 503",
        "database reachable again",
    ]
    assert not any(r.exc_info for r in caplog.records)


@pytest.mark.postgres
def test_the_settler_logs_an_outage_once_and_carries_on(
    pg_market: Market, caplog: pytest.LogCaptureFixture
) -> None:
    # The lead held on a connection the outage spares (as when the pool's connections die
    # under a round): the round itself meets the outage.
    m = pg_market
    settler = Settler(store=m.store, chain=m.chain, clock=m.clock, rand=m.rand, interval=1.0)
    settler.round()
    with caplog.at_level(logging.INFO, logger="earnest.settler"), blackout(pg_market):
        for _ in range(3):
            settler.round()  # no exception: the round is skipped
    settler.round()
    said = [r.getMessage().split(":")[0] for r in caplog.records if r.name == "earnest.settler"]
    assert said == [
        "database out of reach, the settler retries each round",
        "database reachable again, the settler carries on",
    ]


@pytest.mark.postgres
def test_the_sdk_resends_through_an_outage_and_says_when_it_gives_up(pg_market: Market) -> None:
    token = session_token(pg_market, Wallet.generate())
    with serving(create_app(pg_market)) as url, Earnest(url, token=token) as api:
        assert api.open_leases() == []
        with blackout(pg_market), pytest.raises(RetriesExhausted) as gave_up:
            api.assignments()
        assert gave_up.value.status == 503 and gave_up.value.attempts == 5
        assert "gave up after 5 attempts" in str(gave_up.value)

        outage = Blackout(pg_market)
        outage.start()
        back = threading.Timer(1.0, outage.stop)
        back.start()
        started = time.monotonic()
        try:
            assert api.assignments() == []  # resent until the database answers again
        finally:
            back.join()
        assert time.monotonic() - started >= 1.0
