"""The short soak (`make test` runs it): bench/soak.py with a fixed seed, 30 s of load.

Eight contributors claim suites and answer them on `earnest serve --workers 2` (a private
PostgreSQL cluster, `earnest chain serve` behind a proxy) while the seed's schedule kills API
processes, the settler's leader, the whole server and the chain server, restarts PostgreSQL,
stalls the RPC and expires the blockhash. Then reconcile must be clean, nobody lost or
double paid, no answer request stuck "in progress" with its effect committed, and every
accepted unit known to its client. Longer runs and their figures: docs/operating.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SEED = 7  # its schedule strikes every kind of fault within 30 s (printed by the soak)

pytestmark = [pytest.mark.soak, pytest.mark.slow]


def _postgres_tools() -> bool:
    return bool(sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")) or shutil.which("pg_ctl"))


@pytest.mark.timeout(230)
def test_a_short_soak_keeps_every_check() -> None:
    if not _postgres_tools():
        if os.environ.get("EARNEST_REQUIRE_POSTGRES") == "1":
            pytest.fail("the soak needs PostgreSQL's initdb and pg_ctl")
        pytest.skip("no initdb/pg_ctl here for the soak's private PostgreSQL")
    command = [sys.executable, "bench/soak.py", "--seed", str(SEED), "--seconds", "30"]
    command += ["--mean-gap", "4", "--contributors", "8", "--tasks", "1500"]
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT / "src")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=150)
    except subprocess.TimeoutExpired:
        proc.terminate()  # the soak stops its PostgreSQL, chain and server on SIGTERM
        out, err = proc.communicate(timeout=60)
        pytest.fail(f"the soak ran over 150 s:\n{err[-4000:]}")
    run = subprocess.CompletedProcess(command, proc.returncode, out, err)
    assert run.stdout.strip(), run.stderr[-4000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert run.returncode == 0 and summary["ok"], (summary, run.stderr[-4000:])
    assert summary["accepted_units"] > 0
    struck = {kind for kind, n in summary["faults"].items() if n and "failed" not in kind}
    assert len(struck) >= 4, summary["faults"]  # several kinds of fault, really struck
    assert summary["lost_pay"] == summary["double_pay"] == 0
    assert summary["stuck_idempotency_records"] == 0
    assert summary["accepted_unknown_to_client"] == 0
