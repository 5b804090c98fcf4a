"""Strings no UTF-8 encoder takes, and JSON in a header: refused with a 422, nothing stored.

A JSON escape `\\ud800` with no low half after it parses into a Python string that cannot be
encoded back out. Before the fix such a string passed every check: an upload holding one was
stored (201), and every worker's claim that leased the task answered 500 (the lease was taken,
the answer lost); a campaign whose schema held one was stored and answered 500, as did its
requester's list of campaigns from then on. The bandwidth node's `Earnest-Metering` header,
base64 JSON, was parsed without a depth limit: 3,000 brackets answered 500.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from earnest.adapters.chain.wallet import Wallet
from earnest.bootstrap import Market
from earnest.demo.server import BackgroundServer
from tests.e2e.helpers import INPUT_SCHEMA, campaign_spec
from tests.integration.api_world import session_token

LONE = "\\ud800"  # the six characters of the JSON escape, not the code point


@pytest.fixture
def served_any(market: Market) -> Iterator[tuple[httpx.Client, Market]]:
    """A requester's client on a market served on loopback, on SQLite and on PostgreSQL."""
    server = BackgroundServer(market)
    url = server.start()
    headers = {"authorization": f"Bearer {session_token(market, Wallet.generate())}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        yield client, market
    server.stop()


def _raw(value: Any) -> bytes:
    """JSON text of `value` with each "LONE" string turned into a lone surrogate escape."""
    return json.dumps(value).replace("LONE", LONE).encode()


def _refused(answer: httpx.Response) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "surrogate" in answer.json()["detail"]


@pytest.mark.parametrize(
    "row",
    [
        {"data": {"text": "LONE", "n": 1}},
        {"data": {"text": "a", "n": 1}, "id": "LONE"},
        {"data": {"text": "a", "n": 1, "LONE": 2}},
    ],
    ids=["value", "id", "key"],
)
@pytest.mark.parametrize("kind", ["application/x-ndjson", "application/json"])
def test_a_lone_surrogate_in_an_upload_is_refused_and_nothing_is_added(
    served_any: tuple[httpx.Client, Market], row: dict[str, Any], kind: str
) -> None:
    client, market = served_any
    made = client.post("/v1/campaigns", json=campaign_spec())
    campaign_id = made.json()["id"]
    fine = {"data": {"text": "fine \U0001f600", "n": 2}}  # a pair (an emoji) is text
    body = _raw([fine, row]) if kind == "application/json" else _raw(fine) + b"\n" + _raw(row)
    answer = client.post(
        f"/v1/campaigns/{campaign_id}/tasks", content=body, headers={"content-type": kind}
    )
    _refused(answer)
    with market.store.uow() as uow:
        assert uow.tasks.counts(campaign_id)["tasks"] == 0


def test_a_lone_surrogate_in_a_schema_is_refused_and_no_campaign_is_stored(
    served_any: tuple[httpx.Client, Market],
) -> None:
    client, _ = served_any
    before = client.get("/v1/campaigns")
    assert before.status_code == 200
    spec = campaign_spec(input_schema=INPUT_SCHEMA | {"description": "LONE"})
    answer = client.post(
        "/v1/campaigns", content=_raw(spec), headers={"content-type": "application/json"}
    )
    _refused(answer)
    after = client.get("/v1/campaigns")  # before the fix: a 500 (or a reset) from now on
    assert after.status_code == 200
    assert after.json() == before.json()


def test_an_escaped_pair_and_an_escaped_backslash_are_accepted(
    served_any: tuple[httpx.Client, Market],
) -> None:
    client, _ = served_any
    campaign_id = client.post("/v1/campaigns", json=campaign_spec()).json()["id"]
    rows = [{"data": {"text": "\U0001f600", "n": 1}}, {"data": {"text": "\\ud800", "n": 2}}]
    body = b"\n".join(json.dumps(r).encode() for r in rows)  # ensure_ascii: \ud83d\ude00
    assert b"\\ud83d\\ude00" in body and b"\\\\ud800" in body
    answer = client.post(
        f"/v1/campaigns/{campaign_id}/tasks",
        content=body,
        headers={"content-type": "application/x-ndjson"},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["added"] == 2


def test_a_deep_metering_header_is_a_problem_not_a_500(
    served_any: tuple[httpx.Client, Market],
) -> None:
    client, _ = served_any
    header = base64.urlsafe_b64encode(b"[" * 3000 + b"]" * 3000).decode().rstrip("=")
    answer = client.post(
        "/v1/assignments/asg_nope/fetch",
        content=b"page",
        headers={"earnest-metering": header, "earnest-signature": "x"},
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
