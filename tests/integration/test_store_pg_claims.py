"""Concurrent claims on PostgreSQL (FOR UPDATE SKIP LOCKED), from real threads and processes."""

from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, func, insert, select, text

from earnest.adapters.store.tables import assignments, parties, tasks
from earnest.bootstrap import Market
from earnest.domain import ledger
from earnest.domain.errors import InsufficientFunds, NoWorkAvailable
from earnest.services.identity import Principal
from earnest.services.work import Claim
from tests.factories import (
    balance,
    claim,
    funded_requester,
    labeling_campaign,
    slots,
    submit,
    unit_cost,
    worker,
)

pytestmark = pytest.mark.postgres

THREADS = 8
CLAIMS_PER_THREAD = 25
TASKS = 100


def test_concurrent_claims_never_lease_a_task_twice(pg_market: Market) -> None:
    market = pg_market
    _, requester = funded_requester(market, TASKS * unit_cost(market) + 1_000)
    campaign = labeling_campaign(market, requester, tasks=TASKS, overlap=1)
    start = threading.Barrier(THREADS)

    def run() -> tuple[list[Claim], int]:
        got, empty = [], 0
        start.wait(timeout=30)
        for _ in range(CLAIMS_PER_THREAD):
            try:
                got.append(claim(market, worker(), campaign.id))
            except NoWorkAvailable:
                empty += 1
        return got, empty

    began = time.monotonic()
    with ThreadPoolExecutor(THREADS) as pool:
        results = [f.result(timeout=120) for f in [pool.submit(run) for _ in range(THREADS)]]
    assert time.monotonic() - began < 120
    claims = [c for got, _ in results for c in got]
    empty = sum(n for _, n in results)
    assert len(claims) == TASKS
    assert empty == THREADS * CLAIMS_PER_THREAD - TASKS
    assert len({c.assignment.task_id for c in claims}) == TASKS

    with market.store.engine.connect() as conn:
        per_task = conn.execute(
            select(assignments.c.task_id, func.count())
            .where(assignments.c.campaign_id == campaign.id)
            .group_by(assignments.c.task_id)
        ).all()
        filled = conn.execute(
            select(tasks.c.filled, func.count())
            .where(tasks.c.campaign_id == campaign.id)
            .group_by(tasks.c.filled)
        ).all()
    assert len(per_task) == TASKS
    assert max(n for _, n in per_task) == 1
    assert filled == [(1, TASKS)]


def _waiting_on_locks(url: str, expected: int, timeout: float = 30) -> None:
    engine = create_engine(url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                n = conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                )
            if n >= expected:
                return
            time.sleep(0.05)
        raise AssertionError(f"{expected} claims never reached the lock wait")
    finally:
        engine.dispose()


def test_concurrent_claims_never_lease_more_than_the_escrow_covers(pg_market: Market) -> None:
    market = pg_market
    cost = unit_cost(market)
    _, requester = funded_requester(market, 10 * cost)
    campaign = labeling_campaign(market, requester, tasks=5, overlap=1, fund=cost)
    w1, w2 = worker(), worker()
    url = market.store.engine.url.render_as_string(hide_password=False)
    # Hold both workers' party rows in an open transaction: each claim then blocks at its
    # last statement (parties.ensure), after its escrow check, until this one rolls back.
    blocker = market.store.engine.connect()
    blocker_tx = blocker.begin()
    now = market.clock.now()
    blocker.execute(
        insert(parties),
        [{"address": w.address, "kind": "person", "created_at": now} for w in (w1, w2)],
    )
    outcomes: dict[str, object] = {}

    def run(w: Principal) -> None:
        try:
            outcomes[w.address] = claim(market, w, campaign.id)
        except NoWorkAvailable as exc:
            outcomes[w.address] = exc

    threads = [threading.Thread(target=run, args=(w,)) for w in (w1, w2)]
    for t in threads:
        t.start()
    try:
        _waiting_on_locks(url, 2)
    finally:
        blocker_tx.rollback()
        blocker.close()
    for t in threads:
        t.join(timeout=30)
    leased = [c for c in outcomes.values() if isinstance(c, Claim)]
    # What goes wrong when both leases exist: the second accept cannot be paid.
    if len(leased) == 2:
        first, second = leased
        submit(
            market,
            w1 if first.assignment.worker == w1.address else w2,
            first.assignment.id,
            {"label": "a"},
        )
        with pytest.raises(InsufficientFunds):
            submit(
                market,
                w1 if second.assignment.worker == w1.address else w2,
                second.assignment.id,
                {"label": "a"},
            )
    assert balance(market, ledger.campaign_escrow(campaign.id)) >= 0
    assert len(leased) == 1


def _claim_in_a_process(url: str, campaign_id: str, rounds: int, seed: int) -> list[int]:
    """In a process of its own (its own engine and pool): new workers claim single tasks
    and suites until there is no work; the task ids they were given."""
    import random as stdlib_random

    from earnest.adapters.store import SqlStore, create_store_engine
    from earnest.adapters.system import SystemClock, SystemRandom
    from earnest.services.work import ClaimSuite, claim_suite

    store = SqlStore(create_store_engine(url, pool_size=2))
    pick = stdlib_random.Random(seed)
    got: list[int] = []
    try:
        for _ in range(rounds):
            count = pick.choice([1, 1, 3, 7])
            try:
                leases = claim_suite(
                    ClaimSuite(worker(), campaign_id, count),
                    store=store,
                    clock=SystemClock(),
                    rand=SystemRandom(),
                )
            except NoWorkAvailable:
                break
            got += [c.assignment.task_id for c in leases]
    finally:
        store.dispose()
    return got


def test_claims_from_many_processes_never_lease_a_slot_twice(pg_market: Market) -> None:
    market = pg_market
    processes, tasks_n, overlap = 4, 60, 2
    _, requester = funded_requester(market, tasks_n * overlap * unit_cost(market) + 1_000)
    campaign = labeling_campaign(market, requester, tasks=tasks_n, overlap=overlap)
    url = market.store.engine.url.render_as_string(hide_password=False)
    began = time.monotonic()
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        runs = [
            pool.submit(_claim_in_a_process, url, campaign.id, 200, seed)
            for seed in range(processes)
        ]
        leased = [task_id for run in runs for task_id in run.result(timeout=120)]
    assert time.monotonic() - began < 120
    assert len(leased) == tasks_n * overlap  # every slot once, none twice
    per_task, filled = slots(market, campaign.id)
    assert set(per_task.values()) == {overlap} and per_task == filled
