"""Who is looking at a page: the session cookie, and the checks every page shares.

A page session is the same session token the API hands out after a wallet sign-in, kept in
an HttpOnly cookie (scripts never see it) with SameSite=Lax (other sites' forms and fetches
do not carry it). POSTs must also come from this site's own pages: a POST whose Origin
names another host is refused, which closes what SameSite leaves open (sibling subdomains,
old browsers).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import urlparse

from fastapi import Depends, Request
from fastapi.responses import Response

from earnest.bootstrap import Market
from earnest.domain.errors import Forbidden, Unauthenticated
from earnest.services.identity import API_KEY_PREFIX, SESSION_TTL, Principal

COOKIE = "earnest_session"


class SignInFirst(Exception):
    """A page needs a signed-in viewer; the handler sends them to the sign-in page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def market(request: Request) -> Market:
    """The market the app serves."""
    return request.app.state.market  # type: ignore[no-any-return]


MarketDep = Annotated[Market, Depends(market)]


def viewer(request: Request, m: MarketDep) -> Principal | None:
    """The signed-in party, or None (no cookie, or an expired or unknown session)."""
    token = request.cookies.get(COOKIE, "")
    if not token or token.startswith(API_KEY_PREFIX):
        return None
    try:
        # The app's session cache: pages and the API share it, and its sign-out news.
        sessions = getattr(request.app.state, "sessions", None)
        return m.identity.authenticate(token, sessions=sessions)
    except Unauthenticated:
        return None


Viewer = Annotated[Principal | None, Depends(viewer)]


def signed_in(request: Request, who: Viewer) -> Principal:
    """The signed-in party; anyone else is sent to sign in and brought back here."""
    if who is None:
        query = f"?{request.url.query}" if request.url.query else ""
        raise SignInFirst(request.url.path + query)
    return who


SignedIn = Annotated[Principal, Depends(signed_in)]


def same_origin(request: Request) -> None:
    """Refuse a POST sent from another site's page."""
    if request.method != "POST":
        return
    origin = request.headers.get("origin")
    if origin is not None and urlparse(origin).netloc != request.headers.get("host"):
        raise Forbidden("this form was sent from another site")


def open_session(response: Response, token: str, expires: datetime, *, secure: bool) -> None:
    """Hand the session token to the browser as an HttpOnly, SameSite=Lax cookie."""
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(SESSION_TTL.total_seconds()),
        expires=expires,
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )


def close_session(response: Response) -> None:
    """Forget the session cookie."""
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")


def wants_fragment(request: Request) -> bool:
    """Whether a script asked for a part of a page (to swap in) rather than a whole page."""
    return request.headers.get("x-earnest-fragment") == "1"
