"""Reconciliation: prove the vault on chain holds exactly what the ledger owes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from earnest.domain import ledger
from earnest.services.chain_port import Chain, TxState
from earnest.services.ports import Store


@dataclass
class ReconcileReport:
    slot: int
    vault_onchain: int
    vault_ledger: int
    liabilities: int
    in_flight: int  # landed on chain, not yet recorded by the settler
    accounts: dict[str, int] = field(default_factory=dict)
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
        }


def reconcile(*, store: Store, chain: Chain) -> ReconcileReport:
    """Compare ledger and chain; every difference becomes a readable problem."""
    with store.uow(readonly=True) as uow:
        balances = uow.ledger.balances()
        unfinished = uow.payouts.unfinished_batches()
        confirmed = uow.payouts.confirmed_batches()
        in_flight_payouts = {
            b.signature: sum(p.amount for p in uow.payouts.of_batch(b.id)) for b in unfinished
        }
    slot = chain.slot()
    vault_ledger = balances.get(ledger.VAULT, 0)
    liabilities = sum(v for k, v in balances.items() if k != ledger.VAULT)
    in_flight = sum(
        amount
        for sig, amount in in_flight_payouts.items()
        if chain.status(sig).state is TxState.CONFIRMED
    )
    report = ReconcileReport(
        slot, chain.token_balance(chain.vault), vault_ledger, liabilities, in_flight, balances
    )
    if vault_ledger != liabilities:
        report.problems.append(
            f"ledger does not balance: vault {vault_ledger} != liabilities {liabilities}"
        )
    expected = vault_ledger - in_flight
    if report.vault_onchain < expected:
        report.problems.append(
            f"vault on chain holds {report.vault_onchain}, ledger expects {expected}: shortfall {expected - report.vault_onchain}"
        )
    elif report.vault_onchain > expected:
        report.problems.append(
            f"vault on chain holds {report.vault_onchain - expected} more than the ledger "
            "(a deposit not yet credited with POST /v1/deposits?)"
        )
    for batch in confirmed:
        if chain.status(batch.signature).state is not TxState.CONFIRMED:
            report.missing_batches.append(batch.signature)
    if report.missing_batches:
        report.problems.append(
            f"{len(report.missing_batches)} confirmed payout(s) not found on chain"
        )
    return report
