"""Real-world tasks through the HTTP API: evidence checked by rule, then by a paid peer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.e2e.helpers import deposit
from tests.integration.quality_helpers import REWARD, QualityMarket

PLACE = {"lat": 6.5244, "lon": 3.3792, "radius_m": 150}
EVIDENCE = {
    "type": "object",
    "properties": {
        "photo_sha256": {"type": "string"},
        "lat": {"type": "number"},
        "lon": {"type": "number"},
        "at": {"type": "string"},
        "note": {"type": "string", "maxLength": 500},
    },
    "required": ["lat", "lon", "at"],
}


def _evidence(
    qm: QualityMarket, north_m: float = 0, photo: str | None = "0f" * 32
) -> dict[str, Any]:
    at = (qm.clock.now() - timedelta(minutes=2)).isoformat()
    found = {"lat": PLACE["lat"] + north_m / 111_195, "lon": PLACE["lon"], "at": at}
    return found | ({"photo_sha256": photo} if photo else {})


def test_field_evidence_is_checked_then_reviewed_by_a_paid_peer(qm: QualityMarket) -> None:
    now = qm.clock.now()
    window = {
        "start": (now - timedelta(hours=1)).isoformat(),
        "end": (now + timedelta(days=1)).isoformat(),
    }
    data = {"task": "Photograph the shop front", "place": PLACE, "window": window}
    requester = qm.sign_in()
    created = requester.create_campaign(
        type="field",
        title="Shop fronts",
        input_schema={"type": "object", "required": ["place", "window"]},
        output_schema=EVIDENCE,
        reward=REWARD,
        overlap=1,
        gold_share=0.0,
        verifier="field_evidence",
        quality={"review": "peer", "review_reward": 40, "reviewer_tasks": 1},
    )
    cid, budget = created["id"], 6 * created["unit_cost"]
    deposit(qm.market, requester, qm._wallets[id(requester)], budget)
    gold = {"answer": _evidence(qm), "accept": True}
    rows = [{"id": f"shop{n}", "data": data} for n in range(3)]
    requester.upload_tasks(cid, [*rows, {"id": "g", "data": data, "gold": gold}])
    requester.fund(cid, budget)

    worker = qm.sign_in()
    verdicts = []
    for evidence in (_evidence(qm, north_m=400), _evidence(qm, photo=None), _evidence(qm)):
        lease = worker.claim(cid)
        verdicts.append(worker.submit(lease["assignment"]["id"], evidence))
    assert [v["decision"] for v in verdicts] == ["reject", "reject", "wait"]
    assert verdicts[0]["reason"] == "reported 400 m from the place; the campaign's area is 150 m"
    assert verdicts[1]["reason"].startswith("the evidence needs the SHA-256 of its photo")

    reviewer = qm.sign_in()
    control = reviewer.claim_peer_review(cid)
    assert reviewer.submit_peer_review(control["review"]["id"], True)["correct"] is True
    item = reviewer.claim_peer_review(cid)
    assert item["answer"] == verdicts[2]["assignment"]["answer"]
    reviewer.submit_peer_review(item["review"]["id"], True)
    assert worker.assignment(verdicts[2]["assignment"]["id"])["status"] == "accepted"
    assert worker.balance()["payable"] == REWARD
    assert reviewer.balance()["payable"] == 2 * 40
