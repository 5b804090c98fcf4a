"""The SDK's calls for a campaign's settings after creation and a worker's profile
(docs/campaigns.md); mixed into `client_endpoints.Endpoints`, so both clients have them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class CampaignSettingsEndpoints:
    """Edit, pause, resume and clone a campaign; declare a worker's languages and region."""

    # Endpoints' own `_call` (one per client); declared here for the checker only.
    _call: Callable[..., Any]

    def update_campaign(self, campaign_id: str, **changes: Any) -> Any:
        """Change the settings the campaign still allows (`quality={...}` for its quality
        fields); a fixed one raises ApiError 409 naming it (`problem["setting"]`)."""
        return self._call("PATCH", f"/v1/campaigns/{campaign_id}", json_body=changes)

    def pause(self, campaign_id: str) -> Any:
        """Stop new claims; live leases may still be answered."""
        return self._call("POST", f"/v1/campaigns/{campaign_id}/pause")

    def resume(self, campaign_id: str) -> Any:
        return self._call("POST", f"/v1/campaigns/{campaign_id}/resume")

    def clone(self, campaign_id: str, title: str | None = None) -> Any:
        """A new draft with the campaign's settings (no tasks, no money)."""
        body = {"title": title} if title else {}
        return self._call("POST", f"/v1/campaigns/{campaign_id}/clone", json_body=body)

    def profile(self) -> Any:
        """The languages and region I declared, which campaigns' worker criteria read."""
        return self._call("GET", "/v1/me/profile")

    def set_profile(self, languages: list[str], region: str = "") -> Any:
        """Declare the languages I speak (ISO 639-1) and my region (ISO 3166-1 alpha-2)."""
        body = {"languages": languages, "region": region}
        return self._call("PUT", "/v1/me/profile", json_body=body)

    def pay_bonus(self, campaign_id: str, worker: str, amount: int, reason: str) -> Any:
        """Pay a worker who answered in my campaign `amount` base units (plus the market
        fee) from my balance; the settler sends it on chain like a reward."""
        body = {"worker": worker, "amount": amount, "reason": reason}
        return self._call("POST", f"/v1/campaigns/{campaign_id}/bonuses", json_body=body)

    def bonuses(self, campaign_id: str) -> Any:
        return self._call("GET", f"/v1/campaigns/{campaign_id}/bonuses")

    def list_worker(self, worker: str, kind: str | None) -> Any:
        """ "block" a worker from all my campaigns, "allow" them into the allowlist_only
        ones, or None to take them off my lists."""
        return self._call("PUT", f"/v1/worker-lists/{worker}", json_body={"kind": kind})

    def worker_lists(self) -> Any:
        return self._call("GET", "/v1/worker-lists")
