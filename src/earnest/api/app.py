"""The FastAPI application."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from earnest import __version__
from earnest.api import problems
from earnest.api.middleware import BodyLimit, Idempotency
from earnest.api.routes import auth, campaigns, funds, work
from earnest.bootstrap import Market


def create_app(market: Market) -> FastAPI:
    """The API for one market, under /v1, OpenAPI at /docs."""
    app = FastAPI(
        title="Earnest",
        version=__version__,
        description="An Internet Labor Market: post verifiable work, pay contributors at once on Solana.",
    )
    app.state.market = market
    problems.install(app)
    v1 = APIRouter(prefix="/v1")
    for module in (auth, funds, campaigns, work):
        v1.include_router(module.router)

    @v1.get("/health", tags=["market"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(v1)
    app.add_middleware(Idempotency, store=market.store, clock=market.clock)
    app.add_middleware(
        BodyLimit,
        max_body=market.settings.max_body_bytes,
        max_upload=market.settings.max_upload_bytes,
    )
    return app
