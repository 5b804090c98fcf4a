"""Dependencies shared by routes: the market, the caller."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from anyio import to_thread
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from earnest.api.ratelimit import CHARGED, Limits
from earnest.bootstrap import Market
from earnest.domain.errors import Unauthenticated
from earnest.services.identity import Principal, SessionCache, cached_session

_bearer = HTTPBearer(auto_error=False, description="a session token or an API key (ek_...)")


def market(request: Request) -> Market:
    return request.app.state.market  # type: ignore[no-any-return]


MarketDep = Annotated[Market, Depends(market)]


def sessions(request: Request) -> SessionCache:
    return request.app.state.sessions  # type: ignore[no-any-return]


SessionsDep = Annotated[SessionCache, Depends(sessions)]


async def principal(
    request: Request,
    m: MarketDep,
    cache: SessionsDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, authenticated; a wallet past its rate (over all its credentials) gets 429,
    and so does a client IP sending too many credentials that fail (made-up tokens). Each
    request counts once: the RateLimit middleware charged its wallet or IP already, and only
    a key it could not know yet (a credential first verified here) is charged now.

    Async, so that a session the process knows costs no trip to the thread pool; the store
    is asked from a worker thread."""
    limits: Limits = request.app.state.limits
    charged = request.scope.get(CHARGED)  # what the RateLimit middleware counted already
    credential = creds.credentials if creds else ""
    who = cached_session(credential, clock=m.clock, sessions=cache)
    if who is None:
        ask = partial(m.identity.authenticate, credential, sessions=cache)
        try:
            who = await to_thread.run_sync(ask)
        except Unauthenticated:
            host = request.client.host if request.client else "unknown"
            if charged != f"ip:{host}":
                limits.check_client(host)
            raise
    if charged != f"address:{who.address}":
        limits.check_address(who.address)
    return who


Caller = Annotated[Principal, Depends(principal)]
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
