"""A campaign's charts: agreement per period, worker accuracy, cost per resolved task."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from earnest.domain.work import Assignment, AssignmentStatus
from earnest.services.insights import (
    accuracy_by_worker,
    agreement_series,
    cost_series,
    period_ends,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _answer(
    worker: str, minute: int, status: AssignmentStatus, good_faith: bool = False
) -> Assignment:
    at = T0 + timedelta(minutes=minute)
    evidence = {"your_answer": "x"} if good_faith else None
    return Assignment(
        f"a{worker}{minute}", minute, "c", worker, status, at, at, "x", at, evidence=evidence
    )


ACCEPTED, REJECTED = AssignmentStatus.ACCEPTED, AssignmentStatus.REJECTED


def test_periods_split_the_span_evenly() -> None:
    ends = period_ends([T0, T0 + timedelta(minutes=10)], 5)
    assert ends[0] == T0 + timedelta(minutes=2) and ends[-1] == T0 + timedelta(minutes=10)
    assert period_ends([T0, T0], 5) == [T0]
    assert period_ends([], 5) == []


def test_agreement_counts_good_faith_acceptances_as_disagreement() -> None:
    decided = [
        _answer("w1", 0, ACCEPTED),
        _answer("w2", 0, REJECTED),
        _answer("w1", 10, ACCEPTED),
        _answer("w2", 10, ACCEPTED, good_faith=True),
    ]
    series = agreement_series(decided, 2)
    assert [p.value for p in series] == [0.5, 0.5]


def test_accuracy_is_per_worker() -> None:
    decided = [_answer("w1", 0, ACCEPTED), _answer("w1", 1, ACCEPTED), _answer("w2", 2, REJECTED)]
    assert accuracy_by_worker(decided) == [0.0, 1.0]


def test_cost_per_resolved_task_is_whole_base_units() -> None:
    decided = [_answer("w1", 0, ACCEPTED), _answer("w2", 1, ACCEPTED), _answer("w3", 2, REJECTED)]
    resolved = [T0 + timedelta(minutes=1)]
    series = cost_series(decided, resolved, 1025, 2)
    assert [p.value for p in series] == [2050]  # nothing was resolved in the first period
    assert all(isinstance(p.value, int) for p in series)
    assert cost_series(decided, [], 1025, 2) == []


def test_the_last_period_ends_at_the_last_answer_despite_rounding() -> None:
    times = [T0, T0 + timedelta(microseconds=1_000_007)]  # not a multiple of 12 µs
    assert period_ends(times, 12)[-1] == times[-1]
    late = _answer("w1", 0, ACCEPTED)
    series = agreement_series([late, _answer("w2", 0, ACCEPTED)], 12)
    assert [p.value for p in series] == [1.0]
