"""Local information reports through the HTTP API, on SQLite and PostgreSQL.

Three reporters nearby agree and are paid; a report from outside the area, a second key on
the same phone, and a reporter who disagrees are rejected with their reasons.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from tests.integration.quality_helpers import REWARD, QualityMarket

REPORT = {
    "type": "object",
    "properties": {
        "value": {"enum": ["open", "closed"]},
        "lat": {"type": "number"},
        "lon": {"type": "number"},
        "at": {"type": "string"},
        "device": {"type": "string"},
        "photo_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    },
    "required": ["value", "lat", "lon", "at"],
    "additionalProperties": False,
}
PLACE = {"lat": -1.2921, "lon": 36.8219, "radius_m": 300}


def _report(qm: QualityMarket, value: str, north_m: float = 0, **extra: Any) -> dict[str, Any]:
    at = (qm.clock.now() - timedelta(minutes=5)).isoformat()
    lat = PLACE["lat"] + north_m / 111_195
    return {"value": value, "lat": lat, "lon": PLACE["lon"], "at": at} | extra


def test_reports_are_verified_by_independent_reporters_nearby(qm: QualityMarket) -> None:
    now = qm.clock.now()
    window = {
        "start": (now - timedelta(hours=1)).isoformat(),
        "end": (now + timedelta(hours=3)).isoformat(),
    }
    row = {
        "id": "market-gate",
        "data": {"question": "Is the market gate open?", "place": PLACE, "window": window},
    }
    requester, cid = qm.campaign(
        [row],
        type="local",
        input_schema={"type": "object", "required": ["place", "window"]},
        output_schema=REPORT,
        verifier="local_reports",
        overlap=6,
        quality={"min_overlap": 3},
    )
    people = [qm.sign_in() for _ in range(6)]
    answers = [
        _report(qm, "open", device="a"),
        _report(qm, "open", north_m=900, device="b"),  # outside the area
        _report(qm, "open", north_m=40, device="a"),  # a second key on phone "a"
        _report(qm, "closed", north_m=20, device="c"),
        _report(qm, "open", north_m=60, device="d", photo_sha256="ab" * 32),
        _report(qm, "open", north_m=-30, device="e"),
    ]
    verdicts = []
    for person, answer in zip(people, answers, strict=True):
        lease = person.claim(cid)
        verdicts.append(person.submit(lease["assignment"]["id"], answer))
        qm.clock.advance(1)
    assert [v["decision"] for v in verdicts] == [
        "wait",
        "reject",
        "reject",
        "wait",
        "wait",
        "accept",
    ]
    assert verdicts[1]["reason"].startswith("reported 900 m from the place")
    assert verdicts[2]["reason"].startswith("another report from the same device")
    decided = [people[i].assignment(verdicts[i]["assignment"]["id"]) for i in (0, 3, 4)]
    assert [a["status"] for a in decided] == ["accepted", "rejected", "accepted"]
    assert decided[1]["reason"] == 'disagrees: 3 independent reporters nearby reported "open"'
    assert [p.balance()["payable"] for p in people] == [REWARD, 0, 0, 0, REWARD, REWARD]
    (result,) = (json.loads(line) for line in requester.results(cid))
    assert result["result"]["value"] == "open" and result["result"]["reporters"] == 3


def test_every_template_makes_a_campaign_through_the_api(qm: QualityMarket) -> None:
    """GET /v1/templates: each template, as listed, is accepted by POST /v1/campaigns."""
    requester = qm.sign_in()
    listed = requester.templates()
    names = {t["name"] for t in listed}
    assert {"classification", "local_report", "bug_report", "field_task", "energy"} <= names
    for t in listed:
        fields = ("type", "verifier", "instructions", "input_schema", "output_schema", "quality")
        made = requester.create_campaign(
            title=t["label"], reward=REWARD, overlap=3, **{k: t[k] for k in fields}
        )
        assert made["verifier"] == t["verifier"], t["name"]
        requester.upload_tasks(made["id"], [{"data": t["sample"]}])
