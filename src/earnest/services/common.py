"""Small helpers shared by the use cases."""

from __future__ import annotations

from earnest.domain.errors import NotFound
from earnest.domain.work import Campaign
from earnest.services.ports import Random, WorkUnit


def new_id(prefix: str, rand: Random) -> str:
    """A short random id with a readable prefix, e.g. 'cmp_3fA9...'."""
    return f"{prefix}_{rand.token(9)}"


def owned_campaign(uow: WorkUnit, campaign_id: str, requester: str) -> Campaign:
    """The campaign, if `requester` owns it; NotFound otherwise (no existence leak)."""
    campaign = uow.campaigns.get(campaign_id)
    if campaign is None or campaign.requester != requester:
        raise NotFound(f"no campaign {campaign_id!r}")
    return campaign
