"""Every call of the API, described once for both SDK clients (earnest.client)."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from earnest.client_campaigns import CampaignSettingsEndpoints
from earnest.client_http import file_chunks, jsonl
from earnest.domain.verification import canonical_json


class Endpoints(CampaignSettingsEndpoints):
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

    def payout_cost(
        self, campaign_id: str, *, payees: int | None = None, destinations: Iterable[str] = ()
    ) -> Any:
        """What paying the campaign's units costs before funding it: the tokens to fund
        (`budget`) and the SOL of network fees and new payees' token-account rent."""
        body: dict[str, Any] = {"destinations": list(destinations)}
        if payees is not None:
            body["payees"] = payees
        return self._call("POST", f"/v1/campaigns/{campaign_id}/payout-cost", json_body=body)

    def close(self, campaign_id: str) -> Any:
        return self._call("POST", f"/v1/campaigns/{campaign_id}/close")

    def upload_tasks(self, campaign_id: str, tasks: Iterable[dict[str, Any]]) -> Any:
        """Stream tasks as JSON Lines; nothing is held in memory but the current line.
        Idempotent: returns `{"rows", "added", "skipped", "duplicates"}`, where a task the
        campaign holds already (same `id`, or same data without one) is skipped, not added."""
        return self._call(
            "POST",
            f"/v1/campaigns/{campaign_id}/tasks",
            content=jsonl(tasks),
            headers={"content-type": "application/x-ndjson"},
        )

    def upload_file(self, campaign_id: str, path: str | os.PathLike[str]) -> Any:
        """Upload a task file as it is: CSV (`.csv`, a header row) or JSON Lines (any other
        name), streamed from disk. Returns what `upload_tasks` returns."""
        kind = "text/csv" if str(path).lower().endswith(".csv") else "application/x-ndjson"
        return self._call(
            "POST",
            f"/v1/campaigns/{campaign_id}/tasks",
            content=file_chunks(Path(path)),
            headers={"content-type": kind},
        )

    # webhooks
    def create_webhook(
        self,
        url: str,
        *,
        campaign_id: str | None = None,
        events: Iterable[str] = ("task.resolved", "campaign.finished"),
    ) -> Any:
        """An endpoint for one campaign (or all mine): its `secret` is in this answer only;
        check each delivery with `earnest.client.verify_webhook`."""
        body = {"url": url, "campaign_id": campaign_id, "events": list(events)}
        return self._call("POST", "/v1/webhooks", json_body=body)

    def webhooks(self) -> Any:
        return self._call("GET", "/v1/webhooks")

    def delete_webhook(self, webhook_id: str) -> Any:
        return self._call("DELETE", f"/v1/webhooks/{webhook_id}")

    def webhook_deliveries(self, webhook_id: str) -> Any:
        """The endpoint's last 100 deliveries, newest first (status, attempts, last error)."""
        return self._call("GET", f"/v1/webhooks/{webhook_id}/deliveries")

    def resend_delivery(self, delivery_id: str) -> Any:
        return self._call("POST", f"/v1/webhook-deliveries/{delivery_id}/resend")

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

    def open_leases(self) -> list[Any]:
        """This worker's claims still leased and unanswered: a claim whose answer was lost
        (the connection or the server died under it) is found here again, and answered or
        released, instead of waiting for its lease to run out."""
        return [a for a in self.assignments() if a["status"] == "leased"]

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
