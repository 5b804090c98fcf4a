"""Money use cases: on-chain deposits, withdrawals, balances."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from earnest.domain import ledger
from earnest.domain.errors import Forbidden, InsufficientFunds, InvalidInput, NotFound
from earnest.domain.money import parse_amount
from earnest.domain.transfer_fee import NO_FEE, TransferFee
from earnest.services.chain_port import Chain
from earnest.services.common import new_id
from earnest.services.identity import Principal
from earnest.services.ports import Clock, MoneyStore, PayoutRecord, Random


@dataclass(frozen=True)
class RecordDeposit:
    """Credit the caller with what the on-chain transaction `signature` sent to the vault."""

    who: Principal
    signature: str


@dataclass(frozen=True)
class Withdraw:
    """Queue `amount` base units of the caller's unspent balance back to their wallet."""

    who: Principal
    amount: int


@dataclass(frozen=True)
class Balances:
    available: int
    pending_withdrawal: int
    payable: int  # earned as a worker, not yet on chain


def record_deposit(cmd: RecordDeposit, *, store: MoneyStore, chain: Chain, clock: Clock) -> int:
    """Credit the caller with the tokens a confirmed transaction sent to the vault, once."""
    who, signature = cmd.who, cmd.signature
    who.require("funds:write")
    transfers = chain.token_transfers(signature)
    if transfers is None:
        raise NotFound("no confirmed transaction with that signature on chain")
    to_vault = [t for t in transfers if t.destination == chain.vault]
    if not to_vault:
        raise InvalidInput("that transaction sends nothing to the market vault")
    if any(t.mint != chain.mint for t in to_vault):
        raise InvalidInput("that transaction sends another token than the market's mint")
    if any(t.authority != who.address for t in to_vault):
        raise Forbidden("that deposit was signed by another wallet than the caller's")
    # A transfer-fee mint withholds its fee in the vault: only what arrived is credited.
    amount = parse_amount(sum(t.arrived for t in to_vault), "the deposit")
    now = clock.now()
    with store.uow() as uow:
        uow.deposits.add(signature, who.address, amount, now)
        uow.ledger.post(ledger.deposit(f"deposit:{signature}", who.address, amount), now)
        uow.commit()
    return amount


def withdraw(
    cmd: Withdraw,
    *,
    store: MoneyStore,
    clock: Clock,
    rand: Random,
    transfer_fee: TransferFee = NO_FEE,
) -> PayoutRecord:
    """Queue unspent balance for payment back to the caller's wallet.

    In a transfer-fee mint the wallet still receives `amount` whole: the balance also pays
    what the mint withholds on the way (`transfer_fee.on(amount)`, into the fee reserve).
    """
    who, amount = cmd.who, cmd.amount
    who.require("funds:write")
    parse_amount(amount, positive=True)
    fee = transfer_fee.on(amount)
    now = clock.now()
    payout = PayoutRecord(
        new_id("pay", rand),
        ledger.requester_payable(who.address),
        who.address,
        amount,
        None,
        "pending",
        None,
        now,
    )
    source = ledger.requester_available(who.address)
    moves = (("withdraw", payout.account, amount), ("withdraw-fee", ledger.TRANSFER_FEES, fee))
    entries = [
        ledger.transfer(f"{key}:{payout.id}", "withdraw", source, account, n)
        for key, account, n in moves
        if n
    ]
    with store.uow() as uow:
        available = uow.ledger.balance(ledger.requester_available(who.address))
        if available < amount + fee:
            owed = f"{amount} and its transfer fee {fee}" if fee else str(amount)
            raise InsufficientFunds(f"available balance is {available}, less than {owed}")
        for entry in entries:
            uow.ledger.post(entry, now)
        uow.payouts.add(payout)
        uow.commit()
    return payout


def balances(who: Principal, *, store: MoneyStore) -> Balances:
    with store.uow(readonly=True) as uow:
        return Balances(
            uow.ledger.balance(ledger.requester_available(who.address)),
            uow.ledger.balance(ledger.requester_payable(who.address)),
            uow.ledger.balance(ledger.worker_payable(who.address)),
        )


@dataclass(frozen=True)
class PaidPayout:
    payout: PayoutRecord
    transaction: str | None
    paid_at: datetime | None


def my_payouts(who: Principal, *, store: MoneyStore) -> list[PaidPayout]:
    """The caller's payouts, newest first, each with the transaction that paid it."""
    out = []
    with store.uow(readonly=True) as uow:
        for p in uow.payouts.of_recipient(who.address):
            batch = uow.payouts.batch(p.batch_id) if p.batch_id else None
            paid = batch is not None and batch.status == "confirmed"
            out.append(
                PaidPayout(
                    p,
                    batch.signature if paid and batch else None,
                    batch.confirmed_at if paid and batch else None,
                )
            )
    return out


def settlement_stats(*, store: MoneyStore) -> dict[str, int]:
    """Confirmed transactions and transfers, and the payout backlog by status."""
    with store.uow(readonly=True) as uow:
        return uow.payouts.stats() | uow.payouts.backlog()
