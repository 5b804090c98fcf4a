"""Local information reports: verified when independent reporters nearby agree.

A task asks about a place: its data holds `place` {"lat", "lon", "radius_m"} (the
geofence), `window` {"start", "end"} (ISO 8601 times), or the same five fields flat (a CSV
upload's columns), and optionally `agree_m` (default 200)
and `agree_seconds` (default 3600). A report is {"value": ..., "lat", "lon", "at", and
optional "device" and "photo_sha256"}.

* A report outside the geofence or the window, or dated after it was sent, is rejected at
  once, with the distance or the time as evidence.
* Independence: keys that ever reported from the same device form one cluster, and a
  cluster counts once; its later reports are rejected (one person, many keys, is paid once).
* Agreement: reports of the same value within `agree_m` and `agree_seconds` of each other
  agree. The task is verified when some value has `k` independent agreeing reporters
  (k = the campaign's `min_overlap`, at least 2); among such values the one with the most
  reputation weight wins. Its reports are accepted, other values rejected with the tally.
* With `overlap` reports in and no verified value, nobody is rejected: an unclear place is
  not the reporters' fault, so all valid reports are paid in good faith, unverified.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, NamedTuple

from earnest.domain.verification import (
    Decision,
    Outcome,
    Submission,
    Verdict,
    VerificationInput,
    canonical_json,
)
from earnest.domain.work import AssignmentStatus, TaskStatus

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG), for haversine distances
CLOCK_SKEW_S = 300  # a phone's clock may run this far ahead of the market's
_COUNTED = (AssignmentStatus.SUBMITTED, AssignmentStatus.ACCEPTED, AssignmentStatus.REJECTED)


class Report(NamedTuple):
    sub: Submission
    value: str  # canonical JSON of the reported value
    lat: float
    lon: float
    at: datetime
    device: str


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


class LocalReportVerifier:
    """Geofence and window first, then independent agreement weighted by reputation."""

    name = "local_reports"

    def verify(self, given: VerificationInput) -> Outcome:
        place = given.task.data
        reports: list[Report] = []
        verdicts: list[Verdict] = []
        for s in given.submissions:
            if s.status not in _COUNTED or s.status is AssignmentStatus.REJECTED:
                continue
            found = _read(s, place)
            if isinstance(found, Report):
                reports.append(found)
            elif s.status is AssignmentStatus.SUBMITTED:
                verdicts.append(found)
        independent, copies = _independent(reports)
        verdicts += [_copy(r) for r in copies if r.sub.status is AssignmentStatus.SUBMITTED]
        if given.task.status is TaskStatus.RESOLVED:
            return Outcome(tuple(verdicts + _late(independent, given)), True, given.task.result)
        return _agreement(given, place, independent, verdicts)


class Located(NamedTuple):
    lat: float
    lon: float
    at: datetime


def check_place(s: Submission, task_data: dict[str, Any]) -> Located | Verdict:
    """Where and when the answer says it was made, or the verdict rejecting it: unreadable,
    outside the task's `place` (geofence) or `window`, or dated after it was sent."""
    a = s.answer if isinstance(s.answer, dict) else {}
    try:
        at = datetime.fromisoformat(str(a["at"]).replace("Z", "+00:00"))
        lat, lon = float(a["lat"]), float(a["lon"])
        # Nested ({"place": {...}, "window": {...}}), or flat columns of a CSV upload.
        fence = task_data.get("place") or task_data
        window = task_data.get("window") or task_data
        start = datetime.fromisoformat(str(window["start"]).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(window["end"]).replace("Z", "+00:00"))
        off = distance_m(lat, lon, float(fence["lat"]), float(fence["lon"]))
        radius = float(fence["radius_m"])
    except (KeyError, TypeError, ValueError) as exc:
        return _reject(s, f"the report could not be read: {exc}", {})
    if at.tzinfo is None:
        return _reject(s, "the report's time must carry a time zone", {})
    if off > radius:
        why = f"reported {off:.0f} m from the place; the campaign's area is {radius:.0f} m"
        return _reject(s, why, {"distance_m": round(off, 1), "radius_m": radius})
    if not start <= at <= end:
        why = f"reported at {at.isoformat()}, outside the window {start.isoformat()} to {end.isoformat()}"
        return _reject(s, why, {"at": at.isoformat()})
    if (at - s.submitted_at).total_seconds() > CLOCK_SKEW_S:
        return _reject(s, "the report is dated after it was sent", {"at": at.isoformat()})
    return Located(lat, lon, at)


def _read(s: Submission, task_data: dict[str, Any]) -> Report | Verdict:
    where = check_place(s, task_data)
    if isinstance(where, Verdict):
        return where
    if "value" not in s.answer:
        return _reject(s, "the report could not be read: it has no value", {})
    device = str(s.answer.get("device") or f"key:{s.worker}")
    value = canonical_json(s.answer["value"])
    return Report(s, value, where.lat, where.lon, where.at, device)


def _independent(reports: list[Report]) -> tuple[list[Report], list[Report]]:
    """One report per cluster of keys linked by a shared device; the rest are copies."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for r in reports:  # union each key with each device it reported from
        parent[root(f"key:{r.sub.worker}")] = root(f"dev:{r.device}")
    first: dict[str, Report] = {}
    copies = []
    for r in sorted(reports, key=lambda r: (r.sub.submitted_at, r.sub.assignment_id)):
        cluster = root(f"key:{r.sub.worker}")
        if cluster in first:
            copies.append(r)
        else:
            first[cluster] = r
    return list(first.values()), copies


def _agreement(
    given: VerificationInput, place: dict[str, Any], reports: list[Report], verdicts: list[Verdict]
) -> Outcome:
    k = max(2, given.min_overlap)
    near_m, near_s = float(place.get("agree_m", 200)), float(place.get("agree_seconds", 3600))
    weight = {r.sub.worker: _weight(given, r.sub.worker) for r in reports}
    best: tuple[float, str, list[Report]] | None = None
    for r in reports:  # each report as the centre of a cluster of agreeing reports
        group = [o for o in reports if o.value == r.value and _near(r, o, near_m, near_s)]
        score = sum(weight[o.sub.worker] for o in group)
        if len(group) >= k and (best is None or score > best[0]):
            best = (score, r.value, group)
    total = sum(weight.values())
    counted = sum(1 for s in given.submissions if s.status in _COUNTED)
    pending = [r for r in reports if r.sub.status is AssignmentStatus.SUBMITTED]
    if best is None:
        if counted < given.overlap:
            wait = "waiting for other reporters nearby"
            verdicts += [_verdict(r, Decision.WAIT, wait) for r in pending]
            return Outcome(tuple(verdicts))
        why = f"fewer than {k} independent reporters agreed; paid in good faith, unverified"
        verdicts += [_verdict(r, Decision.ACCEPT, why, {"unverified": True}) for r in pending]
        return Outcome(tuple(verdicts), True, None, 0.0)
    _, value, group = best
    result = _result(group)
    tally = f"{len(group)} independent reporters nearby reported {value}"
    for r in pending:
        if r.value == value:
            verdicts.append(_verdict(r, Decision.ACCEPT, f"agrees: {tally}"))
        else:
            evidence = {"yours": r.sub.answer, "result": result, "reporters": len(group)}
            verdicts.append(_verdict(r, Decision.REJECT, f"disagrees: {tally}", evidence))
    confidence = round(best[0] / total, 6) if total else 0.0
    return Outcome(tuple(verdicts), True, result, confidence)


def _near(a: Report, b: Report, metres: float, seconds: float) -> bool:
    close = distance_m(a.lat, a.lon, b.lat, b.lon) <= metres
    return close and abs((a.at - b.at).total_seconds()) <= seconds


def _weight(given: VerificationInput, worker: str) -> float:
    """The reporter's reputation (posterior mean); a newcomer's prior mean when unknown."""
    found = given.history.get(worker)
    return found.reputation if found and found.reputation is not None else 2 / 3


def _result(group: list[Report]) -> dict[str, Any]:
    lats, lons = sorted(r.lat for r in group), sorted(r.lon for r in group)
    times = sorted(r.at for r in group)
    mid = len(group) // 2
    return {
        "value": group[0].sub.answer["value"],
        "lat": lats[mid],
        "lon": lons[mid],
        "at": times[mid].isoformat(),
        "reporters": len(group),
    }


def _late(reports: list[Report], given: VerificationInput) -> list[Verdict]:
    reason = "the place was already verified when this report arrived; accepted and paid"
    evidence = {"late": True, "result": given.task.result}
    pending = [r for r in reports if r.sub.status is AssignmentStatus.SUBMITTED]
    return [_verdict(r, Decision.ACCEPT, reason, evidence) for r in pending]


def _verdict(
    r: Report, decision: Decision, reason: str, evidence: dict[str, Any] | None = None
) -> Verdict:
    return Verdict(r.sub.assignment_id, decision, reason, evidence or {})


def _copy(r: Report) -> Verdict:
    why = "another report from the same device or the same person already counts for this place"
    return _reject(r.sub, why, {"device": r.device})


def _reject(s: Submission, reason: str, evidence: dict[str, Any]) -> Verdict:
    return Verdict(s.assignment_id, Decision.REJECT, reason, {"yours": s.answer} | evidence)
