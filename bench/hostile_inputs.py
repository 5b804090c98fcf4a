"""The served market under hostile inputs: memory, time and the event loop's longest block.

`earnest serve` runs in a child process (its RSS read from /proc/PID/status). Each phase
sends its requests while a probe asks GET /v1/health every 20 ms and records the slowest
answer: the baseline (normal uploads and campaign creations), then a JSON array and a JSONL
line nested 50,000 deep (issue 21 finding 2), then tasks crafted against a requester's
`^(a+)+$` pattern (finding 3). Targets: under 100 MB more than the baseline, and the loop
never blocked over 100 ms. The last stdout line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from earnest.adapters.chain.wallet import Wallet
from earnest.client import Earnest
from earnest.demo.server import ServerProcess

DEEP = 50_000
SCHEMA = {
    "type": "object",
    "properties": {"text": {"type": "string", "pattern": "^(a+)+$"}, "n": {"type": "integer"}},
    "required": ["text"],
}
OUTPUT = {"type": "object", "properties": {"label": {"enum": ["even", "odd"]}}}


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    """The child's resident memory (or its peak, VmHWM), in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


class Probe:
    """GET /v1/health every 20 ms on its own connection; the slowest answer is the loop's
    longest block as a client sees it."""

    def __init__(self, url: str) -> None:
        self.url, self.lags, self.stop = url, [0.0], threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as client:
            for _ in range(30_000):  # bounded: ten minutes at most
                if self.stop.is_set():
                    return
                started = time.monotonic()
                client.get("/v1/health")
                self.lags.append(time.monotonic() - started)
                time.sleep(0.02)

    def __enter__(self) -> Probe:
        self.thread.start()
        time.sleep(0.3)
        return self

    def __exit__(self, *_: object) -> None:
        time.sleep(0.3)
        self.stop.set()
        self.thread.join(60)


def campaign(api: Earnest, http: httpx.Client, schema: dict[str, Any]) -> str:
    body = {
        "type": "labeling",
        "title": "Bench",
        "instructions": "Say even or odd.",
        "input_schema": schema,
        "output_schema": OUTPUT,
        "reward": 1_000,
        "overlap": 1,
        "gold_share": 0.0,
        "lease_seconds": 600,
    }
    answer = http.post("/v1/campaigns", json=body)
    answer.raise_for_status()
    return str(answer.json()["id"])


def phase(name: str, server: ServerProcess, send: Any, repeat: int) -> dict[str, Any]:
    """Run `send` `repeat` times under the probe; time, statuses, memory and the worst lag."""
    assert server.proc is not None
    pid = server.proc.pid
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset the child's peak RSS
    before = rss_kb(pid)
    statuses: list[int] = []
    with Probe(server.url) as probe:
        started = time.monotonic()
        for _ in range(repeat):
            statuses.append(send())
        took = time.monotonic() - started
    return {
        "phase": name,
        "requests": repeat,
        "ms_per_request": round(1000 * took / repeat, 1),
        "statuses": sorted(set(statuses)),
        "peak_rss_growth_mb": round((rss_kb(pid, "VmHWM") - before) / 1024, 1),
        "rss_mb": round(rss_kb(pid) / 1024, 1),
        "max_health_ms": round(1000 * max(probe.lags), 1),
        "health_probes": len(probe.lags) - 1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="requests per phase")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "market")
        url = server.start()
        try:
            rows = run(server, url, args.repeat)
        finally:
            server.stop()
    baseline = rows[0]
    for row in rows:
        row["rss_growth_vs_baseline_mb"] = round(
            row["peak_rss_growth_mb"] - baseline["peak_rss_growth_mb"], 1
        )
        print(
            f"{row['phase']:>22}: {row['ms_per_request']:7.1f} ms/request, statuses "
            f"{row['statuses']}, peak RSS +{row['peak_rss_growth_mb']} MB, slowest health "
            f"{row['max_health_ms']} ms ({row['health_probes']} probes)",
            file=sys.stderr,
        )
    met = all(r["rss_growth_vs_baseline_mb"] < 100 and r["max_health_ms"] < 100 for r in rows[1:])
    print(json.dumps({"phases": rows, "targets_met": met}))


def run(server: ServerProcess, url: str, repeat: int) -> list[dict[str, Any]]:
    api = Earnest.sign_in(url, Wallet.generate())
    headers = {"authorization": f"Bearer {api.token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
        plain = campaign(api, http, {"type": "object"})
        redos = campaign(api, http, SCHEMA)
        tasks = f"/v1/campaigns/{plain}/tasks"
        normal = [{"id": f"t{i}", "data": {"text": f"item {i}", "n": i}} for i in range(200)]
        deep_array = b"[" * DEEP + b"]" * DEEP
        deep_line = b'{"data": ' + b"[" * DEEP + b"]" * DEEP + b"}\n"
        crafted = [{"id": f"r{i}", "data": {"text": "a" * 30 + "!", "n": i}} for i in range(200)]
        ndjson = {"content-type": "application/x-ndjson"}

        def normal_upload() -> int:
            return http.post(tasks, json=normal).status_code

        return [
            phase("baseline (200 tasks)", server, normal_upload, repeat),
            phase(
                "deep JSON array",
                server,
                lambda: (
                    http.post(
                        tasks, content=deep_array, headers={"content-type": "application/json"}
                    ).status_code
                ),
                repeat,
            ),
            phase(
                "deep JSONL line",
                server,
                lambda: http.post(tasks, content=deep_line, headers=ndjson).status_code,
                repeat,
            ),
            phase(
                "ReDoS (200 tasks)",
                server,
                lambda: http.post(f"/v1/campaigns/{redos}/tasks", json=crafted).status_code,
                repeat,
            ),
        ]


if __name__ == "__main__":
    main()
