"""Market facts, deposits, withdrawals, balances, payouts, receipts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from earnest.api.deps import Caller, MarketDep
from earnest.api.recorded import recorded
from earnest.api.schemas import AmountIn, BalanceOut, DepositIn, DepositOut, MarketOut, PayoutOut
from earnest.services.funds import RecordDeposit, Withdraw

router = APIRouter(tags=["money"])


@router.get("/market", response_model=MarketOut)
def market_info(m: MarketDep) -> MarketOut:
    """What a client needs to deposit: the mint, its decimals, the vault."""
    stats = m.money.settlement_stats()
    return MarketOut(
        mint=m.chain.mint,
        decimals=m.chain.decimals,
        vault=m.chain.vault,
        vault_owner=m.chain.vault_owner,
        fee_bps=m.settings.fee_bps,
        chain_id=m.settings.chain_id,
        settlement=stats,
    )


@router.post("/deposits", response_model=DepositOut, status_code=201)
@recorded(201)
def deposit(body: DepositIn, who: Caller, m: MarketDep) -> DepositOut:
    """Credit a confirmed on-chain transfer to the vault, once per transaction."""
    amount = m.money.record_deposit(RecordDeposit(who, body.signature))
    return DepositOut(amount=amount, available=m.money.balances(who).available)


@router.post("/withdrawals", response_model=PayoutOut, status_code=201)
def withdraw(body: AmountIn, who: Caller, m: MarketDep) -> PayoutOut:
    """Send unspent balance back to the caller's wallet (settled with the next batch)."""
    return PayoutOut.of(m.money.withdraw(Withdraw(who, body.amount)))


@router.get("/balance", response_model=BalanceOut)
def balance(who: Caller, m: MarketDep) -> BalanceOut:
    b = m.money.balances(who)
    return BalanceOut(
        available=b.available, pending_withdrawal=b.pending_withdrawal, payable=b.payable
    )


@router.get("/payouts", response_model=list[PayoutOut])
def my_payouts(who: Caller, m: MarketDep) -> list[PayoutOut]:
    """The caller's payouts, newest first, with the transaction that paid each."""
    return [PayoutOut.of(x.payout, x.paid_at, x.transaction) for x in m.money.payouts(who)]


@router.get("/receipts/{receipt_id}")
def receipt(receipt_id: str, who: Caller, m: MarketDep) -> dict[str, Any]:
    """A signed verification receipt and its Merkle proof against the payout memo's root."""
    return m.money.receipt(who, receipt_id)
