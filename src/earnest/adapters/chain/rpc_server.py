"""A Solana JSON-RPC 2.0 endpoint over HTTP: envelope, errors, parameters and the server.

The methods themselves live in `rpc_methods.py`; this module turns HTTP bodies into calls
and answers into Solana's JSON (single requests and batches, Solana's error codes), so that
stock clients (solana-py, web3.js, the Solana CLI) can talk to Earnest's LocalChain.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

log = logging.getLogger("earnest.chain.rpc")

# JSON-RPC 2.0 and Solana's own codes (solana-rpc-client-api `custom_error.rs`).
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
PREFLIGHT_FAILURE = -32002
SIGNATURE_FAILURE = -32003
MIN_CONTEXT_SLOT_NOT_REACHED = -32016
UNSUPPORTED_TX_VERSION = -32015
COMMITMENTS = ("processed", "confirmed", "finalized")
_MAX_BODY_BYTES = 1 << 20  # a batch of JSON calls; transactions themselves are ~1.6 KB encoded

Handler = Callable[["Params"], Any]


class RpcError(Exception):
    """An error answer: JSON-RPC code, message and optional data."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            body["data"] = self.data
        return body


def invalid(message: str) -> RpcError:
    """An Invalid params (-32602) error, worded as Solana words them."""
    return RpcError(INVALID_PARAMS, message)


class Params:
    """The positional `params` of a call, with Solana's checks and wording."""

    def __init__(self, raw: Any) -> None:
        if raw is None:
            raw = []
        if not isinstance(raw, list):
            raise invalid("Invalid params: invalid type: map, expected a sequence.")
        self._raw = raw

    def optional(self, index: int) -> Any:
        """The parameter at `index`, or None if the call has fewer."""
        return self._raw[index] if len(self._raw) > index else None

    def required(self, index: int) -> Any:
        """The parameter at `index`; an error if the call has fewer."""
        if len(self._raw) <= index or self._raw[index] is None:
            raise invalid(f"`params` should have at least {index + 1} argument(s)")
        return self._raw[index]

    def string(self, index: int) -> str:
        """A required string parameter."""
        value = self.required(index)
        if not isinstance(value, str):
            raise invalid(f"Invalid params: invalid type: {_kind(value)}, expected a string.")
        return value

    def strings(self, index: int, limit: int) -> list[str]:
        """A required array of at most `limit` strings (addresses, signatures)."""
        value = self.required(index)
        if not isinstance(value, list):
            raise invalid(f"Invalid params: invalid type: {_kind(value)}, expected a sequence.")
        if len(value) > limit:
            raise invalid(f"Too many inputs provided; max {limit}")
        if not all(isinstance(item, str) for item in value):
            raise invalid("Invalid param: Invalid")
        return value

    def integer(self, index: int) -> int:
        """A required non-negative integer parameter (a u64 on Solana's side)."""
        value = self.required(index)
        if type(value) is not int or not 0 <= value < 2**64:
            raise invalid(f"Invalid params: invalid type: {_kind(value)}, expected u64.")
        return value

    def config(self, index: int) -> dict[str, Any]:
        """The optional configuration object at `index` ({} if absent)."""
        value = self.optional(index)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise invalid(f"Invalid params: invalid type: {_kind(value)}, expected a map.")
        commitment = value.get("commitment")
        if commitment is not None and commitment not in COMMITMENTS:
            raise invalid(
                f"Invalid params: unknown variant `{commitment}`, expected one of "
                "`processed`, `confirmed`, `finalized`."
            )
        return value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, str):
        return f'string "{value}"'
    if isinstance(value, list):
        return "sequence"
    return "map" if isinstance(value, dict) else "null"


def dispatch(handlers: Mapping[str, Handler], call: Any) -> dict[str, Any] | None:
    """Answer one JSON-RPC call; None for a notification (a call without an id)."""
    if not isinstance(call, dict) or call.get("jsonrpc") != "2.0":
        return _error(None, RpcError(INVALID_REQUEST, "Invalid request"))
    ident = call.get("id")
    method = call.get("method")
    handler = handlers.get(method) if isinstance(method, str) else None
    try:
        if not isinstance(method, str):
            raise RpcError(INVALID_REQUEST, "Invalid request")
        if handler is None:
            raise RpcError(METHOD_NOT_FOUND, "Method not found")
        result = handler(Params(call.get("params")))
    except RpcError as exc:
        answer = _error(ident, exc)
    except Exception:
        log.exception("RPC method %s failed", method)
        answer = _error(ident, RpcError(INTERNAL_ERROR, "Internal error"))
    else:
        answer = {"jsonrpc": "2.0", "result": result, "id": ident}
    return answer if "id" in call else None


def _error(ident: Any, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "error": error.as_json(), "id": ident}


def create_rpc_app(
    handlers: Mapping[str, Handler],
    websocket: Callable[[WebSocket], Awaitable[None]] | None = None,
) -> Starlette:
    """An ASGI app answering JSON-RPC at POST / and Solana's GET /health, and with
    `websocket`, the PubSub API (`rpc_pubsub.endpoint`) on a websocket at /."""

    async def rpc(request: Request) -> Response:
        body = await request.body()
        if len(body) > _MAX_BODY_BYTES:
            return JSONResponse(_error(None, RpcError(INVALID_REQUEST, "Request too large")))
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):  # deep nesting too
            return JSONResponse(_error(None, RpcError(PARSE_ERROR, "Parse error")))
        # Methods touch LiteSVM and SQLite, which block: keep the event loop free.
        if isinstance(payload, list):
            if not payload:
                return JSONResponse(_error(None, RpcError(INVALID_REQUEST, "Invalid request")))
            answers = [await run_in_threadpool(dispatch, handlers, call) for call in payload]
            found = [a for a in answers if a is not None]
            return JSONResponse(found) if found else Response(status_code=204)
        answer = await run_in_threadpool(dispatch, handlers, payload)
        return JSONResponse(answer) if answer is not None else Response(status_code=204)

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    routes: list[Route | WebSocketRoute] = [
        Route("/", rpc, methods=["POST"]),
        Route("/health", health),
    ]
    if websocket is not None:
        routes.append(WebSocketRoute("/", websocket))
    return Starlette(routes=routes)


def websocket_socket(host: str, port: int) -> socket.socket | None:
    """A socket bound to `port` for the PubSub websocket (the HTTP port + 1, where web3.js
    and solana-test-validator put it), or None if the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        return None
    return sock
