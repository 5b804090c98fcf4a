"""Run the API in a background thread on 127.0.0.1 (for the demo and end-to-end tests)."""

from __future__ import annotations

import threading
import time

import uvicorn

from earnest.api import create_app
from earnest.bootstrap import Market
from earnest.domain.errors import EarnestError


class BackgroundServer:
    """uvicorn on 127.0.0.1 with a free port, started and stopped from the calling thread."""

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
        sock = self.server.servers[0].sockets[0]
        host, port = sock.getsockname()[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
