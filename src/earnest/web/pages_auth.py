"""The front page, sign-in with a wallet, and sign-out."""

from __future__ import annotations

import re
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from earnest.services.identity import SignIn, SignOut
from earnest.web.render import page
from earnest.web.session import (
    COOKIE,
    MarketDep,
    Viewer,
    close_session,
    open_session,
    same_origin,
)

DEFAULT_NEXT = "/work"
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\\]")  # control characters and backslashes
router = APIRouter(include_in_schema=False, dependencies=[Depends(same_origin)])


class SignedMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(max_length=2000)
    signature: str = Field(min_length=64, max_length=100)
    kind: str = "person"


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (never another site).

    Browsers drop tabs and newlines from a URL and read a backslash as a slash, so a path
    like "/<tab>/evil.example" or "/<backslash>evil.example" leads off the site: any control
    character or backslash, and anything but a single leading "/", falls back to the default
    (checked on the percent-decoded form too, which some proxies and apps decode)."""
    if not target:
        return DEFAULT_NEXT
    for form in (target, unquote(target)):
        if not form.startswith("/") or form.startswith("//") or _UNSAFE.search(form):
            return DEFAULT_NEXT
    return target


@router.get("/", response_class=HTMLResponse)
def home(request: Request, who: Viewer) -> HTMLResponse:
    """What Earnest is, and the way in for workers, requesters and operators."""
    return page(request, "home.html", who)


@router.get("/signin", response_class=HTMLResponse)
def signin(request: Request, who: Viewer, next: str | None = None) -> HTMLResponse:
    """Sign in with a wallet extension, or with a key kept in this browser."""
    return page(request, "signin.html", who, next=safe_next(next))


@router.post("/session")
def session(body: SignedMessage, request: Request, m: MarketDep) -> JSONResponse:
    """Check a signed sign-in message (from POST /v1/auth/challenge) and set the cookie."""
    token, who, expires = m.identity.sign_in(SignIn(body.message, body.signature, body.kind))
    response = JSONResponse({"address": who.address, "expires_at": expires.isoformat()})
    open_session(response, token, expires, secure=m.site.uri.startswith("https://"))
    return response


@router.post("/signout")
def signout(request: Request, m: MarketDep) -> Response:
    """End the session everywhere (not only this browser's cookie), and go to the front page."""
    token = request.cookies.get(COOKIE, "")
    m.identity.sign_out(SignOut(token), sessions=request.app.state.sessions)
    response = RedirectResponse("/", status_code=303)
    close_session(response)
    return response
