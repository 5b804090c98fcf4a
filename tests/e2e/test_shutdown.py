"""SIGTERM stops `earnest serve` and `earnest chain serve` cleanly: the settler and the
chain store are closed by the process's own shutdown, and it exits 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.test_chain_serve import SRC, _free_port, _wait_healthy


def _start(tmp_path: Path, *command: str) -> subprocess.Popen[str]:
    env = os.environ | {"PYTHONPATH": str(SRC), "NO_COLOR": "1", "EARNEST_DATABASE_URL": ""}
    return subprocess.Popen(
        [sys.executable, "-c", "from earnest.cli import main; main()", *command],
        env={k: v for k, v in env.items() if v},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_answering(url: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer in 60 s")


def _terminate(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    return err


def test_chain_serve_closes_its_chain_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    proc = _start(tmp_path, "chain", "serve", "--port", str(port), "--data-dir", "var")
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", proc)
        assert (tmp_path / "var" / "chain.sqlite-wal").exists()  # open: it writes its WAL
    finally:
        err = _terminate(proc)
    assert proc.returncode == 0, err
    assert "chain stopped" in err
    assert not (tmp_path / "var" / "chain.sqlite-wal").exists()  # closed, checkpointed


def test_serve_stops_its_loops_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    proc = _start(tmp_path, "serve", "--port", str(port), "--data-dir", "var")
    try:
        _wait_answering(f"http://127.0.0.1:{port}/v1/health", proc)
    finally:
        err = _terminate(proc)
    assert proc.returncode == 0, err
    assert "Earnest stopped" in err
    assert not (tmp_path / "var" / "chain.sqlite-wal").exists()
