"""Authorization matrix: every /v1 endpoint × every role, aimed at someone else's objects.

The rows are checked against the app's own routes (its OpenAPI document), so a new endpoint without a row fails
here. Each cell states the status a role gets (anonymous: 401 unless the endpoint is
public); every answer is searched for the world's secrets (titles, task texts, answers,
appeal reasons, key names), which only the parties to them may read back. Cells that
change the world run after all the others; owners' cells that would destroy it (close a
campaign, revoke a key) are not run.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from earnest.api import create_app
from tests.integration.api_world import ROLES, SECRETS, World, build_world

ADDRESS = "C2mkcasgndihRNoraq9qtCyGRmEtgHVP9j1mjED3nGz7"
# Who may read which secret: the requester owns campaigns, tasks and keys, and reads the
# answers and appeals sent to its campaigns; the worker reads its own answers and appeal.
MAY_READ = {"requester": set(SECRETS), "worker": {"answer note", "appeal reason"}}
SPEC = {
    "title": "Mine",
    "input_schema": {"type": "object"},
    "output_schema": {"type": "object"},
    "reward": 10,
}
REASON = {"overturn": False, "reason": "the control answer is right"}
# A well-formed metering record, so that a fetch reaches the ownership check.
METERING = base64.urlsafe_b64encode(
    json.dumps(
        {
            "assignment": "a",
            "url": "https://example.org/",
            "final_url": "https://example.org/",
            "status": 200,
            "bytes": 0,
            "sha256": "0" * 64,
            "truncated": False,
            "content_type": "text/html",
            "fetched_at": "2026-01-01T00:00:00+00:00",
            "node": ADDRESS,
        }
    ).encode()
).decode()


@dataclass(frozen=True)
class Row:
    """One endpoint: the request, and the status each role gets."""

    path: str  # {name} is filled from World.ids
    others: int  # every signed-in role not named in `roles`
    roles: dict[str, int] = field(default_factory=dict)
    body: Any = None
    public: bool = False  # anonymous callers get `others` too, not 401
    shows: frozenset[str] = frozenset()  # roles whose answer must carry a secret they may read
    skip: frozenset[str] = frozenset()  # owners whose call would destroy the world
    headers: dict[str, str] = field(default_factory=dict)  # beyond the role's credential


ROWS: dict[tuple[str, str], Row] = {
    ("POST", "/v1/auth/challenge"): Row(
        "/v1/auth/challenge", 200, body={"address": ADDRESS}, public=True
    ),
    ("POST", "/v1/auth/session"): Row(
        "/v1/auth/session", 401, body={"message": "hello", "signature": "1" * 88}, public=True
    ),
    # Signing out would end the world's sessions: only the anonymous refusal is made here
    # (sign-out itself: tests/security/test_sessions.py).
    ("DELETE", "/v1/auth/session"): Row(
        "/v1/auth/session", 204, skip=frozenset(r for r in ROLES if r != "anonymous")
    ),
    ("POST", "/v1/api-keys"): Row("/v1/api-keys", 201, body={"name": "n", "scopes": ["work"]}),
    ("GET", "/v1/api-keys"): Row("/v1/api-keys", 200, shows=frozenset({"requester"})),
    ("POST", "/v1/api-keys/{key_id}/revoke"): Row(
        "/v1/api-keys/{key}/revoke", 404, skip=frozenset({"requester"})
    ),
    ("GET", "/v1/market"): Row("/v1/market", 200, public=True),
    ("POST", "/v1/deposits"): Row(
        "/v1/deposits", 403, {"requester": 409}, body={"signature": "{deposit}"}
    ),
    ("POST", "/v1/withdrawals"): Row("/v1/withdrawals", 409, {"requester": 201}, {"amount": 1}),
    ("GET", "/v1/balance"): Row("/v1/balance", 200),
    ("GET", "/v1/payouts"): Row("/v1/payouts", 200),
    ("GET", "/v1/receipts/{receipt_id}"): Row(
        "/v1/receipts/{receipt}", 404, {"worker": 200, "requester": 200}
    ),
    ("GET", "/v1/campaigns"): Row("/v1/campaigns", 200, shows=frozenset({"requester"})),
    ("POST", "/v1/campaigns"): Row("/v1/campaigns", 201, body=SPEC),
    ("GET", "/v1/campaigns/{campaign_id}"): Row(
        "/v1/campaigns/{campaign}", 404, {"requester": 200}, shows=frozenset({"requester"})
    ),
    ("POST", "/v1/campaigns/{campaign_id}/fund"): Row(
        "/v1/campaigns/{campaign}/fund", 404, {"requester": 200}, {"amount": 1}
    ),
    # An estimate reads the requester's own campaign and moves nothing.
    ("POST", "/v1/campaigns/{campaign_id}/payout-cost"): Row(
        "/v1/campaigns/{campaign}/payout-cost", 404, {"requester": 200}, {}
    ),
    ("PATCH", "/v1/campaigns/{campaign_id}"): Row(
        "/v1/campaigns/{campaign}", 404, {"requester": 200}, {"lease_seconds": 600}
    ),
    # Pausing would stop the world's workers: only the refusals are made here.
    ("POST", "/v1/campaigns/{campaign_id}/pause"): Row(
        "/v1/campaigns/{campaign}/pause", 404, skip=frozenset({"requester"})
    ),
    ("POST", "/v1/campaigns/{campaign_id}/resume"): Row(
        "/v1/campaigns/{campaign}/resume", 404, {"requester": 409}
    ),
    ("POST", "/v1/campaigns/{campaign_id}/clone"): Row(
        "/v1/campaigns/{campaign}/clone", 404, {"requester": 201}, {}
    ),
    # A bonus goes only to a worker who answered in the campaign: ADDRESS never did.
    ("POST", "/v1/campaigns/{campaign_id}/bonuses"): Row(
        "/v1/campaigns/{campaign}/bonuses",
        404,
        body={"worker": ADDRESS, "amount": 1, "reason": "x"},
    ),
    ("GET", "/v1/campaigns/{campaign_id}/bonuses"): Row(
        "/v1/campaigns/{campaign}/bonuses", 404, {"requester": 200}
    ),
    ("GET", "/v1/worker-lists"): Row("/v1/worker-lists", 200),
    ("PUT", "/v1/worker-lists/{worker}"): Row(
        f"/v1/worker-lists/{ADDRESS}", 200, body={"kind": None}
    ),
    ("GET", "/v1/me/profile"): Row("/v1/me/profile", 200),
    ("PUT", "/v1/me/profile"): Row("/v1/me/profile", 200, body={"languages": ["en"], "region": ""}),
    ("POST", "/v1/campaigns/{campaign_id}/close"): Row(
        "/v1/campaigns/{campaign}/close", 404, skip=frozenset({"requester"})
    ),
    ("POST", "/v1/campaigns/{campaign_id}/tasks"): Row(
        "/v1/campaigns/{campaign}/tasks", 404, {"requester": 201}, [{"data": {"text": "more"}}]
    ),
    ("GET", "/v1/campaigns/{campaign_id}/results"): Row(
        "/v1/campaigns/{campaign}/results", 404, {"requester": 200}, shows=frozenset({"requester"})
    ),
    ("POST", "/v1/claims"): Row("/v1/claims", 404, body={"campaign_id": "{draft}"}),
    ("POST", "/v1/assignments/{assignment_id}/submit"): Row(
        "/v1/assignments/{live}/submit", 404, {"worker": 200}, {"answer": {"label": "even"}}
    ),
    ("POST", "/v1/suites"): Row("/v1/suites", 404, body={"campaign_id": "{draft}", "count": 2}),
    ("POST", "/v1/answers"): Row(
        "/v1/answers",
        404,
        {"worker": 200},
        {"answers": [{"assignment_id": "{live}", "answer": {"label": "even"}}]},
    ),
    ("GET", "/v1/assignments"): Row("/v1/assignments", 200, shows=frozenset({"worker"})),
    ("GET", "/v1/assignments/{assignment_id}"): Row(
        "/v1/assignments/{rejected}", 404, {"worker": 200}, shows=frozenset({"worker"})
    ),
    ("GET", "/v1/me/quality"): Row("/v1/me/quality", 200),
    ("GET", "/v1/campaigns/{campaign_id}/reviews"): Row(
        "/v1/campaigns/{held_campaign}/reviews",
        404,
        {"requester": 200},
        shows=frozenset({"requester"}),
    ),
    ("POST", "/v1/assignments/{assignment_id}/review"): Row(
        "/v1/assignments/{held}/review", 404, {"requester": 200}, {"accept": True, "reason": ""}
    ),
    ("POST", "/v1/assignments/{assignment_id}/appeal"): Row(
        "/v1/assignments/{rejected}/appeal", 404, {"worker": 409}, {"reason": "it is wrong, again"}
    ),
    ("GET", "/v1/appeals"): Row("/v1/appeals", 200, shows=frozenset({"worker"})),
    ("GET", "/v1/appeals/{appeal_id}"): Row(
        "/v1/appeals/{appeal}",
        404,
        {"worker": 200, "requester": 200},
        shows=frozenset({"worker", "requester"}),
    ),
    ("POST", "/v1/appeals/{appeal_id}/decide"): Row(
        "/v1/appeals/{appeal}/decide", 404, {"requester": 200}, REASON
    ),
    ("POST", "/v1/appeals/{appeal_id}/vote"): Row("/v1/appeals/{appeal}/vote", 404, body=REASON),
    # Reviewing is open work: anyone but the requester may qualify on a control review; the
    # reviewer, qualified, finds nothing left (it already holds the only answer).
    ("POST", "/v1/campaigns/{campaign_id}/peer-reviews"): Row(
        "/v1/campaigns/{peer_campaign}/peer-reviews", 201, {"requester": 403, "reviewer": 404}
    ),
    ("POST", "/v1/peer-reviews/{review_id}"): Row(
        "/v1/peer-reviews/{peer_review}", 404, {"reviewer": 200}, {"accept": True, "reason": ""}
    ),
    ("GET", "/v1/me/peer-reviews"): Row("/v1/me/peer-reviews", 200),
    ("GET", "/v1/health"): Row("/v1/health", 200, public=True),
    ("GET", "/v1/templates"): Row("/v1/templates", 200, public=True),
    # Devices are the caller's own: a bad proof is refused whoever sends it.
    ("GET", "/v1/me/devices"): Row("/v1/me/devices", 200),
    ("POST", "/v1/me/devices"): Row(
        "/v1/me/devices", 422, body={"address": ADDRESS, "signature": "1" * 88}
    ),
    # Bandwidth: a fetch or a release on someone else's lease is not found; the worker's own
    # labeling lease takes no fetch, and a decided one cannot be released.
    ("POST", "/v1/bandwidth/campaigns"): Row("/v1/bandwidth/campaigns", 422, body={}),
    ("POST", "/v1/assignments/{assignment_id}/fetch"): Row(
        "/v1/assignments/{live}/fetch",
        404,
        {"worker": 422},
        body={},
        headers={"earnest-metering": METERING, "earnest-signature": "1" * 88},
    ),
    ("POST", "/v1/assignments/{assignment_id}/release"): Row(
        "/v1/assignments/{rejected}/release", 404, {"worker": 409}
    ),
    ("GET", "/v1/campaigns/{campaign_id}/tasks/{task_id}/body"): Row(
        "/v1/campaigns/{campaign}/tasks/1/body", 404
    ),
    ("GET", "/v1/operator/reconcile"): Row("/v1/operator/reconcile", 403, {"operator": 200}),
    # Webhooks: an endpoint on someone else's campaign, their endpoints and deliveries, are
    # not found; the requester deleting its own would end the world's webhook.
    ("POST", "/v1/webhooks"): Row(
        "/v1/webhooks",
        404,
        {"requester": 201},
        {"url": "https://hooks.example.org/more", "campaign_id": "{campaign}"},
    ),
    ("GET", "/v1/webhooks"): Row("/v1/webhooks", 200),
    ("DELETE", "/v1/webhooks/{webhook_id}"): Row(
        "/v1/webhooks/{webhook}", 404, skip=frozenset({"requester"})
    ),
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): Row(
        "/v1/webhooks/{webhook}/deliveries", 404, {"requester": 200}
    ),
    ("POST", "/v1/webhook-deliveries/{delivery_id}/resend"): Row(
        "/v1/webhook-deliveries/{delivery}/resend", 404, {"requester": 200}
    ),
}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    built = build_world(tmp_path / "world")
    yield built
    built.market.close()


def test_every_endpoint_has_a_row(world: World) -> None:
    # The OpenAPI document lists every route the app serves (FastAPI keeps included
    # routers as private nodes, so the document is the stable way to enumerate them).
    paths = create_app(world.market).openapi()["paths"]
    routes = {(method.upper(), path) for path, item in paths.items() for method in item}
    assert routes == set(ROWS), "add a row to ROWS for every new endpoint"


def expected(row: Row, role: str) -> int | None:
    """The status `role` must get, or None when its call is not made."""
    if role in row.skip:
        return None
    if role == "anonymous":
        return row.others if row.public else 401
    return row.roles.get(role, row.others)


def fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    return value


def cells() -> list[tuple[tuple[str, str], str, int]]:
    """Every (endpoint, role, status); what changes the world (a 2xx POST) comes last."""
    found = [
        (key, role, status)
        for key, row in ROWS.items()
        for role in ROLES
        if (status := expected(row, role)) is not None
    ]
    return sorted(found, key=lambda cell: cell[0][0] == "POST" and cell[2] < 400)


def problems_with(world: World, client: TestClient, key: tuple[str, str], role: str, status: int):  # type: ignore[no-untyped-def]
    row = ROWS[key]
    response = client.request(
        key[0],
        fill(row.path, world.ids),
        json=fill(row.body, world.ids),
        headers=world.headers(role) | row.headers,
    )
    found = []
    if response.status_code != status:
        found.append(f"status {response.status_code}, expected {status}: {response.text[:200]}")
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
    readable = MAY_READ.get(role, set()) if response.status_code < 400 else set()
    leaked = [name for name, secret in SECRETS.items() if secret in response.text]
    found += [f"leaks the {name}" for name in leaked if name not in readable]
    if role in row.shows and not leaked:
        found.append("shows none of the owner's data (the check itself may be broken)")
    return [f"{key[0]} {key[1]} as {role}: {problem}" for problem in found]


def test_no_role_reaches_someone_elses_objects(world: World) -> None:
    client = TestClient(create_app(world.market))
    failures = []
    for key, role, status in cells():
        failures += problems_with(world, client, key, role, status)
    assert not failures, "\n".join(failures)
    assert len(cells()) >= len(ROWS) * (len(ROLES) - 1)
