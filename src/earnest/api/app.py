"""The FastAPI application."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import APIRouter, FastAPI

from earnest import __version__, web
from earnest.api import problems
from earnest.api.headers import SecurityHeaders
from earnest.api.json_limits import JsonLimits
from earnest.api.middleware import BodyLimit, Idempotency, Outages
from earnest.api.ratelimit import (
    Limits,
    LimitsSync,
    RateLimit,
    Windows,
    redis_counter,
    store_counter,
)
from earnest.api.routes import (
    auth,
    bandwidth,
    campaigns,
    devices,
    funds,
    operator,
    payout_cost,
    peer_reviews,
    quality,
    webhooks,
    work,
)
from earnest.bootstrap import Market
from earnest.config import Settings
from earnest.services.identity import SessionCache, authenticate


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Routes run in a thread pool of `api_threads` (docs/scaling.md, "Threads per process").
    threads = app.state.market.settings.api_threads
    to_thread.current_default_thread_limiter().total_tokens = threads
    app.state.sync.start()  # rate-limit counts shared, revocations heard (api/ratelimit.py)
    yield
    await to_thread.run_sync(app.state.sync.stop)
    if app.state.owns_market:  # a worker process built its own market: it closes it too
        await to_thread.run_sync(app.state.market.close)


def create_app(market: Market, *, owns_market: bool = False) -> FastAPI:
    """The API for one market under /v1 (OpenAPI at /docs), and the web pages around it.

    With `owns_market` the app closes the market when it shuts down (`serve --workers`).
    """
    app = FastAPI(
        lifespan=_lifespan,
        title="Earnest",
        version=__version__,
        description="An Internet Labor Market: post verifiable work, pay contributors at once on Solana.",
    )
    app.state.market = market
    app.state.owns_market = owns_market
    sessions = app.state.sessions = SessionCache()  # per process: see docs/security.md
    problems.install(app)
    v1 = APIRouter(prefix="/v1")
    for module in (
        auth,
        funds,
        campaigns,
        payout_cost,
        work,
        quality,
        peer_reviews,
        bandwidth,
        devices,
        webhooks,
        operator,
    ):
        v1.include_router(module.router)

    @v1.get("/health", tags=["market"])
    def health() -> dict[str, str]:
        # Which API process answered, and whether its settler leads (serve --workers N).
        settler = "leader" if market.settler.leading else "follower"
        return {"status": "ok", "process": str(os.getpid()), "settler": settler}

    app.include_router(v1)
    web.install(app)  # the pages, after the API's error handlers (pages render their own)
    app.add_middleware(Idempotency, store=market.store, clock=market.clock)
    app.add_middleware(JsonLimits)  # depth, control characters: before anything parses a body
    app.add_middleware(
        BodyLimit,
        max_body=market.settings.max_body_bytes,
        max_upload=market.settings.max_upload_bytes,
    )
    limits = app.state.limits = limits_of(market.settings)
    redis = market.settings.rate_limit_redis_url
    counter = redis_counter(redis) if redis else store_counter(market.store)
    app.state.sync = LimitsSync(
        limits, sessions, store=market.store, clock=market.clock, counter=counter
    )

    def owner(credential: str) -> str:
        return authenticate(
            credential, store=market.store, clock=market.clock, sessions=sessions
        ).address

    # Outside the others: refuse before reading.
    app.add_middleware(RateLimit, limits=limits, sessions=sessions, resolve=owner)
    app.add_middleware(Outages)  # a database outage in any middleware answers 503
    app.add_middleware(SecurityHeaders)  # around everything: 413 and 429 answers carry them too
    return app


def limits_of(settings: Settings) -> Limits:
    """The rate limits the settings ask for (fresh counts for a new app)."""
    return Limits(
        Windows(settings.rate_per_second, settings.rate_burst),
        Windows(settings.anonymous_rate_per_second, settings.anonymous_rate_burst),
    )
