"""The Python SDK: `Earnest` (sync) and `AsyncEarnest` for requesters and workers.

    with Earnest.sign_in("http://127.0.0.1:8000", wallet) as api:
        campaign = api.create_campaign(title=..., input_schema=..., output_schema=..., reward=1000)
        api.upload_tasks(campaign["id"], ({"data": row} for row in rows))

Every POST carries an Idempotency-Key, reused on retries, so a retried call never acts
twice; a 429 is retried after the Retry-After it names (30 s at most). Sign-in is the
exception: the server keeps no record of it, so a session request whose answer was lost is
not resent (its one-use nonce is spent); `sign_in` starts over with a new challenge instead.
Errors arrive as `ApiError` (an EarnestError) with the server's problem JSON.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import httpx

from earnest.adapters.chain.wallet import Wallet
from earnest.domain.errors import EarnestError
from earnest.domain.verification import canonical_json

__all__ = ["ApiError", "AsyncEarnest", "Earnest"]

RETRIES = 3
_RETRY_STATUS = {429, 502, 503, 504}
_SESSION = "/v1/auth/session"
_UNKEYED = frozenset({"/v1/auth/challenge", _SESSION})  # see the module's docstring
MAX_RETRY_AFTER = 30.0  # seconds; a longer wait is the caller's decision, not the SDK's


def _pause(response: httpx.Response) -> float:
    """How long to wait before retrying: what a 429's Retry-After asks (capped), else 0."""
    if response.status_code != 429:
        return 0.0
    try:
        return min(float(response.headers.get("retry-after", "1")), MAX_RETRY_AFTER)
    except ValueError:
        return 1.0


class ApiError(EarnestError):
    """The server answered with a problem JSON (RFC 9457)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(str(problem.get("detail") or problem.get("title") or status))
        self.status = status
        self.problem = problem
        self.code = str(problem.get("code", "http_error"))


def _resend(path: str, response: httpx.Response | None) -> bool:
    """Whether to send again after a lost answer (None) or this one. A session request is
    resent only when refused unread (429): otherwise it may have spent its nonce."""
    if path == _SESSION:
        return response is not None and response.status_code == 429
    return response is None or response.status_code in _RETRY_STATUS


def _session_body(wallet: Wallet, issued: dict[str, Any], kind: str) -> dict[str, str]:
    message = issued["message"]
    return {"message": message, "signature": wallet.sign_message(message.encode()), "kind": kind}


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = {"detail": response.text[:500]}
    raise ApiError(response.status_code, body if isinstance(body, dict) else {"detail": str(body)})


def _result(response: httpx.Response, none_on: str | None) -> Any:
    if none_on and response.status_code == 404 and response.json().get("code") == none_on:
        return None
    _raise_for(response)
    if response.status_code == 204 or not response.content:
        return None
    return response.json()


def _jsonl(tasks: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    for task in tasks:
        yield (json.dumps(task) + "\n").encode()


class _Endpoints:
    """Every API call, described once; the sync and async clients only differ in `_call`."""

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
        raise NotImplementedError

    # identity
    def challenge(self, address: str) -> Any:
        return self._call("POST", "/v1/auth/challenge", json_body={"address": address})

    def sign_out(self) -> Any:
        """End this client's session token on the market (every process, within a second)."""
        return self._call("DELETE", "/v1/auth/session")

    def create_api_key(self, name: str, scopes: list[str]) -> Any:
        return self._call("POST", "/v1/api-keys", json_body={"name": name, "scopes": scopes})

    def api_keys(self) -> Any:
        return self._call("GET", "/v1/api-keys")

    def revoke_api_key(self, key_id: str) -> Any:
        return self._call("POST", f"/v1/api-keys/{key_id}/revoke")

    # money
    def market(self) -> Any:
        return self._call("GET", "/v1/market")

    def deposit(self, signature: str) -> Any:
        return self._call("POST", "/v1/deposits", json_body={"signature": signature})

    def withdraw(self, amount: int) -> Any:
        return self._call("POST", "/v1/withdrawals", json_body={"amount": amount})

    def balance(self) -> Any:
        return self._call("GET", "/v1/balance")

    def payouts(self) -> Any:
        return self._call("GET", "/v1/payouts")

    def receipt(self, receipt_id: str) -> Any:
        return self._call("GET", f"/v1/receipts/{receipt_id}")

    # campaigns
    def templates(self) -> Any:
        """Campaign templates, one per kind of labor (schemas, verifier, quality, sample)."""
        return self._call("GET", "/v1/templates")

    def create_campaign(self, **spec: Any) -> Any:
        return self._call("POST", "/v1/campaigns", json_body=spec)

    def campaigns(self) -> Any:
        return self._call("GET", "/v1/campaigns")

    def campaign(self, campaign_id: str) -> Any:
        return self._call("GET", f"/v1/campaigns/{campaign_id}")

    def fund(self, campaign_id: str, amount: int) -> Any:
        return self._call("POST", f"/v1/campaigns/{campaign_id}/fund", json_body={"amount": amount})

    def close(self, campaign_id: str) -> Any:
        return self._call("POST", f"/v1/campaigns/{campaign_id}/close")

    def upload_tasks(self, campaign_id: str, tasks: Iterable[dict[str, Any]]) -> Any:
        """Stream tasks as JSON Lines; nothing is held in memory but the current line."""
        return self._call(
            "POST",
            f"/v1/campaigns/{campaign_id}/tasks",
            content=_jsonl(tasks),
            headers={"content-type": "application/x-ndjson"},
        )

    # work
    def claim(self, campaign_id: str | None = None) -> Any:
        """A leased task, or None when there is no work for you right now."""
        return self._call(
            "POST",
            "/v1/claims",
            json_body={"campaign_id": campaign_id},
            none_on="no_work_available",
        )

    def submit(self, assignment_id: str, answer: Any) -> Any:
        return self._call(
            "POST", f"/v1/assignments/{assignment_id}/submit", json_body={"answer": answer}
        )

    def claim_suite(self, campaign_id: str | None = None, count: int = 10) -> Any:
        """Up to `count` leased tasks of one campaign in one request (a task suite): the
        campaign's title, instructions and output_schema once, and `leases`, each with its
        `assignment` and `task`. None when there is no work for you right now."""
        return self._call(
            "POST",
            "/v1/suites",
            json_body={"campaign_id": campaign_id, "count": count},
            none_on="no_work_available",
        )

    def submit_answers(self, answers: Iterable[tuple[str, Any]]) -> Any:
        """Answer several leases in one request: `(assignment_id, answer)` pairs. Returns
        `{"results": [...]}` in the same order, each with its `decision`, `reason` and
        `receipt_id`, or the `problem` that refused that answer alone."""
        body = [{"assignment_id": a, "answer": answer} for a, answer in answers]
        return self._call("POST", "/v1/answers", json_body={"answers": body})

    def release(self, assignment_id: str) -> Any:
        """Give a lease back unanswered; the task goes to someone else at once."""
        return self._call("POST", f"/v1/assignments/{assignment_id}/release")

    def assignments(self) -> Any:
        return self._call("GET", "/v1/assignments")

    def assignment(self, assignment_id: str) -> Any:
        return self._call("GET", f"/v1/assignments/{assignment_id}")

    # bandwidth
    def create_bandwidth_campaign(self, **order: Any) -> Any:
        """A scrape: title, allowlist, price_per_kb, reward (the cap per fetch), overlap (k
        nodes per URL), max_bytes; then upload {"data": {"url": ...}} rows and fund it."""
        return self._call("POST", "/v1/bandwidth/campaigns", json_body=order)

    def submit_fetch(
        self, assignment_id: str, record: dict[str, Any], signature: str, body: bytes
    ) -> Any:
        """Return a fetch job: the body as fetched and the node's signed metering record."""
        metering = base64.urlsafe_b64encode(canonical_json(record).encode()).rstrip(b"=")
        return self._call(
            "POST",
            f"/v1/assignments/{assignment_id}/fetch",
            content=body,
            headers={
                "content-type": "application/octet-stream",
                "earnest-metering": metering.decode(),
                "earnest-signature": signature,
            },
        )

    # quality and protections
    def my_quality(self) -> Any:
        """My reputation per skill, the history behind it, and any limits on me."""
        return self._call("GET", "/v1/me/quality")

    def reviews(self, campaign_id: str) -> Any:
        """Answers held for my review (campaigns with review="requester")."""
        return self._call("GET", f"/v1/campaigns/{campaign_id}/reviews")

    def review(self, assignment_id: str, accept: bool, reason: str = "") -> Any:
        return self._call(
            "POST",
            f"/v1/assignments/{assignment_id}/review",
            json_body={"accept": accept, "reason": reason},
        )

    def claim_peer_review(self, campaign_id: str) -> Any:
        """An answer to review in a peer-reviewed campaign, or None when none is waiting."""
        return self._call(
            "POST", f"/v1/campaigns/{campaign_id}/peer-reviews", none_on="no_work_available"
        )

    def submit_peer_review(self, review_id: str, accept: bool, reason: str = "") -> Any:
        """Accept, or reject with a reason (10+ characters), the answer under review."""
        return self._call(
            "POST", f"/v1/peer-reviews/{review_id}", json_body={"accept": accept, "reason": reason}
        )

    def my_peer_reviews(self) -> Any:
        return self._call("GET", "/v1/me/peer-reviews")

    def register_device(self, address: str, signature: str, label: str = "") -> Any:
        """Register a device (an energy meter) whose key signed the registration message."""
        body = {"address": address, "signature": signature, "label": label}
        return self._call("POST", "/v1/me/devices", json_body=body)

    def devices(self) -> Any:
        return self._call("GET", "/v1/me/devices")

    def appeal(self, assignment_id: str, reason: str) -> Any:
        """Appeal a rejection of my work (once)."""
        return self._call(
            "POST", f"/v1/assignments/{assignment_id}/appeal", json_body={"reason": reason}
        )

    def appeals(self, role: str = "worker") -> Any:
        """Appeals I filed ("worker"), decide ("requester") or sit on ("panel")."""
        return self._call("GET", "/v1/appeals", params={"role": role})

    def appeal_case(self, appeal_id: str) -> Any:
        return self._call("GET", f"/v1/appeals/{appeal_id}")

    def decide_appeal(self, appeal_id: str, overturn: bool, reason: str) -> Any:
        return self._call(
            "POST",
            f"/v1/appeals/{appeal_id}/decide",
            json_body={"overturn": overturn, "reason": reason},
        )

    def vote_appeal(self, appeal_id: str, overturn: bool, reason: str) -> Any:
        return self._call(
            "POST",
            f"/v1/appeals/{appeal_id}/vote",
            json_body={"overturn": overturn, "reason": reason},
        )


def _headers(
    token: str | None, method: str, extra: dict[str, str] | None, path: str = ""
) -> dict[str, str]:
    headers = dict(extra or {})
    if token:
        headers["authorization"] = f"Bearer {token}"
    if method == "POST" and path not in _UNKEYED:
        headers["idempotency-key"] = uuid.uuid4().hex
    return headers


class Earnest(_Endpoints):
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
                    "POST", _SESSION, json_body=_session_body(wallet, issued, kind)
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
        sent = _headers(self.token, method, headers, path)
        for attempt in range(RETRIES):
            try:
                response = self.http.request(
                    method, path, json=json_body, content=content, headers=sent, params=params
                )
            except httpx.TransportError:
                if attempt == RETRIES - 1 or content is not None or not _resend(path, None):
                    raise
                continue
            if not _resend(path, response) or content is not None:
                break
            if attempt < RETRIES - 1:
                time.sleep(_pause(response))
        return _result(response, none_on)

    def results(self, campaign_id: str, fmt: str = "jsonl") -> Iterator[str]:
        """Stream the campaign's results, line by line (JSON Lines or CSV)."""
        with self.http.stream(
            "GET",
            f"/v1/campaigns/{campaign_id}/results",
            params={"format": fmt},
            headers=_headers(self.token, "GET", None),
        ) as response:
            if response.status_code >= 400:
                response.read()
                _raise_for(response)
            yield from response.iter_lines()

    def fetched_body(self, campaign_id: str, task_id: int) -> bytes:
        """The body the nodes agreed on for a resolved task of my bandwidth campaign."""
        response = self.http.get(
            f"/v1/campaigns/{campaign_id}/tasks/{task_id}/body",
            headers=_headers(self.token, "GET", None),
        )
        _raise_for(response)
        return response.content

    def close_client(self) -> None:
        self.http.close()

    def __enter__(self) -> Earnest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close_client()


class AsyncEarnest(_Endpoints):
    """Asynchronous client: the same calls, awaited. Pass a shared `httpx.AsyncClient` to pool."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        http: httpx.AsyncClient | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.token = token
        self.http = http or httpx.AsyncClient(base_url=base_url, timeout=timeout)

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
                    "POST", _SESSION, json_body=_session_body(wallet, issued, kind)
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
        content: Any = None,  # type: ignore[override]
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        none_on: str | None = None,
    ) -> Any:
        sent = _headers(self.token, method, headers, path)
        for attempt in range(RETRIES):
            try:
                response = await self.http.request(
                    method, path, json=json_body, content=content, headers=sent, params=params
                )
            except httpx.TransportError:
                if attempt == RETRIES - 1 or not _resend(path, None):
                    raise
                continue
            if not _resend(path, response):
                break
            if attempt < RETRIES - 1:
                await asyncio.sleep(_pause(response))
        return _result(response, none_on)
