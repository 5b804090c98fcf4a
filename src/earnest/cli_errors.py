"""What the `earnest` command says when something fails: one line, in the user's words.

A missing file, a file that is not JSON, a market that does not answer or a URL without
its scheme are the user's to fix, and a traceback of forty lines hides the one that says
how. `--debug` shows the traceback instead (earnest.cli.main).
"""

from __future__ import annotations

import json

import httpx

from earnest.domain.errors import EarnestError

DEBUG = {"on": False}  # set by the --debug option before any command runs


def one_line(exc: BaseException) -> str:
    """The message for an error that ended a command: what went wrong, and what it was about."""
    if isinstance(exc, EarnestError):
        return exc.detail + _rows(exc)
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return f"the market's URL is not valid ({exc}): give it as http://host:port"
    if isinstance(exc, httpx.TransportError):
        where = _url_of(exc)
        return (
            f"cannot reach the market{f' at {where}' if where else ''}: {exc or type(exc).__name__}"
        )
    if isinstance(exc, OSError):
        about = f"{exc.filename}: " if exc.filename else ""
        return f"{about}{exc.strerror or exc}"
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON (line {exc.lineno}: {exc.msg})"
    if isinstance(exc, UnicodeDecodeError):
        return f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})"
    return f"{type(exc).__name__}: {exc} (run with --debug for the traceback)"


SHOWN_ROWS = 3  # row errors named on the line; the API's answer lists up to 20


def _rows(exc: EarnestError) -> str:
    """The first bad rows of an upload the server refused, on the same line."""
    problem = getattr(exc, "problem", None)  # an ApiError carries the server's problem JSON
    errors = (problem or exc.extra).get("errors")
    if not isinstance(errors, list) or not errors:
        return ""
    shown = [
        f"row {e.get('row')}: {e.get('error')}" for e in errors[:SHOWN_ROWS] if isinstance(e, dict)
    ]
    more = f"; and {len(errors) - SHOWN_ROWS} more" if len(errors) > SHOWN_ROWS else ""
    return " (" + "; ".join(shown) + more + ")"


def _url_of(exc: httpx.TransportError) -> str:
    try:
        return str(exc.request.url.copy_with(query=None))  # a query may hold a secret
    except RuntimeError:  # an error raised before any request was made has none
        return ""
