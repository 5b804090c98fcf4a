"""Benchmark: sign-in and per-request cost of `earnest serve`, on SQLite or PostgreSQL.

One run starts `earnest serve` (one API process, rate limits off: one client IP stands for
every contributor), then in three phases, each `--requests` long with at most
`--concurrency` requests in flight over one pooled `httpx.AsyncClient` on 127.0.0.1:

1. `GET /v1/health`: the floor of the HTTP stack (no credential, no database), the baseline;
2. `AsyncEarnest.sign_in` with fresh wallets (a challenge and a session: two POSTs each);
3. `GET /v1/api-keys` with those sessions: the cheapest authenticated read.

For each phase it measures requests per second, latency, and the CPU the server process
spent per request (from /proc, minus what its background loops use while idle), and the
PostgreSQL backends' CPU per request. Ratios against the health check, measured side by
side in the same run, carry over between noisy machines; absolute times do not.
The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from earnest.adapters.chain.wallet import Wallet
from earnest.client import AsyncEarnest
from earnest.demo.server import ServerProcess

sys.path.insert(0, str(Path(__file__).parent))
from market import store_env  # one scratch database and settings, as market.py's

TICK = os.sysconf("SC_CLK_TCK")


def main() -> None:
    args = _args()
    env, drop = store_env(args.store)
    try:
        summary = asyncio.run(_run(args, env))
    finally:
        drop()
    print(json.dumps(summary))


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--store", choices=("sqlite", "postgres"), default="postgres")
    p.add_argument("--requests", type=int, default=2_000, help="sign-ins, and GETs, per phase")
    p.add_argument("--concurrency", type=int, default=64, help="requests in flight at most")
    p.add_argument("--profile", metavar="SVG", help="record the server with py-spy into SVG")
    return p.parse_args()


async def _run(args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    server = ServerProcess(Path(tempfile.mkdtemp(prefix="earnest-bench-")), env=env)
    url = server.start()
    assert server.proc is not None
    pid = server.proc.pid
    spy = _py_spy(pid, args.profile) if args.profile else None
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    out: dict[str, Any] = {"store": args.store, "requests": args.requests}
    try:
        async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
            await http.get("/v1/health")
            idle = await _idle_cpu_per_s(pid)
            gate = asyncio.Semaphore(args.concurrency)
            n = args.requests

            async def health(_: int) -> None:
                (await http.get("/v1/health")).raise_for_status()

            apis: list[AsyncEarnest] = []

            async def sign_in(_: int) -> None:
                apis.append(await AsyncEarnest.sign_in(url, Wallet.generate(), http=http))

            async def read(i: int) -> None:
                # The contributors signed in last: each reads a few times, as workers do.
                await apis[-1 - i % min(len(apis), args.concurrency * 4)].api_keys()

            out["health"] = await _phase(pid, idle, gate, n, health, per_call=1)
            out["sign_in"] = await _phase(pid, idle, gate, n, sign_in, per_call=2)
            out["authed_get"] = await _phase(pid, idle, gate, n, read, per_call=1)
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            spy.wait()
        server.stop()
    base = out["health"]["server_cpu_ms_per_request"]
    for phase in ("sign_in", "authed_get"):
        out[phase]["server_cpu_vs_health"] = round(
            out[phase]["server_cpu_ms_per_request"] / base, 2
        )
    out["sign_ins_per_s"] = out["sign_in"]["calls_per_s"]
    out["sign_in_server_cpu_ms_per_request"] = out["sign_in"]["server_cpu_ms_per_request"]
    return out


async def _phase(
    pid: int,
    idle: float,
    gate: asyncio.Semaphore,
    n: int,
    call: Callable[[int], Awaitable[None]],
    *,
    per_call: int,
) -> dict[str, Any]:
    """Run `call` n times; calls/s, latency, and server/database CPU per HTTP request."""
    latencies: list[float] = []
    errors = 0

    async def one(i: int) -> None:
        nonlocal errors
        async with gate:
            t0 = time.perf_counter()
            try:
                await call(i)
            except Exception as exc:  # counted: a failed call is a measured error
                errors += 1
                if errors == 1:
                    _say(f"first error: {exc!r}")
                return
            latencies.append(time.perf_counter() - t0)

    cpu0, pg0, client0, t0 = _cpu(pid), _pg_cpu(), time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    cpu1, pg1, client1, t1 = _cpu(pid), _pg_cpu(), time.process_time(), time.perf_counter()
    elapsed, requests = t1 - t0, n * per_call
    server_cpu = max(0.0, cpu1 - cpu0 - idle * elapsed)
    result = {
        "calls_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": _pct(latencies, 50),
        "p99_ms": _pct(latencies, 99),
        "server_cpu_ms_per_request": round(server_cpu * 1000 / requests, 3),
        "server_cpu_busy": round(server_cpu / elapsed, 2),
        "pg_cpu_ms_per_request": round((pg1 - pg0) * 1000 / requests, 3),
        "client_cpu_ms_per_request": round((client1 - client0) * 1000 / requests, 3),
        "errors": errors,
    }
    _say(f"{call.__name__}: {result}")
    return result


async def _idle_cpu_per_s(pid: int, seconds: float = 3.0) -> float:
    """The server's CPU per second with no requests (its settler and quality loops)."""
    before = _cpu(pid)
    await asyncio.sleep(seconds)
    return (_cpu(pid) - before) / seconds


def _cpu(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _pg_cpu() -> float:
    """CPU seconds of every PostgreSQL process now alive (0 where /proc cannot tell)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                total += _cpu(int(entry.name))
        except OSError:
            continue
    return total


def _py_spy(pid: int, svg: str) -> Any:
    import subprocess

    command = [
        "py-spy",
        "record",
        "-p",
        str(pid),
        "-o",
        svg,
        "-r",
        "100",
        "--nonblocking",
        "--format",
        "raw",
    ]
    spy = subprocess.Popen(
        [str(Path(sys.executable).parent / command[0]), *command[1:]],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1)
    return spy


def _pct(values: list[float], q: int) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, len(ordered) * q // 100)] * 1000, 1)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
