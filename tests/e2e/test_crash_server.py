"""Kill `earnest serve` (API and settler in one process) at each fault point, for real.

A seeded schedule orders the points (before a send, after a send before its record, after
a confirmation); each phase serves the market with EARNEST_FAULTS set to one of them while
workers answer over HTTP, until the settler's os._exit takes the whole process down with
requests in flight. Between phases the blockhash may expire (the chain state is opened
while the market is down); during one phase every PostgreSQL connection of the market is
terminated under it (pg_terminate_backend). A settler restarted without faults drains the
outbox. Then every worker holds on chain exactly its accepted rewards and reconciliation is clean.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from earnest.adapters.chain import LocalChain, Wallet, load_or_create_keypair
from earnest.adapters.store.tables import assignments
from earnest.bootstrap import build_market
from earnest.client import Earnest
from earnest.config import Settings
from earnest.demo.server import ServerProcess
from earnest.domain.errors import EarnestError
from earnest.services.reconcile import reconcile
from tests.conftest import _drop_pg_database, _fresh_pg_database
from tests.factories import funded_requester, labeling_campaign
from tests.integration.api_world import session_token
from tests.integration.faults import POINTS

SEED = 7
WORKERS = 4


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    url, name = _fresh_pg_database(postgres_url)
    yield url
    _drop_pg_database(postgres_url, name)


def _prepare(data_dir: Path, url: str) -> tuple[str, dict[str, str]]:
    """A funded campaign and signed-in workers (their session tokens, by address)."""
    market = build_market(Settings(data_dir=data_dir, database_url=url, port=0))
    try:
        _, requester = funded_requester(market, 10**6)
        campaign = labeling_campaign(market, requester, tasks=40, overlap=1)
        wallets = [Wallet.generate() for _ in range(WORKERS)]
        return campaign.id, {w.address: session_token(market, w) for w in wallets}
    finally:
        market.close()


def _terminate_backends(url: str) -> int:
    """Kill every connection the market holds to its database."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return len(
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :db AND pid <> pg_backend_pid()"
                    ),
                    {"db": make_url(url).database},
                ).all()
            )
    finally:
        admin.dispose()


def _work(url: str, campaign_id: str, tokens: dict[str, str], rng: random.Random) -> int:
    """Workers claim and answer until the server goes away (or 12 answers); answers sent."""
    sent = 0
    for _ in range(12):
        token = tokens[rng.choice(sorted(tokens))]
        try:
            with Earnest(url, token=token, timeout=10) as api:
                lease = api.claim(campaign_id)
                if lease is None:
                    return sent
                api.submit(lease["assignment"]["id"], {"label": "a"})
                sent += 1
        except (httpx.TransportError, EarnestError):
            return sent  # the server died under us, or a request failed with it
    return sent


def _serve(data_dir: Path, url: str, faults: str) -> ServerProcess:
    """The market served with `faults` armed; it may die while starting, when its settler
    finds at once what an earlier phase left to pay (then `url` is empty)."""
    env = {
        "EARNEST_DATABASE_URL": url,
        "EARNEST_FAULTS": faults,
        "EARNEST_SETTLE_INTERVAL": "0.05",
    }
    server = ServerProcess(data_dir, env=env)
    try:
        server.start()
    except EarnestError:
        assert server.proc is not None and server.proc.returncode == 137 and faults
        server.url = ""
    return server


def test_killing_the_server_at_every_fault_point_pays_each_unit_once(
    tmp_path: Path, pg_url: str
) -> None:
    rng = random.Random(SEED)
    data_dir = tmp_path / "market"
    campaign_id, tokens = _prepare(data_dir, pg_url)
    points = list(POINTS)
    rng.shuffle(points)
    cut_db_in = rng.randrange(len(points))
    for phase, point in enumerate(points):
        server = _serve(data_dir, pg_url, point)
        try:
            if server.url and phase == cut_db_in:
                assert _terminate_backends(pg_url) > 0
            if server.url:
                _work(server.url, campaign_id, tokens, rng)
            assert server.proc is not None
            assert server.proc.wait(timeout=60) == 137, f"{point} never struck"
        finally:
            server.stop()
        if rng.random() < 0.5:
            _expire_blockhash(data_dir)
    _assert_each_unit_paid_once(data_dir, pg_url, campaign_id, list(tokens))


def _expire_blockhash(data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir)
    keypair = load_or_create_keypair(settings.resolved_keypair)
    with LocalChain.open(settings.chain_state, keypair) as chain:
        chain.expire_blockhash()


def _assert_each_unit_paid_once(
    data_dir: Path, url: str, campaign_id: str, crew: list[str]
) -> None:
    market = build_market(Settings(data_dir=data_dir, database_url=url, port=0))
    try:
        for _ in range(10):  # a settler restarted without faults drains the outbox
            market.settler.round()
            with market.store.uow(readonly=True) as uow:
                if not uow.payouts.pending(1) and not uow.payouts.unfinished_batches():
                    break
        with market.store.engine.connect() as conn:
            earned: dict[str, Any] = dict(
                conn.execute(
                    select(assignments.c.worker, func.sum(assignments.c.reward))
                    .where(assignments.c.campaign_id == campaign_id)
                    .where(assignments.c.status == "accepted")
                    .group_by(assignments.c.worker)
                ).all()
            )
        assert sum(earned.values()) > 0
        chain = market.chain
        for address in crew:
            held = chain.token_balance(chain.token_account(address))
            assert held == earned.get(address, 0), f"{address} holds {held}"
        report = reconcile(store=market.store, chain=chain)
        assert report.ok and report.in_flight == 0, report.problems
    finally:
        market.close()
