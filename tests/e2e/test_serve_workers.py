"""`earnest serve --workers 2` on PostgreSQL: two API processes on one port, one settler."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from earnest.cli import app
from earnest.domain.errors import InvalidInput
from tests.e2e.test_chain_serve import _free_port
from tests.rpc_helpers import Node, running_node

pytestmark = pytest.mark.postgres

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    with running_node(tmp_path / "market") as served:
        yield served


def _env(node: Node, pg_url: str) -> dict[str, str]:
    return os.environ | {
        "PYTHONPATH": str(SRC),
        "NO_COLOR": "1",
        "EARNEST_DATABASE_URL": pg_url,
        "EARNEST_CHAIN": "rpc",
        "EARNEST_CHAIN_URL": node.url,
        "EARNEST_MINT": node.local.mint,
        "EARNEST_SETTLE_INTERVAL": "0.2",
    }


def _health(url: str) -> dict[str, str] | None:
    try:  # a new connection each time, so the kernel may hand it to either worker
        answer: dict[str, str] = httpx.get(f"{url}/v1/health", timeout=2).json()
    except httpx.TransportError:
        return None
    return answer


def _serve(tmp_path: Path, node: Node, pg_url: str, port: int) -> subprocess.Popen[str]:
    command = ["serve", "--workers", "2", "--port", str(port)]
    return subprocess.Popen(
        [sys.executable, "-c", "from earnest.cli import main; main()", *command],
        env=_env(node, pg_url) | {"EARNEST_DATA_DIR": str(tmp_path / "market")},
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _roles(url: str, proc: subprocess.Popen[str]) -> dict[str, str]:
    """The settler role of each worker process, once both answered (one leads)."""
    roles: dict[str, str] = {}
    deadline = time.monotonic() + 60
    while len(roles) < 2 or sorted(roles.values()) != ["follower", "leader"]:
        assert time.monotonic() < deadline, f"saw only {roles}"
        assert proc.poll() is None, proc.communicate()[1]
        answer = _health(url)
        if answer is None:
            time.sleep(0.2)
            continue
        roles[answer["process"]] = answer["settler"]
    return roles


def _stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return proc.returncode, err


def test_two_workers_serve_one_port_and_elect_one_settler(
    tmp_path: Path, node: Node, pg_url: str
) -> None:
    port = _free_port()
    proc = _serve(tmp_path, node, pg_url, port)
    try:
        roles = _roles(f"http://127.0.0.1:{port}", proc)
        assert proc.pid not in {int(pid) for pid in roles}  # the parent only supervises
    finally:
        code, err = _stop(proc)
    assert sorted(roles.values()) == ["follower", "leader"]
    assert code == 0, err  # the workers drained and closed their markets; so did the parent


def test_both_workers_killed_are_replaced_within_a_second_or_so(
    tmp_path: Path, node: Node, pg_url: str
) -> None:
    """SIGKILL both API processes at once: the supervisor gives one place to its prepared
    spare and forks a worker for the other at once, so the port answers again well before
    uvicorn's supervisor did (it pinged each worker with 5 s to answer, then spawned a
    worker that imported everything afresh: 4.9-8.3 s measured)."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _serve(tmp_path, node, pg_url, port)
    try:
        killed = {int(pid) for pid in _roles(url, proc)}
        # A client made beforehand (making one costs ~0.1 s), with a new connection for
        # each probe (so that any worker may take it) and a short timeout: connections
        # queue on the listening socket while no worker serves.
        probe = httpx.Client(timeout=0.3, limits=httpx.Limits(max_keepalive_connections=0))
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        struck = time.monotonic()
        answer = None
        while time.monotonic() - struck < 30:
            try:
                answer = probe.get(f"{url}/v1/health").json()
            except httpx.TransportError:
                time.sleep(0.02)
                continue
            if int(answer["process"]) not in killed:
                break
        gap = time.monotonic() - struck
        probe.close()
        assert answer is not None and int(answer["process"]) not in killed
        assert gap < 1.5, f"nothing served for {gap:.2f} s after both workers died"
        roles = _roles(url, proc)  # both slots are filled again, and one of them leads
        assert not killed & {int(pid) for pid in roles}
    finally:
        code, err = _stop(proc)
    assert code == 0, err


def test_several_workers_are_refused_on_sqlite(tmp_path: Path) -> None:
    command = ["serve", "--workers", "2", "--data-dir", str(tmp_path / "market")]
    sqlite = {"EARNEST_DATABASE_URL": f"sqlite:///{tmp_path / 'earnest.sqlite'}"}
    result = CliRunner().invoke(app, command, env=sqlite)
    assert result.exit_code != 0
    assert isinstance(result.exception, InvalidInput) and "PostgreSQL" in str(result.exception)
