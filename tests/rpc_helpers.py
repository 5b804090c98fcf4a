"""A LocalChain served as a Solana JSON-RPC node on an ephemeral loopback port, for tests."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from solders.transaction import VersionedTransaction
from starlette.responses import PlainTextResponse

from earnest.adapters.chain import LocalChain, MintSetup, load_or_create_keypair
from earnest.adapters.chain.rpc_methods import LocalRpc
from earnest.adapters.chain.rpc_pubsub import PubSub, endpoint
from earnest.adapters.chain.rpc_server import Handler, Params, create_rpc_app


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Run `app` with uvicorn on 127.0.0.1 (a free port) until the block ends; its URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="test-rpc-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test RPC server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class Node:
    """A served LocalChain: its URL, the chain itself, and its method table (tests may wrap
    a method, say to drop a transaction) and the market key file both sides use."""

    url: str
    local: LocalChain
    handlers: dict[str, Handler]
    keypair_path: Path
    rpc: LocalRpc | None = None  # the methods' owner (produce_block, with slots)
    too_many: int = 0  # HTTP 429 answers still to give
    answered_429: int = 0
    retry_after: str | None = "0"  # the Retry-After header of those answers


def _rate_limited(app: Any, node: Node) -> Callable[..., Any]:
    """`app`, but answering HTTP 429 while `node.too_many` is above zero."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and node.too_many > 0:
            node.too_many -= 1
            node.answered_429 += 1
            headers = {} if node.retry_after is None else {"Retry-After": node.retry_after}
            reply = PlainTextResponse("slow down", 429, headers=headers)
            await reply(scope, receive, send)
            return
        await app(scope, receive, send)

    return asgi


def signature_of(params: Params) -> str:
    """The signature of the transaction a sendTransaction request carries (base64)."""
    raw = base64.b64decode(params.string(0))
    return str(VersionedTransaction.from_bytes(raw).signatures[0])


@contextmanager
def running_node(
    data_dir: Path, slot_seconds: float = 0.0, mint: MintSetup | None = None
) -> Iterator[Node]:
    """A LocalChain in `data_dir` (market key `market-keypair.json`) served over JSON-RPC;
    with `slot_seconds`, transactions land in a block that often, as on a cluster; its mint
    as `mint` sets it up (classic SPL Token by default)."""
    keypair_path = data_dir / "market-keypair.json"
    key = load_or_create_keypair(keypair_path)
    local = LocalChain.open(data_dir / "node-chain.sqlite", key, mint=mint)
    rpc = LocalRpc(local, slot_seconds=slot_seconds)
    handlers = rpc.handlers()
    node = Node("", local, handlers, keypair_path, rpc)
    rpc.start()
    try:
        app = create_rpc_app(handlers, endpoint(PubSub(local.runtime)))
        with serving(_rate_limited(app, node)) as url:
            node.url = url
            yield node
    finally:
        rpc.stop()
        local.close()
