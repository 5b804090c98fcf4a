"""`earnest serve --workers N`: each worker process builds its own market.

The parent process only supervises (earnest.supervisor); every worker, forked from it,
opens the store and the chain from the environment (EARNEST_*), starts its loops and serves
the API on the shared socket. Their N settlers elect one leader through PostgreSQL
(adapters/store/leader.py), so only one pays.
"""

from __future__ import annotations

from fastapi import FastAPI

from earnest.domain.errors import InvalidInput


def app_from_env(*, start: bool = True) -> FastAPI:
    """The app of one worker process: a market built from the environment, its loops
    started unless `start` is False (a spare starts them when it takes over)."""
    from earnest.api.app import create_app
    from earnest.bootstrap import build_market
    from earnest.config import Settings

    market = build_market(Settings.load())
    if start:
        market.start_loops()
    return create_app(market, owns_market=True)


def preload() -> None:
    """Import what a worker runs, in the parent, so that each forked worker starts at once.
    Imports only: no thread, connection or file is opened (a fork copies none safely)."""
    import earnest.api.app
    import earnest.bootstrap
    import earnest.config  # noqa: F401


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
