"""Reconciliation: prove the vault on chain holds exactly what the ledger owes, and that every
payout the ledger calls paid moved those very tokens on chain."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from earnest.domain import ledger
from earnest.services.chain_port import Chain, TxState
from earnest.services.identity import Principal, require_operator
from earnest.services.ports import BatchRecord, MoneyStore, PayoutRecord

Batches = Sequence[tuple[BatchRecord, Sequence[PayoutRecord]]]


@dataclass(frozen=True)
class AccountRow:
    """One line of the report: an account as the ledger has it and as the chain has it.

    `chain` is None for ledger accounts with no on-chain counterpart (balances owed).
    """

    account: str
    ledger: int
    chain: int | None = None
    expected_chain: int | None = None  # what the chain should hold, when not `ledger`

    @property
    def ok(self) -> bool:
        wanted = self.ledger if self.expected_chain is None else self.expected_chain
        return self.chain is None or self.chain == wanted


@dataclass
class ReconcileReport:
    slot: int
    vault_onchain: int
    vault_ledger: int
    liabilities: int
    in_flight: int  # landed on chain, not yet recorded by the settler
    accounts: dict[str, int] = field(default_factory=dict)
    rows: list[AccountRow] = field(default_factory=list)
    missing_batches: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "slot": self.slot,
            "vault_onchain": self.vault_onchain,
            "vault_ledger": self.vault_ledger,
            "liabilities": self.liabilities,
            "in_flight": self.in_flight,
            "problems": self.problems,
            "accounts": self.accounts,
            "rows": [
                {"account": r.account, "ledger": r.ledger, "chain": r.chain, "ok": r.ok}
                for r in self.rows
            ],
        }


def reconcile(*, store: MoneyStore, chain: Chain) -> ReconcileReport:
    """Compare ledger and chain, account by account; every difference becomes a problem."""
    with store.uow(readonly=True) as uow:
        balances = uow.ledger.balances()
        unfinished = [(b, uow.payouts.of_batch(b.id)) for b in uow.payouts.unfinished_batches()]
        confirmed = [(b, uow.payouts.of_batch(b.id)) for b in uow.payouts.confirmed_batches()]
    slot = chain.slot()  # stated first: every chain read below is at this slot or later
    vault_ledger = balances.get(ledger.VAULT, 0)
    in_flight = sum(
        sum(p.amount for p in payouts)
        for batch, payouts in unfinished
        if chain.status(batch.signature).state is TxState.CONFIRMED
    )
    report = ReconcileReport(
        slot,
        chain.token_balance(chain.vault),
        vault_ledger,
        sum(v for k, v in balances.items() if k != ledger.VAULT),
        in_flight,
        balances,
    )
    _check_vault(report)
    report.rows += [AccountRow(k, v) for k, v in sorted(balances.items()) if k != ledger.VAULT]
    _check_payouts(report, chain, confirmed)
    return report


def reconcile_as_operator(
    who: Principal, *, operators: Collection[str], store: MoneyStore, chain: Chain
) -> ReconcileReport:
    """`reconcile`, for the market's operators only: the report names every account."""
    require_operator(who, operators)
    return reconcile(store=store, chain=chain)


def _check_vault(report: ReconcileReport) -> None:
    expected = report.vault_ledger - report.in_flight
    report.rows.append(
        AccountRow(ledger.VAULT, report.vault_ledger, report.vault_onchain, expected)
    )
    if report.vault_ledger != report.liabilities:
        report.problems.append(
            f"ledger does not balance: vault {report.vault_ledger} != "
            f"liabilities {report.liabilities}"
        )
    if report.vault_onchain < expected:
        report.problems.append(
            f"vault on chain holds {report.vault_onchain}, ledger expects {expected}: "
            f"shortfall {expected - report.vault_onchain}"
        )
    elif report.vault_onchain > expected:
        report.problems.append(
            f"vault on chain holds {report.vault_onchain - expected} more than the ledger "
            "(a deposit not yet credited with POST /v1/deposits?)"
        )


def _check_payouts(report: ReconcileReport, chain: Chain, confirmed: Batches) -> None:
    """Each confirmed batch must have moved, from the vault, what its payouts say."""
    owed: Counter[str] = Counter()
    landed: Counter[str] = Counter()
    for batch, payouts in confirmed:
        moves = chain.token_transfers(batch.signature)
        if moves is None:
            report.missing_batches.append(batch.signature)
            continue
        got: Counter[str] = Counter()
        for move in moves:
            if move.source == chain.vault and move.mint == chain.mint:
                got[move.destination] += move.arrived
        wanted: Counter[str] = Counter()
        for payout in payouts:
            owed[payout.recipient] += payout.amount
            wanted[chain.token_account(payout.recipient)] += payout.amount
        for recipient in {p.recipient for p in payouts}:
            landed[recipient] += got[chain.token_account(recipient)]
        if got != wanted:
            report.problems.append(
                f"payout {batch.signature} moved {dict(got)} on chain, the ledger says {dict(wanted)}"
            )
    report.rows += [AccountRow(f"paid:{r}", owed[r], landed[r]) for r in sorted(owed)]
    if report.missing_batches:
        report.problems.append(
            f"{len(report.missing_batches)} confirmed payout(s) not found on chain"
        )
