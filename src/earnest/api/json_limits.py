"""Nesting depth and control characters in request bodies, checked before anything parses them.

A JSON parser given a body nested 50,000 deep either recurses until Python gives up (a 500)
or, streaming, builds one prefix string per level (ijson: gigabytes). So every JSON body, the
task uploads included, is scanned first: a byte scanner counts open brackets outside strings
and reads every string escape, and refuses a depth over `MAX_JSON_DEPTH` or a control
character (`earnest.services.schemas.CONTROL`) with a 422 problem JSON. Form bodies are
refused for a percent-encoded control character, multipart forms for one in a text field
(files are checked by the parsers that read them: task uploads, answers).

Most bodies are small and hold neither many brackets nor a suspicious escape: a count and one
regular-expression search at C speed clear them (about a microsecond, docs/security.md); only
the others are scanned token by token, in a worker thread when a chunk is large.
"""

from __future__ import annotations

import re

from anyio import to_thread
from starlette.requests import Request
from starlette.types import ASGIApp as App
from starlette.types import Message, Receive, Scope, Send

from earnest.api.middleware import is_upload
from earnest.api.problems import problem
from earnest.domain.errors import EarnestError, InvalidInput, Unavailable
from earnest.services.schemas import CONTROL, MAX_JSON_DEPTH, control_problem

THREAD_CHUNK = 16 << 10  # a chunk this large is scanned off the event loop
_ALLOWED = (0x09, 0x0A, 0x0D)
# Everything that can change the depth or hide a control character: brackets, quotes,
# escapes, raw control bytes (C0, DEL) and UTF-8-encoded C1 characters.
# A surrogate pair is one token, so that a surrogate escape left alone is a lone one: Python
# parses it, but no UTF-8 encoder takes it (a stored task or schema then 500s every answer).
_TOKEN = re.compile(
    rb'[\[\]{}"]|\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}'
    rb"|\\u[0-9a-fA-F]{4}|\\.?|[\x00-\x1f\x7f]|\xc2[\x80-\x9f]?",
    re.DOTALL,
)
# A cheap first look: a body without any of these holds no control character.
_SUSPECT = re.compile(
    rb"\\u00(?:[01][0-9a-fA-F]|7[fF]|[89][0-9a-fA-F])|\\[bf]|\\u[dD][89a-fA-F]"
    rb"|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]"
)
_FORM_CONTROL = re.compile(
    rb"%(?:0[0-8bBcCeEfF]|1[0-9a-fA-F]|7[fF])|%[cC]2%[89][0-9a-fA-F]"
    rb"|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
)
_TOKEN_TAIL = 12  # the longest token (a \uXXXX\uXXXX pair): a chunk's last bytes wait
_DEPTH = f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels"
_SURROGATE = "the body holds a lone surrogate (\\u{:04X}) in a string: it is not text"
_CONTROL = (
    "the body holds a control character (U+{:04X}) in a string; only tab, LF and CR are allowed"
)


class JsonScan:
    """A JSON byte stream's depth and strings, fed chunk by chunk (JSON Lines too)."""

    def __init__(self, max_depth: int = MAX_JSON_DEPTH) -> None:
        self.max_depth = max_depth
        self.depth = 0
        self.in_string = False
        self.carry = b""

    def feed(self, chunk: bytes, *, final: bool = False) -> None:
        """Scan the next chunk; InvalidInput on a depth over the cap or a control character."""
        data = self.carry + chunk
        cut = len(data) if final else max(0, len(data) - _TOKEN_TAIL)
        end = 0
        for match in _TOKEN.finditer(data):
            if match.start() >= cut:
                break
            self._token(match.group())
            end = match.end()
        self.carry = data[max(end, cut) :]

    def _token(self, token: bytes) -> None:
        first = token[0]
        if first == 0x22:  # "
            self.in_string = not self.in_string
        elif self.in_string:
            self._string_token(token)
        elif first in (0x5B, 0x7B):  # [ {
            self.depth += 1
            if self.depth > self.max_depth:
                raise InvalidInput(_DEPTH, limit=self.max_depth)
        elif first in (0x5D, 0x7D):  # ] }
            self.depth -= 1
        elif (first < 0x20 and first not in _ALLOWED) or first in (0x7F, 0xC2):
            _refuse_control(token)

    def _string_token(self, token: bytes) -> None:
        """Inside a string only escapes and raw control bytes matter (raw ones are not JSON)."""
        first = token[0]
        if first == 0x5C:  # backslash
            if token[1:2] in (b"b", b"f"):
                raise InvalidInput(_CONTROL.format(8 if token[1:2] == b"b" else 12))
            if token[1:2] == b"u" and len(token) == 6:
                code = int(token[2:], 16)
                if _is_control(code):
                    raise InvalidInput(_CONTROL.format(code))
                if 0xD800 <= code <= 0xDFFF:
                    raise InvalidInput(_SURROGATE.format(code))
        elif first < 0x20 or first == 0x7F or (first == 0xC2 and len(token) == 2):
            _refuse_control(token)


def _is_control(code: int) -> bool:
    return (code < 0x20 and code not in _ALLOWED) or 0x7F <= code <= 0x9F


def _refuse_control(token: bytes) -> None:
    code = token[0] if token[0] != 0xC2 or len(token) < 2 else token[1]
    raise InvalidInput(_CONTROL.format(code))


def check_json_body(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> None:
    """A whole JSON body: cleared at C speed when it cannot break a limit, else scanned."""
    if body.count(b"[") + body.count(b"{") <= max_depth and not _SUSPECT.search(body):
        return
    JsonScan(max_depth).feed(body, final=True)


def check_form_body(body: bytes) -> None:
    """A urlencoded form: no field may hold a control character, raw or percent-encoded."""
    found = _FORM_CONTROL.search(body)
    if found is not None:
        text = found.group()
        code = int(text[-2:], 16) if text.startswith(b"%") else text[0]
        raise InvalidInput(_CONTROL.format(code))


def body_kind(scope: Scope) -> str | None:
    """'json', 'form' or None (not checked here) for a request's content type."""
    for key, value in scope.get("headers", []):
        if key == b"content-type":
            kind = value.split(b";")[0].strip().lower()
            break
    else:
        kind = b""
    if kind in (b"", b"application/json", b"application/x-ndjson", b"application/jsonl"):
        return "json"  # FastAPI parses a body without a content type as JSON
    if kind.endswith(b"+json"):
        return "json"
    if kind == b"application/x-www-form-urlencoded":
        return "form"
    if kind == b"multipart/form-data":
        return "multipart"
    return None


class JsonLimits:
    """Refuse (422) a JSON body nested too deep or holding a control character, and a form,
    path or query holding a control character, before a route or a parser reads it."""

    def __init__(self, app: App, *, max_depth: int = MAX_JSON_DEPTH) -> None:
        self.app, self.max_depth = app, max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            _check_target(scope)
            kind = body_kind(scope) if scope["method"] in ("POST", "PUT", "PATCH") else None
            if kind == "json" and is_upload(scope):
                receive = self._streamed(receive)
            elif kind == "multipart" and not is_upload(scope):  # uploads: the file parsers check
                message = await _whole(receive)
                if message["type"] == "http.request":
                    await _check_multipart(scope, _replay(message, _nothing))
                receive = _replay(message, receive)
            elif kind in ("json", "form"):
                receive = await _buffered(receive, kind, self.max_depth)
            await self.app(scope, receive, watched)
        except EarnestError as exc:
            if started or isinstance(exc, Unavailable):
                raise  # an outage met by a middleware inside answers 503 (middleware.Outages)
            answer = problem(422, exc.title, exc.detail, exc.code, **exc.extra)
            await answer({"type": "http"}, _nothing, send)

    def _streamed(self, receive: Receive) -> Receive:
        """An upload's `receive`, each chunk scanned before it is passed on (uploads are
        spooled, not held: scanning them whole first would hold 512 MiB)."""
        scan = JsonScan(self.max_depth)

        async def checked() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body, more = message.get("body", b""), message.get("more_body", False)
                if len(body) >= THREAD_CHUNK:
                    await to_thread.run_sync(lambda: scan.feed(body, final=not more))
                else:
                    scan.feed(body, final=not more)
            return message

        return checked


async def _buffered(receive: Receive, kind: str, max_depth: int) -> Receive:
    """Read a (small: BodyLimit caps it) body whole and check it here, rather than from inside
    FastAPI's body parsing, which turns any error into a 400."""
    message = await _whole(receive)
    body = message.get("body", b"")
    if kind == "form":
        check_form_body(body)
    elif kind == "json":
        check_json_body(body, max_depth)
    return _replay(message, receive)


async def _whole(receive: Receive) -> Message:
    """The body's chunks as one message (or the disconnect that came instead)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return message
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}


def _replay(first: Message, receive: Receive) -> Receive:
    """A `receive` that answers `first`, then the real one's next messages (the disconnect)."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return first

    return replay


async def _check_multipart(scope: Scope, receive: Receive) -> None:
    """A multipart form's text fields (files are their parsers' business), read by the same
    parser the page will use: a form field may be sent as multipart as well as urlencoded."""
    form = await Request(scope, receive).form()
    try:
        for name, value in form.multi_items():
            for text in (name, value):
                if isinstance(text, str) and CONTROL.search(text):
                    raise InvalidInput(control_problem(text, f"the field {name!r}"))
    finally:
        await form.close()


async def _nothing() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def _check_target(scope: Scope) -> None:
    """The path and the query: a NUL in an id would reach the database (PostgreSQL: a 500)."""
    path = scope.get("path", "")
    if any(_is_control(ord(c)) for c in path if ord(c) < 0xA0):
        raise InvalidInput("the address holds a control character")
    check_form_body(scope.get("query_string", b""))
