"""The whole story through the SDK: deposit, campaign, tasks, work, verdicts, payouts, export."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from solders.pubkey import Pubkey
from solders.signature import Signature

from earnest.adapters.chain.wallet import Wallet
from earnest.bootstrap import Market
from earnest.client import ApiError, Earnest
from earnest.demo.funds import settle_all
from earnest.domain.money import unit_cost
from earnest.domain.receipts import verify_proof
from tests.e2e.helpers import campaign_spec, deposit, task_row, truth

JSONL_TASKS = 30
ARRAY_TASKS = 30
GOLD = {0, 7, 14, 21, 28}  # of the JSON Lines rows
OVERLAP = 3


def _work_until_idle(
    worker: Earnest, campaign_id: str, wrong_every: int = 0
) -> list[dict[str, Any]]:
    """Claim and answer until there is no work; every `wrong_every`-th answer is wrong."""
    verdicts = []
    while (lease := worker.claim(campaign_id)) is not None:
        n = lease["task"]["n"]
        answer = truth(n)
        if wrong_every and len(verdicts) % wrong_every == wrong_every - 1:
            answer = truth(n + 1)
        verdicts.append(worker.submit(lease["assignment"]["id"], answer) | {"n": n})
    return verdicts


def test_whole_story(sqlite_market: Market, sign_in: Callable[..., Earnest], base_url: str) -> None:
    market = sqlite_market
    requester_wallet = Wallet.generate()
    requester = sign_in(requester_wallet)
    fee_bps = requester.market()["fee_bps"]
    total_tasks = JSONL_TASKS + ARRAY_TASKS
    budget = total_tasks * OVERLAP * unit_cost(1_000, fee_bps)

    # deposit on chain, credited once
    credited = deposit(market, requester, requester_wallet, budget)
    assert credited == {"amount": budget, "available": budget}
    assert requester.balance()["available"] == budget

    # This story is about money, not quality rules: a sloppy worker must not be paused by
    # the gold-failure rule when random gold picks line up with their wrong answers.
    campaign = requester.create_campaign(
        **campaign_spec(overlap=OVERLAP, gold_share=0.1, quality={"max_gold_failure": 1.0})
    )
    cid = campaign["id"]
    assert campaign["status"] == "draft"
    assert campaign["unit_cost"] == unit_cost(1_000, fee_bps)

    # tasks as JSON Lines through the SDK
    added = requester.upload_tasks(cid, (task_row(n, gold=n in GOLD) for n in range(JSONL_TASKS)))
    assert added == {"rows": JSONL_TASKS, "added": JSONL_TASKS, "skipped": 0, "duplicates": []}

    # tasks as a JSON array
    array = [task_row(n) for n in range(JSONL_TASKS, total_tasks)]
    response = requester.http.post(
        f"/v1/campaigns/{cid}/tasks",
        content=json.dumps(array).encode(),
        headers={"authorization": f"Bearer {requester.token}", "content-type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["added"] == ARRAY_TASKS

    # a bad row: nothing is added, and the row number is reported
    bad = [task_row(100), task_row(101), {"id": "bad", "data": {"text": "no n"}}, task_row(103)]
    with pytest.raises(ApiError) as info:
        requester.upload_tasks(cid, bad)
    assert info.value.status == 422
    assert [e["row"] for e in info.value.problem["errors"]] == [3]
    status = requester.campaign(cid)
    assert status["tasks"]["tasks"] == total_tasks
    assert status["tasks"]["gold_tasks"] == len(GOLD)

    # fund: escrow opens the campaign
    assert requester.fund(cid, budget) == {"escrow": budget}
    assert requester.balance()["available"] == 0
    assert requester.campaign(cid)["campaign"]["status"] == "active"

    # three workers answer until nothing is left; the third is wrong on every 4th answer
    wallets = [Wallet.generate() for _ in range(3)]
    workers = [sign_in(w) for w in wallets]
    done = [_work_until_idle(w, cid, wrong_every=4 if i == 2 else 0) for i, w in enumerate(workers)]
    assert all(
        len(d) == total_tasks for d in done
    )  # overlap 3, 3 workers: each sees each task once
    for d in done:
        assert len({v["n"] for v in d}) == total_tasks
    for verdict in done[0] + done[1]:
        assert verdict["decision"] in ("accept", "wait")
    rejected = [v for v in done[2] if v["decision"] == "reject"]
    assert rejected
    assert all(v["reason"] and v["receipt_id"] for v in rejected)

    status = requester.campaign(cid)
    assert status["tasks"]["resolved"] == total_tasks
    accepted = status["assignments"]["accepted"]
    assert accepted + status["assignments"]["rejected"] == total_tasks * OVERLAP
    assert status["escrow"] == budget - accepted * unit_cost(1_000, fee_bps)

    # settlement pays every accepted unit on chain
    assert settle_all(market, timeout=30.0), "a settlement backlog remains"
    signer = Pubkey.from_string(market.crypto.market_address)
    for wallet, worker in zip(wallets, workers, strict=True):
        payouts = worker.payouts()
        assert payouts
        mine = [a for a in worker.assignments() if a["status"] == "accepted"]
        assert len(payouts) == len(mine)
        for payout in payouts:
            assert payout["status"] == "paid"
            assert payout["transaction"]
            assert payout["amount"] == 1_000
        on_chain = market.chain.token_balance(market.chain.token_account(wallet.address))
        assert on_chain == 1_000 * len(payouts)
        assert worker.balance()["payable"] == 0

        receipt = worker.receipt(payouts[0]["receipt_id"])
        assert receipt["receipt"]["verdict"] == "accept"
        paid = receipt["payout"]
        assert paid["status"] == "paid"
        assert paid["transaction"] == payouts[0]["transaction"]
        assert paid["memo"].endswith(paid["merkle_root"])
        assert verify_proof(receipt["digest"], paid["proof"], paid["merkle_root"])
        assert Signature.from_string(receipt["signature"]).verify(
            signer, bytes.fromhex(receipt["digest"])
        )

    # a stranger cannot read a worker's receipt
    with pytest.raises(ApiError) as info:
        sign_in().receipt(workers[0].payouts()[0]["receipt_id"])
    assert info.value.status == 404

    # results: one row per resolved non-gold task, as JSON Lines and as CSV
    regular = total_tasks - len(GOLD)
    rows = [json.loads(line) for line in requester.results(cid) if line]
    assert len(rows) == regular
    assert len({r["task_id"] for r in rows}) == regular
    assert not {r["external_id"] for r in rows} & {f"t{n}" for n in GOLD}
    for row in rows:
        assert row["result"] == truth(row["data"]["n"])
        assert len(row["answers"]) == OVERLAP
    table = list(csv.reader(requester.results(cid, "csv")))
    header, body = table[0], [r for r in table[1:] if r]
    assert header == [
        "task_id",
        "external_id",
        "data.text",
        "data.n",
        "result.label",
        "confidence",
        "answers",
    ]
    by_id = {int(r[0]): r for r in body}
    for row in rows:  # one column per field: the JSON Lines' values, flat
        cells = by_id[row["task_id"]]
        assert cells[3] == str(row["data"]["n"]) and cells[4] == row["result"]["label"]
    assert len(body) == regular
    assert {int(r[0]) for r in body} == {r["task_id"] for r in rows}

    # the books balance against the chain
    from earnest.services.reconcile import reconcile

    assert reconcile(store=market.store, chain=market.chain).ok


def test_deposit_cannot_be_credited_twice(
    sqlite_market: Market, sign_in: Callable[..., Earnest]
) -> None:
    wallet = Wallet.generate()
    api = sign_in(wallet)
    sqlite_market.chain.faucet(wallet.address, 5_000)
    info = api.market()
    raw = wallet.deposit_transaction(
        mint=info["mint"],
        decimals=info["decimals"],
        vault=info["vault"],
        amount=5_000,
        blockhash=sqlite_market.chain.latest_blockhash(),
    )
    signature = sqlite_market.chain.submit(raw)
    assert api.deposit(signature)["amount"] == 5_000
    with pytest.raises(ApiError) as info_err:
        api.deposit(signature)
    assert info_err.value.status == 409
    with pytest.raises(ApiError) as other:
        sign_in().deposit(signature)
    assert other.value.status == 403
    assert api.balance()["available"] == 5_000


def _upload_many(base_url: str, api: Earnest, cid: str, count: int) -> float:
    started = time.monotonic()
    result = api.upload_tasks(
        cid, ({"id": str(n), "data": {"text": "x", "n": n}} for n in range(count))
    )
    elapsed = time.monotonic() - started
    assert result["added"] == count
    return elapsed


@pytest.mark.slow
def test_bulk_upload_of_100k_tasks(sign_in: Callable[..., Earnest], base_url: str) -> None:
    api = sign_in()
    cid = api.create_campaign(**campaign_spec())["id"]
    elapsed = _upload_many(base_url, api, cid, 100_000)
    status = api.campaign(cid)
    assert status["tasks"]["tasks"] == 100_000
    assert status["tasks"]["open"] == 100_000
    print(f"uploaded 100,000 tasks in {elapsed:.1f}s")
    assert elapsed < 120


def test_upload_is_all_or_nothing_across_chunks(sign_in: Callable[..., Earnest]) -> None:
    """A bad row after the first insert chunk (1,000 rows) still leaves nothing behind."""
    api = sign_in()
    cid = api.create_campaign(**campaign_spec())["id"]
    rows = [task_row(n) for n in range(2_500)]
    rows[2_400] = {"data": {"text": "x", "n": "not a number"}}
    with pytest.raises(ApiError) as info:
        api.upload_tasks(cid, rows)
    assert info.value.problem["errors"][0]["row"] == 2_401
    assert api.campaign(cid)["tasks"]["tasks"] == 0


def test_empty_upload_is_422(sign_in: Callable[..., Earnest]) -> None:
    api = sign_in()
    cid = api.create_campaign(**campaign_spec())["id"]
    with pytest.raises(ApiError) as info:
        api.upload_tasks(cid, [])
    assert info.value.status == 422


def test_upload_rejects_other_content_types(sign_in: Callable[..., Earnest]) -> None:
    api = sign_in()
    cid = api.create_campaign(**campaign_spec())["id"]
    # A body that is a valid JSON Lines task: only the content type can refuse it.
    response = api.http.post(
        f"/v1/campaigns/{cid}/tasks",
        content=(json.dumps(task_row(1)) + "\n").encode(),
        headers={"authorization": f"Bearer {api.token}", "content-type": "application/xml"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "invalid_input"
    assert "application/x-ndjson" in problem["detail"], problem
    assert api.campaign(cid)["tasks"]["tasks"] == 0
