"""Quality rules: each fires exactly at its threshold, explains itself, and lasts limit_seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from earnest.quality.rules import Limit, QualityRules, RecentWork, Rule, evaluate

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def outcomes(wrong: int, total: int) -> list[bool]:
    """`total` outcomes, newest last, the `wrong` ones first."""
    return [False] * wrong + [True] * (total - wrong)


def fired(work: RecentWork, rules: QualityRules) -> list[Rule]:
    return [limit.rule for limit in evaluate(work, rules, NOW)]


def only(work: RecentWork, rules: QualityRules) -> Limit:
    (limit,) = evaluate(work, rules, NOW)
    return limit


def test_nothing_fires_without_evidence() -> None:
    assert evaluate(RecentWork(), QualityRules(min_seconds=5), NOW) == []


# --- too fast --------------------------------------------------------------------------------

FAST = QualityRules(min_seconds=5, too_fast_limit=3, fast_window=10)


def test_too_fast_fires_at_the_limit_and_not_below() -> None:
    assert fired(RecentWork(durations=[1, 2, 30, 40]), FAST) == []
    limit = only(RecentWork(durations=[1, 2, 4.9, 30]), FAST)
    assert limit.rule is Rule.TOO_FAST
    assert limit.reason == (
        "3 of your last 4 answers took less than 5 seconds, too fast for this task; the limit is 3"
    )
    assert limit.evidence == {
        "too_fast": 3,
        "answers": 4,
        "window": 10,
        "min_seconds": 5,
        "limit": 3,
    }
    assert limit.until == NOW + timedelta(seconds=3600)


def test_an_answer_at_exactly_min_seconds_is_not_too_fast() -> None:
    assert fired(RecentWork(durations=[5, 5, 5, 5]), FAST) == []


def test_too_fast_only_looks_at_the_window() -> None:
    old_fast = [1.0, 1.0, 1.0] + [60.0] * 8
    assert fired(RecentWork(durations=old_fast), FAST) == []  # only 2 fast ones in the last 10
    assert fired(RecentWork(durations=old_fast[1:]), FAST) == []
    assert fired(RecentWork(durations=old_fast[:-1]), FAST) == [Rule.TOO_FAST]


def test_min_seconds_zero_turns_the_rule_off() -> None:
    assert fired(RecentWork(durations=[0.0] * 20), QualityRules()) == []


# --- gold failure ----------------------------------------------------------------------------

GOLD = QualityRules(gold_window=10, min_gold=4, max_gold_failure=0.3)


def test_gold_failure_fires_at_the_threshold_and_not_below() -> None:
    assert fired(RecentWork(gold=outcomes(2, 10)), GOLD) == []
    limit = only(RecentWork(gold=outcomes(3, 10)), GOLD)
    assert limit.rule is Rule.GOLD_FAILURE
    assert limit.reason == ("3 of your last 10 control answers were wrong (30%); the limit is 30%")


def test_gold_failure_reason_and_evidence_carry_the_numbers() -> None:
    limit = only(RecentWork(gold=outcomes(4, 10)), GOLD)
    assert limit.reason == "4 of your last 10 control answers were wrong (40%); the limit is 30%"
    assert limit.evidence == {
        "wrong": 4,
        "answers": 10,
        "rate": 0.4,
        "window": 10,
        "min_answers": 4,
        "threshold": 0.3,
    }


def test_gold_failure_uses_only_the_last_gold_window_outcomes() -> None:
    assert fired(RecentWork(gold=outcomes(5, 5) + outcomes(0, 10)), GOLD) == []
    assert fired(RecentWork(gold=outcomes(5, 5) + outcomes(0, 7)), GOLD) == [Rule.GOLD_FAILURE]


def test_gold_failure_waits_for_min_gold_outcomes() -> None:
    assert fired(RecentWork(gold=outcomes(3, 3)), GOLD) == []
    limit = only(RecentWork(gold=outcomes(2, 4)), GOLD)
    assert limit.reason == "2 of your last 4 control answers were wrong (50%); the limit is 30%"


def test_a_zero_threshold_means_any_failure_not_always() -> None:
    strict = QualityRules(max_gold_failure=0.0, max_disagreement=0.0)
    assert fired(RecentWork(gold=outcomes(0, 10), consensus=outcomes(0, 20)), strict) == []
    assert fired(RecentWork(gold=outcomes(1, 10)), strict) == [Rule.GOLD_FAILURE]


def test_percentages_keep_one_decimal() -> None:
    limit = only(RecentWork(gold=outcomes(1, 3)), QualityRules(min_gold=3, max_gold_failure=0.25))
    assert limit.reason == "1 of your last 3 control answers were wrong (33.3%); the limit is 25%"


# --- disagreement ----------------------------------------------------------------------------

AGREE = QualityRules(disagreement_window=20, min_consensus=8, max_disagreement=0.6)


def test_disagreement_fires_at_the_threshold_and_not_below() -> None:
    assert fired(RecentWork(consensus=outcomes(11, 20)), AGREE) == []
    limit = only(RecentWork(consensus=outcomes(12, 20)), AGREE)
    assert limit.rule is Rule.DISAGREEMENT
    assert limit.reason == (
        "12 of your last 20 answers disagreed with the final result (60%); the limit is 60%"
    )
    assert limit.evidence == {
        "disagreed": 12,
        "answers": 20,
        "rate": 0.6,
        "window": 20,
        "min_answers": 8,
        "threshold": 0.6,
    }


def test_disagreement_waits_for_min_consensus_and_uses_its_window() -> None:
    assert fired(RecentWork(consensus=outcomes(7, 7)), AGREE) == []
    assert fired(RecentWork(consensus=outcomes(5, 8)), AGREE) == [Rule.DISAGREEMENT]
    assert fired(RecentWork(consensus=outcomes(20, 20) + outcomes(0, 20)), AGREE) == []


# --- together --------------------------------------------------------------------------------


def test_every_rule_that_fires_gives_one_limit_lasting_limit_seconds() -> None:
    rules = QualityRules(min_seconds=5, limit_seconds=600)
    work = RecentWork(
        durations=[1, 1, 1],
        gold=outcomes(5, 10),
        consensus=outcomes(20, 20),
        assignment_ids=("a1", "a2"),
    )
    limits = evaluate(work, rules, NOW)
    assert [lim.rule for lim in limits] == [Rule.TOO_FAST, Rule.GOLD_FAILURE, Rule.DISAGREEMENT]
    assert {lim.until for lim in limits} == {NOW + timedelta(seconds=600)}
    assert all(lim.evidence["assignment_ids"] == ["a1", "a2"] for lim in limits)


def test_evaluate_is_pure() -> None:
    work = RecentWork(gold=outcomes(5, 10))
    assert evaluate(work, QualityRules(), NOW) == evaluate(work, QualityRules(), NOW)


@given(
    total=st.integers(1, 40),
    data=st.data(),
)
def test_rate_rules_fire_exactly_at_a_threshold_of_wrong_over_total(
    total: int, data: st.DataObject
) -> None:
    wrong = data.draw(st.integers(1, total))
    rules = QualityRules(gold_window=40, min_gold=1, max_gold_failure=wrong / total)
    assert fired(RecentWork(gold=outcomes(wrong, total)), rules) == [Rule.GOLD_FAILURE]
    assert fired(RecentWork(gold=outcomes(wrong - 1, total)), rules) == []


@pytest.mark.parametrize("tenths", range(1, 11))
def test_decimal_thresholds_fire_at_their_exact_count(tenths: int) -> None:
    rules = QualityRules(disagreement_window=10, min_consensus=10, max_disagreement=tenths / 10)
    assert fired(RecentWork(consensus=outcomes(tenths, 10)), rules) == [Rule.DISAGREEMENT]
    assert fired(RecentWork(consensus=outcomes(tenths - 1, 10)), rules) == []


# --- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        {"min_seconds": -1},
        {"min_seconds": float("inf")},
        {"too_fast_limit": 0},
        {"too_fast_limit": 11, "fast_window": 10},
        {"fast_window": 0},
        {"gold_window": 0},
        {"min_gold": 0},
        {"min_gold": 11, "gold_window": 10},
        {"max_gold_failure": 1.5},
        {"max_gold_failure": -0.1},
        {"disagreement_window": 0},
        {"min_consensus": 21},
        {"max_disagreement": float("nan")},
        {"limit_seconds": 0},
        {"limit_seconds": 1.5},
        {"min_gold": True},
    ],
)
def test_bad_settings_are_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        QualityRules(**settings)


@pytest.mark.parametrize("durations", [[-1.0], [float("nan")], [float("inf")]])
def test_bad_durations_are_refused(durations: list[float]) -> None:
    with pytest.raises(ValueError):
        RecentWork(durations=durations)
