"""Reputation per worker per skill: a Beta posterior over the evidence, never a raw ratio.

Each event is a piece of evidence (a control answer, a consensus outcome, a review, an
appeal), good or bad, weighted by its kind. The posterior is Beta(prior_good + good weight,
prior_bad + bad weight), so a newcomer starts at the prior mean instead of 0/0, and one
answer moves a new worker less than a raw ratio would. The bad weight any one requester's
events contribute is capped, so a single requester's mass rejection moves a worker's score
by a bounded amount (see `bounded_effect`). A reversed event (an overturned rejection) no
longer counts. `lower_bound`, the 5% quantile of the posterior, is the conservative score a
campaign gates on: it stays low until there is enough evidence.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

LOWER_QUANTILE = 0.05

# The regularized incomplete beta function is written here because scipy is not a runtime
# dependency and numpy has no special functions. Numerical Recipes (3rd ed., 6.4): a
# continued fraction evaluated by the modified Lentz method, which converges in O(sqrt(max(a,
# b))) terms, so the iteration cap only guards against a bug, not against large posteriors.
_EPS = 1e-15
_TINY = 1e-300
_MAX_TERMS = 100_000


def _check_number(name: str, value: float, *, positive: bool) -> None:
    if isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be {'positive' if positive else 'at least 0'}")


class EvidenceKind(StrEnum):
    GOLD = "gold"
    CONSENSUS = "consensus"
    REVIEW = "review"
    APPEAL = "appeal"


@dataclass(frozen=True)
class ReputationEvent:
    """One piece of evidence about a worker in a skill; `reversed` ones no longer count."""

    id: str
    kind: EvidenceKind
    good: bool
    requester: str  # whose campaign produced it
    campaign_id: str
    at: datetime
    reason: str
    reversed: bool = False


@dataclass(frozen=True)
class ReputationPolicy:
    """The prior, the weight of each kind of evidence, and the cap on any one requester.

    The default prior Beta(2, 1) starts a newcomer at 2/3. Consensus weighs half as much as
    the other kinds because disagreeing with a majority is weaker evidence than failing a
    control task or a requester's review. `max_bad_per_requester` is the most bad weight
    the events of any one requester can add to a worker's posterior.
    """

    prior_good: float = 2.0
    prior_bad: float = 1.0
    gold_weight: float = 1.0
    consensus_weight: float = 0.5
    review_weight: float = 1.0
    appeal_weight: float = 1.0
    max_bad_per_requester: float = 3.0

    def __post_init__(self) -> None:
        for name in ("prior_good", "prior_bad", "max_bad_per_requester"):
            _check_number(name, getattr(self, name), positive=True)
        for kind in EvidenceKind:
            _check_number(f"{kind.value}_weight", self.weight(kind), positive=False)

    def weight(self, kind: EvidenceKind | str) -> float:
        """The nominal weight of one event of `kind`."""
        weights = {
            EvidenceKind.GOLD: self.gold_weight,
            EvidenceKind.CONSENSUS: self.consensus_weight,
            EvidenceKind.REVIEW: self.review_weight,
            EvidenceKind.APPEAL: self.appeal_weight,
        }
        return weights[EvidenceKind(kind)]


DEFAULT_POLICY = ReputationPolicy()


@dataclass(frozen=True)
class Reputation:
    """A Beta(good, bad) posterior and how many events (not reversed) produced it."""

    good: float
    bad: float
    events: int = 0

    def __post_init__(self) -> None:
        _check_number("good", self.good, positive=True)
        _check_number("bad", self.bad, positive=True)
        if self.events < 0:
            raise ValueError("events must not be negative")

    @property
    def mean(self) -> float:
        """The posterior mean: the expected share of good outcomes."""
        return self.good / (self.good + self.bad)

    @property
    def lower_bound(self) -> float:
        """A conservative score: the 5% quantile of the posterior."""
        return beta_quantile(LOWER_QUANTILE, self.good, self.bad)

    def as_dict(self) -> dict[str, Any]:
        """The reputation as plain JSON values (for storage and the API)."""
        return {
            "good": round(self.good, 6),
            "bad": round(self.bad, 6),
            "events": self.events,
            "mean": round(self.mean, 6),
            "lower_bound": round(self.lower_bound, 6),
        }


def reputation(
    events: Iterable[ReputationEvent], policy: ReputationPolicy = DEFAULT_POLICY
) -> Reputation:
    """The posterior from `events`: prior plus good weight plus capped bad weight."""
    live = [e for e in _distinct(events) if not e.reversed]
    good = math.fsum(policy.weight(e.kind) for e in live if e.good)
    cap = policy.max_bad_per_requester
    bad = math.fsum(min(total, cap) for total in _bad_by_requester(live, policy).values())
    return Reputation(policy.prior_good + good, policy.prior_bad + bad, len(live))


def bounded_effect(policy: ReputationPolicy, before: Reputation | None = None) -> float:
    """The most one requester's events can lower `mean` (from `before`, else from any state).

    `before` is the posterior Beta(a, b) without that requester's events. Adding bad weight c
    lowers the mean by a·c / ((a+b)(a+b+c)), which grows with c, and c is at most
    `max_bad_per_requester`; the requester's good events only raise the mean. Without
    `before`, the bound holds for every state: the drop shrinks as b grows, so b is the
    prior's, and over a it peaks at a = sqrt(b·(b+c)), or at the prior's a if that is larger.
    """
    cap = policy.max_bad_per_requester
    if before is None:
        bad = policy.prior_bad
        good = max(policy.prior_good, math.sqrt(bad * (bad + cap)))
    else:
        good, bad = before.good, before.bad
    total = good + bad
    return good * cap / (total * (total + cap))


def explain(
    events: Iterable[ReputationEvent], policy: ReputationPolicy = DEFAULT_POLICY
) -> list[dict[str, Any]]:
    """The history behind a score, newest first, with the weight each event actually counted."""
    rows = sorted(_counted(events, policy), key=lambda row: (row[0].at, row[0].id), reverse=True)
    return [
        {
            "id": e.id,
            "kind": EvidenceKind(e.kind).value,
            "good": e.good,
            "reversed": e.reversed,
            "weight": round(weight, 6),
            "capped": not e.reversed and weight < policy.weight(e.kind),
            "requester": e.requester,
            "campaign": e.campaign_id,
            "reason": e.reason,
            "at": e.at.isoformat(),
        }
        for e, weight in rows
    ]


def _counted(
    events: Iterable[ReputationEvent], policy: ReputationPolicy
) -> list[tuple[ReputationEvent, float]]:
    """Each event with the weight it counts: 0 if reversed, bad ones scaled to the cap."""
    given = _distinct(events)
    bad = _bad_by_requester([e for e in given if not e.reversed], policy)
    # Scaling every bad event of a requester by the same share (instead of counting the
    # oldest up to the cap) makes the result independent of the order events arrive in.
    return [(e, _weight(e, policy, bad.get(e.requester, 0.0))) for e in given]


def _distinct(events: Iterable[ReputationEvent]) -> list[ReputationEvent]:
    given = list(events)
    if len({e.id for e in given}) != len(given):
        raise ValueError("reputation events must have distinct ids")
    return given


def _bad_by_requester(live: list[ReputationEvent], policy: ReputationPolicy) -> dict[str, float]:
    totals: dict[str, list[float]] = defaultdict(list)
    for e in live:
        if not e.good:
            totals[e.requester].append(policy.weight(e.kind))
    return {requester: math.fsum(weights) for requester, weights in totals.items()}


def _weight(event: ReputationEvent, policy: ReputationPolicy, requester_bad: float) -> float:
    if event.reversed:
        return 0.0
    nominal = policy.weight(event.kind)
    if event.good or requester_bad <= policy.max_bad_per_requester:
        return nominal
    return nominal * policy.max_bad_per_requester / requester_bad


def regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b): the CDF of Beta(a, b) at x."""
    _check_shape(a, b)
    if not 0.0 <= x <= 1.0:
        raise ValueError("x must be between 0 and 1")
    if x in (0.0, 1.0):
        return x
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    # The continued fraction converges fast only left of the mean; use the symmetry
    # I_x(a, b) = 1 - I_{1-x}(b, a) on the right.
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(x, a, b) / a
    return 1.0 - front * _beta_fraction(1.0 - x, b, a) / b


def beta_quantile(p: float, a: float, b: float) -> float:
    """The smallest double x in (0, 1) with I_x(a, b) ≥ p, by bisection (the CDF is monotone)."""
    _check_shape(a, b)
    if not 0.0 < p < 1.0:
        raise ValueError("p must be strictly between 0 and 1")
    # Halve until no double lies strictly between the ends: full precision even for tiny
    # quantiles (Beta(0.01, 0.01) has its 5% quantile near 1e-100), in at most ~1100 steps.
    low, high = 0.0, 1.0
    while True:
        middle = (low + high) / 2.0
        if not low < middle < high:
            # Stay inside (0, 1) when the quantile is closer to 1 than any double below it.
            return high if high < 1.0 else low
        if regularized_beta(middle, a, b) < p:
            low = middle
        else:
            high = middle


def _beta_fraction(x: float, a: float, b: float) -> float:
    """The continued fraction for I_x(a, b) (Numerical Recipes `betacf`, modified Lentz)."""
    c = 1.0
    d = _nonzero(1.0 - (a + b) * x / (a + 1.0))
    d = 1.0 / d
    result = d
    for m in range(1, _MAX_TERMS + 1):
        even = m * (b - m) * x / ((a + 2 * m - 1.0) * (a + 2 * m))
        d = 1.0 / _nonzero(1.0 + even * d)
        c = _nonzero(1.0 + even / c)
        result *= d * c
        odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1.0))
        d = 1.0 / _nonzero(1.0 + odd * d)
        c = _nonzero(1.0 + odd / c)
        result *= d * c
        if abs(d * c - 1.0) < _EPS:
            return result
    raise ArithmeticError(f"incomplete beta did not converge for a={a}, b={b}, x={x}")


def _nonzero(value: float) -> float:
    # Lentz's method replaces an exact zero by a tiny number to avoid dividing by it.
    return value if abs(value) >= _TINY else _TINY


def _check_shape(a: float, b: float) -> None:
    _check_number("a", a, positive=True)
    _check_number("b", b, positive=True)
