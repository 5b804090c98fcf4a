"""Two API processes over one store, served on loopback: the rate-limit and session attacks
need a second process that shares nothing with the first but the database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from earnest.bootstrap import Market, build_market
from earnest.config import Settings
from earnest.demo.server import BackgroundServer


@contextmanager
def processes(data_dir: Path, n: int = 2, **settings: Any) -> Iterator[list[tuple[str, Market]]]:
    """`n` markets on one data dir and database, each served with its limits' sync running
    (BackgroundServer runs no lifespan, which is what starts it under `earnest serve`)."""
    markets = [build_market(Settings(data_dir=data_dir, port=0, **settings)) for _ in range(n)]
    servers = [BackgroundServer(m) for m in markets]
    urls = [s.start() for s in servers]
    # getattr: on a market from before the sync, these attacks fail on their asserts
    syncs = [getattr(s.server.config.app.state, "sync", None) for s in servers]
    for sync in syncs:
        if sync is not None:
            sync.start()
    try:
        yield list(zip(urls, markets, strict=True))
    finally:
        for sync in syncs:
            if sync is not None:
                sync.stop()
        for server in servers:
            server.stop()
        for m in markets:
            m.close()
