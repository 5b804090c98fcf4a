"""The labeling demo: a requester funds a campaign on chain, a crowd works it over HTTP."""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from earnest.adapters.chain.wallet import Wallet
from earnest.bootstrap import Market, build_market
from earnest.client import ApiError, AsyncEarnest, Earnest
from earnest.config import Settings
from earnest.demo import pages
from earnest.demo.crowd import INPUT_SCHEMA, OUTPUT_SCHEMA, SimWorker, make_crowd, make_tasks
from earnest.demo.funds import faucet_deposit
from earnest.demo.server import ServerProcess
from earnest.domain.money import format_units
from earnest.services.campaigns import results
from earnest.services.identity import SESSION_SCOPES, Principal
from earnest.services.reconcile import reconcile


@dataclass(frozen=True)
class DemoOptions:
    tasks: int = 500
    workers: int = 120
    gold_share: float = 0.1
    overlap: int = 5  # the most answers a task may take; dynamic overlap stops earlier
    confidence: float = 0.9  # a task stops being offered at this posterior
    qualification: int = 3  # control tasks a worker answers before regular ones
    reward: int = 10_000  # base units: 0.01 of a 6-decimal token
    seed: int = 7
    data_dir: Path | None = None


@dataclass
class CrowdReport:
    """What happened to each simulated worker: how much they did, whether a gate stopped them."""

    answered: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    stopped: dict[str, str] = field(default_factory=dict)  # address → the rule or gate


def run_demo(options: DemoOptions, console: Console) -> dict[str, Any]:
    """Run the whole story and return the summary."""
    data_dir = options.data_dir or Path(tempfile.mkdtemp(prefix="earnest-demo-"))
    settings = Settings(data_dir=data_dir)
    started = time.monotonic()
    requester, deposit_signature, budget = _deposit_on_chain(settings, options)
    operator = Wallet.generate()
    pages.save_keys(data_dir, requester, operator)
    # The whole simulated crowd signs in from 127.0.0.1: a limit per client IP would treat
    # it as one abusive client. Limits per credential and per wallet stay on.
    env = {"EARNEST_OPERATORS": operator.address, "EARNEST_ANONYMOUS_RATE_PER_SECOND": "0"}
    server = ServerProcess(data_dir, env=env)
    url = server.start()
    console.print(f"Earnest market on {url}  (API docs: {url}/docs, data in {data_dir})")
    try:
        campaign_id, truth = _post_work(url, requester, deposit_signature, budget, options, console)
        pages.announce(console, url, data_dir, campaign_id)
        crowd = asyncio.run(_crowd(url, campaign_id, options, console))
        _wait_settled(url, requester, console)
        _close(url, requester, campaign_id, console)
    finally:
        server.stop()
    market = build_market(settings)
    try:
        summary = _summary(market, campaign_id, truth, options) | _quality(
            market, campaign_id, crowd, options
        )
    finally:
        market.close()
    summary["seconds"] = round(time.monotonic() - started, 1)
    console.print(pages.reopen_hint(data_dir, operator), soft_wrap=True, highlight=False)
    return summary


def _budget(o: DemoOptions, fee_bps: int) -> int:
    """Escrow for the worst case: every task at its maximum overlap, plus qualification."""
    answers = o.tasks * o.overlap + o.workers * o.qualification
    return answers * (o.reward + o.reward * fee_bps // 10_000)


def _deposit_on_chain(settings: Settings, o: DemoOptions) -> tuple[Wallet, str, int]:
    """The requester gets tokens and sends them to the market's vault, on chain."""
    market = build_market(settings)
    try:
        budget = _budget(o, settings.fee_bps)
        requester = Wallet.generate()
        return requester, faucet_deposit(market, requester, budget), budget
    finally:
        market.close()


def _post_work(
    url: str, requester: Wallet, signature: str, budget: int, o: DemoOptions, console: Console
) -> tuple[str, dict[str, str]]:
    """The requester credits the deposit, creates and funds a campaign, uploads tasks."""
    tasks, truth = make_tasks(o.tasks, o.gold_share, random.Random(o.seed))
    with Earnest.sign_in(url, requester) as api:
        decimals = api.market()["decimals"]
        api.deposit(signature)
        campaign = api.create_campaign(
            type="labeling",
            title="Which topic is this headline about?",
            instructions="Pick the topic that best fits the headline.",
            input_schema=INPUT_SCHEMA,
            output_schema=OUTPUT_SCHEMA,
            reward=o.reward,
            overlap=o.overlap,
            gold_share=o.gold_share,
            lease_seconds=120,
            verifier="dawid_skene",
            quality={
                "confidence": o.confidence,
                "min_overlap": 2,
                "qualification_tasks": o.qualification,
                "qualification_accuracy": 0.6,
                "max_gold_failure": 0.5,
            },
        )
        api.upload_tasks(campaign["id"], tasks)
        api.fund(campaign["id"], budget)
    console.print(
        f"Requester deposited {format_units(budget, decimals)} tokens on chain and funded campaign "
        f"{campaign['id']}: {o.tasks} tasks, {round(o.tasks * o.gold_share)} gold, "
        f"dynamic overlap up to {o.overlap} (confidence {o.confidence}), "
        f"{o.qualification} qualification control tasks per worker"
    )
    return campaign["id"], truth


async def _crowd(url: str, campaign_id: str, o: DemoOptions, console: Console) -> CrowdReport:
    crowd = make_crowd(o.workers, random.Random(o.seed + 1))
    limits = httpx.Limits(max_connections=o.workers, max_keepalive_connections=o.workers)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        progress = Progress(
            TextColumn("answers"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        report = CrowdReport()
        with progress:
            bar = progress.add_task("answers", total=None)
            workers = [
                asyncio.create_task(_work(url, http, sim, campaign_id, progress, bar, report))
                for sim in crowd
            ]
            await asyncio.gather(*workers)
    return report


async def _work(
    url: str,
    http: httpx.AsyncClient,
    sim: SimWorker,
    campaign_id: str,
    progress: Progress,
    bar: Any,
    report: CrowdReport,
) -> int:
    wallet = Wallet.generate()
    api = await AsyncEarnest.sign_in(url, wallet, http=http)
    report.kinds[wallet.address] = sim.kind
    answered, idle = 0, 0
    while idle < 3:
        try:
            lease = await api.claim(campaign_id)
        except ApiError as exc:
            if exc.status != 403:
                raise
            report.stopped[wallet.address] = _gate(exc.problem)
            break
        if lease is None:
            idle += 1
            await asyncio.sleep(0.2)
            continue
        idle = 0
        await api.submit(lease["assignment"]["id"], sim.answer(lease["task"]["text"]))
        answered += 1
        progress.advance(bar)
    report.answered[wallet.address] = answered
    return answered


def _gate(problem: dict[str, Any]) -> str:
    """Which rule or gate stopped a worker, from the 403 problem the market sent."""
    if "limit" in problem:
        return str(problem["limit"]["rule"])
    if "qualification" in problem:
        return "qualification"
    return "forbidden"


def _close(url: str, requester: Wallet, campaign_id: str, console: Console) -> None:
    """The requester closes the campaign: escrow not spent (labels saved) comes back."""
    with Earnest.sign_in(url, requester) as api:
        refunded = api.close(campaign_id)["refunded"]
        decimals = api.market()["decimals"]
    console.print(f"Campaign closed; {format_units(refunded, decimals)} tokens refunded")


def _quality(
    market: Market, campaign_id: str, crowd: CrowdReport, o: DemoOptions
) -> dict[str, Any]:
    """Labels saved by dynamic overlap, and who the quality rules stopped."""
    with market.store.uow(readonly=True) as uow:
        counts = uow.tasks.counts(campaign_id)
        used = uow.assignments.regular_answers(campaign_id)
    regular = counts["tasks"] - counts["gold_tasks"]
    spammers = {a for a, kind in crowd.kinds.items() if kind == "spammer"}
    stopped = set(crowd.stopped)
    return {
        "labels_used": used,
        "labels_fixed_overlap": regular * o.overlap,
        "labels_saved": round(1 - used / (regular * o.overlap), 4) if regular else 0.0,
        "answers_per_task": round(used / regular, 2) if regular else 0.0,
        "spammers": len(spammers),
        "spammers_stopped": len(spammers & stopped),
        "others_stopped": dict(sorted(Counter(crowd.kinds[a] for a in stopped - spammers).items())),
        "stopped_by": dict(sorted(Counter(crowd.stopped.values()).items())),
    }


def _wait_settled(url: str, requester: Wallet, console: Console, timeout: float = 60.0) -> None:
    """Wait until the market's settler has paid everything owed."""
    with Earnest.sign_in(url, requester) as api:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            backlog = api.market()["settlement"]
            if not backlog.get("pending_count") and not backlog.get("batched_count"):
                return
            time.sleep(0.2)
    console.print("[yellow]settlement still has a backlog after the timeout[/yellow]")


def _summary(
    market: Market, campaign_id: str, truth: dict[str, str], o: DemoOptions
) -> dict[str, Any]:
    with market.store.uow(readonly=True) as uow:
        stats = uow.payouts.stats()
        latencies = uow.payouts.latencies()
        paid = uow.ledger.balances("worker:")
    results = _results(market, campaign_id)
    correct = sum(
        1 for r in results if r["result"] and r["result"]["label"] == truth.get(r["external_id"])
    )
    report = reconcile(store=market.store, chain=market.chain)
    tokens_paid = stats["paid_amount"]
    return {
        "tasks": o.tasks,
        "workers": o.workers,
        "campaign": campaign_id,
        "tasks_resolved": len(results),
        "accuracy": round(correct / len(results), 4) if results else 0.0,
        "tokens_paid": format_units(tokens_paid, market.chain.decimals),
        "base_units_paid": tokens_paid,
        "transactions": stats["transactions"],
        "transfers_per_tx": round(stats["transfers"] / stats["transactions"], 2)
        if stats["transactions"]
        else 0.0,
        "pay_latency_p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "pay_latency_p99_s": round(_p99(latencies), 3) if latencies else None,
        "unpaid_payable": sum(paid.values()),
        "reconciled": report.ok,
        "reconcile_problems": report.problems,
    }


def _results(market: Market, campaign_id: str) -> list[dict[str, Any]]:
    with market.store.uow(readonly=True) as uow:
        campaign = uow.campaigns.get(campaign_id)
    requester = Principal(campaign.requester if campaign else "", SESSION_SCOPES, "session")
    return list(results(requester, campaign_id, store=market.store))


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def print_summary(summary: dict[str, Any], console: Console, as_json: bool) -> None:
    table = Table(title="Earnest demo")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        if key != "reconcile_problems":
            table.add_row(key, str(value))
    console.print(table)
    for problem in summary["reconcile_problems"]:
        console.print(f"[red]reconcile: {problem}[/red]")
    if as_json:
        print(json.dumps(summary))
