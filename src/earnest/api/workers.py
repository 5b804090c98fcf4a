"""`earnest serve --workers N`: each uvicorn worker process builds its own market.

The parent process only supervises; every worker opens the store and the chain from the
environment (EARNEST_*), starts its loops and serves the API on the shared port. Their N
settlers elect one leader through PostgreSQL (adapters/store/leader.py), so only one pays.
"""

from __future__ import annotations

from fastapi import FastAPI

from earnest.domain.errors import InvalidInput


def app_from_env() -> FastAPI:
    """The app of one worker process: a market built from the environment, loops started."""
    from earnest.api.app import create_app
    from earnest.bootstrap import build_market
    from earnest.config import Settings

    market = build_market(Settings.load())
    market.start_loops()
    return create_app(market, owns_market=True)


def check_can_fork(database_url: str, chain: str) -> None:
    """Refuse N workers where processes cannot share the market's state."""
    if not database_url.startswith("postgresql"):
        raise InvalidInput(
            "serve --workers N > 1 needs PostgreSQL (EARNEST_DATABASE_URL): a SQLite file "
            "is owned by one process, whose settler always leads"
        )
    if chain != "rpc":
        raise InvalidInput(
            "serve --workers N > 1 needs EARNEST_CHAIN=rpc: the embedded LocalChain lives in "
            "one process (run `earnest chain serve` and point the market at it)"
        )
