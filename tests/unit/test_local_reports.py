"""The local-report verifier: geofence, window, independence (devices), agreement."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from earnest.domain.verification import Decision, WorkerHistory
from earnest.domain.work import AssignmentStatus, TaskStatus
from earnest.quality.local import LocalReportVerifier, distance_m
from tests.unit.verifier_cases import AT, decisions, submission, task, verdict, vin

PLACE = {
    "place": {"lat": 48.8584, "lon": 2.2945, "radius_m": 500},
    "window": {
        "start": (AT - timedelta(hours=2)).isoformat(),
        "end": (AT + timedelta(hours=1)).isoformat(),
    },
}
V = LocalReportVerifier()
A, R, W = Decision.ACCEPT, Decision.REJECT, Decision.WAIT


def report(
    value: Any = "open", *, north_m: float = 0.0, minutes: float = 10, **extra: Any
) -> dict[str, Any]:
    """A report `north_m` metres north of the place, `minutes` before it is sent."""
    lat = PLACE["place"]["lat"] + north_m / 111_195  # metres per degree of latitude
    at = (AT - timedelta(minutes=minutes)).isoformat()
    return {"value": value, "lat": lat, "lon": PLACE["place"]["lon"], "at": at} | extra


def run(answers: list[dict[str, Any]], overlap: int = 5, **kw: Any) -> Any:
    subs = [submission(n, a) for n, a in enumerate(answers)]
    return V.verify(vin(subs, task(data=PLACE), overlap=overlap, **kw))


def test_haversine_distance() -> None:
    assert round(distance_m(0, 0, 0, 1)) == 111_195
    assert distance_m(48.8584, 2.2945, 48.8584, 2.2945) == 0


def test_outside_the_area_or_the_window_is_rejected_at_once() -> None:
    out = run([report(north_m=900), report(minutes=-30), report(minutes=200), report(at="x")])
    assert decisions(out) == {"a0": R, "a1": R, "a2": R, "a3": R}
    assert (
        verdict(out, "a0").reason == "reported 900 m from the place; the campaign's area is 500 m"
    )
    assert verdict(out, "a0").evidence["distance_m"] == 900.0
    assert "outside the window" in verdict(out, "a2").reason
    assert verdict(out, "a1").reason == "the report is dated after it was sent"
    assert verdict(out, "a3").reason.startswith("the report could not be read")


def test_independent_reporters_nearby_verify_a_value() -> None:
    waiting = run([report(), report("closed", north_m=50)])
    assert decisions(waiting) == {"a0": W, "a1": W}
    out = run([report(), report("closed", north_m=50), report(north_m=80, minutes=20)])
    assert decisions(out) == {"a0": A, "a1": R, "a2": A}
    assert out.resolved and out.result["value"] == "open" and out.result["reporters"] == 2
    assert verdict(out, "a1").reason == 'disagrees: 2 independent reporters nearby reported "open"'


def test_reports_far_apart_in_space_or_time_do_not_agree() -> None:
    apart = [report(north_m=-450), report(north_m=450), report(minutes=5), report(minutes=115)]
    out = run(apart, overlap=4, min_overlap=2)
    # a0/a1 are 900 m apart; a2/a3 110 minutes apart: no two agree, the task ends unverified
    assert decisions(out) == {"a0": A, "a1": A, "a2": A, "a3": A}
    assert out.result is None and verdict(out, "a0").evidence == {"unverified": True}


def test_one_device_counts_once_across_keys() -> None:
    sybil = [report("closed", device="phone-1"), report("closed", device="phone-1"), report()]
    out = run(sybil, overlap=4)
    assert decisions(out) == {"a1": R, "a0": W, "a2": W}
    assert verdict(out, "a1").evidence["device"] == "phone-1"
    # two keys reporting from one phone are one reporter: the later report is a copy
    linked = [report("closed", device="p0"), report(device="p1"), report(device="p1")]
    assert decisions(run(linked, overlap=4))["a2"] is R


def test_reputation_decides_between_two_verified_values() -> None:
    answers = [report(), report(north_m=10), report("closed"), report("closed", north_m=10)]
    history = {"W2": WorkerHistory(reputation=0.9), "W3": WorkerHistory(reputation=0.9)}
    out = run(answers, overlap=4, history=history)
    assert out.result["value"] == "closed"
    assert decisions(out) == {"a0": R, "a1": R, "a2": A, "a3": A}


def test_late_reports_on_a_verified_place_are_paid() -> None:
    resolved = task(data=PLACE, status=TaskStatus.RESOLVED, result={"value": "open"})
    subs = [submission(0, report(), AssignmentStatus.ACCEPTED), submission(1, report("closed"))]
    out = V.verify(vin(subs, resolved))
    assert decisions(out) == {"a1": A}
    assert verdict(out, "a1").evidence["late"] is True
