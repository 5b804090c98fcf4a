"""Double-entry ledger rules: accounts, postings, balanced journal entries.

A posting's amount is signed: positive debits the account, negative credits it. Every entry
sums to zero. An account's *balance* is read on its normal side (debit-normal assets such as
the vault are positive when debited; credit-normal liabilities when credited), and no
account's balance may go below zero unless it is a contra account.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from earnest.domain.errors import InsufficientFunds, InvalidInput
from earnest.domain.money import parse_amount


class Side(StrEnum):
    DEBIT = "debit"
    CREDIT = "credit"


VAULT = "chain:vault"
FEES = "market:fees"
# What escrows paid toward the mint's transfer fees and payouts have not yet spent on them
# (docs/money.md, "Transfer-fee mints"). It may go below zero: if the mint's authority
# raises its fee after a campaign reserved it, the market bears the difference.
TRANSFER_FEES = "market:transfer_fees"


def requester_available(address: str) -> str:
    return f"requester:{address}:available"


def requester_payable(address: str) -> str:
    """What a requester has asked to withdraw and the settler has not yet sent."""
    return f"requester:{address}:payable"


def campaign_escrow(campaign_id: str) -> str:
    return f"campaign:{campaign_id}:escrow"


def worker_payable(address: str) -> str:
    return f"worker:{address}:payable"


def normal_side(account: str) -> Side:
    """The vault is the one asset the market holds; everything else is owed to someone."""
    return Side.DEBIT if account == VAULT else Side.CREDIT


def is_contra(account: str) -> bool:
    """Only the transfer-fee reserve may go below zero (a fee raised after it was reserved);
    every other balance must stay at or above zero."""
    return account == TRANSFER_FEES


def liability_accounts_prefixes() -> tuple[str, ...]:
    return ("requester:", "campaign:", "worker:", FEES, TRANSFER_FEES)


@dataclass(frozen=True)
class Posting:
    account: str
    amount: int  # > 0 debit, < 0 credit, base units

    def balance_delta(self) -> int:
        """How this posting moves the account's balance on its normal side."""
        return self.amount if normal_side(self.account) is Side.DEBIT else -self.amount


@dataclass(frozen=True)
class JournalEntry:
    """One balanced movement of money, applied at most once per idempotency key."""

    key: str
    kind: str
    postings: tuple[Posting, ...]
    memo: str = ""
    meta: dict[str, object] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not self.key:
            raise InvalidInput("a journal entry needs an idempotency key")
        if len(self.postings) < 2:
            raise InvalidInput("a journal entry needs at least two postings")
        for p in self.postings:
            if not isinstance(p.amount, int) or isinstance(p.amount, bool):
                raise InvalidInput(f"amount for {p.account} must be an integer of base units")
            if p.amount == 0:
                raise InvalidInput(f"zero posting to {p.account}")
        if sum(p.amount for p in self.postings) != 0:
            raise InvalidInput(f"journal entry {self.key} does not balance")

    def deltas(self) -> dict[str, int]:
        """Net balance change per account (normal side)."""
        out: dict[str, int] = defaultdict(int)
        for p in self.postings:
            out[p.account] += p.balance_delta()
        return dict(out)


def transfer(
    key: str, kind: str, source: str, dest: str, amount: int, memo: str = ""
) -> JournalEntry:
    """An entry moving `amount` from one liability-side account to another (or from the vault)."""
    parse_amount(amount, positive=True)
    return JournalEntry(
        key=key,
        kind=kind,
        postings=(_decrease(source, amount), _increase(dest, amount)),
        memo=memo,
    )


def _increase(account: str, amount: int) -> Posting:
    return Posting(account, amount if normal_side(account) is Side.DEBIT else -amount)


def _decrease(account: str, amount: int) -> Posting:
    return Posting(account, -amount if normal_side(account) is Side.DEBIT else amount)


def deposit(key: str, requester: str, amount: int) -> JournalEntry:
    """Tokens arrived in the vault on chain: the market now owes them to the requester."""
    parse_amount(amount, "deposit amount", positive=True)
    return JournalEntry(
        key,
        "deposit",
        (_increase(VAULT, amount), _increase(requester_available(requester), amount)),
    )


def payout_confirmed(key: str, payable_account: str, amount: int) -> JournalEntry:
    """Tokens left the vault on chain: the debt to the recipient is paid."""
    return JournalEntry(
        key, "payout", (_decrease(payable_account, amount), _decrease(VAULT, amount))
    )


def batch_confirmed(
    key: str, paid: Iterable[tuple[str, int]], transfer_fees: int = 0
) -> JournalEntry:
    """A payout transaction landed: each (payable account, amount) it paid is settled, and
    the vault gives up their sum. One entry per transaction, one posting per account paid
    (a worker's payouts owed at once travel in one transfer). `transfer_fees` is what the
    mint withheld on top of the rewards sent whole: the reserve pays it, the vault sent it."""
    per_account: dict[str, int] = {}
    for account, amount in paid:
        if amount <= 0:
            raise InvalidInput("a payout amount must be a positive integer of base units")
        per_account[account] = per_account.get(account, 0) + amount
    postings = [_decrease(account, amount) for account, amount in sorted(per_account.items())]
    if transfer_fees < 0:
        raise InvalidInput("a transfer fee is a non-negative integer of base units")
    if transfer_fees:
        postings.append(_decrease(TRANSFER_FEES, transfer_fees))
    total = sum(per_account.values()) + transfer_fees
    return JournalEntry(key, "payout", (*postings, _decrease(VAULT, total)))


def accept_unit(
    key: str, campaign_id: str, worker: str, reward: int, fee: int, transfer_fee: int = 0
) -> JournalEntry:
    """An accepted unit: escrow pays the worker's reward, the market fee and, with a
    transfer-fee mint, what sending the reward whole costs, in one entry."""
    postings = [
        _decrease(campaign_escrow(campaign_id), reward + fee + transfer_fee),
        _increase(worker_payable(worker), reward),
    ]
    if fee:
        postings.append(_increase(FEES, fee))
    if transfer_fee:
        postings.append(_increase(TRANSFER_FEES, transfer_fee))
    return JournalEntry(key, "accept", tuple(postings))


def bonus(
    key: str, requester: str, worker: str, amount: int, fee: int, transfer_fee: int = 0
) -> JournalEntry:
    """A bonus: the requester's balance pays the worker's payable, the market fee and, in a
    transfer-fee mint, what sending the bonus whole costs."""
    parse_amount(amount, "bonus", positive=True)
    postings = [
        _decrease(requester_available(requester), amount + fee + transfer_fee),
        _increase(worker_payable(worker), amount),
    ]
    if fee:
        postings.append(_increase(FEES, fee))
    if transfer_fee:
        postings.append(_increase(TRANSFER_FEES, transfer_fee))
    return JournalEntry(key, "bonus", tuple(postings))


def merged(entries: Sequence[JournalEntry]) -> JournalEntry:
    """Entries of one kind as one entry: one posting per account, their amounts summed.

    The balances move exactly as the entries' would. One entry stays itself; several get a
    key made of theirs (`<kind>s:` and a hash of their sorted keys), so the same entries
    merge to the same key, and a memo that counts them. Their own keys are not recorded:
    merge only entries that something else already makes once (an accept is made once by
    its assignment's change of status, in the same transaction).
    """
    if not entries:
        raise InvalidInput("nothing to merge")
    if len(entries) == 1:
        return entries[0]
    kinds = {e.kind for e in entries}
    if len(kinds) != 1:
        raise InvalidInput(f"cannot merge entries of kinds {sorted(kinds)}")
    kind = entries[0].kind
    per_account: dict[str, int] = defaultdict(int)
    for e in entries:
        for p in e.postings:
            per_account[p.account] += p.amount
    keys = "\n".join(sorted(e.key for e in entries))
    return JournalEntry(
        f"{kind}s:{hashlib.sha256(keys.encode()).hexdigest()}",
        kind,
        tuple(Posting(a, amount) for a, amount in sorted(per_account.items()) if amount),
        memo=f"{len(entries)} {kind} entries",
    )


def check_balances(balances: dict[str, int], accounts: Iterable[str]) -> None:
    """Raise if any non-contra account in `accounts` has a negative balance."""
    for account in accounts:
        if balances.get(account, 0) < 0 and not is_contra(account):
            raise InsufficientFunds(f"{account} would go below zero", account=account)
