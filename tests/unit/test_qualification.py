"""Fair stopping: a qualification is failed only when the evidence says so with confidence."""

from __future__ import annotations

import math
from functools import cache

import pytest

from earnest.quality.qualification import EXTRA_ROUNDS, Z_95, Standing, standing, wilson_upper


def old_rule(correct: int, answered: int, needed: int, accuracy: float) -> Standing:
    """The rule before: the plain share decides after `needed` answers."""
    if answered < needed:
        return Standing.QUALIFYING
    return Standing.PASSED if correct >= accuracy * answered else Standing.FAILED


def p_failed(p: float, needed: int, accuracy: float, rule: object = standing) -> float:
    """Exactly: the chance a worker right with probability `p` ends up failed."""

    @cache
    def fail(correct: int, answered: int) -> float:
        found = rule(correct, answered, needed, accuracy)  # type: ignore[operator]
        if found is Standing.FAILED:
            return 1.0
        if found is Standing.PASSED:
            return 0.0
        return p * fail(correct + 1, answered + 1) + (1 - p) * fail(correct, answered + 1)

    return fail(0, 0)


def test_the_wilson_bound_solves_its_equation() -> None:
    for correct, n in [(1, 3), (2, 3), (0, 3), (7, 10), (40, 100)]:
        upper, share = wilson_upper(correct, n), correct / n
        assert upper > share
        # the Wilson bound is the p above the share where (share − p)² = z² p (1 − p) / n
        assert (share - upper) ** 2 == pytest.approx(Z_95**2 * upper * (1 - upper) / n)
    assert wilson_upper(3, 3) == 1.0 and wilson_upper(0, 0) == 1.0


def test_three_tasks_are_not_enough_to_stop_a_worker_who_missed_one_or_two() -> None:
    # the demo's rule: 3 control tasks at 60%
    assert standing(1, 3, 3, 0.6) is Standing.QUALIFYING  # was failed
    assert standing(0, 3, 3, 0.6) is Standing.FAILED  # the evidence is clear
    assert standing(2, 3, 3, 0.6) is Standing.PASSED
    assert standing(2, 2, 3, 0.6) is Standing.QUALIFYING  # still owes one
    assert standing(1, 3, 3, 0.6, final=True) is Standing.FAILED  # no control left to ask
    assert standing(0, 0, 0, 0.6) is Standing.PASSED  # no qualification at all
    # after the extra rounds the share decides
    most = 3 * (1 + EXTRA_ROUNDS)
    assert standing(5, most, 3, 0.6) is Standing.FAILED
    assert standing(6, most, 3, 0.6) is Standing.PASSED


@pytest.mark.parametrize(
    ("p", "needed", "accuracy"), [(0.9, 3, 0.6), (0.9, 3, 0.8), (0.85, 5, 0.7)]
)
def test_a_reliable_worker_is_stopped_far_less_often(
    p: float, needed: int, accuracy: float
) -> None:
    before, after = p_failed(p, needed, accuracy, old_rule), p_failed(p, needed, accuracy)
    # exactly: 0.028 → 0.0026, 0.271 → 0.074, 0.165 → 0.022
    assert after < before / 3
    assert after < 0.08


def test_a_worker_at_chance_is_still_stopped() -> None:
    # four classes: a spammer is right a quarter of the time
    # exactly 0.815, against 0.844 under the old rule (the estimator sees the rest)
    assert p_failed(0.25, 3, 0.6) > 0.8
    assert math.isclose(p_failed(0.0, 3, 0.6), 1.0)
