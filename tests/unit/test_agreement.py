"""Krippendorff's alpha against the worked example of Krippendorff (2011), "Computing
Krippendorff's Alpha-Reliability", section C: 4 observers, 12 units, missing values."""

from __future__ import annotations

import pytest

from earnest.quality.agreement import answers_alpha, krippendorff_alpha

# Rows are observers A-D, columns units 1-12; None = no value.
EXAMPLE = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


def units() -> list[list[int]]:
    return [[row[u] for row in EXAMPLE if row[u] is not None] for u in range(12)]  # type: ignore[misc]


def test_the_papers_nominal_example_is_0_743() -> None:
    alpha = krippendorff_alpha(units())
    assert alpha is not None and round(alpha, 3) == 0.743


def test_perfect_agreement_is_one_and_chance_is_near_zero() -> None:
    assert krippendorff_alpha([["a", "a"], ["b", "b"], ["a", "a", "a"]]) == pytest.approx(1.0)
    # Every pair disagrees within a unit while the values are balanced: below chance.
    alpha = krippendorff_alpha([["a", "b"], ["b", "a"], ["a", "b"]])
    assert alpha is not None and alpha < 0


def test_nothing_to_compare_is_none() -> None:
    assert krippendorff_alpha([["a"], ["b"]]) is None  # no unit has two values
    assert krippendorff_alpha([["a", "a"], ["a", "a"]]) is None  # one value: no expectation


def test_json_answers_compare_by_their_canonical_form() -> None:
    same = [[{"label": "x", "note": 1}, {"note": 1, "label": "x"}], [{"label": "y"}] * 2]
    assert answers_alpha(same) == pytest.approx(1.0)
