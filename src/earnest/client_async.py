"""`AsyncEarnest`: the SDK's calls, awaited (earnest.client re-exports it).

The calls are the sync client's (client_endpoints.Endpoints), so both have the same names
with the same arguments (tests/e2e/test_sdk_async.py compares them); only the transport, the
waits between retries and the streamed bodies differ. A streamed upload (JSON Lines from a
generator, a file read in chunks) is sent as it is read and never resent: it cannot be read
twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import httpx

from earnest.adapters.chain.wallet import Wallet
from earnest.client_endpoints import Endpoints
from earnest.client_http import (
    RETRIES,
    SESSION,
    backoff,
    headers_for,
    pause,
    raise_for,
    resend,
    result,
    session_body,
)


class AsyncEarnest(Endpoints):
    """Asynchronous client: the same calls, awaited. Pass a shared `httpx.AsyncClient` to pool."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        http: httpx.AsyncClient | None = None,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.token = token
        self.http = http or httpx.AsyncClient(
            base_url=base_url, timeout=timeout, transport=transport
        )

    @classmethod
    async def sign_in(
        cls, base_url: str, wallet: Wallet, *, kind: str = "person", **kw: Any
    ) -> AsyncEarnest:
        """Sign in with a wallet and return a client holding the session. Pass a shared
        `http=httpx.AsyncClient(...)` when signing many in: they then share its connections."""
        client = cls(base_url, **kw)
        for attempt in range(RETRIES):
            issued = await client.challenge(wallet.address)
            try:
                session = await client._call(
                    "POST", SESSION, json_body=session_body(wallet, issued, kind)
                )
                break
            except httpx.TransportError:
                if attempt == RETRIES - 1:
                    raise
        client.token = session["token"]
        return client

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        content: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        none_on: str | None = None,
    ) -> Any:
        sent = headers_for(self.token, method, headers, path)
        streamed = content is not None and not isinstance(content, bytes | str)
        body = _chunks(content) if streamed else content
        for attempt in range(RETRIES):
            try:
                response = await self.http.request(
                    method, path, json=json_body, content=body, headers=sent, params=params
                )
            except httpx.TransportError:
                if attempt == RETRIES - 1 or streamed or not resend(path, None):
                    raise
                await asyncio.sleep(backoff(attempt))
                continue
            if not resend(path, response) or streamed:
                return result(response, none_on)
            if attempt < RETRIES - 1:
                await asyncio.sleep(pause(response, attempt))
        return result(response, none_on, gave_up_after=RETRIES)

    async def open_leases(self) -> list[Any]:  # type: ignore[override]
        """This worker's claims still leased and unanswered (see Earnest.open_leases)."""
        return [a for a in await self.assignments() if a["status"] == "leased"]

    async def results(self, campaign_id: str, fmt: str = "jsonl") -> AsyncIterator[str]:
        """Stream the campaign's results, line by line (JSON Lines or CSV)."""
        async with self.http.stream(
            "GET",
            f"/v1/campaigns/{campaign_id}/results",
            params={"format": fmt},
            headers=headers_for(self.token, "GET", None),
        ) as response:
            if response.status_code >= 400:
                await response.aread()
                raise_for(response)
            async for line in response.aiter_lines():
                yield line

    async def fetched_body(self, campaign_id: str, task_id: int) -> bytes:
        """The body the nodes agreed on for a resolved task of my bandwidth campaign."""
        response = await self.http.get(
            f"/v1/campaigns/{campaign_id}/tasks/{task_id}/body",
            headers=headers_for(self.token, "GET", None),
        )
        raise_for(response)
        return response.content

    async def close_client(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> AsyncEarnest:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close_client()


async def _chunks(content: Iterable[bytes] | Iterator[bytes]) -> AsyncIterator[bytes]:
    """A sync stream of chunks (a generator, a file) as httpx's async client takes it."""
    for chunk in content:
        yield chunk
