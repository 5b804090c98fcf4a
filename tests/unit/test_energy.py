"""The energy verifier: baselines, interpolation, signatures (as facts), one report per device."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from earnest.domain.verification import Decision
from earnest.domain.work import AssignmentStatus
from earnest.quality.energy import EnergyVerifier
from tests.unit.verifier_cases import AT, decisions, submission, task, verdict, vin

START = AT - timedelta(hours=4)
EVENT = {
    "baseline": {"start": START.isoformat(), "end": (START + timedelta(hours=2)).isoformat()},
    "window": {"start": (START + timedelta(hours=2)).isoformat(), "end": AT.isoformat()},
    "reward_per_kwh": 1000,
}
V = EnergyVerifier()


def answer(points: list[tuple[float, float]], device: str = "D1") -> dict[str, Any]:
    """Readings at (hours after START, cumulative Wh)."""
    readings = [
        {"at": (START + timedelta(hours=h)).isoformat(), "wh": wh, "signature": "s"}
        for h, wh in points
    ]
    return {"device": device, "readings": readings}


def facts(n: int, registered: bool = True, signed: list[bool] | None = None) -> dict[str, Any]:
    return {f"a{n}": {"device_registered": registered, "signed": signed or [True] * 5}}


def run(*answers: dict[str, Any], facts_by: dict[str, Any] | None = None) -> Any:
    subs = [submission(i, a) for i, a in enumerate(answers)]
    measured = facts_by if facts_by is not None else facts(0) | facts(1)
    return V.verify(replace(vin(subs, task(data=EVENT), overlap=10), facts=measured))


def test_the_reduction_against_the_baseline_is_paid() -> None:
    out = run(answer([(0, 0), (1, 1000), (2, 2000), (3, 2300), (4, 2600)]))
    v = verdict(out, "a0")
    assert (v.decision, v.reward) == (Decision.ACCEPT, 1400)
    assert v.evidence["baseline_wh_per_h"] == 1000 and v.evidence["actual_wh"] == 600


def test_boundaries_are_interpolated_between_readings() -> None:
    # no reading at 2 h: the meter there is 1500 + 0.5 × 800 = 1900 Wh, so the baseline is
    # 950 Wh/h, the window expects 1900 Wh and used 700
    out = run(answer([(0, 0), (1.5, 1500), (2.5, 2300), (4, 2600)]))
    assert verdict(out, "a0").reward == 1200
    uncovered = run(answer([(1, 0), (2, 1000), (4, 1500)]))
    assert verdict(uncovered, "a0").reason == "the readings do not cover the baseline start"


def test_no_saving_earns_nothing_and_is_not_a_rejection() -> None:
    out = run(answer([(0, 0), (2, 2000), (4, 5000)]))
    v = verdict(out, "a0")
    assert (v.decision, v.reward) == (Decision.ACCEPT, 0)


def test_bad_readings_are_rejected_with_the_reason() -> None:
    back = run(answer([(0, 0), (2, 2000), (3, 1500), (4, 1600)]))
    assert verdict(back, "a0").reason.startswith("reading 2 goes back in time or in energy")
    unsigned = run(
        answer([(0, 0), (2, 2000), (4, 2100)]), facts_by=facts(0, signed=[True, False, True])
    )
    assert verdict(unsigned, "a0").reason.startswith("reading 1 is not signed by the device")
    stranger = run(answer([(0, 0), (2, 2000), (4, 2100)]), facts_by=facts(0, registered=False))
    assert verdict(stranger, "a0").reason.startswith("this device is not registered to you")
    unmeasured = run(answer([(0, 0), (2, 2000), (4, 2100)]), facts_by={})
    assert verdict(unmeasured, "a0").decision is Decision.REJECT


def test_a_device_reports_once_per_event() -> None:
    same = answer([(0, 0), (2, 2000), (4, 2100)])
    out = run(same, same)
    assert decisions(out) == {"a0": Decision.ACCEPT, "a1": Decision.REJECT}
    assert verdict(out, "a1").reason == "this device already reported for this event"


def test_a_decided_report_of_the_device_comes_first_whatever_the_ids() -> None:
    same = answer([(0, 0), (2, 2000), (4, 2100)])
    subs = [submission(0, same), submission(1, same, AssignmentStatus.ACCEPTED)]
    out = V.verify(replace(vin(subs, task(data=EVENT), overlap=10), facts=facts(0)))
    assert decisions(out) == {"a0": Decision.REJECT}


def run_priced(price: Any) -> Any:
    subs = [submission(0, answer([(0, 0), (1, 1000), (2, 2000), (3, 2300), (4, 2600)]))]
    event = EVENT | {"reward_per_kwh": price}
    return V.verify(replace(vin(subs, task(data=event), overlap=10), facts=facts(0)))


def test_the_reward_is_exact_in_base_units_however_large_the_price() -> None:
    # 1,400 Wh saved at 10^18 + 7 base units per kWh; a float would round the price to 10^18
    price = 10**18 + 7
    v = verdict(run_priced(price), "a0")
    assert v.reward == 1400 * price // 1000 and isinstance(v.reward, int)


def test_a_price_that_is_not_whole_base_units_is_refused() -> None:
    for price in (1000.0, 12.5, "1000", True, -1):
        v = verdict(run_priced(price), "a0")
        assert v.decision is Decision.REJECT and "whole number of base units" in v.reason


@pytest.mark.parametrize("wh", [float("nan"), float("inf"), 10**400, 1.7e308, -1])
def test_a_reading_no_meter_can_give_is_rejected_with_a_reason(wh: float) -> None:
    out = run(answer([(0, 0), (2, 2000), (4, wh)]))
    v = verdict(out, "a0")
    assert v.decision is Decision.REJECT
    assert "reading 2: a meter value is between 0 and 1e+15 Wh" in v.reason
