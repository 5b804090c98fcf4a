"""Escrow arithmetic: what a campaign's escrow reserves, may still lease, refunds and spent.

A campaign's escrow is what its requester funded, less what accepted units paid (reward and
fee) and what closing refunded. Every unit that may still be accepted, its *outstanding*
units (live leases, answers waiting for a verdict or a review), is reserved at the
campaign's unit cost (`Campaign.unit_cost`: the reward and the fee, and the review's when
peer-reviewed), so the escrow always covers them: a lease is granted only when it does,
closing refunds only what they do not need, and an overturned rejection tops the escrow up
to what they need. The functions take the numbers, not the store, so the services read
them once and every rule is tested without one (tests/unit/test_escrow.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from earnest.domain.errors import InvalidInput
from earnest.domain.money import unit_cost
from earnest.domain.transfer_fee import NO_FEE, TransferFee


def _unit(unit: int) -> int:
    if unit <= 0:
        raise InvalidInput(f"a unit of escrow costs a positive amount, not {unit}")
    return unit


def reserved(outstanding: int, unit: int) -> int:
    """What the escrow holds back for the units that may still be accepted."""
    return max(outstanding, 0) * _unit(unit)


def funding_for(units: int, unit: int) -> int:
    """What funding a campaign takes so that `units` units can all be accepted."""
    return max(units, 0) * _unit(unit)


def leases_affordable(escrow: int, outstanding: int, unit: int) -> int:
    """How many more units the escrow can lease, the outstanding ones staying covered."""
    return max(escrow // _unit(unit) - max(outstanding, 0), 0)


def covers_one_more(escrow: int, outstanding: int, unit: int) -> bool:
    """Whether the escrow pays one more unit on top of every outstanding one (a gold review
    reserves a whole unit though it costs less, so nothing can overspend)."""
    return leases_affordable(escrow, outstanding, unit) >= 1


def refund_on_close(escrow: int, outstanding: int, unit: int) -> int:
    """What closing gives back to the requester: the escrow the outstanding units do not need."""
    return max(escrow - reserved(outstanding, unit), 0)


def shortfall(escrow: int, outstanding: int, unit: int, cost: int) -> int:
    """What the escrow lacks to pay `cost` now and still cover every outstanding unit (an
    overturned rejection: it was not outstanding, its escrow may be promised to others)."""
    return max(cost + reserved(outstanding, unit) - escrow, 0)


def capped_reward(reward: int | None, cap: int) -> int:
    """What an accepted unit earns: a metered reward if there is one, within 0..`cap` (the
    campaign's reward, which is what the escrow reserved); `cap` when there is none."""
    if reward is None:
        return cap
    return max(0, min(reward, cap))


def spent(
    rewards: Mapping[int, int],
    reviews: int,
    review_reward: int,
    fee_bps: int,
    transfer_fee: TransferFee = NO_FEE,
) -> int:
    """What accepted units and paid reviews took from the escrow, fees included.

    `rewards` counts accepted units per reward (metered work is paid a different reward per
    answer), so a fee rounded down per unit is summed as the ledger summed it.
    """
    answers = sum(n * unit_cost(reward, fee_bps, transfer_fee) for reward, n in rewards.items())
    return answers + reviews * unit_cost(review_reward, fee_bps, transfer_fee)
