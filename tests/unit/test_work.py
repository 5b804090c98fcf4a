"""Claims and answers, the money side: what a lease reserves, what an accepted answer pays,
what an appeal costs, on the real use cases over the in-memory store (tests/fakes).

The SQL behind the same rules (locks, SKIP LOCKED, both dialects) is tests/integration's.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solders.keypair import Keypair

from earnest.adapters.chain import MarketCrypto
from earnest.domain import ledger
from earnest.domain.errors import (
    Conflict,
    EarnestError,
    InsufficientFunds,
    LeaseExpired,
    NoWorkAvailable,
)
from earnest.domain.money import unit_cost
from earnest.domain.verification import Decision
from earnest.domain.work import Assignment, AssignmentStatus, Campaign, CampaignSpec
from earnest.services import answers, appeals, campaigns, uploads, work
from earnest.services.identity import Principal
from earnest.services.ports import Random
from earnest.services.uploads import TaskLine
from tests.factories import (
    INPUT_SCHEMA,
    OUTPUT_SCHEMA,
    FakeClock,
    FixedRandom,
    SeededRandom,
    principal,
)
from tests.fakes import FakeStore

FEE_BPS = 500
REWARD = 1_000
COST = unit_cost(REWARD, FEE_BPS)
CRYPTO = MarketCrypto(Keypair())
REQUESTER = principal("Req1111111111111111111111111111111111111111")
WORKERS = [principal(f"Wkr{n}" + "1" * 40) for n in range(5)]


@dataclass
class Market:
    """One funded campaign on the fake store, and the use cases called as routes call them."""

    store: FakeStore = field(default_factory=FakeStore)
    clock: FakeClock = field(default_factory=FakeClock)
    rand: Random = field(default_factory=lambda: FixedRandom(0.99))  # no control tasks
    deposited: int = 0

    def deposit(self, amount: int, key: str = "deposit:1") -> None:
        self.deposited += amount
        with self.store.uow() as uow:
            uow.ledger.post(ledger.deposit(key, REQUESTER.address, amount), self.clock.now())
            uow.commit()

    def campaign(
        self, *, tasks: int, overlap: int, fund: int, gold: int = 0, **spec: Any
    ) -> Campaign:
        if fund:
            self.deposit(fund)
        fields: dict[str, Any] = {
            "type": "labeling",
            "title": "Label short texts",
            "instructions": "a, b or c",
            "input_schema": INPUT_SCHEMA,
            "output_schema": OUTPUT_SCHEMA,
            "reward": REWARD,
            "overlap": overlap,
        }
        made = campaigns.create_campaign(
            campaigns.CreateCampaign(REQUESTER, CampaignSpec(**(fields | spec))),
            fee_bps=FEE_BPS,
            store=self.store,
            clock=self.clock,
            rand=self.rand,
        )
        lines = [
            TaskLine(i + 1, {"id": f"t{i}", "data": {"text": f"item {i}"}} | _gold(i, gold))
            for i in range(tasks)
        ]
        assert uploads.add_tasks(REQUESTER, made.id, lines, store=self.store).added == tasks
        if fund:
            cmd = campaigns.FundCampaign(REQUESTER, made.id, fund)
            campaigns.fund_campaign(cmd, store=self.store, clock=self.clock, rand=self.rand)
        return made

    def claim(self, who: Principal, campaign: Campaign) -> work.Claim:
        cmd = work.ClaimTask(who, campaign.id)
        return work.claim_task(cmd, store=self.store, clock=self.clock, rand=self.rand)

    def suite(self, who: Principal, campaign: Campaign, count: int) -> list[work.Claim]:
        cmd = work.ClaimSuite(who, campaign.id, count)
        return work.claim_suite(cmd, store=self.store, clock=self.clock, rand=self.rand)

    def answer(self, who: Principal, assignment_id: str, label: str) -> answers.SubmitResult:
        cmd = answers.SubmitAnswer(who, assignment_id, {"label": label})
        return answers.submit_work(
            cmd, store=self.store, crypto=CRYPTO, clock=self.clock, rand=self.rand
        )

    def answer_all(
        self, who: Principal, given: list[tuple[str, str]]
    ) -> list[answers.SubmitResult | EarnestError]:
        cmd = answers.SubmitAnswers(who, [(a, {"label": label}) for a, label in given])
        return answers.submit_answers(
            cmd, store=self.store, crypto=CRYPTO, clock=self.clock, rand=self.rand
        )

    def balance(self, account: str) -> int:
        with self.store.uow(readonly=True) as uow:
            return uow.ledger.balance(account)

    def assignments(self) -> list[Assignment]:
        return list(self.store.rows.work.assignments.values())

    def outstanding(self, campaign: Campaign) -> int:
        with self.store.uow(readonly=True) as uow:
            return uow.assignments.outstanding(campaign.id)


def _gold(i: int, gold: int) -> dict[str, Any]:
    return {"gold": {"label": "abc"[i % 3]}} if i < gold else {}


def test_two_agreeing_workers_are_paid_and_the_third_is_not() -> None:
    m = Market()
    c = m.campaign(tasks=1, overlap=3, fund=3 * COST)
    w1, w2, w3 = WORKERS[:3]
    leases = [m.claim(w, c).assignment.id for w in (w1, w2, w3)]
    assert m.answer(w3, leases[2], "b").decision is Decision.WAIT
    assert m.answer(w1, leases[0], "a").decision is Decision.WAIT
    assert m.balance(ledger.worker_payable(w1.address)) == 0  # nothing before the verdict
    last = m.answer(w2, leases[1], "a")
    assert (last.decision, last.assignment.reward) == (Decision.ACCEPT, REWARD)
    assert last.receipt_id is not None
    for w, paid in ((w1, REWARD), (w2, REWARD), (w3, 0)):
        assert m.balance(ledger.worker_payable(w.address)) == paid
    assert m.balance(ledger.campaign_escrow(c.id)) == 3 * COST - 2 * COST
    assert m.balance(ledger.FEES) == 2 * (COST - REWARD)
    assert last.reason == "agrees with 2 of 3"
    rejected = m.store.rows.work.assignments[leases[2]]
    assert (rejected.status, rejected.reward) == (AssignmentStatus.REJECTED, 0)
    assert rejected.reason == (
        'your answer {"label":"b"} disagreed with the majority answer {"label":"a"} '
        "(2 of 3 workers)"
    )
    [row] = campaigns.results(REQUESTER, c.id, store=m.store)
    assert (row["result"], len(row["answers"])) == ({"label": "a"}, 3)
    payouts = m.store.rows.money.payouts.values()
    assert sorted((p.recipient, p.amount, p.status) for p in payouts) == sorted(
        [(w1.address, REWARD, "pending"), (w2.address, REWARD, "pending")]
    )
    # Every verdict is signed, the rejection too.
    assert len(m.store.rows.money.receipts) == 3


def test_claims_stop_when_every_funded_unit_is_leased() -> None:
    m = Market()
    c = m.campaign(tasks=10, overlap=1, fund=3 * COST)
    leases = [(w, m.claim(w, c).assignment.id) for w in WORKERS[:3]]
    with pytest.raises(NoWorkAvailable):
        m.claim(WORKERS[3], c)
    for w, lease in leases:
        assert m.answer(w, lease, "a").decision is Decision.ACCEPT
    with pytest.raises(NoWorkAvailable):  # spent, not only reserved
        m.claim(WORKERS[3], c)
    assert m.balance(ledger.campaign_escrow(c.id)) == 0
    status = campaigns.campaign_status(REQUESTER, c.id, store=m.store)
    assert (status["spent"], status["reserved"], status["escrow"]) == (3 * COST, 0, 0)


def test_a_suite_gets_only_the_leases_the_escrow_covers() -> None:
    m = Market()
    c = m.campaign(tasks=10, overlap=1, fund=4 * COST + COST - 1)  # four units and change
    got = m.suite(WORKERS[0], c, 10)
    assert len(got) == 4 and m.outstanding(c) == 4
    with pytest.raises(NoWorkAvailable):
        m.suite(WORKERS[1], c, 1)


def test_an_expired_or_released_lease_gives_its_reservation_back() -> None:
    m = Market()
    c = m.campaign(tasks=2, overlap=1, fund=COST, lease_seconds=60)
    slow, fast, third = WORKERS[:3]
    got = m.claim(slow, c)
    with pytest.raises(NoWorkAvailable):
        m.claim(fast, c)
    m.clock.advance(60)
    with pytest.raises(LeaseExpired):
        m.answer(slow, got.assignment.id, "a")
    again = m.claim(fast, c)
    work.release_lease(work.ReleaseLease(fast, again.assignment.id), store=m.store, clock=m.clock)
    last = m.claim(third, c)
    assert m.answer(third, last.assignment.id, "b").decision is Decision.ACCEPT
    assert m.balance(ledger.worker_payable(third.address)) == REWARD
    assert m.balance(ledger.worker_payable(slow.address)) == 0
    assert m.balance(ledger.campaign_escrow(c.id)) == 0


def test_a_control_answer_is_paid_only_when_right() -> None:
    m = Market(rand=FixedRandom(0.0))  # every claim draws a control task
    c = m.campaign(tasks=2, overlap=1, fund=2 * COST, gold=2, gold_share=0.5)
    right, wrong = WORKERS[:2]
    mine = m.claim(right, c)
    truth = "abc"[int(mine.task_data["text"].split()[-1]) % 3]
    assert m.answer(right, mine.assignment.id, truth).decision is Decision.ACCEPT
    theirs = m.claim(wrong, c)
    known = "abc"[int(theirs.task_data["text"].split()[-1]) % 3]
    off = "abc"[("abc".index(known) + 1) % 3]
    assert m.answer(wrong, theirs.assignment.id, off).decision is Decision.REJECT
    assert m.balance(ledger.worker_payable(right.address)) == REWARD
    assert m.balance(ledger.worker_payable(wrong.address)) == 0
    assert m.balance(ledger.campaign_escrow(c.id)) == COST  # the rejected unit stays


def test_an_open_appeal_keeps_a_unit_and_an_overturn_is_paid_with_the_requesters_cover() -> None:
    m = Market()
    c = m.campaign(tasks=2, overlap=3, fund=4 * COST)
    w1, w2, w3, late = WORKERS[:4]
    first = [m.claim(w, c).assignment for w in (w1, w2, w3)]
    assert {a.task_id for a in first} == {first[0].task_id}
    for w, a, label in zip((w1, w2, w3), first, "aab", strict=True):
        m.answer(w, a.id, label)
    assert m.balance(ledger.campaign_escrow(c.id)) == 2 * COST
    m.claim(late, c)  # one unit leased; one left
    filed = appeals.file_appeal(
        appeals.FileAppeal(w3, first[2].id, "b is what the text says"),
        store=m.store,
        clock=m.clock,
        rand=m.rand,
    )
    assert m.outstanding(c) == 2  # the lease and the open appeal
    with pytest.raises(NoWorkAvailable):
        m.claim(WORKERS[4], c)
    # Overturning costs a unit the escrow still has; the requester has nothing to add.
    decide = appeals.DecideAppeal(REQUESTER, filed.id, True, "the text does say b, sorry")
    done = appeals.decide_appeal(decide, store=m.store, crypto=CRYPTO, clock=m.clock, rand=m.rand)
    assert done.status == "overturned"
    assert m.balance(ledger.worker_payable(w3.address)) == REWARD
    assert m.balance(ledger.campaign_escrow(c.id)) == COST  # still covers the live lease
    assert len(m.store.rows.money.receipts) == 4  # the first rejection's receipt stays


def test_an_overturn_the_escrow_cannot_pay_waits_for_the_requesters_deposit() -> None:
    m = Market()
    c = m.campaign(tasks=2, overlap=3, fund=4 * COST)
    w1, w2, w3 = WORKERS[:3]
    first = [m.claim(w, c).assignment for w in (w1, w2, w3)]
    for w, a, label in zip((w1, w2, w3), first, "aab", strict=True):
        m.answer(w, a.id, label)
    # Two more units leased after the rejection: the escrow is spoken for.
    m.claim(WORKERS[3], c)
    m.claim(WORKERS[4], c)
    filed = appeals.file_appeal(
        appeals.FileAppeal(w3, first[2].id, "b is what the text says"),
        store=m.store,
        clock=m.clock,
        rand=m.rand,
    )
    decide = appeals.DecideAppeal(REQUESTER, filed.id, True, "the text does say b, sorry")
    with pytest.raises(InsufficientFunds) as short:
        appeals.decide_appeal(decide, store=m.store, crypto=CRYPTO, clock=m.clock, rand=m.rand)
    assert short.value.extra["short"] == COST
    assert m.balance(ledger.worker_payable(w3.address)) == 0  # nothing moved
    m.deposit(COST, "deposit:2")
    appeals.decide_appeal(decide, store=m.store, crypto=CRYPTO, clock=m.clock, rand=m.rand)
    assert m.balance(ledger.worker_payable(w3.address)) == REWARD
    assert m.balance(ledger.requester_available(REQUESTER.address)) == 0
    assert m.balance(ledger.campaign_escrow(c.id)) == 2 * COST  # both live leases covered


# --- a campaign's life, drawn at random: the books hold after every step ------------------

step = st.one_of(
    st.tuples(st.just("claim"), st.integers(0, 4), st.integers(1, 4)),
    st.tuples(st.just("answer"), st.integers(0, 4), st.sampled_from("abc")),
    st.tuples(st.just("answer all"), st.integers(0, 4), st.sampled_from("abc")),
    st.tuples(st.just("release"), st.integers(0, 4), st.just(0)),
    st.tuples(st.just("wait"), st.just(0), st.sampled_from([10, 45, 61])),
)


@settings(max_examples=60, deadline=None)
@given(
    tasks=st.integers(1, 5),
    overlap=st.integers(1, 3),
    units=st.integers(0, 12),
    spare=st.integers(0, COST - 1),
    seed=st.integers(0, 2**16),
    gold_share=st.sampled_from([0.0, 0.4]),
    steps=st.lists(step, max_size=25),
)
def test_every_step_keeps_the_money_conserved_and_the_escrow_covering(
    tasks: int,
    overlap: int,
    units: int,
    spare: int,
    seed: int,
    gold_share: float,
    steps: list[tuple[str, int, Any]],
) -> None:
    m = Market(rand=SeededRandom(seed))
    funded = units * COST + spare
    c = m.campaign(
        tasks=tasks,
        overlap=overlap,
        fund=funded,
        gold=tasks // 2,
        gold_share=gold_share,
        lease_seconds=60,
    )
    for kind, n, arg in steps:
        who = WORKERS[n]
        with suppress(NoWorkAvailable, Conflict, LeaseExpired):
            if kind == "claim":
                m.suite(who, c, arg)
            elif kind == "wait":
                m.clock.advance(arg)
            else:
                live = [a.id for a in m.assignments() if _live(a, who)]
                if kind == "answer" and live:
                    m.answer(who, live[0], arg)
                elif kind == "answer all" and live:
                    m.answer_all(who, [(a, arg) for a in live])
                elif kind == "release" and live:
                    cmd = work.ReleaseLease(who, live[0])
                    work.release_lease(cmd, store=m.store, clock=m.clock)
        _check_books(m, c, funded)


def _live(a: Assignment, who: Principal) -> bool:
    return a.worker == who.address and a.status is AssignmentStatus.LEASED


def _check_books(m: Market, c: Campaign, funded: int) -> None:
    """Counted from the assignments, independently of the ledger: what the escrow paid out,
    what each worker is owed, and that every unit still owed is covered."""
    accepted = [a for a in m.assignments() if a.status is AssignmentStatus.ACCEPTED]
    escrow = m.balance(ledger.campaign_escrow(c.id))
    assert escrow == funded - len(accepted) * COST
    assert escrow >= m.outstanding(c) * COST
    assert m.balance(ledger.FEES) == len(accepted) * (COST - REWARD)
    for w in WORKERS:
        owed = sum(a.reward for a in accepted if a.worker == w.address)
        assert all(a.reward == REWARD for a in accepted)
        assert m.balance(ledger.worker_payable(w.address)) == owed
        queued = [p for p in m.store.rows.money.payouts.values() if p.recipient == w.address]
        assert sum(p.amount for p in queued) == owed
    decided = [a for a in m.assignments() if a.status is not AssignmentStatus.LEASED]
    answered = [
        a for a in decided if a.status in (AssignmentStatus.ACCEPTED, AssignmentStatus.REJECTED)
    ]
    assert len(m.store.rows.money.receipts) == len(answered)
    assert all(a.reward == 0 for a in answered if a.status is AssignmentStatus.REJECTED)
    # Nothing appears or vanishes: the vault holds exactly what the market owes.
    with m.store.uow(readonly=True) as uow:
        books = uow.ledger.balances()
    owed_total = sum(v for k, v in books.items() if k != ledger.VAULT)
    assert owed_total == books.get(ledger.VAULT, 0) == m.deposited
