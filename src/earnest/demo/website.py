"""A small web site on 127.0.0.1 for the bandwidth demo and tests: pages, robots.txt, redirects."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ALLOW_ALL = "User-agent: *\nAllow: /\n"


@dataclass(frozen=True)
class Page:
    """What the site answers at one path."""

    body: bytes = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    location: str | None = None  # a redirect's target
    cookie: str | None = None  # a Set-Cookie header


def articles(count: int, *, seed: int = 3, prefix: str = "/articles") -> dict[str, Page]:
    """`count` HTML pages of different lengths (about 1 to 6 KB), the same for the same seed."""
    rng = random.Random(seed)
    words = ["data", "crawl", "market", "token", "proof", "node", "model", "label", "signal"]
    pages = {}
    for i in range(count):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(150, 900)))
        html = f"<html><head><title>Article {i}</title></head><body><p>{text}</p></body></html>"
        pages[f"{prefix}/{i}"] = Page(html.encode())
    return pages


class Website:
    """A threaded http.server with fixed pages; `hits` lists the paths asked for, in order,
    and `headers` the request headers that came with each."""

    def __init__(self, pages: dict[str, Page], *, robots: str | None = ALLOW_ALL) -> None:
        self.pages = dict(pages)
        if robots is not None:
            self.pages.setdefault("/robots.txt", Page(robots.encode(), content_type="text/plain"))
        self.hits: list[str] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self._serve, name="website", daemon=True)

    @property
    def url(self) -> str:
        """The site's base URL, http://127.0.0.1:<port>."""
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> str:
        """Serve in a thread; the base URL."""
        self.thread.start()
        return self.url

    def _serve(self) -> None:
        self.server.serve_forever(poll_interval=0.05)  # a short poll makes stop() quick

    def stop(self) -> None:
        """Stop serving and release the port."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with site._lock:
                    site.hits.append(self.path)
                    site.headers.append({k.lower(): v for k, v in self.headers.items()})
                page = site.pages.get(self.path, Page(b"not found", 404, "text/plain"))
                self.send_response(page.status)
                if page.location:
                    self.send_header("location", page.location)
                if page.cookie:
                    self.send_header("set-cookie", page.cookie)
                self.send_header("content-type", page.content_type)
                self.send_header("content-length", str(len(page.body)))
                self.end_headers()
                self.wfile.write(page.body)

            def log_message(self, format: str, *args: Any) -> None:
                return None  # quiet: tests and the demo read `hits` instead

        return Handler
