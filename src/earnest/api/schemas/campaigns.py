"""Campaigns: what a requester posts, and how a campaign reads back."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from earnest.api.schemas.common import Body
from earnest.domain.money import MAX_AMOUNT
from earnest.domain.work import (
    DEFAULT_MAX_LEASES,
    MAX_LEASES_PER_WORKER,
    Campaign,
)


class QualityIn(Body):
    """A campaign's quality policy; every field is optional (see docs/quality.md)."""

    confidence: float = Field(0.0, ge=0, le=0.9999, description="dynamic overlap target; 0 = off")
    min_overlap: int = Field(1, ge=1, le=15)
    skill: str = Field("", max_length=40, description="reputation skill; default: the type")
    min_reputation: float = Field(0.0, ge=0, le=1)
    qualification_tasks: int = Field(0, ge=0, le=100)
    qualification_accuracy: float = Field(0.8, ge=0, le=1)
    review: Literal["auto", "requester", "peer"] = "auto"
    review_seconds: int = Field(3 * 24 * 3600, ge=60, le=90 * 24 * 3600)
    review_reward: int = Field(0, ge=0, le=MAX_AMOUNT, strict=True, description="peer review pay")
    reviewer_tasks: int = Field(3, ge=1, le=100, description="gold reviews that qualify")
    reviewer_reputation: float = Field(0.0, ge=0, le=1)
    appeals: Literal["requester", "panel"] = "requester"
    allow_agents: bool = True
    routing: Literal["in_order", "uncertain_first"] = "in_order"
    min_seconds: float = Field(0.0, ge=0, le=3600)
    max_gold_failure: float = Field(0.5, ge=0, le=1)
    max_disagreement: float = Field(0.6, ge=0, le=1)
    limit_seconds: int = Field(3600, ge=60, le=30 * 24 * 3600)
    predictor: str = Field("", max_length=60, description="pre-answers each task; '' = none")
    predictor_options: dict[str, Any] = Field(default_factory=dict)


class CampaignIn(Body):
    type: str = Field("labeling", min_length=1, max_length=40)
    title: str = Field(min_length=1, max_length=200)
    instructions: str = Field("", max_length=20000)
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    reward: int = Field(gt=0, le=MAX_AMOUNT, strict=True)
    overlap: int = Field(3, ge=1, le=15)
    gold_share: float = Field(0.1, ge=0, le=1)
    lease_seconds: int = Field(600, ge=10, le=7 * 24 * 3600)
    max_leases: int = Field(
        DEFAULT_MAX_LEASES,
        ge=1,
        le=MAX_LEASES_PER_WORKER,
        description="the most of its tasks one worker may hold at once, so the largest suite",
    )
    deadline: datetime | None = None
    verifier: str = Field("majority", max_length=40)
    quality: QualityIn = Field(default_factory=QualityIn)


class BandwidthCampaignIn(Body):
    """A scrape: URLs as tasks, each fetched by `overlap` nodes, paid per KB up to `reward`."""

    title: str = Field(min_length=1, max_length=200)
    instructions: str = Field("", max_length=20000)
    allowlist: list[str] = Field(
        min_length=1, max_length=1000, description="domains (and their subdomains) or IPs"
    )
    price_per_kb: int = Field(gt=0, le=MAX_AMOUNT, strict=True, description="per 1,000 bytes")
    reward: int = Field(
        gt=0, le=MAX_AMOUNT, strict=True, description="the most one fetch earns (escrow unit)"
    )
    overlap: int = Field(3, ge=1, le=15, description="k: nodes that fetch each URL")
    max_bytes: int = Field(256 << 10, ge=1, le=1 << 20, description="where nodes cut a body")
    lease_seconds: int = Field(120, ge=10, le=7 * 24 * 3600)
    deadline: datetime | None = None
    min_reputation: float = Field(
        0.0, ge=0, le=1, description="nodes' conservative score in the skill 'bandwidth'"
    )


class CampaignOut(BaseModel):
    id: str
    requester: str
    type: str
    title: str
    instructions: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    reward: int
    fee_bps: int
    unit_cost: int
    overlap: int
    gold_share: float
    lease_seconds: int
    max_leases: int
    deadline: datetime | None
    verifier: str
    quality: dict[str, Any]
    terms: dict[str, Any] = Field(default_factory=dict, description="bandwidth: price, allowlist")
    status: str
    created_at: datetime

    @classmethod
    def of(cls, c: Campaign) -> CampaignOut:
        s = c.spec
        return cls(
            id=c.id,
            requester=c.requester,
            type=s.type,
            title=s.title,
            instructions=s.instructions,
            input_schema=s.input_schema,
            output_schema=s.output_schema,
            reward=s.reward,
            fee_bps=c.fee_bps,
            unit_cost=c.unit_cost,
            overlap=s.overlap,
            gold_share=s.gold_share,
            lease_seconds=s.lease_seconds,
            max_leases=s.max_leases,
            deadline=s.deadline,
            verifier=s.verifier,
            quality=s.quality.as_dict(),
            terms=s.terms,
            status=c.status.value,
            created_at=c.created_at,
        )


class CampaignStatusOut(BaseModel):
    campaign: CampaignOut
    tasks: dict[str, int]
    assignments: dict[str, int]
    escrow: int
    reserved: int
    spent: int


class FundOut(BaseModel):
    escrow: int


class UploadOut(BaseModel):
    added: int


class CloseOut(BaseModel):
    refunded: int


class TemplateOut(BaseModel):
    """A campaign template: POST its fields (with your title and reward) to /v1/campaigns."""

    name: str
    label: str
    summary: str
    type: str
    verifier: str
    instructions: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    options: str
    quality: dict[str, Any]
    sample: dict[str, Any]
    widget: str
