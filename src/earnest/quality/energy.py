"""Energy reduction: device-signed meter readings against a baseline, in a demand-response window.

A task is an event: {"baseline": {"start", "end"}, "window": {"start", "end"},
"reward_per_kwh": base units}. An answer is {"device": <device address>, "readings": [{"at":
ISO time, "wh": cumulative meter reading, "signature": base58}]}: each reading is signed by
the device's own Ed25519 key over canonical JSON {"at", "device", "wh"} (see
`reading_message`). When the answer is sent the market checks, for the verifier's facts,
that the device is registered to the worker and which signatures are valid.

The baseline rate is the energy used per second over `baseline`; the reduction is what
that rate predicts for `window` minus what the meter shows there (meter values at the
boundaries are interpolated between the readings around them). The reward is the
reduction in kWh × `reward_per_kwh`, rounded down, at most the campaign's reward. An
unsigned, tampered, unregistered, out-of-range or decreasing reading is rejected with the
reason; a device reports once per event.
"""

from __future__ import annotations

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
from earnest.domain.work import AssignmentStatus

# A cumulative meter's reading: a petawatt-hour is beyond any meter, and keeps the
# arithmetic on readings finite (a float of 10**400 Wh would overflow).
MAX_METER_WH = 10**15
_COUNTED = (AssignmentStatus.SUBMITTED, AssignmentStatus.ACCEPTED, AssignmentStatus.REJECTED)


class Reading(NamedTuple):
    at: datetime
    wh: float


class Malformed(ValueError):
    """An answer or a task the verifier cannot read; the message says why."""


def reading_message(device: str, at: str, wh: float | int) -> bytes:
    """The bytes a device signs for one reading: canonical JSON of {at, device, wh}."""
    return canonical_json({"at": at, "device": device, "wh": wh}).encode()


class EnergyVerifier:
    """Pays the verified reduction against each device's own baseline."""

    name = "energy"

    def verify(self, given: VerificationInput) -> Outcome:
        seen_devices: dict[str, str] = {}
        verdicts = []
        # A device's decided report came first, whatever the clocks say; then by sending time.
        ordered = sorted(
            given.submissions,
            key=lambda s: (s.status is AssignmentStatus.SUBMITTED, s.submitted_at, s.assignment_id),
        )
        for s in ordered:
            if s.status not in _COUNTED:
                continue
            device = s.answer.get("device") if isinstance(s.answer, dict) else None
            first = seen_devices.setdefault(str(device), s.assignment_id)
            if s.status is not AssignmentStatus.SUBMITTED:
                continue
            if first != s.assignment_id:
                verdicts.append(_reject(s, "this device already reported for this event"))
                continue
            verdicts.append(_judge(s, given))
        counted = sum(1 for s in given.submissions if s.status in _COUNTED)
        return Outcome(tuple(verdicts), counted >= given.overlap)


def _judge(s: Submission, given: VerificationInput) -> Verdict:
    facts = given.facts.get(s.assignment_id) or {}
    if not facts.get("device_registered"):
        return _reject(
            s, "this device is not registered to you: register it with its own key first"
        )
    signed = facts.get("signed") or []
    bad = [i for i, ok in enumerate(signed) if not ok]
    if bad or not signed:
        return _reject(
            s,
            f"reading {bad[0] if bad else 0} is not signed by the device, or was changed after it was signed",
            {"unsigned": bad},
        )
    try:
        event = _event(given.task.data)
        price = _price(given.task.data)
        readings = _readings(s.answer, event)
        measured = _reduction(readings, event)
    except Malformed as problem:
        return _reject(s, str(problem))
    reward = measured["reduction_wh"] * price // 1000
    if reward <= 0:
        why = "no reduction against your baseline during the window: nothing earned"
        return Verdict(s.assignment_id, Decision.ACCEPT, why, measured, reward=0)
    why = f"verified reduction of {measured['reduction_wh']} Wh against your baseline"
    return Verdict(s.assignment_id, Decision.ACCEPT, why, measured, reward=reward)


def _event(data: dict[str, Any]) -> dict[str, datetime]:
    """The four boundaries: nested ({"baseline": {"start", ...}}) or flat CSV columns."""
    try:
        return {
            f"{part}_{edge}": _time(data[part][edge] if part in data else data[f"{part}_{edge}"])
            for part in ("baseline", "window")
            for edge in ("start", "end")
        }
    except (KeyError, TypeError) as exc:
        raise Malformed(f"the event has no {exc}") from None


def _price(data: dict[str, Any]) -> int:
    """The event's reward per kWh: a whole number of base units (money is never a float)."""
    price = data.get("reward_per_kwh", 0)
    if isinstance(price, bool) or not isinstance(price, int) or price < 0:
        raise Malformed(f"the event's reward_per_kwh {price!r} is not a whole number of base units")
    return price


def _time(value: Any) -> datetime:
    try:
        at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise Malformed(f"{value!r} is not an ISO 8601 time") from None
    if at.tzinfo is None:
        raise Malformed(f"{value!r} has no time zone")
    return at


def _readings(answer: Any, event: dict[str, datetime]) -> list[Reading]:
    raw = answer.get("readings") if isinstance(answer, dict) else None
    if not isinstance(raw, list) or len(raw) < 2:
        raise Malformed("send at least two readings")
    readings = []
    for i, r in enumerate(raw):
        wh = r.get("wh") if isinstance(r, dict) else None
        if isinstance(wh, bool) or not isinstance(wh, int | float):
            raise Malformed(f"reading {i} has no meter value in Wh")
        if not 0 <= wh <= MAX_METER_WH:  # NaN fails this too
            raise Malformed(f"reading {i}: a meter value is between 0 and {MAX_METER_WH:.0e} Wh")
        at = _time(r.get("at"))
        if not event["baseline_start"] <= at <= event["window_end"]:
            raise Malformed(
                f"reading {i} at {at.isoformat()} is outside the baseline and the event window"
            )
        readings.append(Reading(at, float(wh)))
    for i in range(1, len(readings)):
        if readings[i].at <= readings[i - 1].at or readings[i].wh < readings[i - 1].wh:
            raise Malformed(f"reading {i} goes back in time or in energy: a meter only counts up")
    return readings


def _reduction(readings: list[Reading], event: dict[str, datetime]) -> dict[str, Any]:
    at = {name: _meter_at(readings, moment, name) for name, moment in event.items()}
    base_s = (event["baseline_end"] - event["baseline_start"]).total_seconds()
    window_s = (event["window_end"] - event["window_start"]).total_seconds()
    if base_s <= 0 or window_s <= 0:
        raise Malformed("the event's baseline and window must each last some time")
    rate = (at["baseline_end"] - at["baseline_start"]) / base_s
    expected = rate * window_s
    actual = at["window_end"] - at["window_start"]
    return {
        "baseline_wh_per_h": round(rate * 3600, 3),
        "expected_wh": round(expected, 3),
        "actual_wh": round(actual, 3),
        "reduction_wh": max(0, int(expected - actual)),
    }


def _meter_at(readings: list[Reading], moment: datetime, name: str) -> float:
    """The meter at `moment`, interpolated between the readings around it."""
    before = [r for r in readings if r.at <= moment]
    after = [r for r in readings if r.at >= moment]
    if not before or not after:
        raise Malformed(f"the readings do not cover the {name.replace('_', ' ')}")
    lo, hi = before[-1], after[0]
    if hi.at == lo.at:
        return lo.wh
    share = (moment - lo.at).total_seconds() / (hi.at - lo.at).total_seconds()
    return lo.wh + share * (hi.wh - lo.wh)


def _reject(s: Submission, reason: str, extra: dict[str, Any] | None = None) -> Verdict:
    return Verdict(s.assignment_id, Decision.REJECT, reason, {"yours": s.answer} | (extra or {}))
