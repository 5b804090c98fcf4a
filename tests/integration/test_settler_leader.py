"""One settler at a time on PostgreSQL: a killed leader's follower takes over, pays once.

Two real `earnest settle` processes share one PostgreSQL database and one chain (the
repo's JSON-RPC server over LocalChain, in this process). The leader is paused right after
sending its first batch, then killed with SIGKILL; the follower takes the lead, finds the
batch the leader never recorded, records it from the chain and pays the rest.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from earnest.adapters.store.leader import AdvisoryLeader
from earnest.bootstrap import Market, build_market
from earnest.config import Settings
from earnest.domain.errors import AlreadyDone
from earnest.services.chain_port import TxState
from earnest.services.ports import BatchRecord
from earnest.services.reconcile import reconcile
from tests.factories import (
    REWARD,
    do_unit,
    funded_requester,
    labeling_campaign,
    unit_cost,
    worker,
)
from tests.integration.test_rpc_chain import accepted_work, rpc_env
from tests.rpc_helpers import Node, running_node

pytestmark = pytest.mark.postgres

SRC = Path(__file__).resolve().parents[2] / "src"
UNITS = [1] * 60  # two v0 batches: the leader dies after sending the first


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    with running_node(tmp_path / "market") as served:
        yield served


def _settings(tmp_path: Path, node: Node, url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "market",
        database_url=url,
        chain="rpc",
        chain_url=node.url,
        mint=node.local.mint,
        port=0,
    )


def _settler(tmp_path: Path, node: Node, url: str, faults: str, log: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        **rpc_env(node),
        "PYTHONPATH": str(SRC),
        "PYTHONUNBUFFERED": "1",
        "EARNEST_DATABASE_URL": url,
        "EARNEST_FAULTS": faults,
        "EARNEST_SETTLE_INTERVAL": "0.2",
    }
    command = [sys.executable, "-c", "from earnest.cli import main; main()", "settle"]
    with log.open("w") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [*command, "--no-once", "--data-dir", str(tmp_path / "market")],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )


def _wait(what: str, done: object, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not done():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _sent_unrecorded(market: Market) -> bool:
    with market.store.uow(readonly=True) as uow:
        batches = uow.payouts.unfinished_batches()
    return any(market.chain.status(b.signature).state is TxState.CONFIRMED for b in batches)


def test_a_killed_leader_is_replaced_and_nothing_is_paid_twice(
    tmp_path: Path, node: Node, pg_url: str
) -> None:
    market = build_market(_settings(tmp_path, node, pg_url))
    procs: list[subprocess.Popen[str]] = []
    try:
        crew = accepted_work(market, UNITS)
        leader_log, follower_log = tmp_path / "leader.log", tmp_path / "follower.log"
        procs.append(_settler(tmp_path, node, pg_url, "after_send:pause", leader_log))
        _wait("the leader to send its first batch", lambda: _sent_unrecorded(market))
        procs.append(_settler(tmp_path, node, pg_url, "", follower_log))
        _wait("the follower to wait", lambda: "follower" in follower_log.read_text())

        procs[0].send_signal(signal.SIGKILL)
        assert procs[0].wait(timeout=10) == -signal.SIGKILL
        _wait("the follower to pay everything", lambda: _all_paid(market))
        assert "leader" in follower_log.read_text().replace("follower", "")

        for address in crew:
            assert node.local.token_balance(node.local.token_account(address)) == REWARD
        with market.store.uow(readonly=True) as uow:
            batches = uow.payouts.confirmed_batches()
        transfers = [t for b in batches for t in node.local.token_transfers(b.signature) or []]
        assert len(transfers) == len(crew)  # one transfer per worker, over both settlers
        report = reconcile(store=market.store, chain=market.chain)
        assert report.ok, report.problems
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
        market.close()


def _all_paid(market: Market) -> bool:
    with market.store.uow(readonly=True) as uow:
        backlog = uow.payouts.backlog()
        unfinished = uow.payouts.unfinished_batches()
    return backlog.get("paid_count") == len(UNITS) and not unfinished


def test_a_settler_that_lost_the_lead_cannot_batch_what_the_leader_batched(
    tmp_path: Path, pg_url: str
) -> None:
    market = build_market(Settings(data_dir=tmp_path / "m", database_url=pg_url, port=0))
    try:
        _, requester = funded_requester(market, 2 * unit_cost(market) + 5_000)
        campaign = labeling_campaign(market, requester, tasks=2, overlap=1)
        for _ in range(2):
            assert do_unit(market, worker(), campaign.id).decision.value == "accept"
        with market.store.uow(readonly=True) as uow:
            stale = uow.payouts.pending(10)  # what a settler read before losing the lead
        assert len(stale) == 2
        assert market.settler.round().confirmed == 1  # the new leader pays them
        with pytest.raises(AlreadyDone), market.store.uow() as uow:
            batch = replace(_any_batch(market), id="bat_stale", signature="stale")
            uow.payouts.add_batch(batch, [p.id for p in stale])
        with market.store.uow(readonly=True) as uow:
            assert uow.payouts.batch("bat_stale") is None
    finally:
        market.close()


def _any_batch(market: Market) -> BatchRecord:
    with market.store.uow(readonly=True) as uow:
        return uow.payouts.confirmed_batches()[0]


def test_only_one_session_holds_the_lead_until_it_gives_it_up(pg_url: str) -> None:
    engine = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    first, second = AdvisoryLeader(engine), AdvisoryLeader(engine)
    try:
        assert first.acquire() and first.acquire()
        assert not second.acquire()
        first.release()
        assert second.acquire() and not first.acquire()
    finally:
        first.release()
        second.release()
        engine.dispose()
