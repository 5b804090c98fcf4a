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


def test_two_workers_serve_one_port_and_elect_one_settler(
    tmp_path: Path, node: Node, pg_url: str
) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = ["serve", "--workers", "2", "--port", str(port)]
    proc = subprocess.Popen(
        [sys.executable, "-c", "from earnest.cli import main; main()", *command],
        env=_env(node, pg_url) | {"EARNEST_DATA_DIR": str(tmp_path / "market")},
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    roles: dict[str, str] = {}
    try:
        deadline = time.monotonic() + 60
        while len(roles) < 2 or sorted(roles.values()) != ["follower", "leader"]:
            assert time.monotonic() < deadline, f"saw only {roles}"
            assert proc.poll() is None, proc.communicate()[1]
            answer = _health(url)
            if answer is None:
                time.sleep(0.2)
                continue
            roles[answer["process"]] = answer["settler"]
        assert proc.pid not in {int(pid) for pid in roles}  # the parent only supervises
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
    assert sorted(roles.values()) == ["follower", "leader"]


def test_several_workers_are_refused_on_sqlite(tmp_path: Path) -> None:
    command = ["serve", "--workers", "2", "--data-dir", str(tmp_path / "market")]
    sqlite = {"EARNEST_DATABASE_URL": f"sqlite:///{tmp_path / 'earnest.sqlite'}"}
    result = CliRunner().invoke(app, command, env=sqlite)
    assert result.exit_code != 0
    assert isinstance(result.exception, InvalidInput) and "PostgreSQL" in str(result.exception)
