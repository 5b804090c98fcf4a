"""The bandwidth demo: a requester pays nodes per byte to scrape a site; a cheat is caught.

Everything runs in this process, on 127.0.0.1: a fresh market (SQLite, LocalChain) served
by uvicorn in a thread, a small web site, and bandwidth nodes that talk to the market
through the SDK. One node injects an ad into every page it returns; the other nodes' bodies
agree, so its fetches are rejected and it earns nothing, while the honest nodes are paid
per metered byte in SPL tokens.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from earnest.adapters.chain.wallet import Wallet
from earnest.bootstrap import Market, build_market
from earnest.client import Earnest
from earnest.config import Settings
from earnest.demo.funds import faucet_deposit, settle_all
from earnest.demo.server import BackgroundServer
from earnest.demo.website import Website, articles
from earnest.domain.money import format_units, unit_cost
from earnest.node import Fetched, Node, NodeOptions, NodeReport
from earnest.services.reconcile import reconcile


@dataclass(frozen=True)
class BandwidthOptions:
    pages: int = 12
    honest: int = 3  # honest nodes; one more node cheats
    overlap: int = 3  # k: nodes that fetch each URL
    price_per_kb: int = 2_000  # base units per 1,000 bytes: 0.002 of a 6-decimal token
    reward: int = 50_000  # the most one fetch earns, and the unit escrow reserves
    data_dir: Path | None = None


class TamperingNode(Node):
    """A dishonest node: it injects an ad into every page, and signs what it returns."""

    def returned_body(self, fetched: Fetched) -> bytes:
        return fetched.body.replace(b"<body>", b"<body><script>buy_now()</script>", 1)


def run_bandwidth(
    options: BandwidthOptions | None = None, console: Console | None = None
) -> dict[str, Any]:
    """Run the whole bandwidth story; the summary has `verified`, `rejected`, `tokens_paid`."""
    o = options or BandwidthOptions()
    say = console or Console(quiet=True)
    data_dir = o.data_dir or Path(tempfile.mkdtemp(prefix="earnest-bandwidth-"))
    started = time.monotonic()
    market = build_market(Settings(data_dir=data_dir / "market", port=0))
    server, site = BackgroundServer(market), Website(articles(o.pages))
    try:
        url, site_url = server.start(), site.start()
        say.print(f"Market on {url}; a web site of {o.pages} pages on {site_url}")
        requester, cid, budget = _post_scrape(market, url, site_url, o, say)
        reports = _run_nodes(url, data_dir / "nodes", o, say)
        bodies_match = _collect(requester, cid, site, say)
        refunded = requester.close(cid)["refunded"]
        requester.close_client()
        settle_all(market)
        summary = _summary(market, cid, reports, o) | {
            "bodies_match": bodies_match,
            "budget": budget,
            "refunded": refunded,
        }
    finally:
        site.stop()
        server.stop()
        market.close()
    summary["seconds"] = round(time.monotonic() - started, 1)
    return summary


def _post_scrape(
    market: Market, url: str, site_url: str, o: BandwidthOptions, say: Console
) -> tuple[Earnest, str, int]:
    """The requester deposits on chain, posts the URLs with their terms, funds the escrow."""
    wallet = Wallet.generate()
    budget = o.pages * o.overlap * unit_cost(o.reward, market.settings.fee_bps)
    signature = faucet_deposit(market, wallet, budget)
    api = Earnest.sign_in(url, wallet)
    api.deposit(signature)
    cid: str = api.create_bandwidth_campaign(
        title="Scrape the articles",
        allowlist=["127.0.0.1"],
        price_per_kb=o.price_per_kb,
        reward=o.reward,
        overlap=o.overlap,
    )["id"]
    api.upload_tasks(cid, ({"data": {"url": f"{site_url}{p}"}} for p in articles(o.pages)))
    api.fund(cid, budget)
    say.print(
        f"Requester funded {cid}: {o.pages} URLs, {o.overlap} nodes each, "
        f"{o.price_per_kb} base units per KB up to {o.reward} per fetch"
    )
    return api, cid, budget


def _run_nodes(url: str, folder: Path, o: BandwidthOptions, say: Console) -> list[NodeReport]:
    """The cheat takes half the URLs first, then each honest node works until nothing is left."""

    def options(name: str, **changes: Any) -> NodeOptions:
        return NodeOptions(
            market_url=url,
            keypair=folder / f"{name}.json",
            log_path=folder / f"{name}.jsonl",
            allow_private=True,  # the demo's site is on loopback
            once=True,
            per_domain_rate=100.0,  # one local site serves every node here
            **changes,
        )

    reports = [TamperingNode(options("cheat", max_jobs=max(1, o.pages // 2))).run()]
    reports += [Node(options(f"honest{i}")).run() for i in range(1, o.honest + 1)]
    for r in reports:
        say.print(f"node {r.address[:8]}…: {r.jobs} jobs, {r.bytes} bytes carried")
    return reports


def _collect(requester: Earnest, cid: str, site: Website, say: Console) -> bool:
    """The requester reads each result once and downloads its agreed body."""
    rows = [json.loads(line) for line in requester.results(cid)]
    match = all(
        row["result"]["agreed"]
        and requester.fetched_body(cid, row["task_id"])
        == site.pages[row["data"]["url"].removeprefix(site.url)].body
        for row in rows
    )
    say.print(f"Requester received {len(rows)} results; bodies match the site: {match}")
    return match and len(rows) == len(site.pages) - 1  # every page but robots.txt


def _summary(
    market: Market, cid: str, reports: list[NodeReport], o: BandwidthOptions
) -> dict[str, Any]:
    with market.store.uow(readonly=True) as uow:
        counts = uow.assignments.counts(cid)
        tasks = uow.tasks.counts(cid)
        paid = uow.payouts.stats()["paid_amount"]
        cheat = reports[0]
        cheated = [a.status.value for a in uow.assignments.of_worker(cheat.address, 1000)]
    rejected = counts["rejected"]
    report = reconcile(store=market.store, chain=market.chain)
    return {
        "scenario": "bandwidth",
        "urls": o.pages,
        "nodes": len(reports),
        "overlap": o.overlap,
        "verified": counts["accepted"],
        "rejected": rejected,
        "planted": cheat.submitted,
        "caught": cheated.count("rejected") == cheat.submitted == rejected,
        "tasks_agreed": tasks["resolved"],
        "bytes_carried": sum(r.bytes for r in reports),
        "tokens_paid": format_units(paid, market.chain.decimals),
        "base_units_paid": paid,
        "reconciled": report.ok,
        "reconcile_problems": report.problems,
    }
