"""Explainable automatic limits: rules that pause a worker in a campaign, with the numbers.

Each rule looks at one worker's recent work in one campaign and either stays quiet or gives
a `Limit`: which rule fired, a sentence the worker can read, the numbers behind it, and
when it ends. A rule fires when its count or rate reaches its threshold (at it, not only
above it), and the rate rules do not judge before they have enough outcomes, so a newcomer's
first unlucky answers do not pause them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class QualityRules:
    """When each rule fires, and for how long a limit lasts.

    Too fast: `too_fast_limit` or more of the last `fast_window` answers took less than
    `min_seconds` (0 turns the rule off). Gold failure: among the last `gold_window` control
    outcomes, at least `min_gold` of them, the share wrong reaches `max_gold_failure`.
    Disagreement: the same over consensus outcomes. A rate rule needs at least one bad
    outcome, so a threshold of 0 means "any failure", not "always".
    """

    min_seconds: float = 0.0
    too_fast_limit: int = 3
    fast_window: int = 10
    gold_window: int = 10
    min_gold: int = 4
    max_gold_failure: float = 0.5
    disagreement_window: int = 20
    min_consensus: int = 8
    max_disagreement: float = 0.6
    limit_seconds: int = 3600

    def __post_init__(self) -> None:
        if isinstance(self.min_seconds, bool) or not 0.0 <= self.min_seconds < math.inf:
            raise ValueError("min_seconds must be a finite number of seconds, at least 0")
        _check_count("fast_window", self.fast_window, 1, None)
        _check_count("too_fast_limit", self.too_fast_limit, 1, self.fast_window)
        _check_count("gold_window", self.gold_window, 1, None)
        _check_count("min_gold", self.min_gold, 1, self.gold_window)
        _check_count("disagreement_window", self.disagreement_window, 1, None)
        _check_count("min_consensus", self.min_consensus, 1, self.disagreement_window)
        _check_count("limit_seconds", self.limit_seconds, 1, None)
        for name in ("max_gold_failure", "max_disagreement"):
            value = getattr(self, name)
            if isinstance(value, bool) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")


@dataclass(frozen=True)
class RecentWork:
    """The evidence for one worker in one campaign, each sequence oldest first.

    `durations` are seconds from lease to submit; `gold` is True for a correct control
    answer; `consensus` is True when the answer agreed with the task's result.
    `assignment_ids` are the assignments behind this evidence, passed through to limits.
    """

    durations: Sequence[float] = ()
    gold: Sequence[bool] = ()
    consensus: Sequence[bool] = ()
    assignment_ids: Sequence[str] = ()

    def __post_init__(self) -> None:
        if any(not 0.0 <= d < math.inf for d in self.durations):
            raise ValueError("durations must be finite numbers of seconds, at least 0")


class Rule(StrEnum):
    TOO_FAST = "too_fast"
    GOLD_FAILURE = "gold_failure"
    DISAGREEMENT = "disagreement"


@dataclass(frozen=True)
class Limit:
    """A pause on a worker: the rule, a reason they can read, its numbers, and its end."""

    rule: Rule
    reason: str
    evidence: dict[str, Any]
    until: datetime


def evaluate(work: RecentWork, rules: QualityRules, now: datetime) -> list[Limit]:
    """The limits `work` triggers under `rules`, each lasting `limit_seconds` from `now`."""
    until = now + timedelta(seconds=rules.limit_seconds)
    found = [_too_fast(work, rules), _gold_failure(work, rules), _disagreement(work, rules)]
    return [
        Limit(rule, reason, _with_assignments(evidence, work), until)
        for rule, reason, evidence in (f for f in found if f is not None)
    ]


_Finding = tuple[Rule, str, dict[str, Any]]


def _too_fast(work: RecentWork, rules: QualityRules) -> _Finding | None:
    if rules.min_seconds == 0:
        return None
    recent = list(work.durations)[-rules.fast_window :]
    fast = sum(1 for d in recent if d < rules.min_seconds)
    if fast < rules.too_fast_limit:
        return None
    reason = (
        f"{fast} of your last {len(recent)} answers took less than "
        f"{rules.min_seconds:g} seconds, too fast for this task; "
        f"the limit is {rules.too_fast_limit}"
    )
    evidence = {
        "too_fast": fast,
        "answers": len(recent),
        "window": rules.fast_window,
        "min_seconds": rules.min_seconds,
        "limit": rules.too_fast_limit,
    }
    return Rule.TOO_FAST, reason, evidence


def _gold_failure(work: RecentWork, rules: QualityRules) -> _Finding | None:
    recent = list(work.gold)[-rules.gold_window :]
    found = _failure_rate(recent, rules.min_gold, rules.max_gold_failure)
    if found is None:
        return None
    wrong, rate = found
    reason = (
        f"{wrong} of your last {len(recent)} control answers were wrong "
        f"({_percent(rate)}); the limit is {_percent(rules.max_gold_failure)}"
    )
    evidence = {
        "wrong": wrong,
        "answers": len(recent),
        "rate": rate,
        "window": rules.gold_window,
        "min_answers": rules.min_gold,
        "threshold": rules.max_gold_failure,
    }
    return Rule.GOLD_FAILURE, reason, evidence


def _disagreement(work: RecentWork, rules: QualityRules) -> _Finding | None:
    recent = list(work.consensus)[-rules.disagreement_window :]
    found = _failure_rate(recent, rules.min_consensus, rules.max_disagreement)
    if found is None:
        return None
    disagreed, rate = found
    reason = (
        f"{disagreed} of your last {len(recent)} answers disagreed with the final result "
        f"({_percent(rate)}); the limit is {_percent(rules.max_disagreement)}"
    )
    evidence = {
        "disagreed": disagreed,
        "answers": len(recent),
        "rate": rate,
        "window": rules.disagreement_window,
        "min_answers": rules.min_consensus,
        "threshold": rules.max_disagreement,
    }
    return Rule.DISAGREEMENT, reason, evidence


def _failure_rate(outcomes: list[bool], minimum: int, threshold: float) -> tuple[int, float] | None:
    """(failures, rate) when enough outcomes are in and the rate reaches `threshold`."""
    if len(outcomes) < minimum:
        return None
    failures = sum(1 for ok in outcomes if not ok)
    # A float division and a decimal threshold round to the same double when they are equal
    # (3/10 and 0.3), so comparing floats fires exactly at the threshold.
    rate = failures / len(outcomes)
    if failures == 0 or rate < threshold:
        return None
    return failures, rate


def _with_assignments(evidence: dict[str, Any], work: RecentWork) -> dict[str, Any]:
    if not work.assignment_ids:
        return evidence
    return {**evidence, "assignment_ids": list(work.assignment_ids)}


def _percent(rate: float) -> str:
    # One decimal at most: rounding is monotone, so a rate that reached its threshold never
    # reads as below it.
    return f"{rate * 100:.1f}".removesuffix(".0") + "%"


def _check_count(name: str, value: int, low: int, high: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be a whole number, at least {low}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be at most {high}")
