"""Fair stopping: a qualification decision carries a confidence bound.

A campaign asks `qualification_tasks` control answers first, at `qualification_accuracy`.
Three answers are weak evidence: a worker who is right 90% of the time misses two of three
about 3% of the time. So a worker below the accuracy is stopped only when the evidence says
so with confidence: the one-sided 95% Wilson upper bound of their accuracy is below what the
campaign asks. Until then they are undecided and keep answering control tasks (practice that
counts), up to `EXTRA_ROUNDS` more rounds of `qualification_tasks`; after that, or when no
control task is left to offer them (`final`), the plain share decides. Meeting the accuracy
passes at once, as before.
"""

from __future__ import annotations

import enum
import math

Z_95 = 1.6448536269514722  # one-sided 95% normal quantile
EXTRA_ROUNDS = 2  # at most (1 + EXTRA_ROUNDS) × qualification_tasks control answers to decide


class Standing(enum.Enum):
    QUALIFYING = "qualifying"  # more control answers needed before a decision
    PASSED = "passed"
    FAILED = "failed"


def wilson_upper(correct: int, answered: int, z: float = Z_95) -> float:
    """The Wilson score upper bound of a success rate (1.0 with no answers)."""
    if answered <= 0:
        return 1.0
    p, n = correct / answered, answered
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return min(1.0, (centre + spread) / (1 + z * z / n))


def standing(
    correct: int, answered: int, needed: int, accuracy: float, *, final: bool = False
) -> Standing:
    """Where a worker stands after `correct` of `answered` control answers; `final`: no
    more control answers can be had, so an undecided worker is decided by the share."""
    if needed <= 0:
        return Standing.PASSED
    if answered < needed:
        return Standing.QUALIFYING
    if correct >= accuracy * answered:
        return Standing.PASSED
    if final or answered >= needed * (1 + EXTRA_ROUNDS):
        return Standing.FAILED
    if wilson_upper(correct, answered) < accuracy:
        return Standing.FAILED
    return Standing.QUALIFYING
