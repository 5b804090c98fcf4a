"""Reputation: Beta posteriors, the per-requester cap, reversals, explanations, Beta quantiles."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from earnest.quality.reputation import (
    DEFAULT_POLICY,
    EvidenceKind,
    Reputation,
    ReputationEvent,
    ReputationPolicy,
    beta_quantile,
    bounded_effect,
    explain,
    regularized_beta,
    reputation,
)

AT = datetime(2025, 1, 1, tzinfo=UTC)
GOLD, CONSENSUS, REVIEW, APPEAL = (
    EvidenceKind.GOLD,
    EvidenceKind.CONSENSUS,
    EvidenceKind.REVIEW,
    EvidenceKind.APPEAL,
)


def event(
    n: int,
    good: bool = True,
    kind: EvidenceKind = GOLD,
    requester: str = "R1",
    reversed: bool = False,
) -> ReputationEvent:
    return ReputationEvent(
        id=f"e{n}",
        kind=kind,
        good=good,
        requester=requester,
        campaign_id=f"cmp_{requester}",
        at=AT + timedelta(minutes=n),
        reason=f"reason {n}",
        reversed=reversed,
    )


def rejections(count: int, requester: str = "R1", start: int = 0) -> list[ReputationEvent]:
    return [event(start + i, good=False, kind=REVIEW, requester=requester) for i in range(count)]


# --- posterior ---------------------------------------------------------------------------


def test_a_newcomer_starts_at_the_prior() -> None:
    score = reputation([])
    assert score == Reputation(2.0, 1.0, 0)
    assert score.mean == pytest.approx(2 / 3)
    assert score.lower_bound == pytest.approx(math.sqrt(0.05), abs=1e-12)


def test_posterior_adds_weighted_evidence_to_the_prior() -> None:
    events = [
        event(1),
        event(2),
        event(3),
        event(4, good=False),
        event(5, kind=CONSENSUS),
        event(6, kind=CONSENSUS),
        event(7, good=False, kind=CONSENSUS),
        event(8, good=False, kind=REVIEW),
        event(9, kind=APPEAL),
    ]
    score = reputation(events)
    # good: 2 + 3 gold + 2 × 0.5 consensus + 1 appeal; bad: 1 + 1 gold + 0.5 + 1 review
    assert (score.good, score.bad, score.events) == (7.0, 3.5, 9)
    assert score.mean == pytest.approx(7 / 10.5)


def test_policy_weights_and_prior_are_used() -> None:
    policy = ReputationPolicy(prior_good=1, prior_bad=1, consensus_weight=0.25, review_weight=2)
    score = reputation([event(1, kind=CONSENSUS), event(2, good=False, kind=REVIEW)], policy)
    assert (score.good, score.bad) == (1.25, 3.0)


def test_reversed_events_do_not_count() -> None:
    kept = [event(1), event(2, good=False)]
    overturned = [event(3, good=False, kind=REVIEW, reversed=True), event(4, reversed=True)]
    assert reputation(kept + overturned) == reputation(kept)
    assert reputation(kept + overturned).events == 2


def test_reversed_rejections_do_not_use_up_the_cap() -> None:
    reversed_ones = [event(i, good=False, kind=REVIEW, reversed=True) for i in range(100, 110)]
    assert reputation([*rejections(2), *reversed_ones]).bad == 3.0


def test_duplicate_event_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="distinct"):
        reputation([event(1), event(1, good=False)])


def test_the_input_may_be_a_generator() -> None:
    assert reputation(event(i) for i in range(3)).good == 5.0


# --- the cap per requester -----------------------------------------------------------------


def test_one_requesters_mass_rejection_is_capped() -> None:
    newcomer = reputation([])
    score = reputation(rejections(100))
    assert score.bad == pytest.approx(1.0 + 3.0)
    assert score.mean == pytest.approx(2 / 6)
    drop = newcomer.mean - score.mean
    assert drop == pytest.approx(1 / 3)
    assert drop <= bounded_effect(DEFAULT_POLICY, newcomer) + 1e-12
    assert drop <= bounded_effect(DEFAULT_POLICY) + 1e-12


def test_the_same_rejections_from_many_requesters_are_not_capped() -> None:
    spread = [r for i in range(100) for r in rejections(1, requester=f"R{i}", start=i)]
    score = reputation(spread)
    assert score.bad == 101.0
    assert score.mean == pytest.approx(2 / 103)
    assert reputation([]).mean - score.mean > 0.6 > bounded_effect(DEFAULT_POLICY)


def test_the_cap_is_per_requester_and_below_it_nothing_changes() -> None:
    events = [*rejections(2, "A"), *rejections(10, "B", start=10), *rejections(1, "C", start=30)]
    assert reputation(events).bad == 1.0 + 2.0 + 3.0 + 1.0


def test_good_events_are_never_capped() -> None:
    assert reputation([event(i) for i in range(50)]).good == 52.0


def test_drop_from_an_established_worker_stays_within_the_bound() -> None:
    others = [event(i, requester="OTHER") for i in range(30)] + rejections(2, "X", start=40)
    before = reputation(others)
    after = reputation(others + rejections(100, "R1", start=100))
    drop = before.mean - after.mean
    assert drop == pytest.approx(bounded_effect(DEFAULT_POLICY, before))
    assert drop < bounded_effect(DEFAULT_POLICY)


def test_bounded_effect_worst_state_is_not_always_the_prior() -> None:
    # With prior Beta(1, 1) and cap 3 the drop peaks at a = sqrt(1 · 4) = 2, not at a = 1.
    policy = ReputationPolicy(prior_good=1, prior_bad=1, max_bad_per_requester=3)
    assert bounded_effect(policy, Reputation(1, 1)) == pytest.approx(0.3)
    assert bounded_effect(policy, Reputation(2, 1)) == pytest.approx(1 / 3)
    assert bounded_effect(policy) == pytest.approx(1 / 3)


# --- explanation -----------------------------------------------------------------------------


def test_explain_lists_the_history_newest_first_with_counted_weights() -> None:
    events = [
        event(1),
        event(2, good=False, kind=CONSENSUS, requester="R2"),
        event(3, good=False, kind=REVIEW, requester="R2", reversed=True),
        *rejections(6, "R3", start=10),
    ]
    rows = explain(events)
    assert [r["id"] for r in rows] == [f"e{i}" for i in (15, 14, 13, 12, 11, 10, 3, 2, 1)]
    by_id = {r["id"]: r for r in rows}
    assert by_id["e1"] == {
        "id": "e1",
        "kind": "gold",
        "good": True,
        "reversed": False,
        "weight": 1.0,
        "capped": False,
        "requester": "R1",
        "campaign": "cmp_R1",
        "reason": "reason 1",
        "at": "2025-01-01T00:01:00+00:00",
    }
    assert (by_id["e2"]["weight"], by_id["e2"]["capped"]) == (0.5, False)
    assert (by_id["e3"]["weight"], by_id["e3"]["reversed"]) == (0.0, True)
    # 6 rejections of weight 1 share the cap of 3: each counts 0.5.
    assert all(
        (by_id[f"e{i}"]["weight"], by_id[f"e{i}"]["capped"]) == (0.5, True) for i in range(10, 16)
    )


def test_explained_weights_add_up_to_the_posterior() -> None:
    events = [event(1), event(2, kind=CONSENSUS), *rejections(7, "R2", start=10)]
    rows = explain(events)
    score = reputation(events)
    assert score.good == pytest.approx(2.0 + sum(r["weight"] for r in rows if r["good"]))
    assert score.bad == pytest.approx(1.0 + sum(r["weight"] for r in rows if not r["good"]))


# --- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        {"prior_good": 0},
        {"prior_bad": -1},
        {"prior_good": math.nan},
        {"gold_weight": -0.1},
        {"consensus_weight": math.inf},
        {"max_bad_per_requester": 0},
        {"review_weight": True},
    ],
)
def test_bad_policy_settings_are_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ReputationPolicy(**settings)


def test_a_zero_weight_turns_a_kind_off() -> None:
    policy = ReputationPolicy(consensus_weight=0)
    assert reputation([event(1, good=False, kind=CONSENSUS)], policy).bad == 1.0


@pytest.mark.parametrize(("good", "bad"), [(0, 1), (1, 0), (-1, 2), (math.inf, 1)])
def test_bad_posteriors_are_refused(good: float, bad: float) -> None:
    with pytest.raises(ValueError):
        Reputation(good, bad)


def test_as_dict() -> None:
    assert reputation([event(1)]).as_dict() == {
        "good": 3.0,
        "bad": 1.0,
        "events": 1,
        "mean": 0.75,
        "lower_bound": round(0.05 ** (1 / 3), 6),
    }


# --- the Beta distribution ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (1, 1, 0.05),
        (2, 1, math.sqrt(0.05)),
        (1, 2, 1 - math.sqrt(0.95)),
        (5, 1, 0.05 ** (1 / 5)),
        (1, 7.5, 1 - 0.95 ** (1 / 7.5)),
        (0.5, 1, 0.05**2),
    ],
)
def test_beta_quantile_matches_closed_forms(a: float, b: float, expected: float) -> None:
    assert beta_quantile(0.05, a, b) == pytest.approx(expected, abs=1e-6, rel=1e-9)


def test_beta_quantile_of_beta_2_2_solves_its_cdf() -> None:
    # The CDF of Beta(2, 2) is 3x² − 2x³.
    q = beta_quantile(0.05, 2, 2)
    assert 3 * q**2 - 2 * q**3 == pytest.approx(0.05, abs=1e-12)
    assert q == pytest.approx(0.135350, abs=1e-6)


def test_beta_quantile_keeps_precision_for_tiny_quantiles() -> None:
    # For small a, I_x(a, b) ≈ x^a / (a·B(a, b)) near 0, so the quantile is ~1e-100 here.
    q = beta_quantile(0.05, 0.01, 0.01)
    assert 0 < q < 1e-90
    assert regularized_beta(q, 0.01, 0.01) == pytest.approx(0.05, rel=1e-9)


@pytest.mark.parametrize(("a", "b"), [(2, 3), (5, 5), (7, 2), (1, 10), (20, 13)])
@pytest.mark.parametrize("x", [0.01, 0.2, 0.5, 0.77, 0.99])
def test_regularized_beta_matches_the_binomial_sum(a: int, b: int, x: float) -> None:
    # For whole a and b, I_x(a, b) = P(Binomial(a + b − 1, x) ≥ a).
    n = a + b - 1
    expected = sum(math.comb(n, j) * x**j * (1 - x) ** (n - j) for j in range(a, n + 1))
    assert regularized_beta(x, a, b) == pytest.approx(expected, rel=1e-10, abs=1e-15)


def test_regularized_beta_edges_and_symmetry() -> None:
    assert regularized_beta(0.0, 2, 3) == 0.0
    assert regularized_beta(1.0, 2, 3) == 1.0
    assert regularized_beta(0.5, 4.5, 4.5) == pytest.approx(0.5, abs=1e-14)
    assert regularized_beta(0.3, 2.5, 4) == pytest.approx(1 - regularized_beta(0.7, 4, 2.5))


@pytest.mark.parametrize(
    ("call", "args"),
    [
        (regularized_beta, (1.5, 1, 1)),
        (regularized_beta, (0.5, 0, 1)),
        (beta_quantile, (0.0, 1, 1)),
        (beta_quantile, (1.0, 1, 1)),
        (beta_quantile, (0.5, 1, -2)),
    ],
)
def test_beta_functions_refuse_bad_arguments(call: Any, args: tuple[float, ...]) -> None:
    with pytest.raises(ValueError):
        call(*args)


@settings(max_examples=50)
@given(a=st.floats(0.05, 1e5), b=st.floats(0.05, 1e5), p=st.floats(0.001, 0.999))
def test_beta_quantile_brackets_p(a: float, b: float, p: float) -> None:
    # The quantile is the smallest double whose CDF reaches p. (Comparing the CDF at q with p
    # would be ill-posed: for Beta(4112, 0.0625) the CDF jumps by 1e-9 between neighbours.)
    q = beta_quantile(p, a, b)
    assert 0 < q < 1
    assert regularized_beta(math.nextafter(q, 0), a, b) < p
    if q < math.nextafter(1.0, 0):
        assert p <= regularized_beta(q, a, b)
    # else the quantile lies between the last double below 1 and 1 (tiny b): q stays below 1.


@settings(max_examples=50)
@given(a=st.floats(1, 1e5), b=st.floats(1, 1e5), p=st.floats(0.001, 0.999))
def test_beta_quantile_inverts_the_cdf_for_posteriors(a: float, b: float, p: float) -> None:
    # Posteriors start from a prior of at least 1 in each shape: the CDF is smooth enough.
    assert regularized_beta(beta_quantile(p, a, b), a, b) == pytest.approx(p, abs=1e-9)


# --- properties ------------------------------------------------------------------------------

event_specs = st.lists(
    st.tuples(
        st.sampled_from(list(EvidenceKind)),
        st.booleans(),
        st.sampled_from(["R1", "R2", "R3", "R4"]),
        st.sampled_from([False, False, False, True]),  # reversed now and then
    ),
    max_size=40,
)


def build(
    specs: list[tuple[EvidenceKind, bool, str, bool]], start: int = 0
) -> list[ReputationEvent]:
    return [
        event(start + i, good, kind, requester, reversed_)
        for i, (kind, good, requester, reversed_) in enumerate(specs)
    ]


@settings(max_examples=50)
@given(event_specs)
def test_mean_and_lower_bound_are_probabilities(specs: list[Any]) -> None:
    score = reputation(build(specs))
    assert 0 < score.lower_bound <= score.mean < 1


@settings(max_examples=50)
@given(event_specs, st.sampled_from(list(EvidenceKind)))
def test_a_good_event_never_lowers_the_mean(specs: list[Any], kind: EvidenceKind) -> None:
    events = build(specs)
    more = [*events, event(len(events), True, kind, "R9")]
    assert reputation(more).mean >= reputation(events).mean
    assert reputation(more).lower_bound >= reputation(events).lower_bound - 1e-12


@settings(max_examples=60)
@given(event_specs, event_specs)
def test_one_requester_moves_the_mean_by_at_most_the_bound(
    others: list[Any], theirs: list[Any]
) -> None:
    base = [e for e in build(others) if e.requester != "R1"]
    added = [
        ReputationEvent(f"x{i}", e.kind, e.good, "R1", "cmp_x", e.at, e.reason, e.reversed)
        for i, e in enumerate(build(theirs))
    ]
    before = reputation(base)
    drop = before.mean - reputation(base + added).mean
    assert drop <= bounded_effect(DEFAULT_POLICY, before) + 1e-12
    assert bounded_effect(DEFAULT_POLICY, before) <= bounded_effect(DEFAULT_POLICY) + 1e-12


@settings(max_examples=50)
@given(event_specs)
def test_the_score_does_not_depend_on_event_order(specs: list[Any]) -> None:
    events = build(specs)
    forward, backward = reputation(events), reputation(events[::-1])
    assert forward.good == pytest.approx(backward.good)
    assert forward.bad == pytest.approx(backward.bad)
