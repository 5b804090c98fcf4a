"""Claim, submit, verify on the SQL stores: leases, gold verdicts, refusals. The money
rules of claims and answers (majority pay, the escrow limit, appeals) are
tests/unit/test_work.py's, on the in-memory store."""

from __future__ import annotations

import pytest

from earnest.bootstrap import Market
from earnest.domain import ledger
from earnest.domain.errors import (
    AlreadyDone,
    LeaseExpired,
    NotFound,
    NoWorkAvailable,
    SchemaViolation,
)
from earnest.domain.verification import Decision
from earnest.domain.work import Assignment, AssignmentStatus
from earnest.services import work
from earnest.services.identity import Principal
from tests.factories import (
    REWARD,
    FakeClock,
    FixedRandom,
    balance,
    claim,
    funded_requester,
    labeling_campaign,
    submit,
    unit_cost,
    worker,
)


def _assignment(market: Market, who: Principal, assignment_id: str) -> Assignment:
    return work.get_assignment(who, assignment_id, store=market.store)


def test_a_worker_never_gets_the_same_task_twice(market: Market) -> None:
    _, requester = funded_requester(market, 100_000)
    campaign = labeling_campaign(market, requester, tasks=6, overlap=3)
    w = worker()
    seen = []
    for _ in range(6):
        seen.append(claim(market, w, campaign.id).assignment)
    assert len({a.task_id for a in seen}) == 6
    with pytest.raises(NoWorkAvailable):
        claim(market, w, campaign.id)
    for a in seen[:3]:
        submit(market, w, a.id, {"label": "a"})
    with pytest.raises(NoWorkAvailable):
        claim(market, w, campaign.id)
    # Other workers still find every task: each has two free slots.
    other = worker()
    assert len({claim(market, other, campaign.id).assignment.task_id for _ in range(6)}) == 6


def test_the_gold_answer_is_never_shown_and_gold_waits_like_any_task(market: Market) -> None:
    # A control task is decided when an ordinary task with the same answers would be, in the
    # same words (quality/controls.py): here at its third answer, by the known answer.
    _, requester = funded_requester(market, 100_000)
    always_gold = FixedRandom(0.0)
    campaign = labeling_campaign(
        market, requester, tasks=3, gold=3, overlap=3, gold_share=0.5, rand=always_gold
    )
    right, wrong, third = worker(), worker(), worker()
    got = claim(market, right, campaign.id, rand=always_gold)
    index = int(got.task_data["text"].split()[-1])
    assert got.task_data == {"text": f"item {index}"}
    assert "gold" not in repr(got.task_data)
    gold_label = "abc"[index % 3]
    other_label = "abc"[(index + 1) % 3]

    first = submit(market, right, got.assignment.id, {"label": gold_label})
    assert first.decision is Decision.WAIT
    assert first.reason == "waiting for other workers' answers"
    got_wrong = claim(market, wrong, campaign.id, rand=always_gold)
    assert got_wrong.assignment.task_id == got.assignment.task_id
    assert got_wrong.task_data == {"text": f"item {index}"}
    assert submit(market, wrong, got_wrong.assignment.id, {"label": other_label}).decision is (
        Decision.WAIT
    )
    assert balance(market, ledger.worker_payable(right.address)) == 0
    got_third = claim(market, third, campaign.id, rand=always_gold)
    assert got_third.assignment.task_id == got.assignment.task_id
    submit(market, third, got_third.assignment.id, {"label": gold_label})

    ok = _assignment(market, right, got.assignment.id)
    bad = _assignment(market, wrong, got_wrong.assignment.id)
    assert ok.status.value == "accepted" and bad.status.value == "rejected"
    for said in (ok.reason or "", bad.reason or "", repr(bad.evidence)):
        assert "control" not in said and "known" not in said and "gold" not in said
    assert balance(market, ledger.worker_payable(right.address)) == REWARD
    assert balance(market, ledger.worker_payable(wrong.address)) == 0
    assert ok.answer == {"label": gold_label}


def test_a_schema_invalid_answer_is_refused_and_the_lease_kept(market: Market) -> None:
    _, requester = funded_requester(market, 50_000)
    campaign = labeling_campaign(market, requester, tasks=1, overlap=1)
    w = worker()
    got = claim(market, w, campaign.id)
    for bad in ({"label": "z"}, {"labl": "a"}, "a", {"label": "a", "extra": 1}):
        with pytest.raises(SchemaViolation):
            submit(market, w, got.assignment.id, bad)
    held = _assignment(market, w, got.assignment.id)
    assert held.status is AssignmentStatus.LEASED
    assert held.answer is None
    assert submit(market, w, got.assignment.id, {"label": "c"}).decision is Decision.ACCEPT


def test_someone_elses_assignment_is_not_found(market: Market) -> None:
    _, requester = funded_requester(market, 50_000)
    campaign = labeling_campaign(market, requester, tasks=1, overlap=1)
    owner, intruder = worker(), worker()
    got = claim(market, owner, campaign.id)
    with pytest.raises(NotFound):
        submit(market, intruder, got.assignment.id, {"label": "a"})
    with pytest.raises(NotFound):
        _assignment(market, intruder, got.assignment.id)
    with pytest.raises(NotFound):
        submit(market, intruder, "asg_doesnotexist", {"label": "a"})
    assert _assignment(market, owner, got.assignment.id).status is AssignmentStatus.LEASED
    assert balance(market, ledger.worker_payable(intruder.address)) == 0


def test_a_second_submit_is_already_done(market: Market) -> None:
    _, requester = funded_requester(market, 50_000)
    decided = labeling_campaign(market, requester, tasks=1, overlap=1)
    waiting = labeling_campaign(market, requester, tasks=1, overlap=3)
    w = worker()
    a = claim(market, w, decided.id).assignment
    b = claim(market, w, waiting.id).assignment
    assert submit(market, w, a.id, {"label": "a"}).decision is Decision.ACCEPT
    assert submit(market, w, b.id, {"label": "a"}).decision is Decision.WAIT
    with pytest.raises(AlreadyDone):
        submit(market, w, a.id, {"label": "b"})
    with pytest.raises(AlreadyDone):
        submit(market, w, b.id, {"label": "b"})
    assert balance(market, ledger.worker_payable(w.address)) == REWARD
    assert _assignment(market, w, b.id).answer == {"label": "a"}


def test_an_expired_lease_is_refused_and_the_slot_reopens(market: Market) -> None:
    clock = FakeClock()
    _, requester = funded_requester(market, 50_000, clock=clock)
    campaign = labeling_campaign(
        market,
        requester,
        tasks=1,
        overlap=1,
        lease_seconds=60,
        fund=unit_cost(market),
        clock=clock,
    )
    slow, fast = worker(), worker()
    got = claim(market, slow, campaign.id, clock=clock)
    with pytest.raises(NoWorkAvailable):
        claim(market, fast, campaign.id, clock=clock)
    clock.advance(59)
    with pytest.raises(NoWorkAvailable):
        claim(market, fast, campaign.id, clock=clock)
    clock.advance(1)
    with pytest.raises(LeaseExpired):
        submit(market, slow, got.assignment.id, {"label": "a"}, clock=clock)

    reopened = claim(market, fast, campaign.id, clock=clock)
    assert reopened.assignment.task_id == got.assignment.task_id
    assert _assignment(market, slow, got.assignment.id).status is AssignmentStatus.EXPIRED
    with pytest.raises(LeaseExpired):
        submit(market, slow, got.assignment.id, {"label": "a"}, clock=clock)
    with pytest.raises(NoWorkAvailable):  # the slow worker may not take it back
        claim(market, slow, campaign.id, clock=clock)
    done = submit(market, fast, reopened.assignment.id, {"label": "b"}, clock=clock)
    assert done.decision is Decision.ACCEPT
    assert balance(market, ledger.worker_payable(fast.address)) == REWARD
    assert balance(market, ledger.worker_payable(slow.address)) == 0
    assert balance(market, ledger.campaign_escrow(campaign.id)) == 0


def test_a_requester_cannot_work_on_their_own_campaign(market: Market) -> None:
    _, requester = funded_requester(market, 50_000)
    campaign = labeling_campaign(market, requester, tasks=2, overlap=1)
    with pytest.raises(NoWorkAvailable):
        claim(market, requester, campaign.id)
    with pytest.raises(NoWorkAvailable):
        claim(market, requester, None)
    assert claim(market, worker(), None).campaign.id == campaign.id
