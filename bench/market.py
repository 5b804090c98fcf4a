"""Benchmark: many contributors claim and submit against `earnest serve`, on SQLite or PostgreSQL.

One run: a requester funds a campaign on chain; `--workers` simulated contributors (each its
own key and session, async HTTP on 127.0.0.1, at most `--concurrency` requests in flight)
claim and submit until the tasks run out or `--seconds` pass. It measures verified-and-paid
units per second, claim and submit latency, verification → confirmed payment latency, the
server's peak memory and the database's bytes per million units. In the same run it
measures the chain's own limit on this machine: raw batched token transfers per second in
LiteSVM, and a naive settler that sends one transfer per transaction; it prints the ratios.
The last stdout line is one JSON object (keys in `summary`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select, text

from earnest.adapters.chain.wallet import Wallet
from earnest.adapters.store.tables import payouts
from earnest.bootstrap import build_market
from earnest.client import ApiError, AsyncEarnest, Earnest
from earnest.config import Settings
from earnest.demo.funds import faucet_deposit
from earnest.demo.server import ServerProcess
from earnest.domain.work import MAX_LEASES_PER_WORKER

sys.path.insert(0, str(Path(__file__).parent))
from chain_limits import (
    batched_transfers_per_s,
    chain_node,
    naive_transfers_per_s,
    settler_beside,
    stop_process,
)

PG_ADMIN = os.environ.get(
    "EARNEST_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REWARD = 1_000
OUTPUT = {"type": "object", "properties": {"label": {"enum": ["a", "b"]}}, "required": ["label"]}


def main() -> None:
    args = _args()
    data_dir = Path(tempfile.mkdtemp(prefix="earnest-bench-"))
    env, drop = store_env(args.store)
    try:
        summary = _run(args, data_dir, env)
    finally:
        drop()
    print(json.dumps(summary))


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument(
        "--workers",
        type=int,
        default=50_000,
        help="simulated contributors (the target; --workers 2000 for a quick look, ~2 min)",
    )
    p.add_argument(
        "--tasks",
        type=int,
        default=200_000,
        help="tasks in the campaign (more than units_per_s x --seconds, or the run measures "
        "the tasks running out)",
    )
    p.add_argument("--seconds", type=float, default=120.0, help="stop the load after this long")
    p.add_argument(
        "--sign-in-seconds",
        type=float,
        default=1_800.0,
        help="stop signing contributors in after this long (those signed in then work)",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="contributors with a claim or an answer in flight at most (default: one per API "
        "process and one more to fill its waits on the database; more only queue, since "
        "latency = in flight / throughput; docs/scaling.md)",
    )
    p.add_argument(
        "--api-workers",
        type=int,
        default=None,
        help="API processes (`earnest serve --workers N`; above 1: PostgreSQL, and the chain "
        "served over JSON-RPC by `earnest chain serve`; default 2 on PostgreSQL, one per core "
        "of the 2-core target machine, 1 on SQLite)",
    )
    p.add_argument(
        "--suite",
        type=int,
        default=100,
        help="tasks per claim (a task suite, answered in one request; the campaign's "
        "max_leases); 1 = one task at a time",
    )
    args = p.parse_args()
    if not 1 <= args.suite <= MAX_LEASES_PER_WORKER:
        p.error(f"--suite must be between 1 and {MAX_LEASES_PER_WORKER}")
    if args.api_workers is None:
        args.api_workers = 2 if args.store == "postgres" else 1
    if args.concurrency is None:
        args.concurrency = args.api_workers + 1
    return args


def store_env(store: str) -> tuple[dict[str, str], Any]:
    """The server's settings for the store; a function that drops a PostgreSQL database."""
    # One client IP (127.0.0.1) stands for every contributor: no per-IP or per-key limits.
    env = {"EARNEST_RATE_PER_SECOND": "0", "EARNEST_ANONYMOUS_RATE_PER_SECOND": "0"}
    if store == "sqlite":
        return env, lambda: None
    name = f"earnest_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return env | {"EARNEST_DATABASE_URL": url}, drop


def _run(args: argparse.Namespace, data_dir: Path, env: dict[str, str]) -> dict[str, Any]:
    requester, signature, budget, mint = _deposit(data_dir, env, args.tasks)
    node = None
    if args.api_workers > 1:
        if args.store != "postgres":
            raise SystemExit("--api-workers above 1 needs --store postgres")
        node, chain_url = chain_node(data_dir)
        env = env | {"EARNEST_CHAIN": "rpc", "EARNEST_CHAIN_URL": chain_url, "EARNEST_MINT": mint}
    server = ServerProcess(data_dir, env=env, args=["--workers", str(args.api_workers)])
    try:
        url = server.start()
    except BaseException:
        stop_process(node)
        raise
    _say(
        f"market on {url} ({args.store}, {args.api_workers} API processes); "
        f"{args.workers} workers, {args.tasks} tasks"
    )
    try:
        cid = _campaign(url, requester, signature, budget, args.tasks, args.suite)
        load = asyncio.run(_load(url, cid, args))
        _wait_paid(data_dir, env, load["verified"])
        rss = _peak_rss_mb(server)
    finally:
        server.stop()
        stop_process(node)
    paid = _paid_latencies(data_dir, env)
    _say("measuring the chain's limits and the settler's, in-process")

    # Raw and naive are timed just before and just after the settler's drain, and the
    # ratios taken against their means: this machine's speed swings within a minute.
    def raw_and_naive() -> tuple[float, float]:
        return batched_transfers_per_s(), naive_transfers_per_s()

    settled, around = settler_beside(raw_and_naive, database_url=env.get("EARNEST_DATABASE_URL"))
    raw = sum(r for r, _ in around) / len(around)
    naive = sum(n for _, n in around) / len(around)
    return {
        "workers": args.workers,
        "store": args.store,
        "suite": args.suite,
        "api_workers": args.api_workers,
        "concurrency": args.concurrency,
        "units": load["verified"],
        "units_per_s": round(load["verified"] / load["seconds"], 1),
        "claim_p50_ms": _pct(load["claim_ms"], 50),
        "claim_p99_ms": _pct(load["claim_ms"], 99),
        "submit_p50_ms": _pct(load["submit_ms"], 50),
        "submit_p99_ms": _pct(load["submit_ms"], 99),
        "pay_p50_s": _pct(paid["latencies"], 50),
        "pay_p99_s": _pct(paid["latencies"], 99),
        "settler_transfers_per_s": round(settled, 1),
        "raw_transfers_per_s": round(raw, 1),
        "raw_before_after": [round(r, 1) for r, _ in around],
        "naive_transfers_per_s": round(naive, 1),
        "settle_vs_raw": round(settled / raw, 3),
        "settle_vs_naive": round(settled / naive, 3),
        "server_rss_mb": rss,
        "db_bytes_per_million_units": _db_bytes(data_dir, env)
        * 1_000_000
        // max(load["verified"], 1),
        "db_bytes_by_table": _db_tables(env),
        "signed_in": load["signed_in"],
        "sign_in_s": load["sign_in_s"],
        "errors": load["errors"],
        "errors_by": load["errors_by"],
    }


def _deposit(data_dir: Path, env: dict[str, str], tasks: int) -> tuple[Wallet, str, int, str]:
    """Before the server owns the chain file: the requester's tokens sent to the vault."""
    settings = Settings(data_dir=data_dir, database_url=env.get("EARNEST_DATABASE_URL"))
    market = build_market(settings)
    try:
        budget = tasks * (REWARD + REWARD * settings.fee_bps // 10_000)
        wallet = Wallet.generate()
        return wallet, faucet_deposit(market, wallet, budget), budget, str(market.chain.mint)
    finally:
        market.close()


def _campaign(url: str, wallet: Wallet, signature: str, budget: int, tasks: int, suite: int) -> str:
    with Earnest.sign_in(url, wallet, timeout=300) as api:
        api.deposit(signature)
        cid: str = api.create_campaign(
            type="labeling",
            title="Which?",
            input_schema={"type": "object"},
            output_schema=OUTPUT,
            reward=REWARD,
            overlap=1,
            gold_share=0.0,
            lease_seconds=600,
            max_leases=suite,  # microtasks: a worker may hold a whole suite
        )["id"]
        per_upload = Settings().max_tasks_per_upload
        for start in range(0, tasks, per_upload):
            rows = (
                {"id": str(n), "data": {"n": n}}
                for n in range(start, min(start + per_upload, tasks))
            )
            api.upload_tasks(cid, rows)
        api.fund(cid, budget)
    return cid


async def _load(url: str, cid: str, args: argparse.Namespace) -> dict[str, Any]:
    gate = asyncio.Semaphore(args.concurrency)
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    out: dict[str, Any] = {
        "claim_ms": [],
        "submit_ms": [],
        "verified": 0,
        "errors": 0,
        "errors_by": {},
        "signed_in": 0,
    }
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        started = time.monotonic()
        progress = asyncio.create_task(_report_sign_ins(out, args.workers, started))
        try:
            deadline = started + args.sign_in_seconds
            apis = await _sign_in_all(url, http, gate, args.workers, out, deadline)
        finally:
            progress.cancel()
        out["sign_in_s"] = round(time.monotonic() - started, 1)
        _say(f"{len(apis)} signed in in {out['sign_in_s']} s; working")
        work_start = time.monotonic()
        deadline = work_start + args.seconds
        await asyncio.gather(*(_work(api, cid, gate, out, deadline, args.suite) for api in apis))
        out["seconds"] = time.monotonic() - work_start
    return out


async def _report_sign_ins(out: dict[str, Any], workers: int, started: float) -> None:
    """Progress on stderr while contributors sign in (50,000 take minutes)."""
    while True:
        await asyncio.sleep(15)
        rate = out["signed_in"] / max(time.monotonic() - started, 1e-9)
        _say(f"  {out['signed_in']:,} of {workers:,} signed in ({rate:.0f}/s)")


async def _sign_in_all(
    url: str,
    http: httpx.AsyncClient,
    gate: asyncio.Semaphore,
    n: int,
    out: dict[str, Any],
    deadline: float,
) -> list[AsyncEarnest]:
    async def one() -> AsyncEarnest | None:
        async with gate:
            if time.monotonic() > deadline:
                return None
            try:
                api = await AsyncEarnest.sign_in(url, Wallet.generate(), http=http)
            except Exception as exc:  # counted: a failed sign-in is a measured error
                _error(out, "sign-in", exc)
                return None
            out["signed_in"] += 1
            return api

    found = await asyncio.gather(*(one() for _ in range(n)))
    return [api for api in found if api is not None]


async def _work(
    api: AsyncEarnest,
    cid: str,
    gate: asyncio.Semaphore,
    out: dict[str, Any],
    deadline: float,
    suite: int,
) -> None:
    """Claim a suite, answer it, again, until there is no work or the time is up."""
    while time.monotonic() < deadline:
        async with gate:
            if time.monotonic() >= deadline:  # the wait for a turn may outlast the run
                return
            t0 = time.monotonic()
            try:
                got = await api.claim_suite(cid, count=suite)
            except Exception as exc:  # counted by kind: a failed claim is a measured error
                _error(out, "claim", exc)
                return
            out["claim_ms"].append((time.monotonic() - t0) * 1000)
            if got is None:
                return
            answers = [(lease["assignment"]["id"], {"label": "a"}) for lease in got["leases"]]
            t1 = time.monotonic()
            try:
                results = (await api.submit_answers(answers))["results"]
            except Exception as exc:
                _error(out, "submit", exc)
                continue
            out["submit_ms"].append((time.monotonic() - t1) * 1000)
            out["verified"] += sum(r["decision"] == "accept" for r in results)
            for r in results:
                if r["problem"] is not None:
                    _error(out, "answer", r["problem"]["code"])


def _error(out: dict[str, Any], where: str, what: Exception | str) -> None:
    """Count an error by where it happened and what it was (status and code when the
    server said so)."""
    if isinstance(what, ApiError):
        what = f"{what.status} {what.code}"
    elif isinstance(what, Exception):
        what = type(what).__name__
    key = f"{where}: {what}"
    out["errors"] += 1
    out["errors_by"][key] = out["errors_by"].get(key, 0) + 1


def _wait_paid(data_dir: Path, env: dict[str, str], units: int, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(_paid_latencies(data_dir, env)["latencies"]) >= units:
            return
        time.sleep(1)
    _say("settlement still has a backlog after the timeout")


def _paid_latencies(data_dir: Path, env: dict[str, str]) -> dict[str, Any]:
    engine = create_engine(_db_url(data_dir, env))
    try:
        with engine.connect() as conn:
            query = select(payouts.c.created_at, payouts.c.paid_at).where(
                payouts.c.status == "paid"
            )
            rows = conn.execute(query).all()
    finally:
        engine.dispose()
    latencies = [(p - c).total_seconds() for c, p in rows]
    span = (max(p for _, p in rows) - min(c for c, _ in rows)).total_seconds() if rows else 0.0
    return {"latencies": latencies, "span_s": span}


def _db_url(data_dir: Path, env: dict[str, str]) -> str:
    return env.get("EARNEST_DATABASE_URL") or Settings(data_dir=data_dir).resolved_database_url


def _db_tables(env: dict[str, str], top: int = 8) -> dict[str, int]:
    """The largest tables of a PostgreSQL database, with their indexes and TOAST, in bytes."""
    if "EARNEST_DATABASE_URL" not in env:
        return {}
    engine = create_engine(env["EARNEST_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT relname, pg_total_relation_size(oid) FROM pg_class "
                    "WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace "
                    "ORDER BY 2 DESC LIMIT :top"
                ),
                {"top": top},
            ).all()
    finally:
        engine.dispose()
    return {name: int(size) for name, size in rows}


def _db_bytes(data_dir: Path, env: dict[str, str]) -> int:
    if "EARNEST_DATABASE_URL" not in env:
        db = Path(Settings(data_dir=data_dir).resolved_database_url.split("///", 1)[1])
        return sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))
    engine = create_engine(env["EARNEST_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(text("SELECT pg_database_size(current_database())")).scalar() or 0
            )
    finally:
        engine.dispose()


def _peak_rss_mb(server: ServerProcess) -> float:
    """The server process's peak resident memory (VmHWM), children included when forked."""
    pids = [server.proc.pid] if server.proc else []
    total = 0
    for pid in pids + _children(pids):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total += next(
            (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")), 0
        )
    return round(total / 1024, 1)


def _children(pids: list[int]) -> list[int]:
    found = []
    for pid in pids:
        try:
            found += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            continue
    return found


def _pct(values: list[float], q: int) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, len(ordered) * q // 100)], 3)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
