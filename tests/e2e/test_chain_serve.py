"""`earnest chain serve` as a user runs it: a process answering Solana JSON-RPC on loopback."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from solana.rpc.async_api import AsyncClient
from solders.pubkey import Pubkey

SRC = Path(__file__).resolve().parents[2] / "src"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            if httpx.get(f"{url}/health", timeout=1).text == "ok":
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("earnest chain serve did not come up in 60 s")


def test_chain_serve_answers_solana_clients(tmp_path: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = os.environ | {"PYTHONPATH": str(SRC), "NO_COLOR": "1"}
    command = ["chain", "serve", "--port", str(port), "--data-dir", str(tmp_path / "var")]
    proc = subprocess.Popen(
        [sys.executable, "-c", "from earnest.cli import main; main()", *command],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_healthy(url, proc)

        async def ask() -> tuple[int, int]:
            async with AsyncClient(url) as rpc:
                market = Pubkey.from_string(_market_address(tmp_path / "var"))
                return (await rpc.get_slot()).value, (await rpc.get_balance(market)).value

        slot, lamports = asyncio.run(ask())
        assert slot > 0 and lamports > 0  # the market wallet pays fees on the local chain
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err  # SIGTERM: a clean shutdown (cli_serve)
    assert "EARNEST_CHAIN=rpc" in err and f"EARNEST_CHAIN_URL={url}" in err


def _market_address(data_dir: Path) -> str:
    from earnest.adapters.chain import load_or_create_keypair

    return str(load_or_create_keypair(data_dir / "market-keypair.json").pubkey())
