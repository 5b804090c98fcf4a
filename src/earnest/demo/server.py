"""Run the API for the demo and the tests: in a thread, or as a child `earnest serve` process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import httpx
import uvicorn

from earnest.adapters.private import private_dir, private_file
from earnest.api import create_app
from earnest.bootstrap import Market
from earnest.domain.errors import EarnestError


class BackgroundServer:
    """uvicorn on 127.0.0.1 with a free port, in a thread of this process."""

    def __init__(self, market: Market, *, host: str = "127.0.0.1", port: int = 0) -> None:
        config = uvicorn.Config(
            create_app(market),
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
            access_log=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="earnest-api", daemon=True)

    def start(self, timeout: float = 20.0) -> str:
        """Start serving; return the base URL."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise EarnestError("the API server did not start")
            time.sleep(0.02)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """`earnest serve` in a child process (its own core and GIL), logging to a file."""

    def __init__(
        self, data_dir: Path, *, env: dict[str, str] | None = None, args: list[str] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.args = args or []  # more `earnest serve` options, e.g. ["--workers", "2"]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / "server.log"
        self.env = os.environ | (env or {})
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> str:
        """Start the child and wait until /v1/health answers; return the base URL."""
        private_dir(self.data_dir)  # the market's keys and database go here (0700)
        with private_file(self.log_path).open("ab") as log:  # the child keeps its own descriptor
            self.proc = self._spawn(log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise EarnestError(
                    f"the market exited at start (code {self.proc.returncode}); see {self.log_path}"
                )
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=1).status_code == 200:
                    return self.url
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise EarnestError(f"the market did not answer within {timeout:.0f}s; see {self.log_path}")

    def _spawn(self, log: IO[bytes]) -> subprocess.Popen[bytes]:
        command = ["-m", "earnest", "serve", "--port", str(self.port)]
        return subprocess.Popen(
            [sys.executable, *command, "--data-dir", str(self.data_dir), *self.args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
        )

    def stop(self, timeout: float = 20.0) -> None:
        """Ask the child to stop (SIGTERM: uvicorn shuts down cleanly), kill it if it hangs."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout)
