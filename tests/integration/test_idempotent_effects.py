"""A request's effects and its Idempotency-Key record commit together (PostgreSQL).

The process "dies" (Crash, which nothing catches) when the record is written, after the use
case did its work: funded a campaign, created one, credited a deposit, leased a task,
accepted an answer. With the record committed apart from the effects, the effects stayed
and the answer was lost: once the record's lease was over, the retry did the work again
(a second campaign, escrow funded twice, a second lease) or was refused (the deposit and
the answer were already there). Held in one transaction, the crash leaves neither, and the
retry does the work once; a further retry gets the same answer replayed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select, text

from earnest.adapters.chain import Wallet
from earnest.adapters.store.tables import assignments, campaigns
from earnest.api import create_app
from earnest.bootstrap import Market
from earnest.demo.funds import faucet_deposit
from earnest.domain.money import unit_cost
from tests.e2e.helpers import campaign_spec, task_row
from tests.integration.api_world import session_token
from tests.integration.faults import Crash

pytestmark = pytest.mark.postgres

RECORD = re.compile(r"^\s*(UPDATE|DELETE FROM) idempotency\b", re.IGNORECASE)


@contextmanager
def dead_at_the_record(market: Market) -> Iterator[None]:
    """Every write of an Idempotency-Key record crashes: the process is gone from there on."""

    def crash(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if RECORD.match(statement):
            raise Crash

    event.listen(market.store.engine, "before_cursor_execute", crash)
    try:
        yield
    finally:
        event.remove(market.store.engine, "before_cursor_execute", crash)


def _lease_passes(market: Market) -> int:
    """The dead request's record is older than its lease (as 5 minutes later)."""
    with market.store.engine.begin() as conn:
        moved = conn.execute(
            text(
                "UPDATE idempotency SET created_at = created_at - interval '6 minutes' "
                "WHERE status_code IS NULL"
            )
        )
        return int(moved.rowcount)


def _crash_then_retry(
    market: Market, client: TestClient, path: str, body: dict[str, Any], token: str, key: str
) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}", "idempotency-key": key}
    with dead_at_the_record(market), pytest.raises((Crash, BaseExceptionGroup)):
        client.post(path, json=body, headers=headers)
    assert _lease_passes(market) == 1  # left "in progress" by the dead request
    retried = client.post(path, json=body, headers=headers)
    again = client.post(path, json=body, headers=headers)
    assert again.headers.get("idempotent-replayed") == "true"
    assert (again.status_code, again.json()) == (retried.status_code, retried.json())
    return retried


def _count(market: Market, query: Any) -> int:
    with market.store.engine.connect() as conn:
        return int(conn.scalar(query) or 0)


def test_a_crash_at_the_record_leaves_neither_the_effect_nor_the_record(
    pg_market: Market,
) -> None:
    market = pg_market
    client = TestClient(create_app(market))
    requester, worker = Wallet.generate(), Wallet.generate()
    boss, crowd = session_token(market, requester), session_token(market, worker)
    spec = campaign_spec()
    budget = 3 * unit_cost(spec["reward"], market.settings.fee_bps)

    signature = faucet_deposit(market, requester, budget)
    deposit = _crash_then_retry(market, client, "/v1/deposits", {"signature": signature}, boss, "d")
    assert deposit.status_code == 201, deposit.text
    assert deposit.json() == {"amount": budget, "available": budget}

    created = _crash_then_retry(market, client, "/v1/campaigns", spec, boss, "c")
    assert created.status_code == 201, created.text
    assert _count(market, select(func.count()).select_from(campaigns)) == 1
    campaign = created.json()["id"]
    rows = "".join(f"{json.dumps(task_row(n))}\n" for n in range(3))
    uploaded = client.post(
        f"/v1/campaigns/{campaign}/tasks",
        content=rows,
        headers={"authorization": f"Bearer {boss}", "content-type": "application/x-ndjson"},
    )
    assert uploaded.status_code == 201, uploaded.text

    fund = f"/v1/campaigns/{campaign}/fund"
    funded = _crash_then_retry(market, client, fund, {"amount": budget}, boss, "f")
    assert funded.status_code == 200, funded.text
    assert funded.json()["escrow"] == budget  # funded once, not twice

    claimed = _crash_then_retry(market, client, "/v1/claims", {"campaign_id": campaign}, crowd, "l")
    assert claimed.status_code == 201, claimed.text
    leases = select(func.count()).select_from(assignments)
    assert _count(market, leases.where(assignments.c.worker == worker.address)) == 1

    lease = claimed.json()["assignment"]["id"]
    answer = {"answer": {"label": "even"}}
    submitted = _crash_then_retry(
        market, client, f"/v1/assignments/{lease}/submit", answer, crowd, "s"
    )
    assert submitted.status_code == 200, submitted.text
