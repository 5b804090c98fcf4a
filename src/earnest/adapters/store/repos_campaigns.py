"""The campaigns repository: a campaign and its spec, read once per transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from earnest.adapters.store.tables import campaigns
from earnest.domain.transfer_fee import NO_FEE, TransferFee
from earnest.domain.work import (
    DEFAULT_MAX_LEASES,
    Campaign,
    CampaignSpec,
    CampaignStatus,
    QualityPolicy,
)


class Campaigns:
    def __init__(self, conn: Connection, pg: bool) -> None:
        self.c = conn
        self.pg = pg
        self._seen: dict[str, Campaign | None] = {}

    def add(self, campaign: Campaign) -> None:
        self._seen.pop(campaign.id, None)
        self.c.execute(
            insert(campaigns).values(
                id=campaign.id,
                requester=campaign.requester,
                fee_bps=campaign.fee_bps,
                status=campaign.status.value,
                created_at=campaign.created_at,
                **_spec_columns(campaign.spec),
                transfer_fee=campaign.transfer_fee.as_dict()
                if campaign.transfer_fee.charged
                else None,
            )
        )

    def update_spec(self, campaign_id: str, spec: CampaignSpec) -> None:
        """Save a campaign's edited settings (what may change is domain/editing.py's rule)."""
        self._seen.pop(campaign_id, None)
        self.c.execute(
            update(campaigns).where(campaigns.c.id == campaign_id).values(**_spec_columns(spec))
        )

    def get(self, campaign_id: str) -> Campaign | None:
        """The campaign, read once per transaction (a suite's answers share it)."""
        if campaign_id not in self._seen:
            row = self.c.execute(select(campaigns).where(campaigns.c.id == campaign_id)).first()
            self._seen[campaign_id] = _campaign(row._mapping) if row else None
        return self._seen[campaign_id]

    def of_requester(self, requester: str) -> list[Campaign]:
        rows = self.c.execute(
            select(campaigns)
            .where(campaigns.c.requester == requester)
            .order_by(campaigns.c.created_at)
        )
        return [_campaign(r._mapping) for r in rows]

    def active(self, limit: int = 100) -> list[Campaign]:
        rows = self.c.execute(
            select(campaigns)
            .where(campaigns.c.status == CampaignStatus.ACTIVE.value)
            .order_by(campaigns.c.created_at)
            .limit(limit)
        )
        return [_campaign(r._mapping) for r in rows]

    def lock(self, campaign_id: str) -> None:
        """Serialize escrow checks of one campaign (PostgreSQL; SQLite has a single writer)."""
        if self.pg:
            self.c.execute(
                select(campaigns.c.id).where(campaigns.c.id == campaign_id).with_for_update()
            )

    def set_status(self, campaign_id: str, status: CampaignStatus) -> None:
        self._seen.pop(campaign_id, None)
        self.c.execute(
            update(campaigns).where(campaigns.c.id == campaign_id).values(status=status.value)
        )


def _spec_columns(spec: CampaignSpec) -> dict[str, Any]:
    return {
        "type": spec.type,
        "title": spec.title,
        "instructions": spec.instructions,
        "input_schema": spec.input_schema,
        "output_schema": spec.output_schema,
        "reward": spec.reward,
        "overlap": spec.overlap,
        "gold_share": spec.gold_share,
        "lease_seconds": spec.lease_seconds,
        "deadline": spec.deadline,
        "verifier": spec.verifier,
        "quality": spec.quality.as_dict(),
        "terms": spec.terms or None,
        "max_leases": spec.max_leases,
    }


def _campaign(r: RowMapping) -> Campaign:
    spec = CampaignSpec(
        type=r["type"],
        title=r["title"],
        instructions=r["instructions"],
        input_schema=r["input_schema"],
        output_schema=r["output_schema"],
        reward=int(r["reward"]),
        overlap=r["overlap"],
        gold_share=r["gold_share"],
        lease_seconds=r["lease_seconds"],
        deadline=r["deadline"],
        verifier=r["verifier"],
        quality=QualityPolicy(**(r["quality"] or {})),
        terms=r["terms"] or {},
        max_leases=r["max_leases"] or DEFAULT_MAX_LEASES,
    )
    fee = r["transfer_fee"]
    return Campaign(
        r["id"],
        r["requester"],
        spec,
        r["fee_bps"],
        CampaignStatus(r["status"]),
        r["created_at"],
        TransferFee(int(fee["bps"]), int(fee["maximum"])) if fee else NO_FEE,
    )
