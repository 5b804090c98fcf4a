"""The double-entry ledger in the SQL store: idempotent entries, no overdraft, always balanced."""

from __future__ import annotations

import pytest

from earnest.bootstrap import Market
from earnest.domain import ledger
from earnest.domain.errors import InsufficientFunds
from earnest.services import funds
from earnest.services.reconcile import reconcile
from earnest.services.settlement import settle_once
from tests.factories import (
    do_unit,
    funded_requester,
    labeling_campaign,
    ledger_balances,
    token_balance,
    unit_cost,
    worker,
)

REQUESTER = "Req1111111111111111111111111111111111111111"


def _post(market: Market, entry: ledger.JournalEntry) -> bool:
    with market.store.uow() as uow:
        applied = uow.ledger.post(entry, market.clock.now())
        uow.commit()
    return applied


def _entry_exists(market: Market, key: str) -> bool:
    with market.store.uow(readonly=True) as uow:
        return uow.ledger.entry_exists(key)


def test_an_entry_is_applied_once_per_key(market: Market) -> None:
    entry = ledger.deposit("deposit:sig-1", REQUESTER, 5_000)
    assert _post(market, entry) is True
    assert _post(market, entry) is False
    # Same key, other amount: still the first entry only.
    assert _post(market, ledger.deposit("deposit:sig-1", REQUESTER, 9_999)) is False
    assert ledger_balances(market) == {
        ledger.VAULT: 5_000,
        ledger.requester_available(REQUESTER): 5_000,
    }
    assert _entry_exists(market, "deposit:sig-1")


def test_an_overdraft_raises_and_changes_nothing(market: Market) -> None:
    _post(market, ledger.deposit("deposit:sig-2", REQUESTER, 5_000))
    before = ledger_balances(market)
    overdraw = ledger.transfer(
        "fund:c1:x",
        "fund",
        ledger.requester_available(REQUESTER),
        ledger.campaign_escrow("c1"),
        5_001,
    )
    with pytest.raises(InsufficientFunds, match=r"requester:.*would go below zero"):
        _post(market, overdraw)
    assert ledger_balances(market) == before
    assert not _entry_exists(market, "fund:c1:x")
    # The whole balance may move: the limit is zero, not one unit above it.
    exact = ledger.transfer(
        "fund:c1:y",
        "fund",
        ledger.requester_available(REQUESTER),
        ledger.campaign_escrow("c1"),
        5_000,
    )
    assert _post(market, exact) is True
    assert ledger_balances(market) == {
        ledger.VAULT: 5_000,
        ledger.requester_available(REQUESTER): 0,
        ledger.campaign_escrow("c1"): 5_000,
    }


def test_the_vault_cannot_be_overdrawn_either(market: Market) -> None:
    _post(market, ledger.deposit("deposit:sig-3", REQUESTER, 100))
    before = ledger_balances(market)
    with pytest.raises(InsufficientFunds):
        _post(
            market,
            ledger.payout_confirmed("paid:p1", ledger.requester_available(REQUESTER), 101),
        )
    assert ledger_balances(market) == before
    assert not _entry_exists(market, "paid:p1")


def test_a_refused_entry_leaves_nothing_behind_in_its_transaction(market: Market) -> None:
    _post(market, ledger.deposit("deposit:sig-4", REQUESTER, 1_000))
    overdraw = ledger.transfer(
        "withdraw:p9",
        "withdraw",
        ledger.requester_available(REQUESTER),
        ledger.requester_payable(REQUESTER),
        1_001,
    )
    with market.store.uow() as uow:
        with pytest.raises(InsufficientFunds):
            uow.ledger.post(overdraw, market.clock.now())
        # The caller goes on with other, valid work in the same transaction.
        uow.ledger.post(ledger.deposit("deposit:sig-5", REQUESTER, 10), market.clock.now())
        uow.commit()
    assert not _entry_exists(market, "withdraw:p9")
    assert ledger_balances(market)[ledger.requester_available(REQUESTER)] == 1_010


def test_the_ledger_balances_through_deposit_fund_accept_withdraw_and_payout(
    market: Market,
) -> None:
    cost = unit_cost(market)
    _, requester = funded_requester(market, 100_000)
    campaign = labeling_campaign(market, requester, tasks=3, overlap=1, fund=3 * cost)
    workers = [worker() for _ in range(3)]
    for w in workers:
        assert do_unit(market, w, campaign.id).decision.value == "accept"
    market.money.withdraw(funds.Withdraw(requester, 10_000))

    def check_balanced() -> dict[str, int]:
        balances = ledger_balances(market)
        assert all(v >= 0 for v in balances.values()), balances
        vault = balances.pop(ledger.VAULT)
        assert vault == sum(balances.values())
        return balances

    owed = check_balanced()
    assert owed[ledger.worker_payable(workers[0].address)] == 1_000
    assert owed[ledger.requester_payable(requester.address)] == 10_000

    report = settle_once(
        store=market.store, chain=market.chain, clock=market.clock, rand=market.rand
    )
    assert report.confirmed >= 1
    after = check_balanced()
    fee = cost - 1_000
    assert ledger_balances(market)[ledger.VAULT] == 100_000 - 3_000 - 10_000
    assert after[ledger.requester_available(requester.address)] == 100_000 - 3 * cost - 10_000
    assert after[ledger.campaign_escrow(campaign.id)] == 0
    assert after[ledger.FEES] == 3 * fee
    assert after[ledger.requester_payable(requester.address)] == 0
    for w in workers:
        assert after[ledger.worker_payable(w.address)] == 0
        assert token_balance(market, w.address) == 1_000
    assert token_balance(market, requester.address) == 10_000
    assert market.chain.token_balance(market.chain.vault) == 87_000
    assert reconcile(store=market.store, chain=market.chain).ok
