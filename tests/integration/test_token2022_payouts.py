"""Payouts in a Token-2022 mint on the real LiteSVM: a transfer fee grossed up so every
worker receives exactly the reward, memo-required payees, and mints the market refuses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction

from earnest.adapters.chain import LocalChain, MintSetup, Wallet, token2022
from earnest.bootstrap import Market, build_market
from earnest.config import Settings
from earnest.domain import ledger
from earnest.domain.errors import InvalidInput
from earnest.domain.transfer_fee import TransferFee
from earnest.domain.work import CampaignSpec
from earnest.services import campaigns
from earnest.services.bonuses import PayBonus
from earnest.services.chain_port import MAX_TRANSACTION_BYTES
from earnest.services.payout_cost import EstimatePayoutCost, estimate_payout_cost
from earnest.services.reconcile import reconcile
from earnest.services.settlement import settle_once
from tests.factories import (
    INPUT_SCHEMA,
    OUTPUT_SCHEMA,
    REWARD,
    do_unit,
    funded_requester,
    labeling_campaign,
    ledger_balances,
    principal,
    token_balance,
    unit_cost,
)


def _market(tmp_path: Path, database_url: str, fee: TransferFee) -> Market:
    settings = Settings(
        data_dir=tmp_path / "market",
        database_url=database_url,
        port=0,
        token_program="spl-token-2022",
        transfer_fee_bps=fee.bps,
        transfer_fee_max=fee.maximum,
    )
    return build_market(settings)


@pytest.fixture(params=[TransferFee(150, 10**12), TransferFee(500, 7)], ids=["bps", "capped"])
def fee_market(
    request: pytest.FixtureRequest, tmp_path: Path, database_url: str
) -> Iterator[Market]:
    """A market whose own mint is Token-2022 with a transfer fee (uncapped, or capped at 7)."""
    m = _market(tmp_path, database_url, request.param)
    yield m
    m.close()


def _require_memos(market: Market, wallet: Wallet) -> None:
    """The payee opens its token account and turns on MemoTransfer, signing as its owner."""
    chain = market.chain
    assert isinstance(chain, LocalChain)
    chain.faucet(wallet.address, 0)
    account = Pubkey.from_string(chain.token_account(wallet.address))
    owner = wallet.keypair.pubkey()
    blockhash = chain.runtime.latest_blockhash()
    ixs = token2022.require_memos(account, owner)
    chain.submit(bytes(Transaction([wallet.keypair], Message(ixs, owner), blockhash)))
    assert chain.memo_required([wallet.address]) == {wallet.address}


def test_fee_mint_payees_receive_exactly_their_rewards(fee_market: Market) -> None:
    market = fee_market
    terms = market.chain.mint_terms()
    assert terms.program == "spl-token-2022" and terms.transfer_fee.charged
    crew = [Wallet.generate() for _ in range(50)]
    memo_payees = crew[::5]  # 10 of 50 require a memo before every incoming transfer
    for wallet in memo_payees:
        _require_memos(market, wallet)
    units = [1 + i % 3 for i in range(len(crew))]
    _, requester = funded_requester(market, sum(units) * unit_cost(market) + 1_000)
    campaign = labeling_campaign(market, requester, tasks=sum(units), overlap=1)
    assert campaign.transfer_fee == terms.fee_ceiling
    assert campaign.unit_cost == unit_cost(market) > REWARD + REWARD * campaign.fee_bps // 10_000
    addresses = tuple(w.address for w in crew)
    cost = estimate_payout_cost(
        EstimatePayoutCost(requester, campaign.id, len(crew), addresses),
        store=market.store,
        chain=market.chain,
    )
    assert (cost.units, cost.new_accounts, cost.existing_accounts) == (sum(units), 40, 10)
    assert cost.memo_payees == 10 and cost.account_size == 182
    assert cost.budget == sum(units) * campaign.unit_cost
    for wallet, n in zip(crew, units, strict=True):
        for _ in range(n):
            assert (
                do_unit(market, principal(wallet.address), campaign.id).decision.value == "accept"
            )

    report = settle_once(
        store=market.store, chain=market.chain, clock=market.clock, rand=market.rand
    )

    assert report.dropped == 0 and report.confirmed == report.sent >= 1
    for wallet, n in zip(crew, units, strict=True):
        assert token_balance(market, wallet.address) == n * REWARD  # exactly, fee and all
    balances = ledger_balances(market)
    assert market.chain.token_balance(market.chain.vault) == balances[ledger.VAULT]
    assert balances.get(ledger.TRANSFER_FEES, 0) >= 0  # the escrow covered every fee
    with market.store.uow(readonly=True) as uow:
        batches = uow.payouts.confirmed_batches()
    assert sum(b.transfers for b in batches) == len(crew)
    assert all(b.size <= MAX_TRANSACTION_BYTES for b in batches)
    assert len(batches) <= cost.transactions  # the estimate prices the most it can take
    withheld = sum(b.transfer_fees or 0 for b in batches)
    assert withheld <= cost.token_transfer_fees
    assert withheld == sum(terms.transfer_fee.on(n * REWARD) for n in units) > 0
    rec = reconcile(store=market.store, chain=market.chain)
    assert rec.ok, rec.problems


def test_a_withdrawal_in_a_fee_mint_arrives_whole(fee_market: Market) -> None:
    market = fee_market
    fee = market.chain.transfer_fee()
    wallet, requester = funded_requester(market, 50_000)
    before = token_balance(market, wallet.address)
    market.money.withdraw(_withdraw(requester, 20_000))
    settle_once(store=market.store, chain=market.chain, clock=market.clock, rand=market.rand)
    assert token_balance(market, wallet.address) - before == 20_000
    balances = ledger_balances(market)
    assert balances[ledger.requester_available(wallet.address)] == 30_000 - fee.on(20_000)
    assert reconcile(store=market.store, chain=market.chain).ok


def _withdraw(who: object, amount: int) -> object:
    from earnest.services.funds import Withdraw

    return Withdraw(who, amount)  # type: ignore[arg-type]


def _spec() -> CampaignSpec:
    return CampaignSpec(
        type="labeling",
        title="Label short texts",
        instructions="Pick a, b or c.",
        input_schema=INPUT_SCHEMA,
        output_schema=OUTPUT_SCHEMA,
        reward=REWARD,
    )


@pytest.mark.parametrize(
    ("extension", "reason"),
    [
        ("non-transferable", "non-transferable"),
        ("permanent-delegate", "permanent delegate"),
        ("default-frozen", "start frozen"),
        ("transfer-hook", "transfer hook"),
        ("pausable", "pause"),
    ],
)
def test_a_mint_the_market_cannot_honour_is_refused_at_campaign_creation(
    market: Market, tmp_path: Path, extension: str, reason: str
) -> None:
    setup = MintSetup(token_2022=True, refused=(extension,))
    with LocalChain.open(tmp_path / "other.sqlite", Keypair(), mint=setup) as chain:
        terms = chain.mint_terms()
    assert terms.refused is not None and reason in terms.refused
    who = principal(Wallet.generate().address)
    with pytest.raises(InvalidInput, match=f"cannot pay rewards in its mint: .*{reason}"):
        campaigns.create_campaign(
            campaigns.CreateCampaign(who, _spec()),
            fee_bps=250,
            store=market.store,
            clock=market.clock,
            rand=market.rand,
            mint=terms,
        )
    with market.store.uow(readonly=True) as uow:
        assert uow.campaigns.of_requester(who.address) == []


def test_a_classic_six_decimal_mint_has_nothing_refused_and_classic_rent(market: Market) -> None:
    terms = market.chain.mint_terms()
    assert (terms.program, terms.decimals, terms.refused) == ("spl-token", 6, None)
    assert (terms.account_size, terms.account_rent) == (165, 2_039_280)
    assert not terms.transfer_fee.charged


def test_a_new_fee_mint_payee_account_costs_the_rent_of_its_real_size(fee_market: Market) -> None:
    chain = fee_market.chain
    assert isinstance(chain, LocalChain)
    terms = chain.mint_terms()
    wallet = Wallet.generate()
    chain.faucet(wallet.address, 0)  # the market's idempotent ATA create, as for a new payee
    account = chain.runtime.account(Pubkey.from_string(chain.token_account(wallet.address)))
    assert account is not None
    assert (len(account.data), account.lamports) == (terms.account_size, terms.account_rent)
    assert terms.account_size > 165 and terms.account_rent > 2_039_280


def test_a_bonus_in_a_fee_mint_arrives_whole(fee_market: Market) -> None:
    market = fee_market
    wallet, requester = funded_requester(market, 20 * unit_cost(market))
    campaign = labeling_campaign(market, requester, tasks=2, overlap=1)
    worker = Wallet.generate()
    for _ in range(2):
        assert do_unit(market, principal(worker.address), campaign.id).decision.value == "accept"
    before = ledger_balances(market)[ledger.requester_available(wallet.address)]
    bonus = PayBonus(requester, campaign.id, worker.address, 5_000, "careful work")
    record = market.campaigns.bonus(bonus)
    settle_once(store=market.store, chain=market.chain, clock=market.clock, rand=market.rand)
    assert token_balance(market, worker.address) == 2 * REWARD + 5_000
    spent = before - ledger_balances(market)[ledger.requester_available(wallet.address)]
    assert spent == 5_000 + record.fee + campaign.transfer_fee.on(5_000)
    assert reconcile(store=market.store, chain=market.chain).ok
