"""The pure accept path (domain/accept.py): receipt, digest, journal entry and payout."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from earnest.domain import escrow, ledger
from earnest.domain.accept import Decided, decided
from earnest.domain.errors import InvalidInput
from earnest.domain.money import unit_cost
from earnest.domain.verification import Submission
from earnest.domain.work import AssignmentStatus, Campaign, CampaignSpec, CampaignStatus

WORKER = "Wrk1111111111111111111111111111111111111111"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SCHEMA = {"type": "object"}


def campaign(reward: int = 1_000, fee_bps: int = 500, verifier: str = "majority") -> Campaign:
    spec = CampaignSpec("labeling", "t", "", SCHEMA, SCHEMA, reward, verifier=verifier)
    return Campaign("cmp_1", "Req1", spec, fee_bps, CampaignStatus.ACTIVE, NOW)


def answer(assignment_id: str = "asg_1", value: Any = None, worker: str = WORKER) -> Submission:
    value = {"label": "a"} if value is None else value
    return Submission(assignment_id, worker, value, AssignmentStatus.SUBMITTED, NOW)


def decide(
    c: Campaign | None = None,
    sub: Submission | None = None,
    verdict: str = "accept",
    reward: int | None = None,
    **changes: Any,
) -> Decided:
    c = c or campaign()
    args: dict[str, Any] = {
        "task_id": 7,
        "reason": "agrees with the majority",
        "receipt_id": "rcp_1",
        "issued_at": NOW,
        "cap": c.spec.reward,
    } | changes
    paid = (c.spec.reward if verdict == "accept" else 0) if reward is None else reward
    return decided(
        c,
        args["task_id"],
        sub or answer(),
        verdict,
        args["reason"],
        paid,
        cap=args["cap"],
        receipt_id=args["receipt_id"],
        issued_at=args["issued_at"],
    )


@settings(max_examples=200)
@given(cap=st.integers(1, 10**9), fee_bps=st.integers(0, 10_000), data=st.data())
def test_an_acceptance_moves_its_cost_from_escrow_to_the_worker_and_the_fee(
    cap: int, fee_bps: int, data: st.DataObject
) -> None:
    c = campaign(reward=cap, fee_bps=fee_bps)
    reward = data.draw(st.integers(0, cap))
    d = decide(c, reward=reward)
    deltas: dict[str, int] = {}
    for entry in d.entries:
        for account, delta in entry.deltas().items():
            deltas[account] = deltas.get(account, 0) + delta
    fee = reward * fee_bps // 10_000
    # Money is conserved: what leaves the escrow is exactly the payout and the fee.
    assert -deltas.get(ledger.campaign_escrow(c.id), 0) == d.payout + deltas.get(ledger.FEES, 0)
    assert deltas.get(ledger.worker_payable(WORKER), 0) == d.payout == reward
    assert deltas.get(ledger.FEES, 0) == d.fee == fee
    # Never beyond the escrow: no more than the unit its lease reserved.
    assert d.cost == reward + fee <= unit_cost(cap, fee_bps) == c.unit_cost
    assert set(deltas) <= {ledger.campaign_escrow(c.id), ledger.worker_payable(WORKER), ledger.FEES}
    assert len(d.entries) == (1 if reward else 0)
    assert d.body["reward"] == reward


@settings(max_examples=100)
@given(funded_units=st.integers(1, 30), metered=st.lists(st.none() | st.integers(-5, 2_000)))
def test_a_campaign_never_pays_beyond_its_escrow(
    funded_units: int, metered: list[int | None]
) -> None:
    c = campaign(reward=1_000, fee_bps=300)
    funded = funded_units * c.unit_cost
    paid = 0
    for i, m in enumerate(metered[:funded_units]):  # a lease per unit the escrow covers
        d = decide(c, answer(f"asg_{i}"), reward=escrow.capped_reward(m, c.spec.reward))
        paid += d.cost
        assert funded - paid >= escrow.reserved(funded_units - i - 1, c.unit_cost)
    assert 0 <= funded - paid <= funded


def test_a_rejection_pays_and_owes_nothing() -> None:
    d = decide(verdict="reject")
    assert d.entries == ()
    assert d.payout == 0 == d.cost
    assert d.body["verdict"] == "reject"


@pytest.mark.parametrize(
    ("verdict", "reward", "cap", "match"),
    [
        ("accept", 1_001, 1_000, "outside 0..1000"),
        ("accept", -1, 1_000, "outside"),
        ("reject", 10, 1_000, "pays nothing"),
        ("wait", 0, 1_000, "one of"),
    ],
)
def test_a_payment_the_escrow_does_not_hold_is_refused(
    verdict: str, reward: int, cap: int, match: str
) -> None:
    with pytest.raises(InvalidInput, match=match):
        decide(verdict=verdict, reward=reward, cap=cap)


def test_the_digest_is_the_sha256_of_the_canonical_body() -> None:
    d = decide()
    text = json.dumps(d.body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert d.digest == hashlib.sha256(text.encode()).hexdigest() == d.receipt.digest()
    assert d.body == dataclasses.asdict(d.receipt)
    assert decide().digest == d.digest  # the same verdict, the same digest


# One change per field of the receipt's body, made through what `decided` is given.
CHANGES: dict[str, Any] = {
    "id": lambda: decide(receipt_id="rcp_2"),
    "assignment_id": lambda: decide(sub=answer("asg_2")),
    "task_id": lambda: decide(task_id=8),
    "campaign_id": lambda: decide(dataclasses.replace(campaign(), id="cmp_2")),
    "worker": lambda: decide(sub=answer(worker="Wrk2")),
    "submission_hash": lambda: decide(sub=answer(value={"label": "b"})),
    "verdict": lambda: decide(verdict="reject"),
    "reason": lambda: decide(reason="agrees with the majority."),
    "verifier": lambda: decide(campaign(verifier="gold")),
    "reward": lambda: decide(reward=999),
    "issued_at": lambda: decide(issued_at=NOW + timedelta(microseconds=1)),
}


def test_every_field_of_the_body_is_changed_by_one_case() -> None:
    assert set(CHANGES) == set(decide().body)


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_the_digest_changes_with_any_field(name: str) -> None:
    before, after = decide(), CHANGES[name]()
    assert before.body[name] != after.body[name]
    assert {k for k in before.body if before.body[k] != after.body[k]} <= {name, "reward"}
    assert after.digest != before.digest


@given(label=st.text(max_size=20), other=st.text(max_size=20))
def test_the_digest_follows_the_answer(label: str, other: str) -> None:
    one = decide(sub=answer(value={"label": label})).digest
    two = decide(sub=answer(value={"label": other})).digest
    assert (one == two) is (label == other)
