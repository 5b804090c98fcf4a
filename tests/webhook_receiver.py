"""A webhook receiver for tests: an HTTP server on 127.0.0.1 that records what it is sent.

`hold` makes it take the next delivery in and never answer it (until released), so a test
can kill the market while a delivery is in flight; `status` is what it answers otherwise.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]


@dataclass
class Receiver:
    status: int = 200
    hold: bool = False
    got: list[Received] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.got.append(Received(body, {k.lower(): v for k, v in self.headers.items()}))
                if receiver.hold:
                    receiver.hold = False
                    receiver.released.wait(60)  # bounded: the test releases it
                    return  # no answer: the connection closes unanswered
                self.send_response(receiver.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, seconds: float) -> list[Received]:
        """Until `count` deliveries came (bounded in time); what came."""
        deadline = time.monotonic() + seconds
        while len(self.got) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.got)

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
