"""Energy reduction through the HTTP API: registered devices, signed readings, paid savings."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from earnest.adapters.chain.wallet import Wallet
from earnest.client import ApiError, Earnest
from earnest.quality.energy import reading_message
from earnest.services.devices import registration_message
from tests.integration.quality_helpers import REWARD, QualityMarket, problem

PER_KWH = 500  # base units per kWh saved
CAP = REWARD  # the campaign's reward: the most one household earns per event


def _readings(meter: Wallet, start: datetime, usage_wh: list[float]) -> list[dict[str, Any]]:
    """Hourly cumulative readings from `start`, signed by the meter's own key."""
    total, out = 0.0, []
    for hour, used in enumerate([0.0, *usage_wh]):
        total += used
        at = (start + timedelta(hours=hour)).isoformat()
        signature = meter.sign_message(reading_message(meter.address, at, total))
        out.append({"at": at, "wh": total, "signature": signature})
    return out


def _household(qm: QualityMarket) -> tuple[Earnest, Wallet]:
    wallet, meter = Wallet.generate(), Wallet.generate()
    person = qm.sign_in(wallet=wallet)
    proof = meter.sign_message(registration_message(meter.address, wallet.address))
    person.register_device(meter.address, proof, "kitchen meter")
    return person, meter


def test_signed_savings_are_paid_and_bad_readings_refused(qm: QualityMarket) -> None:
    start = qm.clock.now() - timedelta(hours=4)
    event = {
        "baseline": {"start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()},
        "window": {
            "start": (start + timedelta(hours=2)).isoformat(),
            "end": (start + timedelta(hours=4)).isoformat(),
        },
        "reward_per_kwh": PER_KWH,
    }
    _, cid = qm.campaign(
        [{"id": "peak-1", "data": event}],
        type="energy",
        input_schema={"type": "object", "required": ["baseline", "window"]},
        output_schema={"type": "object", "required": ["device", "readings"]},
        verifier="energy",
        reward=CAP,
        overlap=7,
    )
    saver, meter = _household(qm)  # 1 kWh an hour, then 0.25: saves 1.5 kWh
    verdict = _send(saver, cid, meter, _readings(meter, start, [1000, 1000, 250, 250]))
    assert verdict["decision"] == "accept"
    assert verdict["assignment"]["reward"] == 1_500 * PER_KWH // 1000
    assert verdict["assignment"]["evidence"]["reduction_wh"] == 1500

    big, big_meter = _household(qm)  # saves 10 kWh: capped at the campaign's reward
    capped = _send(big, cid, big_meter, _readings(big_meter, start, [5000, 5000, 0, 0]))
    assert capped["assignment"]["reward"] == CAP

    tamper, t_meter = _household(qm)
    altered = _readings(t_meter, start, [1000, 1000, 250, 250])
    altered[4]["wh"] = 1000.0  # lowered after signing
    assert _send(tamper, cid, t_meter, altered)["reason"].startswith(
        "reading 4 is not signed by the device"
    )

    unsigned, u_meter = _household(qm)
    bare = [
        {k: v for k, v in r.items() if k != "signature"}
        for r in _readings(u_meter, start, [1, 1, 1, 1])
    ]
    assert _send(unsigned, cid, u_meter, bare)["decision"] == "reject"

    late, l_meter = _household(qm)
    outside = _readings(l_meter, start, [1000, 1000, 250, 250, 100])  # one hour past the window
    assert (
        "outside the baseline and the event window" in _send(late, cid, l_meter, outside)["reason"]
    )

    _, neighbours = _household(qm)
    thief = qm.sign_in()  # someone else's registered meter
    stolen = _send(thief, cid, neighbours, _readings(neighbours, start, [1, 1, 1, 1]))
    assert stolen["reason"].startswith("this device is not registered to you")
    again = _send(qm.sign_in(), cid, meter, _readings(meter, start, [1, 1, 1, 1]))
    assert again["reason"] == "this device already reported for this event"

    assert saver.balance()["payable"] == 750
    assert [d["label"] for d in saver.devices()] == ["kitchen meter"]


def test_a_device_is_registered_once_with_its_own_signature(qm: QualityMarket) -> None:
    wallet, meter = Wallet.generate(), Wallet.generate()
    person = qm.sign_in(wallet=wallet)
    with pytest.raises(ApiError) as info:
        person.register_device(meter.address, meter.sign_message(b"something else"))
    assert problem(info, 422, "invalid_input")["detail"].startswith(
        "signature must be the device key's"
    )
    proof = meter.sign_message(registration_message(meter.address, wallet.address))
    person.register_device(meter.address, proof)
    other_wallet = Wallet.generate()
    other = qm.sign_in(wallet=other_wallet)
    again = meter.sign_message(registration_message(meter.address, other_wallet.address))
    with pytest.raises(ApiError) as info:
        other.register_device(meter.address, again)
    problem(info, 409, "conflict")


def _send(
    person: Earnest, cid: str, meter: Wallet, readings: list[dict[str, Any]]
) -> dict[str, Any]:
    lease = person.claim(cid)
    answer = {"device": meter.address, "readings": readings}
    verdict: dict[str, Any] = person.submit(lease["assignment"]["id"], answer)
    return verdict
