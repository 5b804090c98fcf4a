"""Stock JavaScript clients against `earnest chain serve`: @solana/web3.js 1.x with
@solana/spl-token, and @solana/kit, unmodified (tests/js/clients.mjs, pinned by
tests/js/package-lock.json and installed by `make js`). They airdrop and confirm, create a
mint and token accounts, mint, transfer, send memos, and send and confirm a v0 transaction,
over JSON-RPC and the PubSub websocket on the HTTP port + 1, where web3.js looks for it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_chain_serve import SRC, _wait_healthy

JS = Path(__file__).resolve().parents[1] / "js"


def _two_free_ports() -> int:
    """A port whose next port is free too (the websocket's), both on loopback."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return int(port)
    raise AssertionError("no two consecutive free ports on loopback")


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (JS / "node_modules" / "@solana" / "kit").is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail("node and tests/js/node_modules are required in CI (make js)")
        pytest.skip("node or the JavaScript clients are missing (make js)")
    return node


def test_web3js_spl_token_and_kit_work_unmodified(tmp_path: Path) -> None:
    node = _node()
    port = _two_free_ports()
    url = f"http://127.0.0.1:{port}"
    env = os.environ | {"PYTHONPATH": str(SRC), "NO_COLOR": "1"}
    command = ["chain", "serve", "--port", str(port), "--data-dir", str(tmp_path / "var")]
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from earnest.cli import main; main()",
            *command,
            "--slot-ms",
            "100",
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_healthy(url, server)
        run = subprocess.run(
            [node, str(JS / "clients.mjs"), url],
            cwd=JS,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.terminate()
        _, log = server.communicate(timeout=30)
    assert run.returncode == 0, run.stdout + run.stderr + log
    assert run.stdout.splitlines()[-1] == "all done", run.stdout
    assert "Traceback" not in log, log
