"""A campaign with every setting, over the API on SQLite and PostgreSQL: created, edited
where its state allows and refused where it does not, paused and resumed, cloned; workers
gated by their declared languages and region, practice that does not count."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from earnest.adapters.chain import Wallet
from earnest.adapters.store import migrations
from earnest.adapters.store.migrations import migrate
from earnest.adapters.store.tables import schema_version
from earnest.api import create_app
from earnest.bootstrap import Market
from earnest.domain.criteria import WorkerProfile
from earnest.services.profiles import SetProfile
from tests.factories import INPUT_SCHEMA, OUTPUT_SCHEMA, funded_requester
from tests.integration.api_world import session_token

REWARD = 1_000


@pytest.fixture
def api(market: Market) -> Iterator[TestClient]:
    with TestClient(create_app(market)) as client:
        yield client


def as_(market: Market, wallet: Wallet) -> dict[str, str]:
    return {"authorization": f"Bearer {session_token(market, wallet)}"}


def every_setting(deadline: datetime) -> dict[str, Any]:
    return {
        "title": "Sentiment",
        "instructions": "Pick a, b or c.",
        "input_schema": INPUT_SCHEMA,
        "output_schema": OUTPUT_SCHEMA,
        "reward": REWARD,
        "overlap": 1,
        "gold_share": 0.2,
        "lease_seconds": 300,
        "max_leases": 5,
        "deadline": deadline.isoformat(),
        "quality": {
            "confidence": 0.0,
            "min_overlap": 1,
            "min_reputation": 0.0,
            "practice_tasks": 1,
            "qualification_tasks": 1,
            "qualification_accuracy": 1.0,
            "languages": ["en", "DE"],
            "regions": ["de", "at"],
            "allow_agents": False,
        },
    }


def test_a_campaign_with_every_setting_lives_its_life(market: Market, api: TestClient) -> None:
    requester, _ = funded_requester(market, 10**7)
    mine = as_(market, requester)
    deadline = datetime.now(UTC) + timedelta(days=3)
    made = api.post("/v1/campaigns", json=every_setting(deadline), headers=mine)
    assert made.status_code == 201, made.text
    cid, body = made.json()["id"], made.json()
    assert body["quality"]["languages"] == ["en", "de"] and body["quality"]["regions"] == [
        "DE",
        "AT",
    ]
    assert body["quality"]["practice_tasks"] == 1 and body["lease_seconds"] == 300
    tasks = [
        {"id": f"g{i}", "data": {"text": f"gold {i}"}, "gold": {"label": "a"}} for i in range(3)
    ]
    tasks += [{"id": f"t{i}", "data": {"text": f"item {i}"}} for i in range(3)]
    assert api.post(f"/v1/campaigns/{cid}/tasks", json=tasks, headers=mine).status_code == 201

    shape = api.patch(f"/v1/campaigns/{cid}", json={"output_schema": {}}, headers=mine)
    assert shape.status_code == 409 and shape.json()["setting"] == "output_schema"
    assert "uploaded tasks" in shape.json()["detail"]
    assert api.post(f"/v1/campaigns/{cid}/fund", json={"amount": 10**6}, headers=mine).is_success
    price = api.patch(f"/v1/campaigns/{cid}", json={"reward": 2 * REWARD}, headers=mine)
    assert (
        price.status_code == 409 and "fixed once the campaign is funded" in price.json()["detail"]
    )
    renamed = api.patch(
        f"/v1/campaigns/{cid}",
        json={"title": "Sentiment, v2", "quality": {"regions": ["DE", "AT", "CH"]}},
        headers=mine,
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["title"] == "Sentiment, v2"
    assert renamed.json()["quality"]["regions"] == ["DE", "AT", "CH"]
    assert renamed.json()["quality"]["practice_tasks"] == 1  # untouched settings stay
    assert (
        api.get(f"/v1/campaigns/{cid}", headers=mine).json()["campaign"]["title"] == "Sentiment, v2"
    )
    bad = api.patch(f"/v1/campaigns/{cid}", json={"lease_seconds": 1}, headers=mine)
    assert bad.status_code == 422

    worker = as_(market, Wallet.generate())
    refused = api.post("/v1/claims", json={"campaign_id": cid}, headers=worker)
    assert refused.status_code == 403 and "speaks en or de" in refused.json()["detail"]
    profile = {"languages": ["de"], "region": "ch"}
    assert api.put("/v1/me/profile", json=profile, headers=worker).json() == {
        "languages": ["de"],
        "region": "CH",
    }
    assert api.get("/v1/me/profile", headers=worker).json()["region"] == "CH"

    # Practice: a wrong control answer that counts for nothing; then the test, passed.
    answers = iter(["b", "a"])
    for _ in range(2):
        lease = api.post("/v1/claims", json={"campaign_id": cid}, headers=worker).json()
        assert lease["task"]["text"].startswith("gold"), lease
        label = next(answers)
        sent = api.post(
            f"/v1/assignments/{lease['assignment']['id']}/submit",
            json={"answer": {"label": label}},
            headers=worker,
        )
        assert sent.json()["decision"] == ("reject" if label == "b" else "accept"), sent.text
    after = api.post("/v1/claims", json={"campaign_id": cid}, headers=worker)
    assert after.status_code == 201, after.text  # 1 of 1 after practice: qualified

    paused = api.post(f"/v1/campaigns/{cid}/pause", headers=mine)
    assert paused.json()["status"] == "paused"
    assert api.post("/v1/claims", json={"campaign_id": cid}, headers=worker).status_code == 404
    again = api.post(f"/v1/campaigns/{cid}/pause", headers=mine)
    assert again.status_code == 409 and "already paused" in again.json()["detail"]
    assert api.post(f"/v1/campaigns/{cid}/resume", headers=mine).json()["status"] == "active"
    assert api.post("/v1/claims", json={"campaign_id": cid}, headers=worker).status_code == 201

    copy = api.post(f"/v1/campaigns/{cid}/clone", json={}, headers=mine)
    assert copy.status_code == 201 and copy.json()["status"] == "draft"
    assert copy.json()["title"] == "Sentiment, v2 (copy)"
    assert copy.json()["quality"] == renamed.json()["quality"]
    edit_copy = api.patch(f"/v1/campaigns/{copy.json()['id']}", json={"reward": 5}, headers=mine)
    assert edit_copy.json()["reward"] == 5  # a draft without tasks: its price may change

    other = as_(market, Wallet.generate())
    for path in ("pause", "resume", "clone"):
        assert api.post(f"/v1/campaigns/{cid}/{path}", headers=other).status_code == 404
    assert api.patch(f"/v1/campaigns/{cid}", json={"title": "x"}, headers=other).status_code == 404


def test_parties_made_before_profiles_get_empty_ones(market: Market) -> None:
    _, who = funded_requester(market, 1_000)
    engine = market.store.engine
    step = 1 + migrations.STEPS.index(migrations._v12_worker_profiles)
    with engine.begin() as conn:  # the database as the step before left it
        conn.exec_driver_sql("ALTER TABLE parties DROP COLUMN languages")
        conn.exec_driver_sql("ALTER TABLE parties DROP COLUMN region")
        conn.execute(schema_version.delete().where(schema_version.c.version == step))
    migrate(engine)
    engine.dispose()  # no statement cached for the old columns
    assert {"languages", "region"} <= {c["name"] for c in inspect(engine).get_columns("parties")}
    assert market.identity.profile(who) == WorkerProfile()
    declared = WorkerProfile(("fr",), "BE")
    assert market.identity.set_profile(SetProfile(who, declared)) == declared
    assert market.identity.profile(who) == declared
