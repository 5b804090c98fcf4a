"""Creating, funding and closing a campaign: the escrow rules, on the use cases over the
in-memory work and money stores (tests/fakes)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from earnest.adapters.system import SystemRandom
from earnest.domain import ledger
from earnest.domain.errors import Conflict, Forbidden, InsufficientFunds, InvalidInput, NotFound
from earnest.domain.work import Assignment, AssignmentStatus, Campaign, CampaignSpec, CampaignStatus
from earnest.services import campaigns
from earnest.services.identity import Principal
from tests.factories import INPUT_SCHEMA, OUTPUT_SCHEMA, FakeClock, principal
from tests.fakes import FakeStore

FEE_BPS = 500
REQUESTER = "Req1111111111111111111111111111111111111111"
RAND = SystemRandom()


def spec(**changes: object) -> CampaignSpec:
    fields: dict[str, object] = {
        "type": "labeling",
        "title": "sentiment",
        "instructions": "",
        "input_schema": INPUT_SCHEMA,
        "output_schema": OUTPUT_SCHEMA,
        "reward": 1_000,
        "overlap": 1,
    }
    return CampaignSpec(**(fields | changes))  # type: ignore[arg-type]


class Requester:
    """A requester with `balance` available, and the use cases called as the routes call them."""

    def __init__(self, balance: int, who: Principal | None = None) -> None:
        self.store, self.clock, self.who = FakeStore(), FakeClock(), who or principal(REQUESTER)
        if balance:
            with self.store.uow() as uow:
                entry = ledger.deposit("deposit:s", self.who.address, balance)
                uow.ledger.post(entry, self.clock.now())
                uow.commit()

    def create(self, s: CampaignSpec | None = None) -> Campaign:
        cmd = campaigns.CreateCampaign(self.who, s or spec())
        return campaigns.create_campaign(
            cmd, fee_bps=FEE_BPS, store=self.store, clock=self.clock, rand=RAND
        )

    def fund(self, campaign_id: str, amount: int) -> int:
        cmd = campaigns.FundCampaign(self.who, campaign_id, amount)
        return campaigns.fund_campaign(cmd, store=self.store, clock=self.clock, rand=RAND)

    def close(self, campaign_id: str) -> int:
        cmd = campaigns.CloseCampaign(self.who, campaign_id)
        return campaigns.close_campaign(cmd, store=self.store, clock=self.clock, rand=RAND)

    def balance(self, account: str) -> int:
        with self.store.uow(readonly=True) as uow:
            return uow.ledger.balance(account)

    def lease(self, campaign: Campaign, n: int) -> None:
        """`n` live leases, as claims leave them: each reserves one unit of the escrow."""
        now = self.clock.now()
        with self.store.uow() as uow:
            uow.assignments.add_many(
                [
                    Assignment(
                        f"asg_{i}",
                        i,
                        campaign.id,
                        f"W{i}",
                        AssignmentStatus.LEASED,
                        now,
                        now + timedelta(minutes=10),
                    )
                    for i in range(n)
                ]
            )
            uow.commit()


def test_a_draft_opens_when_funded_and_the_escrow_holds_the_amount() -> None:
    r = Requester(10_000)
    made = r.create()
    assert made.status is CampaignStatus.DRAFT and made.fee_bps == FEE_BPS
    assert r.fund(made.id, 4_000) == 4_000
    assert r.fund(made.id, 1_000) == 5_000
    with r.store.uow(readonly=True) as uow:
        assert uow.campaigns.get(made.id).status is CampaignStatus.ACTIVE  # type: ignore[union-attr]
        assert uow.parties.kind(REQUESTER) == "person"
    assert r.balance(ledger.requester_available(REQUESTER)) == 5_000
    assert r.balance(ledger.campaign_escrow(made.id)) == 5_000


def test_funding_more_than_the_balance_or_a_bad_amount_moves_nothing() -> None:
    r = Requester(3_000)
    made = r.create()
    with pytest.raises(InsufficientFunds, match="3000"):
        r.fund(made.id, 3_001)
    for bad in (0, -1, True, 2.5):
        with pytest.raises(InvalidInput):
            r.fund(made.id, bad)  # type: ignore[arg-type]
    assert r.balance(ledger.requester_available(REQUESTER)) == 3_000
    with r.store.uow(readonly=True) as uow:
        assert uow.campaigns.get(made.id).status is CampaignStatus.DRAFT  # type: ignore[union-attr]


def test_someone_elses_campaign_is_not_found_and_a_closed_one_takes_no_funds() -> None:
    r = Requester(5_000)
    made = r.create()
    thief = Requester(5_000, principal("Thf1111111111111111111111111111111111111111"))
    thief.store = r.store
    with pytest.raises(NotFound):
        thief.fund(made.id, 100)
    with pytest.raises(NotFound):
        thief.close(made.id)
    r.fund(made.id, 1_000)
    r.close(made.id)
    with pytest.raises(Conflict, match="closed"):
        r.fund(made.id, 1)


def test_closing_refunds_what_live_leases_do_not_reserve() -> None:
    r = Requester(10_000)
    made = r.create()
    r.fund(made.id, 5_000)
    r.lease(made, 3)  # 3 units of 1_050 (reward + 5% fee) stay reserved
    assert made.unit_cost == 1_050
    assert r.close(made.id) == 5_000 - 3 * 1_050
    assert r.balance(ledger.campaign_escrow(made.id)) == 3 * 1_050
    assert r.balance(ledger.requester_available(REQUESTER)) == 5_000 + 5_000 - 3 * 1_050
    assert r.close(made.id) == 0  # closing again refunds nothing more


def test_a_campaign_is_refused_before_anything_is_stored() -> None:
    r = Requester(0)
    with pytest.raises(InvalidInput, match="deadline"):
        r.create(spec(deadline=r.clock.now()))
    with pytest.raises(InvalidInput, match="categorical"):
        r.create(spec(verifier="dawid_skene", output_schema={"type": "object"}))
    with pytest.raises(InvalidInput, match="bug bounties are unavailable"):
        r.create(spec(verifier="bug_reproducer"))  # no sandbox configured
    reader = Principal(REQUESTER, ("campaigns:read",), "api_key:key_1")
    with pytest.raises(Forbidden):
        Requester(0, reader).create()
    assert r.store.rows.work.campaigns == {}


@settings(max_examples=50, deadline=None)
@given(
    funds=st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=5),
    leases=st.integers(min_value=0, max_value=6),
)
def test_funding_then_closing_conserves_the_requesters_money(funds: list[int], leases: int) -> None:
    """Whatever is funded and reserved, the requester's available balance and the escrow
    always sum to the deposit, and closing leaves exactly the reserved units in escrow."""
    deposit = 10**10
    r = Requester(deposit)
    made = r.create()
    funded = 0
    for amount in funds:
        funded = r.fund(made.id, amount)
    r.lease(made, leases)
    refund = r.close(made.id)
    reserved = leases * made.unit_cost
    assert refund == max(funded - reserved, 0)
    escrow = r.balance(ledger.campaign_escrow(made.id))
    assert escrow == min(funded, reserved)
    assert r.balance(ledger.requester_available(REQUESTER)) + escrow == deposit
