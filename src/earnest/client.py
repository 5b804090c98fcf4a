"""The Python SDK: `Earnest` (sync) and `AsyncEarnest` for requesters and workers.

    with Earnest.sign_in("http://127.0.0.1:8000", wallet) as api:
        campaign = api.create_campaign(title=..., input_schema=..., output_schema=..., reward=1000)
        api.upload_tasks(campaign["id"], ({"data": row} for row in rows))

Every POST carries an Idempotency-Key, reused on retries, so a retried call never acts
twice; a 429 is retried after the Retry-After it names (30 s at most), a 502, 503 or 504
with backoff and jitter, and `RetriesExhausted` says when the SDK gave up (client_http).
Sign-in is the
exception: the server keeps no record of it, so a session request whose answer was lost is
not resent (its one-use nonce is spent); `sign_in` starts over with a new challenge instead.
Errors arrive as `ApiError` (an EarnestError) with the server's problem JSON.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx

from earnest.adapters.chain.wallet import Wallet
from earnest.client_async import AsyncEarnest
from earnest.client_endpoints import Endpoints
from earnest.client_http import (
    RETRIES,
    SESSION,
    ApiError,
    RetriesExhausted,
    backoff,
    headers_for,
    pause,
    raise_for,
    resend,
    result,
    session_body,
)
from earnest.domain.webhooks import TOLERANCE_S, SignatureError, verify

__all__ = [
    "ApiError",
    "AsyncEarnest",
    "Earnest",
    "RetriesExhausted",
    "SignatureError",
    "Wallet",
    "verify_webhook",
]


def verify_webhook(
    body: bytes,
    signature: str,
    secret: str,
    *,
    tolerance: float = TOLERANCE_S,
    now: float | None = None,
) -> dict[str, Any]:
    """The event a webhook delivery carries, once its `Earnest-Signature` header checks out
    against the raw `body` under the endpoint's `secret`, within `tolerance` seconds of now;
    `SignatureError` otherwise. Dedupe events by their `id`: a delivery may come twice."""
    verify(body, signature, secret, now=time.time() if now is None else now, tolerance=tolerance)
    event: dict[str, Any] = json.loads(body)
    return event


class Earnest(Endpoints):
    """Synchronous client."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.token = token
        self.http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)

    @classmethod
    def sign_in(cls, base_url: str, wallet: Wallet, *, kind: str = "person", **kw: Any) -> Earnest:
        """Sign in with a wallet (Sign-In-With-Solana) and return a client holding the session."""
        client = cls(base_url, **kw)
        for attempt in range(RETRIES):
            issued = client.challenge(wallet.address)
            try:
                session = client._call(
                    "POST", SESSION, json_body=session_body(wallet, issued, kind)
                )
                break
            except httpx.TransportError:
                if attempt == RETRIES - 1:
                    raise
        client.token = session["token"]
        return client

    def _call(
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
        for attempt in range(RETRIES):
            try:
                response = self.http.request(
                    method, path, json=json_body, content=content, headers=sent, params=params
                )
            except httpx.TransportError:
                if attempt == RETRIES - 1 or content is not None or not resend(path, None):
                    raise
                time.sleep(backoff(attempt))
                continue
            if not resend(path, response) or content is not None:
                return result(response, none_on)
            if attempt < RETRIES - 1:
                time.sleep(pause(response, attempt))
        return result(response, none_on, gave_up_after=RETRIES)

    def results(self, campaign_id: str, fmt: str = "jsonl") -> Iterator[str]:
        """Stream the campaign's results, line by line (JSON Lines or CSV)."""
        with self.http.stream(
            "GET",
            f"/v1/campaigns/{campaign_id}/results",
            params={"format": fmt},
            headers=headers_for(self.token, "GET", None),
        ) as response:
            if response.status_code >= 400:
                response.read()
                raise_for(response)
            yield from response.iter_lines()

    def fetched_body(self, campaign_id: str, task_id: int) -> bytes:
        """The body the nodes agreed on for a resolved task of my bandwidth campaign."""
        response = self.http.get(
            f"/v1/campaigns/{campaign_id}/tasks/{task_id}/body",
            headers=headers_for(self.token, "GET", None),
        )
        raise_for(response)
        return response.content

    def close_client(self) -> None:
        self.http.close()

    def __enter__(self) -> Earnest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close_client()
