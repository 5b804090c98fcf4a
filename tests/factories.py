"""Factories for integration tests: funded requesters, labeling campaigns, workers, a clock.

Everything goes through the real use cases, the real SQL store and the real LocalChain;
nothing here fakes a port except the clock and randomness, which tests must control.
"""

from __future__ import annotations

import random
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from earnest.adapters.chain import Wallet
from earnest.bootstrap import Market
from earnest.demo.funds import faucet_deposit
from earnest.domain.work import DEFAULT_MAX_LEASES, Campaign, CampaignSpec
from earnest.services import answers, campaigns, funds, uploads, work
from earnest.services.identity import SESSION_SCOPES, Principal
from earnest.services.ports import Clock, Random
from earnest.services.uploads import TaskLine

LABELS = ("a", "b", "c")
INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["text"],
    "properties": {"text": {"type": "string"}},
}
OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["label"],
    "properties": {"label": {"enum": list(LABELS)}},
    "additionalProperties": False,
}
REWARD = 1_000


class FakeClock:
    """A clock that moves only when told to (aware UTC)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC).replace(microsecond=0)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)


class FixedRandom:
    """`random()` always returns `value` (decides gold or not); tokens stay unique."""

    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value

    def token(self, nbytes: int) -> str:
        return secrets.token_urlsafe(nbytes)


class SeededRandom(FixedRandom):
    """`random()` from a seeded generator: draws that vary, the same ones every run."""

    def __init__(self, seed: int) -> None:
        super().__init__(0.0)
        self._draws = random.Random(seed)

    def random(self) -> float:
        return self._draws.random()


def principal(address: str) -> Principal:
    """A wallet session for `address` with every scope."""
    return Principal(address, SESSION_SCOPES, "session")


def worker() -> Principal:
    """A worker: a session for a brand-new wallet (no token account on chain yet)."""
    return principal(Wallet.generate().address)


def unit_cost(market: Market, reward: int = REWARD) -> int:
    """What escrow pays per accepted unit at this market's fee (and its mint's transfer fee)."""
    transfer_fee = market.chain.mint_terms().fee_ceiling.on(reward)
    return reward + reward * market.settings.fee_bps // 10_000 + transfer_fee


def funded_requester(
    market: Market, amount: int, *, clock: Clock | None = None
) -> tuple[Wallet, Principal]:
    """A new wallet given `amount` tokens by the faucet, all deposited and credited."""
    wallet = Wallet.generate()
    signature = faucet_deposit(market, wallet, amount)
    who = principal(wallet.address)
    credited = funds.record_deposit(
        funds.RecordDeposit(who, signature),
        store=market.store,
        chain=market.chain,
        clock=clock or market.clock,
    )
    assert credited == amount
    return wallet, who


def labeling_campaign(
    market: Market,
    who: Principal,
    *,
    tasks: int,
    gold: int = 0,
    overlap: int = 3,
    reward: int = REWARD,
    fund: int | None = None,
    gold_share: float = 0.0,
    lease_seconds: int = 600,
    max_leases: int = DEFAULT_MAX_LEASES,
    clock: Clock | None = None,
    rand: Random | None = None,
) -> Campaign:
    """A funded, active labeling campaign: the first `gold` tasks are gold.

    Gold task i has the hidden answer {"label": LABELS[i % 3]}. `fund` defaults to every
    slot of every task (tasks x overlap units).
    """
    clock = clock or market.clock
    rand = rand or market.rand
    spec = CampaignSpec(
        type="labeling",
        title="Label short texts",
        instructions="Pick a, b or c.",
        input_schema=INPUT_SCHEMA,
        output_schema=OUTPUT_SCHEMA,
        reward=reward,
        overlap=overlap,
        gold_share=gold_share,
        lease_seconds=lease_seconds,
        max_leases=max_leases,
    )
    campaign = campaigns.create_campaign(
        campaigns.CreateCampaign(who, spec),
        fee_bps=market.settings.fee_bps,
        store=market.store,
        clock=clock,
        rand=rand,
        mint=market.chain.mint_terms(),
    )
    lines = []
    for i in range(tasks):
        value: dict[str, Any] = {"id": f"t{i}", "data": {"text": f"item {i}"}}
        if i < gold:
            value["gold"] = {"label": LABELS[i % 3]}
        lines.append(TaskLine(i + 1, value))
    if tasks:
        assert uploads.add_tasks(who, campaign.id, lines, store=market.store).added == tasks
    amount = fund if fund is not None else tasks * overlap * unit_cost(market, reward)
    campaigns.fund_campaign(
        campaigns.FundCampaign(who, campaign.id, amount), store=market.store, clock=clock, rand=rand
    )
    return campaign


def claim(
    market: Market,
    who: Principal,
    campaign_id: str | None,
    *,
    clock: Clock | None = None,
    rand: Random | None = None,
) -> work.Claim:
    return work.claim_task(
        work.ClaimTask(who, campaign_id),
        store=market.store,
        clock=clock or market.clock,
        rand=rand or market.rand,
    )


def submit(
    market: Market,
    who: Principal,
    assignment_id: str,
    answer: Any,
    *,
    clock: Clock | None = None,
) -> answers.SubmitResult:
    return answers.submit_work(
        answers.SubmitAnswer(who, assignment_id, answer),
        store=market.store,
        crypto=market.crypto,
        clock=clock or market.clock,
        rand=market.rand,
    )


def do_unit(
    market: Market, who: Principal, campaign_id: str, label: str = "a"
) -> answers.SubmitResult:
    """Claim one task of the campaign and answer it."""
    got = claim(market, who, campaign_id)
    return submit(market, who, got.assignment.id, {"label": label})


def balance(market: Market, account: str) -> int:
    with market.store.uow(readonly=True) as uow:
        return uow.ledger.balance(account)


def ledger_balances(market: Market) -> dict[str, int]:
    with market.store.uow(readonly=True) as uow:
        return uow.ledger.balances()


def token_balance(market: Market, owner: str) -> int:
    """Tokens held on chain by wallet `owner` (its associated token account)."""
    return market.chain.token_balance(market.chain.token_account(owner))


def slots(market: Market, campaign_id: str) -> tuple[dict[int, int], dict[int, int]]:
    """Per task of the campaign: its assignments, and its `filled` counter."""
    from sqlalchemy import func, select

    from earnest.adapters.store.tables import assignments, tasks

    with market.store.engine.connect() as conn:
        per_task = conn.execute(
            select(assignments.c.task_id, func.count())
            .where(assignments.c.campaign_id == campaign_id)
            .group_by(assignments.c.task_id)
        ).all()
        filled = conn.execute(
            select(tasks.c.id, tasks.c.filled).where(tasks.c.campaign_id == campaign_id)
        ).all()
    return dict(per_task), dict(filled)
