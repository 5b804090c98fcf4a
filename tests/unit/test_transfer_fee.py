"""The transfer-fee gross-up: the smallest amount whose fee leaves exactly the reward."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from earnest.domain import ledger
from earnest.domain.errors import InvalidInput
from earnest.domain.transfer_fee import NO_FEE, TransferFee
from earnest.services.payout_cost import transfers_per_transaction

fees = st.builds(
    TransferFee,
    st.integers(0, 10_000),
    st.one_of(st.integers(0, 50), st.integers(0, 2**64 - 1)),
)
amounts = st.integers(0, 10**15)


def test_the_fee_is_rounded_up_and_capped_as_token_2022_does() -> None:
    fee = TransferFee(150, 1_000)
    assert fee.of(1) == 1  # ceil(1 * 150 / 10,000)
    assert fee.of(10_000) == 150
    assert fee.of(10_001) == 151
    assert fee.of(10**9) == 1_000  # the maximum
    assert TransferFee(150, 0).of(10**9) == 0 == NO_FEE.of(10**9)


@given(fees, amounts)
def test_gross_leaves_exactly_the_net_and_is_the_smallest_that_does(
    fee: TransferFee, net: int
) -> None:
    gross = fee.gross(net)
    assert gross - fee.of(gross) == net
    assert gross == net or (gross - 1) - fee.of(gross - 1) < net
    assert fee.on(net) == gross - net <= fee.maximum


@given(fees, amounts, amounts)
def test_one_transfer_of_a_sum_never_costs_more_than_the_parts(
    fee: TransferFee, a: int, b: int
) -> None:
    """Why the reserve never goes short: each unit reserves the fee of its reward sent
    alone, and the settler sends a worker's rewards as one transfer."""
    assert fee.on(a + b) <= fee.on(a) + fee.on(b)


def test_a_full_fee_costs_the_maximum_on_top() -> None:
    assert TransferFee(10_000, 9).gross(100) == 109


@pytest.mark.parametrize(("bps", "maximum"), [(-1, 0), (10_001, 0), (0, -1), (0, 2**64)])
def test_fees_outside_what_token_2022_holds_are_refused(bps: int, maximum: int) -> None:
    with pytest.raises(InvalidInput):
        TransferFee(bps, maximum)


def test_an_accepted_unit_reserves_the_transfer_fee_and_the_payout_spends_it() -> None:
    accept = ledger.accept_unit("accept:a1", "C", "W", reward=1_000, fee=25, transfer_fee=16)
    assert accept.deltas()[ledger.campaign_escrow("C")] == -1_041
    assert accept.deltas()[ledger.TRANSFER_FEES] == 16
    paid = ledger.batch_confirmed("paid:b1", [(ledger.worker_payable("W"), 1_000)], 15)
    assert paid.deltas()[ledger.VAULT] == -1_015  # the vault sent the reward and the fee
    assert paid.deltas()[ledger.TRANSFER_FEES] == -15
    assert paid.deltas()[ledger.worker_payable("W")] == -1_000
    with pytest.raises(InvalidInput):
        ledger.batch_confirmed("paid:b2", [(ledger.worker_payable("W"), 1)], -1)


def test_the_payout_cost_packs_as_many_transfers_as_the_settler_measured() -> None:
    """Batches of 200 payees on LiteSVM: 48 classic, 32 with a transfer fee, 28-29 with a
    fee and one payee in five requiring memos (docs/money.md)."""
    assert transfers_per_transaction(fee=False) == 48
    assert transfers_per_transaction(fee=True) == 32
    assert transfers_per_transaction(fee=True, memo_share=0.2) == 28
