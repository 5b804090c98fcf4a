"""Withdrawals and balances, on the use cases over the in-memory money store (tests/fakes).

Deposits are read back from the real chain (tests/integration/test_deposits.py); here a
requester's credit is posted as the deposit use case posts it.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from earnest.adapters.system import SystemRandom
from earnest.domain import ledger
from earnest.domain.errors import AlreadyDone, Forbidden, InsufficientFunds, InvalidInput
from earnest.services import funds
from earnest.services.identity import Principal
from earnest.services.ports import BatchRecord, PayoutRecord
from tests.factories import FakeClock, principal
from tests.fakes import FakeStore

WALLET = "Req1111111111111111111111111111111111111111"


def credited(amount: int, who: Principal | None = None) -> tuple[FakeStore, Principal]:
    """A store where `who` has `amount` available, as a recorded deposit leaves it."""
    store, who = FakeStore(), who or principal(WALLET)
    with store.uow() as uow:
        uow.ledger.post(
            ledger.deposit(f"deposit:sig{amount}", who.address, amount), FakeClock().now()
        )
        uow.commit()
    return store, who


def withdraw(
    store: FakeStore, who: Principal, amount: int, clock: FakeClock | None = None
) -> PayoutRecord:
    return funds.withdraw(
        funds.Withdraw(who, amount), store=store, clock=clock or FakeClock(), rand=SystemRandom()
    )


def test_a_withdrawal_moves_available_to_pending_and_queues_one_payout() -> None:
    store, who = credited(10_000)
    payout = withdraw(store, who, 4_000)
    assert (payout.amount, payout.recipient, payout.status) == (4_000, who.address, "pending")
    assert payout.account == ledger.requester_payable(who.address)
    assert payout.receipt_id is None  # a withdrawal carries no receipt
    assert funds.balances(who, store=store) == funds.Balances(6_000, 4_000, 0)
    assert [p.payout for p in funds.my_payouts(who, store=store)] == [payout]


def test_over_withdrawal_is_refused_and_queues_nothing() -> None:
    store, who = credited(6_000)
    with pytest.raises(InsufficientFunds, match="6000"):
        withdraw(store, who, 6_001)
    assert funds.balances(who, store=store) == funds.Balances(6_000, 0, 0)
    assert funds.my_payouts(who, store=store) == []
    for bad in (0, -5):
        with pytest.raises(InvalidInput):
            withdraw(store, who, bad)
    assert funds.balances(who, store=store) == funds.Balances(6_000, 0, 0)
    assert store.rows.money.payouts == {}


def test_a_key_without_the_funds_scope_cannot_withdraw() -> None:
    reader = Principal(WALLET, ("campaigns:read",), "api_key:key_1")
    store, _ = credited(1_000, reader)
    with pytest.raises(Forbidden, match="funds:write"):
        withdraw(store, reader, 500)
    assert funds.balances(reader, store=store).available == 1_000


def test_another_wallets_balance_is_not_spendable() -> None:
    store, _ = credited(5_000)
    other = principal("Oth1111111111111111111111111111111111111111")
    with pytest.raises(InsufficientFunds):
        withdraw(store, other, 1)
    assert funds.balances(other, store=store) == funds.Balances(0, 0, 0)


def test_payouts_are_newest_first_and_show_the_transaction_only_once_confirmed() -> None:
    store, who = credited(9_000)
    clock = FakeClock()
    first = withdraw(store, who, 1_000, clock)
    clock.advance(60)
    second = withdraw(store, who, 2_000, clock)
    assert [p.payout.id for p in funds.my_payouts(who, store=store)] == [second.id, first.id]
    batch = BatchRecord(
        "bat_1", "sent", "sig_1", b"", "hash", 100, "root", [], 1, 200, clock.now(), None
    )
    with store.uow() as uow:
        uow.payouts.add_batch(batch, [first.id])
        uow.commit()
    [_, sent] = funds.my_payouts(who, store=store)
    assert (sent.payout.status, sent.transaction, sent.paid_at) == ("batched", None, None)
    paid_at = clock.now() + timedelta(seconds=5)
    with store.uow() as uow:
        assert uow.payouts.mark_paid(["bat_1"], paid_at) == {
            "bat_1": [(ledger.requester_payable(who.address), 1_000)]
        }
        with pytest.raises(AlreadyDone):  # a paid payout is never batched again
            uow.payouts.add_batch(replace(batch, id="bat_2"), [first.id])
        uow.commit()
    [_, paid] = funds.my_payouts(who, store=store)
    assert (paid.payout.status, paid.transaction, paid.paid_at) == ("paid", "sig_1", paid_at)
    assert funds.settlement_stats(store=store)["pending_amount"] == 2_000


@settings(max_examples=60, deadline=None)
@given(
    deposit=st.integers(min_value=1, max_value=10**12),
    asks=st.lists(st.integers(min_value=-3, max_value=10**12), max_size=12),
)
def test_withdrawals_never_overdraw_and_conserve_the_deposit(deposit: int, asks: list[int]) -> None:
    """Whatever is asked, each withdrawal is granted whole or refused whole: available and
    pending always sum to the deposit, and the payouts queued are the ones granted."""
    store, who = credited(deposit)
    granted = []
    for amount in asks:
        with contextlib.suppress(InsufficientFunds, InvalidInput):
            granted.append(withdraw(store, who, amount).amount)
        b = funds.balances(who, store=store)
        assert b.available >= 0
        assert b.available + b.pending_withdrawal == deposit
    assert funds.balances(who, store=store).pending_withdrawal == sum(granted)
    assert sorted(p.amount for p in store.rows.money.payouts.values()) == sorted(granted)
    expected = deposit
    for amount in asks:
        if 0 < amount <= expected:
            expected -= amount
    assert funds.balances(who, store=store).available == expected
