"""Bandwidth through the API with real nodes: a market on loopback, a web site on loopback.

The story runs on SQLite and PostgreSQL: three nodes fetch the same URLs, one returns
altered content and is caught; the honest ones are paid per byte, on chain; the requester
gets each result, and its body, once. The rest (the API's edges, the daemon's refusals
and byte cap) runs on SQLite only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from earnest.adapters.chain.wallet import Wallet
from earnest.bootstrap import Market
from earnest.cli import app
from earnest.client import ApiError, Earnest
from earnest.demo.bandwidth import TamperingNode
from earnest.demo.funds import settle_all
from earnest.demo.website import Page, Website, articles
from earnest.domain.bandwidth import MeteringRecord, sha256_hex
from earnest.domain.errors import InvalidInput
from earnest.domain.money import unit_cost
from earnest.node import Node, NodeOptions, NodeReport, load_wallet
from tests.e2e.helpers import deposit
from tests.integration.quality_helpers import QualityMarket, problem

PRICE = 40  # base units per 1,000 bytes
CAP = 1_000  # the most one fetch earns; the pages here earn 40 to 250
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def site() -> Iterator[Website]:
    web = Website(articles(3) | {f"/kb/{i}": Page(b"x" * 1000) for i in range(6)})
    web.start()
    yield web
    web.stop()


def scrape(
    qm: QualityMarket, urls: list[str], *, overlap: int = 3, max_bytes: int = 8192
) -> tuple[Earnest, str, int]:
    """A funded bandwidth campaign of `urls`, escrow for every slot: (requester, id, budget)."""
    wallet = Wallet.generate()
    api = qm.sign_in(wallet=wallet)
    budget = len(urls) * overlap * unit_cost(CAP, qm.market.settings.fee_bps)
    deposit(qm.market, api, wallet, budget)
    cid: str = api.create_bandwidth_campaign(
        title="Scrape articles",
        allowlist=["127.0.0.1"],
        price_per_kb=PRICE,
        reward=CAP,
        overlap=overlap,
        max_bytes=max_bytes,
    )["id"]
    api.upload_tasks(cid, [{"id": f"u{i}", "data": {"url": u}} for i, u in enumerate(urls)])
    api.fund(cid, budget)
    return api, cid, budget


def options(qm: QualityMarket, folder: Path, name: str, **changes: Any) -> NodeOptions:
    fields: dict[str, Any] = {
        "market_url": qm.url,
        "keypair": folder / f"{name}.json",
        "log_path": folder / f"{name}.jsonl",
        "allow_private": True,  # the test site is on loopback
        "once": True,
        "per_domain_rate": 1000.0,
        "timeout": 5.0,
    }
    return NodeOptions(**(fields | changes))


def run(
    qm: QualityMarket, folder: Path, name: str, node: type[Node] = Node, **kw: Any
) -> NodeReport:
    return node(options(qm, folder, name, **kw)).run()


def test_three_nodes_one_cheats_honest_ones_are_paid_per_byte(
    qm: QualityMarket, site: Website, tmp_path: Path
) -> None:
    pages = {f"{site.url}/articles/{i}": site.pages[f"/articles/{i}"].body for i in range(3)}
    requester, cid, budget = scrape(qm, list(pages))
    cheat = run(qm, tmp_path, "cheat", TamperingNode)
    first, second = (run(qm, tmp_path, name) for name in ("honest1", "honest2"))
    assert (cheat.waiting, first.waiting, second.accepted) == (3, 3, 3)

    cheater = qm.sign_in(wallet=Wallet.load(tmp_path / "cheat.json"))
    for a in cheater.assignments():
        assert a["status"] == "rejected" and a["reward"] == 0
        assert "differs from what 2 of 3 nodes fetched" in a["reason"]
        assert (
            a["evidence"]["yours"]["normalized_sha256"]
            != a["evidence"]["agreed"]["normalized_sha256"]
        )
    skill = cheater.my_quality()["skills"]["bandwidth"]
    assert skill["mean"] < 2 / 3  # below the Beta(2, 1) prior of a newcomer

    earned = 0
    for name in ("honest1", "honest2"):
        honest = qm.sign_in(wallet=Wallet.load(tmp_path / f"{name}.json"))
        for a in honest.assignments():
            size = a["answer"]["market"]["bytes"]
            assert a["status"] == "accepted" and a["reward"] == PRICE * size // 1000 <= CAP
            earned += a["reward"]

    rows = [json.loads(line) for line in requester.results(cid)]
    assert sorted(r["data"]["url"] for r in rows) == sorted(pages)  # each URL once
    for row in rows:
        assert row["result"]["agreed"] and row["result"]["nodes"] == 2
        assert requester.fetched_body(cid, row["task_id"]) == pages[row["data"]["url"]]

    status = requester.campaign(cid)
    fee = qm.market.settings.fee_bps
    spent = sum(unit_cost(earned_by, fee) for earned_by in _rewards(qm.market, cid))
    assert (status["reserved"], status["spent"]) == (0, spent)
    assert status["escrow"] == budget - spent  # escrow paid bytes, never more
    assert settle_all(qm.market, timeout=30.0)
    for name in ("honest1", "honest2"):
        address = Wallet.load(tmp_path / f"{name}.json").address
        on_chain = qm.market.chain.token_balance(qm.market.chain.token_account(address))
        assert on_chain == sum(p["amount"] for p in _payouts(qm, tmp_path, name))
    assert requester.close(cid)["refunded"] == budget - spent


def _rewards(market: Market, campaign_id: str) -> list[int]:
    with market.store.uow(readonly=True) as uow:
        counts = uow.assignments.accepted_rewards(campaign_id)
    return [reward for reward, n in counts.items() for _ in range(n)]


def _payouts(qm: QualityMarket, folder: Path, name: str) -> list[dict[str, Any]]:
    payouts: list[dict[str, Any]] = qm.sign_in(
        wallet=Wallet.load(folder / f"{name}.json")
    ).payouts()
    assert payouts and all(p["status"] == "paid" for p in payouts)
    return payouts


@SQLITE_ONLY
def test_the_api_keeps_fetch_jobs_for_nodes_and_checks_every_fetch(
    qm: QualityMarket, site: Website
) -> None:
    url = f"{site.url}/kb/0"
    requester, cid, _ = scrape(qm, [url, f"{site.url}/kb/1"], overlap=1, max_bytes=2000)
    with pytest.raises(ApiError) as bad_row:
        requester.upload_tasks(cid, [{"data": {"url": url}}, {"data": {"url": "https://a.org/x"}}])
    assert problem(bad_row, 422, "schema_violation")["errors"] == [
        {"row": 2, "error": "host 'a.org' is not in the campaign's allowlist (127.0.0.1)"}
    ]
    with pytest.raises(ApiError) as person:
        qm.sign_in().claim(cid)
    assert "bandwidth nodes" in problem(person, 403, "forbidden")["detail"]

    wallet = Wallet.generate()
    node = qm.sign_in(kind="node", wallet=wallet)
    lease = node.claim()
    assert lease["terms"]["allowlist"] == ["127.0.0.1"] and lease["task"] == {"url": url}
    job = lease["assignment"]["id"]
    with pytest.raises(ApiError) as plain:
        node.submit(job, {"anything": 1})
    assert "/fetch" in problem(plain, 422, "invalid_input")["detail"]
    body = b"x" * 1000
    record = MeteringRecord(
        job, url, url, 200, len(body), sha256_hex(body), False, "text/plain", "t", wallet.address
    )
    with pytest.raises(ApiError) as too_big:
        node.submit_fetch(
            job, record.as_dict(), wallet.sign_message(record.canonical()), b"y" * 2001
        )
    assert "cuts at 2000" in problem(too_big, 422, "invalid_input")["detail"]
    forged = Wallet.generate().sign_message(record.canonical())
    verdict = node.submit_fetch(job, record.as_dict(), forged, body)
    assert verdict["decision"] == "reject"
    assert "signature does not verify" in verdict["reason"]
    appeal = node.appeal(job, "the body is the page as the site sent it")
    requester.decide_appeal(appeal["id"], True, "the page is right; paying the bytes")
    assert node.assignment(job)["reward"] == PRICE  # an overturn pays the metered bytes

    second = node.claim()
    assert node.release(second["assignment"]["id"])["status"] == "expired"
    assert node.claim() is None  # a node never gets a job twice; another node may now
    assert qm.sign_in(kind="node").claim()["task"] == second["task"]


@SQLITE_ONLY
def test_the_node_refuses_loopback_by_default_and_gives_the_job_back(
    qm: QualityMarket, site: Website, tmp_path: Path
) -> None:
    requester, cid, _ = scrape(qm, [f"{site.url}/kb/0"], overlap=1)
    report = run(qm, tmp_path, "careful", allow_private=False)
    assert (report.jobs, report.declined, report.submitted, report.bytes) == (1, 1, 0, 0)
    assert site.hits == []
    log = [json.loads(line) for line in (tmp_path / "careful.jsonl").read_text().splitlines()]
    declined = next(e for e in log if e["kind"] == "declined")
    assert declined["code"] == "fetch_refused" and "loopback" in declined["reason"]
    assert requester.campaign(cid)["assignments"]["expired"] == 1  # released, not held


@SQLITE_ONLY
def test_the_daily_byte_cap_stops_the_node_before_it_is_exceeded(
    qm: QualityMarket, site: Website, tmp_path: Path
) -> None:
    urls = [f"{site.url}/kb/{i}" for i in range(6)]
    scrape(qm, urls, overlap=1, max_bytes=2000)
    report = run(qm, tmp_path, "capped", max_bytes=2000, max_bytes_per_day=5000)
    # robots.txt (23 bytes) and three 1,000-byte pages fit; with 1,977 bytes left, less than
    # one response may carry (2,000), the node takes no more jobs today.
    assert (report.jobs, report.accepted, report.declined) == (3, 3, 0)
    assert report.bytes == 3023 <= 5000 and report.earned == 3 * PRICE
    assert report.stopped == "the day's byte cap is reached"
    assert site.hits == ["/robots.txt", "/kb/0", "/kb/1", "/kb/2"]
    log = [json.loads(line) for line in (tmp_path / "capped.jsonl").read_text().splitlines()]
    assert sum(e["bytes"] for e in log if e["kind"] in ("page", "robots")) == 3023
    again = run(qm, tmp_path, "capped", max_bytes=2000, max_bytes_per_day=5000)
    assert again.jobs == 0  # a restart reads the day's bytes back from the log


@SQLITE_ONLY
def test_earnest_node_command_runs_a_node_with_its_own_key(
    qm: QualityMarket, site: Website, tmp_path: Path
) -> None:
    scrape(qm, [f"{site.url}/kb/0"], overlap=1)
    key, log = tmp_path / "keys" / "node.json", tmp_path / "node.jsonl"
    command = ["node", "--url", qm.url, "--keypair", str(key), "--log", str(log)]
    result = CliRunner().invoke(app, [*command, "--allow-private", "--once", "--max-jobs", "5"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert (report["accepted"], report["earned"], report["stopped"]) == (1, PRICE, "no job waiting")
    assert report["address"] == Wallet.load(key).address
    assert key.stat().st_mode & 0o777 == 0o600
    key.chmod(0o644)
    with pytest.raises(InvalidInput, match="chmod 600"):
        load_wallet(key)
