"""The assignment state machine, campaign spec validation, and submit checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import product

import pytest

from earnest.domain.errors import AlreadyDone, Conflict, InvalidInput, LeaseExpired
from earnest.domain.money import MAX_AMOUNT
from earnest.domain.work import (
    ASSIGNMENT_TRANSITIONS,
    MAX_LEASE_SECONDS,
    MAX_OVERLAP,
    Assignment,
    AssignmentStatus,
    Campaign,
    CampaignSpec,
    CampaignStatus,
    check_transition,
)

S = AssignmentStatus
NOW = datetime(2025, 1, 1, 12, tzinfo=UTC)
ALLOWED = {
    (S.LEASED, S.SUBMITTED),
    (S.LEASED, S.EXPIRED),
    (S.SUBMITTED, S.ACCEPTED),
    (S.SUBMITTED, S.REJECTED),
    (S.REJECTED, S.ACCEPTED),  # an appeal overturned the rejection
}


def test_every_status_has_a_transition_entry() -> None:
    assert set(ASSIGNMENT_TRANSITIONS) == set(S)


@pytest.mark.parametrize(("current", "new"), list(product(S, S)))
def test_check_transition(current: S, new: S) -> None:
    if (current, new) in ALLOWED:
        check_transition(current, new)
    else:
        with pytest.raises(Conflict, match=f"{current.value}.*{new.value}"):
            check_transition(current, new)


def test_final_states_have_no_way_out() -> None:
    for final in (S.ACCEPTED, S.EXPIRED):
        assert ASSIGNMENT_TRANSITIONS[final] == frozenset()
    # A rejection is final but for one door: an appeal that overturns it.
    assert ASSIGNMENT_TRANSITIONS[S.REJECTED] == frozenset({S.ACCEPTED})


def spec(**changes: object) -> CampaignSpec:
    fields: dict[str, object] = {
        "type": "labeling",
        "title": "Label it",
        "instructions": "",
        "input_schema": {"type": "object"},
        "output_schema": {"type": "object"},
        "reward": 1000,
    }
    return CampaignSpec(**(fields | changes))  # type: ignore[arg-type]


def test_valid_spec_defaults() -> None:
    s = spec()
    assert (s.overlap, s.gold_share, s.lease_seconds, s.verifier) == (3, 0.1, 600, "majority")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"reward": 0}, "reward must be positive"),
        ({"reward": -1}, "reward"),
        ({"reward": 10.0}, "integer"),
        ({"reward": True}, "integer"),
        ({"reward": MAX_AMOUNT + 1}, "between"),
        ({"title": "   "}, "title"),
        ({"overlap": 0}, "overlap"),
        ({"overlap": MAX_OVERLAP + 1}, "overlap"),
        ({"gold_share": -0.01}, "gold_share"),
        ({"gold_share": 1.01}, "gold_share"),
        ({"lease_seconds": 9}, "lease_seconds"),
        ({"lease_seconds": MAX_LEASE_SECONDS + 1}, "lease_seconds"),
    ],
)
def test_spec_validation(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        spec(**changes)


@pytest.mark.parametrize(
    "changes",
    [
        {"overlap": 1},
        {"overlap": MAX_OVERLAP},
        {"gold_share": 0.0},
        {"gold_share": 1.0},
        {"lease_seconds": 10},
        {"lease_seconds": MAX_LEASE_SECONDS},
        {"reward": MAX_AMOUNT},
    ],
)
def test_spec_bounds_are_inclusive(changes: dict[str, object]) -> None:
    spec(**changes)


def test_campaign_open_for_work() -> None:
    c = Campaign("cmp_1", "R", spec(reward=1000), 250, CampaignStatus.ACTIVE, NOW)
    assert c.unit_cost == 1025
    assert c.is_open_for_work(NOW)
    draft = Campaign("cmp_1", "R", spec(), 250, CampaignStatus.DRAFT, NOW)
    assert not draft.is_open_for_work(NOW)
    closed = Campaign("cmp_1", "R", spec(), 250, CampaignStatus.CLOSED, NOW)
    assert not closed.is_open_for_work(NOW)
    due = Campaign("cmp_1", "R", spec(deadline=NOW), 250, CampaignStatus.ACTIVE, NOW)
    assert due.is_open_for_work(NOW - timedelta(seconds=1))
    assert not due.is_open_for_work(NOW)


def lease(status: S = S.LEASED) -> Assignment:
    return Assignment("asg_1", 1, "cmp_1", "W", status, NOW, NOW + timedelta(minutes=10))


def test_live_lease_can_submit() -> None:
    lease().check_can_submit(NOW + timedelta(minutes=9, seconds=59))


def test_lease_past_deadline_is_expired() -> None:
    with pytest.raises(LeaseExpired):
        lease().check_can_submit(NOW + timedelta(minutes=10))


def test_expired_status_is_lease_expired() -> None:
    with pytest.raises(LeaseExpired):
        lease(S.EXPIRED).check_can_submit(NOW)


@pytest.mark.parametrize("status", [S.SUBMITTED, S.ACCEPTED, S.REJECTED])
def test_already_answered_is_already_done(status: S) -> None:
    with pytest.raises(AlreadyDone, match=status.value):
        lease(status).check_can_submit(NOW)
