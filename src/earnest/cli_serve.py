"""`earnest serve` and `earnest chain serve`: serve until SIGTERM or SIGINT, then shut down.

uvicorn re-raises the signal that stopped it once its own shutdown is done, which kills the
process before any `finally`: the settler would not stop at a safe point, the chain store
would not close (its WAL left behind), and the exit status would be -15. Here the signal
ends the server like a return: uvicorn drains the requests in flight (up to
`DRAIN_SECONDS`), then the caller's cleanup runs and the command exits 0.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from rich.console import Console

console = Console(stderr=True)
DRAIN_SECONDS = 30  # how long requests in flight may take to finish after SIGTERM


def settings_for(data_dir: Path | None) -> Any:
    from earnest.config import Settings

    return Settings.load(data_dir=data_dir) if data_dir else Settings.load()


def existing_market(settings: Any, create: bool) -> Any:
    """The settings, unless their data dir holds no market (no market key) and the user did
    not ask to create one: a mistyped --data-dir must not start a new, empty market."""
    from earnest.domain.errors import NotFound

    if not create and not settings.resolved_keypair.exists():
        raise NotFound(
            f"{settings.data_dir} holds no market (no {settings.resolved_keypair.name}); "
            "check --data-dir, or pass --create to start a new market there"
        )
    return settings


class _Server(uvicorn.Server):
    """uvicorn's server, except that the signal that stops it is not raised again."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        stops = (signal.SIGINT, signal.SIGTERM)
        before = {sig: signal.signal(sig, self.handle_exit) for sig in stops}
        try:
            yield
        finally:
            for sig, handler in before.items():
                signal.signal(sig, handler)


def run_until_signal(
    app: Any,
    *,
    host: str,
    port: int,
    log_level: str,
    also: Sequence[socket.socket] = (),
    bound: socket.socket | None = None,
) -> bool:
    """Serve `app` until SIGTERM or SIGINT (on `port`, or the socket already `bound`, and
    the bound sockets `also`); return once the requests in flight are done. False if it
    never started serving (its lifespan startup failed)."""
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=DRAIN_SECONDS
    )
    server = _Server(config)
    if bound is not None or also:
        server.run(sockets=[bound or config.bind_socket(), *also])
    else:
        server.run()
    return bool(server.started)


def serve(
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to bind")] = 8000,
    data_dir: Annotated[Path | None, typer.Option(envvar="EARNEST_DATA_DIR")] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="API processes on the port (PostgreSQL, rpc chain)")
    ] = 1,
) -> None:
    """Run the market: the API, the settler paying verified work every few hundred ms, the
    quality loop (re-estimation of worker confusions, automatic acceptance) and housekeeping
    (expired sessions and old idempotency records deleted)."""
    from earnest.api import create_app
    from earnest.bootstrap import build_market

    settings = settings_for(data_dir).model_copy(update={"host": host, "port": port})
    if workers > 1:
        _serve_workers(settings, workers)
        return
    market = build_market(settings)
    market.start_loops()
    console.print(
        f"Earnest on http://{host}:{port}  (web: /work, /dashboard, /operator; API docs: /docs)"
        f"  mint {market.chain.mint}",
        soft_wrap=True,
    )
    try:
        run_until_signal(create_app(market), host=host, port=port, log_level="info")
    finally:
        market.close()  # the loops stop between rounds; the chain and the store close
    console.print("Earnest stopped")


def _serve_workers(settings: Any, workers: int) -> None:
    """N API processes forked from this one, each with its own market; one settler leads
    (earnest.supervisor keeps them serving)."""
    from earnest.api import workers as worker_app
    from earnest.supervisor import Supervisor

    worker_app.check_can_fork(settings.resolved_database_url, settings.chain)
    # The workers build their markets from the environment, as here.
    os.environ.update(
        {"EARNEST_DATA_DIR": str(settings.data_dir), "EARNEST_HOST": settings.host}
        | {"EARNEST_PORT": str(settings.port)}
    )
    config = uvicorn.Config(worker_app.app_from_env, host=settings.host, port=settings.port)
    sock = config.bind_socket()  # before any worker: a connection waits while one restarts
    worker_app.preload()  # imported once here, not again in every forked worker

    console.print(f"Earnest on http://{settings.host}:{settings.port} with {workers} workers")
    prepare = partial(_Worker, settings.host, settings.port)
    code = Supervisor(prepare, sock, workers, stop_after=DRAIN_SECONDS + 10).run()
    sock.close()
    if code:
        raise typer.Exit(code)
    console.print("Earnest stopped")


class _Worker:
    """One API process of `serve --workers`: its market and app are built at once, its
    loops started and the socket served when `serve` is called (a spare waits between)."""

    def __init__(self, host: str, port: int) -> None:
        from earnest.api import workers as worker_app
        from earnest.supervisor import STARTUP_FAILURE

        self.host, self.port = host, port
        try:
            self.app = worker_app.app_from_env(start=False)
        except Exception:
            console.print_exception()
            raise SystemExit(STARTUP_FAILURE) from None

    def serve(self, sock: socket.socket) -> None:
        from earnest.supervisor import STARTUP_FAILURE

        self.app.state.market.start_loops()
        # The app's lifespan closes the market once the requests in flight are done.
        if not run_until_signal(
            self.app, host=self.host, port=self.port, log_level="info", bound=sock
        ):
            raise SystemExit(STARTUP_FAILURE)

    def close(self) -> None:
        self.app.state.market.close()


def chain_serve(
    host: Annotated[str, typer.Option(help="address to bind (keep it loopback)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to bind (8899, as solana-test-validator)")] = 8899,
    data_dir: Annotated[Path | None, typer.Option(envvar="EARNEST_DATA_DIR")] = None,
    slot_ms: Annotated[
        int,
        typer.Option(
            min=0,
            max=60_000,
            help="the slot clock: a block and a new blockhash every N ms, as a cluster makes "
            "them (400 on solana-test-validator); 0: every transaction is a block, landing "
            "as it is sent",
        ),
    ] = 400,
) -> None:
    """Serve the data dir's LocalChain as a Solana JSON-RPC endpoint, for wallets, the Solana
    CLI, solana-py, or a market run with EARNEST_CHAIN=rpc."""
    from earnest.adapters.chain import LocalChain, load_or_create_keypair
    from earnest.adapters.chain.rpc_methods import LocalRpc
    from earnest.adapters.chain.rpc_pubsub import PubSub, endpoint
    from earnest.adapters.chain.rpc_server import create_rpc_app, websocket_socket
    from earnest.bootstrap import mint_setup

    settings = settings_for(data_dir)
    keypair = load_or_create_keypair(settings.resolved_keypair)
    chain = LocalChain.open(
        settings.chain_state, keypair, decimals=settings.decimals, mint=mint_setup(settings)
    )
    url = f"http://{host}:{port}"
    # soft_wrap: the settings line must stay one line, ready to copy.
    console.print(f"Solana JSON-RPC on {url}, mint {chain.mint}", soft_wrap=True)
    console.print(
        f"a market on it: EARNEST_CHAIN=rpc EARNEST_CHAIN_URL={url} EARNEST_MINT={chain.mint}",
        soft_wrap=True,
    )
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print("[yellow]warning: requestAirdrop lets anyone reaching this port mint SOL[/]")
    ws = websocket_socket(host, port + 1)  # the PubSub API answers on both ports
    console.print(
        f"websocket on ws://{host}:{port + 1} and ws://{host}:{port}"
        if ws
        else f"[yellow]port {port + 1} is taken: the websocket is on ws://{host}:{port} only[/]",
        soft_wrap=True,
    )
    node = LocalRpc(chain, slot_seconds=slot_ms / 1000)
    app = create_rpc_app(node.handlers(), endpoint(PubSub(chain.runtime)))
    node.start()
    try:
        run_until_signal(app, host=host, port=port, log_level="warning", also=[ws] if ws else [])
    finally:
        node.stop()
        chain.close()  # a checkpoint: the chain's state is whole in its file, no WAL left
    console.print("chain stopped")
