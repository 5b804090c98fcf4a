"""Task suites: many leases in one claim, many answers in one submit, each as one would be."""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, inspect, select

from earnest.adapters.chain import Wallet
from earnest.adapters.store import migrate
from earnest.adapters.store.tables import assignments, journal, postings, schema_version, tasks
from earnest.bootstrap import Market
from earnest.client import ApiError, Earnest
from earnest.demo.server import BackgroundServer
from earnest.domain import ledger
from earnest.domain.errors import (
    Conflict,
    InsufficientFunds,
    InvalidInput,
    LeaseExpired,
    NotFound,
    NoWorkAvailable,
    SchemaViolation,
)
from earnest.domain.verification import Decision, WorkerHistory
from earnest.domain.work import MAX_LEASES_PER_WORKER
from earnest.services import answers, work
from earnest.services.identity import Principal
from tests.factories import (
    REWARD,
    FakeClock,
    FixedRandom,
    SeededRandom,
    balance,
    funded_requester,
    labeling_campaign,
    ledger_balances,
    slots,
    unit_cost,
    worker,
)


def _suite(market: Market, who: Principal, campaign_id: str | None, count: int, **kw):  # type: ignore[no-untyped-def]
    deps = {"store": market.store, "clock": market.clock, "rand": market.rand} | kw
    return work.claim_suite(work.ClaimSuite(who, campaign_id, count), **deps)


def _answer(market: Market, who: Principal, pairs, clock=None):  # type: ignore[no-untyped-def]
    return answers.submit_answers(
        answers.SubmitAnswers(who, pairs),
        store=market.store,
        crypto=market.crypto,
        clock=clock or market.clock,
        rand=market.rand,
    )


def test_a_suite_leases_distinct_unseen_tasks_and_answers_are_paid_like_single_ones(
    market: Market,
) -> None:
    _, requester = funded_requester(market, 40 * unit_cost(market))
    campaign = labeling_campaign(market, requester, tasks=30, overlap=1)
    w = worker()
    first = _suite(market, w, campaign.id, 12)
    second = _suite(market, w, None, 8)  # any campaign: this one
    task_ids = [c.assignment.task_id for c in first + second]
    assert len(task_ids) == 20 and len(set(task_ids)) == 20
    results = _answer(market, w, [(c.assignment.id, {"label": "a"}) for c in first + second])
    assert [getattr(r, "decision", None) for r in results] == [Decision.ACCEPT] * 20
    assert all(r.receipt_id for r in results if isinstance(r, answers.SubmitResult))
    # Exactly what 20 accepted single submits move: reward to the worker, fee to the market.
    fee = unit_cost(market) - REWARD
    assert balance(market, ledger.worker_payable(w.address)) == 20 * REWARD
    assert balance(market, ledger.campaign_escrow(campaign.id)) == 10 * unit_cost(market)
    assert ledger_balances(market)[ledger.FEES] == 20 * fee
    with market.store.engine.connect() as conn:
        filled = conn.scalar(
            select(func.sum(tasks.c.filled)).where(tasks.c.campaign_id == campaign.id)
        )
        # The suite's 20 accepts are one journal entry, one posting per account it moves.
        entries = conn.execute(
            select(journal.c.id, journal.c.memo).where(journal.c.kind == "accept")
        ).all()
        moved = conn.execute(
            select(postings.c.account, postings.c.amount).where(
                postings.c.entry_id == entries[0].id
            )
        ).all()
    assert filled == 20
    assert [e.memo for e in entries] == ["20 accept entries"]
    assert sorted(moved) == sorted(
        [
            (ledger.campaign_escrow(campaign.id), 20 * unit_cost(market)),
            (ledger.worker_payable(w.address), -20 * REWARD),
            (ledger.FEES, -20 * fee),
        ]
    )


def test_a_suite_is_cut_to_what_the_escrow_covers_and_to_the_lease_limit(market: Market) -> None:
    cost = unit_cost(market)
    _, requester = funded_requester(market, 100 * cost)
    small = labeling_campaign(market, requester, tasks=10, overlap=1, fund=3 * cost)
    assert len(_suite(market, worker(), small.id, 10)) == 3
    with pytest.raises(NoWorkAvailable):
        _suite(market, worker(), small.id, 10)

    big = labeling_campaign(market, requester, tasks=60, overlap=1)  # max_leases 20
    w = worker()
    assert len(_suite(market, w, big.id, 18)) == 18
    assert len(_suite(market, w, big.id, 10)) == 2
    with pytest.raises(Conflict, match="already hold 20 leases in this campaign"):
        _suite(market, w, big.id, 1)
    for bad in (0, MAX_LEASES_PER_WORKER + 1):
        with pytest.raises(InvalidInput, match="count"):
            _suite(market, worker(), big.id, bad)


def test_a_campaign_of_microtasks_hands_out_suites_up_to_its_own_max_leases(
    market: Market,
) -> None:
    cost = unit_cost(market)
    _, requester = funded_requester(market, 400 * cost)
    micro = labeling_campaign(market, requester, tasks=150, overlap=1, max_leases=100)
    other = labeling_campaign(market, requester, tasks=30, overlap=1)
    w = worker()
    assert len(_suite(market, w, micro.id, MAX_LEASES_PER_WORKER)) == 100
    with pytest.raises(Conflict, match="already hold 100 leases"):
        _suite(market, w, micro.id, 1)
    # The cap over all campaigns holds too: no lease anywhere else until some are answered.
    with pytest.raises(Conflict, match=f"already hold {MAX_LEASES_PER_WORKER} leases"):
        _suite(market, w, other.id, 1)
    assert len(_suite(market, worker(), None, MAX_LEASES_PER_WORKER)) == 50  # what is left
    # All 100 answered in one request, each verified as it would be alone.
    held = work.my_assignments(w, store=market.store, limit=MAX_LEASES_PER_WORKER)
    results = _answer(market, w, [(a.id, {"label": "a"}) for a in held])
    assert [r.decision for r in results] == [Decision.ACCEPT] * 100  # type: ignore[union-attr]
    assert len(_suite(market, w, other.id, MAX_LEASES_PER_WORKER)) == 20
    with pytest.raises(InvalidInput, match="max_leases"):
        labeling_campaign(market, requester, tasks=1, max_leases=MAX_LEASES_PER_WORKER + 1)


def test_a_suite_mixes_in_gold_without_putting_it_first(market: Market) -> None:
    market.rand = SeededRandom(7)  # the same draws every run: no flaky all-or-none suite
    _, requester = funded_requester(market, 200 * unit_cost(market))
    campaign = labeling_campaign(market, requester, tasks=200, gold=100, overlap=1, gold_share=0.5)
    firsts = []
    for _ in range(6):
        got = _suite(market, worker(), campaign.id, 10)
        gold = [c.assignment.task_id for c in got if c.task_data["text"] in _GOLD_TEXTS]
        assert 0 < len(gold) < 10  # drawn at gold_share 0.5: neither none nor all
        firsts.append(got[0].task_data["text"] in _GOLD_TEXTS)
    assert not all(firsts)


_GOLD_TEXTS = {f"item {i}" for i in range(100)}


def test_answers_stand_or_fail_one_by_one(market: Market) -> None:
    clock = FakeClock()
    _, requester = funded_requester(market, 40 * unit_cost(market), clock=clock)
    campaign = labeling_campaign(
        market, requester, tasks=10, overlap=1, lease_seconds=60, clock=clock
    )
    w = worker()
    early = _suite(market, w, campaign.id, 2, clock=clock)
    clock.advance(30)
    late = _suite(market, w, campaign.id, 3, clock=clock)
    clock.advance(45)  # the first two leases are past their time, the other three are not
    before = ledger_balances(market)
    results = _answer(
        market,
        w,
        [
            (late[0].assignment.id, {"label": "a"}),
            (early[0].assignment.id, {"label": "a"}),
            (late[1].assignment.id, {"label": "not a label"}),
            (late[2].assignment.id, {"label": "b"}),
            (late[2].assignment.id, {"label": "b"}),  # twice: the second is refused
        ],
        clock=clock,
    )
    assert isinstance(results[0], answers.SubmitResult)
    assert isinstance(results[1], LeaseExpired)
    assert isinstance(results[2], SchemaViolation)
    assert isinstance(results[3], answers.SubmitResult)
    assert isinstance(results[4], Conflict)
    after = ledger_balances(market)
    payable = ledger.worker_payable(w.address)
    assert after.get(payable, 0) - before.get(payable, 0) == 2 * REWARD
    # The refused answers left nothing behind: the off-schema lease still takes an answer.
    again = _answer(market, w, [(late[1].assignment.id, {"label": "c"})], clock=clock)
    assert isinstance(again[0], answers.SubmitResult)
    assert after.get(payable, 0) + REWARD == balance(market, payable)


def test_an_assignment_that_is_not_yours_refuses_the_whole_request(market: Market) -> None:
    _, requester = funded_requester(market, 20 * unit_cost(market))
    campaign = labeling_campaign(market, requester, tasks=10, overlap=1)
    w, other = worker(), worker()
    mine = _suite(market, w, campaign.id, 2)
    theirs = _suite(market, other, campaign.id, 1)
    pairs = [(mine[0].assignment.id, {"label": "a"}), (theirs[0].assignment.id, {"label": "a"})]
    with pytest.raises(NotFound):
        _answer(market, w, pairs)
    assert balance(market, ledger.worker_payable(w.address)) == 0
    with pytest.raises(InvalidInput):
        _answer(market, w, [])


def test_an_overdraft_in_a_deferred_entry_refuses_the_whole_transaction(market: Market) -> None:
    """Accepted units are posted together at commit; one that escrow cannot cover (the
    reservation broken by hand here) refuses them all, and nothing is paid."""
    cost = unit_cost(market)
    _, requester = funded_requester(market, 20 * cost)
    campaign = labeling_campaign(market, requester, tasks=10, overlap=1)
    w = worker()
    got = _suite(market, w, campaign.id, 3)
    escrow = ledger.campaign_escrow(campaign.id)
    with market.store.uow() as uow:  # drain the escrow behind the leases' back
        entry = ledger.transfer(
            "drain", "refund", escrow, ledger.requester_available(requester.address), 8 * cost
        )
        uow.ledger.post(entry, market.clock.now())
        uow.commit()
    with pytest.raises(InsufficientFunds):
        _answer(market, w, [(c.assignment.id, {"label": "a"}) for c in got])
    assert balance(market, ledger.worker_payable(w.address)) == 0
    with market.store.engine.connect() as conn:
        statuses = conn.scalars(
            select(assignments.c.status).where(assignments.c.worker == w.address)
        ).all()
    assert statuses == ["leased"] * 3


def test_deferred_writes_are_read_back_in_their_own_transaction(market: Market) -> None:
    """Entries, receipts and worker counts wait for the commit, yet a read in the same
    transaction sees them; a transaction that does not commit leaves none of them."""
    _, requester = funded_requester(market, 10 * unit_cost(market))
    source = ledger.requester_available(requester.address)
    now = market.clock.now()
    with market.store.uow() as uow:
        uow.ledger.defer(ledger.transfer("t1", "test", source, "a:one", 5), now)
        uow.ledger.defer(ledger.transfer("t1", "test", source, "a:one", 5), now)  # same key
        uow.ledger.defer(ledger.transfer("t2", "test", source, "a:one", 2), now)
        assert uow.ledger.balance("a:one") == 7
        uow.workers.record("w1", accepted=True, gold=True)
        uow.workers.record("w1", accepted=False, gold=True)
        assert uow.workers.history(["w1"])["w1"] == WorkerHistory(1, 2)
        uow.ledger.defer(ledger.transfer("t3", "test", source, "a:two", 1), now)
    assert balance(market, "a:one") == 0 and balance(market, "a:two") == 0  # no commit
    with market.store.uow() as uow:
        uow.ledger.defer(ledger.transfer("t3", "test", source, "a:two", 1), now)
        uow.workers.record("w1", accepted=True, gold=False)
        uow.commit()
    assert balance(market, "a:two") == 1
    with market.store.uow(readonly=True) as uow:
        assert uow.workers.history(["w1"])["w1"] == WorkerHistory(0, 0)


def test_suites_over_http_with_the_sdk(market: Market) -> None:
    market.rand = FixedRandom(0.99)
    _, requester = funded_requester(market, 20 * unit_cost(market))
    campaign = labeling_campaign(market, requester, tasks=8, overlap=1)
    server = BackgroundServer(market)
    url = server.start()
    try:
        with Earnest.sign_in(url, Wallet.generate()) as api:
            suite = api.claim_suite(campaign.id, count=5)
            assert suite["campaign_id"] == campaign.id and len(suite["leases"]) == 5
            assert suite["output_schema"] == campaign.spec.output_schema
            pairs = [(x["assignment"]["id"], {"label": "a"}) for x in suite["leases"]]
            pairs[1] = (pairs[1][0], {"label": 7})
            results = api.submit_answers(pairs)["results"]
            assert [r["decision"] for r in results] == [
                "accept",
                None,
                "accept",
                "accept",
                "accept",
            ]
            assert results[1]["problem"]["status"] == 422
            assert results[1]["assignment_id"] == pairs[1][0]
            assert len(api.claim_suite(campaign.id, count=20)["leases"]) == 3
            assert api.claim_suite(campaign.id) is None  # no work left for this worker
            spec = {
                "title": "Microtasks",
                "input_schema": {"type": "object"},
                "output_schema": campaign.spec.output_schema,
                "reward": REWARD,
            }
            assert api.create_campaign(**spec)["max_leases"] == 20
            assert api.create_campaign(**spec, max_leases=100)["max_leases"] == 100
            with pytest.raises(ApiError) as refused:
                api.create_campaign(**spec, max_leases=101)
            assert refused.value.status == 422 and "max_leases" in str(refused.value)
            with pytest.raises(ApiError) as too_many:
                api.claim_suite(campaign.id, count=101)
            assert too_many.value.status == 422
    finally:
        server.stop()


def test_a_campaign_made_before_max_leases_keeps_twenty(market: Market) -> None:
    _, requester = funded_requester(market, 40 * unit_cost(market))
    campaign = labeling_campaign(market, requester, tasks=30, overlap=1, max_leases=30)
    engine = market.store.engine
    with engine.begin() as conn:  # the database as schema 8 left it
        conn.exec_driver_sql("ALTER TABLE campaigns DROP COLUMN max_leases")
        conn.execute(schema_version.delete().where(schema_version.c.version == 9))
    migrate(engine)
    market.store.engine.dispose()  # no statement cached for the old columns
    assert "max_leases" in {c["name"] for c in inspect(engine).get_columns("campaigns")}
    assert len(_suite(market, worker(), campaign.id, 30)) == 20


@pytest.mark.postgres
def test_concurrent_suites_never_lease_a_slot_twice(pg_market: Market) -> None:
    market = pg_market
    threads, rounds, total = 6, 8, 150
    _, requester = funded_requester(market, total * 2 * unit_cost(market))
    campaign = labeling_campaign(market, requester, tasks=total // 2, overlap=2)
    start = threading.Barrier(threads)

    def run() -> list[int]:
        got: list[int] = []
        start.wait(timeout=30)
        for _ in range(rounds):
            w = worker()
            with contextlib.suppress(NoWorkAvailable):
                got += [c.assignment.task_id for c in _suite(market, w, campaign.id, 7)]
        return got

    began = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        leased = [t for f in [pool.submit(run) for _ in range(threads)] for t in f.result(120)]
    assert time.monotonic() - began < 120
    assert len(leased) == total  # 6 x 8 x 7 = 336 asked for, 150 slots
    per_task, filled = slots(market, campaign.id)
    assert set(filled.values()) == {2} and per_task == filled


@pytest.mark.postgres
def test_suites_sharing_tasks_answered_in_opposite_orders_do_not_deadlock(
    pg_market: Market,
) -> None:
    """Two workers hold leases on the same tasks (overlap 2) and answer them at once, one in
    the order leased, the other backwards: the locks are taken in one order, so both land."""
    market = pg_market
    rounds, size = 5, 12
    _, requester = funded_requester(market, rounds * size * 2 * unit_cost(market))
    campaign = labeling_campaign(market, requester, tasks=rounds * size, overlap=2)
    for _ in range(rounds):
        a, b = worker(), worker()
        mine = _suite(market, a, campaign.id, size)
        theirs = {c.assignment.task_id: c for c in _suite(market, b, campaign.id, size)}
        assert set(theirs) == {c.assignment.task_id for c in mine}  # the same tasks
        first = [(c.assignment.id, {"label": "a"}) for c in mine]
        second = [(theirs[c.assignment.task_id].assignment.id, {"label": "a"}) for c in mine]
        start = threading.Barrier(2)

        def answer(
            who: Principal, pairs: list[tuple[str, dict[str, str]]], start: threading.Barrier
        ) -> list[object]:
            start.wait(timeout=30)
            return list(_answer(market, who, pairs))

        with ThreadPoolExecutor(2) as pool:
            done = [
                pool.submit(answer, a, first, start),
                pool.submit(answer, b, second[::-1], start),
            ]
            results = [r for f in done for r in f.result(timeout=60)]
        assert all(isinstance(r, answers.SubmitResult) for r in results), results
        # The second answer to each task decides both: every answer is paid.
        for w in (a, b):
            assert balance(market, ledger.worker_payable(w.address)) == size * REWARD
