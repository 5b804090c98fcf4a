"""The escrow's arithmetic (domain/escrow.py): a campaign's whole life played against it."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from earnest.domain import escrow
from earnest.domain.errors import InvalidInput
from earnest.domain.money import unit_cost


@dataclass
class Books:
    """One campaign's escrow as the services move it, counted independently of the ledger."""

    reward: int
    fee_bps: int
    funded: int = 0
    paid: int = 0  # rewards and fees of accepted units
    refunded: int = 0
    outstanding: int = 0
    closed: bool = False
    rewards: dict[int, int] = field(default_factory=dict)  # accepted units per reward

    @property
    def unit(self) -> int:
        return unit_cost(self.reward, self.fee_bps)

    @property
    def balance(self) -> int:
        return self.funded - self.paid - self.refunded

    def fund(self, amount: int) -> None:
        self.funded += amount

    def lease(self, wanted: int) -> None:
        if not self.closed:
            self.outstanding += min(
                wanted, escrow.leases_affordable(self.balance, self.outstanding, self.unit)
            )

    def accept(self, metered: int | None) -> None:
        if self.outstanding:
            self.outstanding -= 1
            self._pay(escrow.capped_reward(metered, self.reward))

    def expire(self) -> None:
        self.outstanding = max(self.outstanding - 1, 0)

    def overturn(self, metered: int | None) -> None:
        """An appeal upheld: the requester tops the escrow up, then the unit is paid."""
        reward = escrow.capped_reward(metered, self.reward)
        self.funded += escrow.shortfall(
            self.balance, self.outstanding, self.unit, unit_cost(reward, self.fee_bps)
        )
        self._pay(reward)

    def close(self) -> None:
        self.closed = True
        self.refunded += escrow.refund_on_close(self.balance, self.outstanding, self.unit)

    def _pay(self, reward: int) -> None:
        self.paid += unit_cost(reward, self.fee_bps)
        self.rewards[reward] = self.rewards.get(reward, 0) + 1


metered = st.none() | st.integers(-10, 3_000)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("fund"), st.integers(1, 50_000)),
        st.tuples(st.just("lease"), st.integers(1, 100)),
        st.tuples(st.just("accept"), metered),
        st.tuples(st.just("expire"), st.none()),
        st.tuples(st.just("overturn"), metered),
        st.tuples(st.just("close"), st.none()),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(reward=st.integers(1, 2_000), fee_bps=st.integers(0, 10_000), plan=steps)
def test_money_is_conserved_and_every_outstanding_unit_stays_covered(
    reward: int, fee_bps: int, plan: list[tuple[str, int | None]]
) -> None:
    books = Books(reward, fee_bps)
    for action, arg in plan:
        was_closed = books.closed
        getattr(books, action)(*(() if action in ("expire", "close") else (arg,)))
        # Conservation: what was funded was paid, refunded, or is still in the escrow.
        assert books.paid + books.refunded + books.balance == books.funded
        # Never beyond the escrow: it covers every unit that may still be accepted.
        assert books.balance >= escrow.reserved(books.outstanding, books.unit)
        if action == "close" and not was_closed:
            assert books.balance == escrow.reserved(books.outstanding, books.unit)
    assert escrow.spent(books.rewards, 0, 0, fee_bps) == books.paid


@given(
    balance=st.integers(-(10**6), 10**9),
    outstanding=st.integers(0, 10_000),
    unit=st.integers(1, 10**6),
)
def test_one_more_is_one_lease_affordable(balance: int, outstanding: int, unit: int) -> None:
    # The peer-review claim's test, as it read before it moved here.
    assert escrow.covers_one_more(balance, outstanding, unit) is (
        balance >= (outstanding + 1) * unit
    )
    leases = escrow.leases_affordable(balance, outstanding, unit)
    assert leases >= 0
    assert balance >= escrow.reserved(outstanding + leases, unit) or leases == 0
    assert balance < escrow.reserved(outstanding + leases + 1, unit)


@given(reward=st.none() | st.integers(-(10**6), 10**6), cap=st.integers(1, 10**6))
def test_a_capped_reward_never_passes_the_cap(reward: int | None, cap: int) -> None:
    paid = escrow.capped_reward(reward, cap)
    assert 0 <= paid <= cap
    assert paid == (cap if reward is None else min(max(reward, 0), cap))


def test_spent_counts_each_unit_and_each_review_with_its_own_fee() -> None:
    # 333 * 3% rounds down to 9 per unit; summed per unit (as the ledger did), not per total.
    assert escrow.spent({333: 2, 1_000: 1}, reviews=3, review_reward=100, fee_bps=300) == (
        2 * (333 + 9) + (1_000 + 30) + 3 * (100 + 3)
    )
    assert escrow.spent({}, reviews=0, review_reward=100, fee_bps=300) == 0


def test_an_appeal_tops_up_only_what_is_missing() -> None:
    assert escrow.shortfall(1_000, outstanding=2, unit=300, cost=300) == 0
    assert escrow.shortfall(700, outstanding=2, unit=300, cost=300) == 200
    assert escrow.refund_on_close(700, outstanding=2, unit=300) == 100
    assert escrow.refund_on_close(500, outstanding=2, unit=300) == 0


@pytest.mark.parametrize("unit", [0, -1])
def test_a_unit_of_nothing_is_refused(unit: int) -> None:
    with pytest.raises(InvalidInput, match="positive"):
        escrow.leases_affordable(100, 0, unit)


def test_funding_every_unit_takes_units_times_the_unit_cost() -> None:
    assert escrow.funding_for(200, 1_041) == 208_200
    assert escrow.funding_for(0, 1_041) == 0
