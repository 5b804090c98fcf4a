"""Campaigns: what a requester posts, and how a campaign reads back."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Optional

from pydantic import BaseModel, Field, create_model

from earnest.api.schemas.bounded import bounded
from earnest.api.schemas.common import Body
from earnest.domain.bandwidth import DEFAULT_FETCH_BYTES, BandwidthTerms
from earnest.domain.money import POSITIVE_AMOUNT
from earnest.domain.work import DEFAULT_MAX_LEASES, Campaign, CampaignSpec, QualityPolicy
from earnest.services.uploads import UploadReport

Q = QualityPolicy.BOUNDS
C = CampaignSpec.BOUNDS
T = BandwidthTerms.BOUNDS


class QualityIn(Body):
    """A campaign's quality policy; every field is optional (see docs/quality.md)."""

    confidence: float = bounded(Q["confidence"], 0.0, description="dynamic overlap target; 0 = off")
    min_overlap: int = bounded(Q["min_overlap"], 1)
    skill: str = bounded(Q["skill"], "", description="reputation skill; default: the type")
    min_reputation: float = bounded(Q["min_reputation"], 0.0)
    qualification_tasks: int = bounded(Q["qualification_tasks"], 0)
    qualification_accuracy: float = bounded(Q["qualification_accuracy"], 0.8)
    review: Literal["auto", "requester", "peer"] = "auto"
    review_seconds: int = bounded(Q["review_seconds"], 3 * 24 * 3600)
    review_reward: int = bounded(Q["review_reward"], 0, description="peer review pay")
    reviewer_tasks: int = bounded(Q["reviewer_tasks"], 3, description="gold reviews that qualify")
    reviewer_reputation: float = bounded(Q["reviewer_reputation"], 0.0)
    appeals: Literal["requester", "panel"] = "requester"
    allow_agents: bool = True
    routing: Literal["in_order", "uncertain_first"] = "in_order"
    min_seconds: float = bounded(Q["min_seconds"], 0.0)
    max_gold_failure: float = bounded(Q["max_gold_failure"], 0.5)
    max_disagreement: float = bounded(Q["max_disagreement"], 0.6)
    limit_seconds: int = bounded(Q["limit_seconds"], 3600)
    predictor: str = bounded(Q["predictor"], "", description="pre-answers each task; '' = none")
    predictor_options: dict[str, Any] = Field(default_factory=dict)
    practice_tasks: int = bounded(
        Q["practice_tasks"], 0, description="control tasks answered first that count for nothing"
    )
    languages: tuple[str, ...] = bounded(
        Q["languages"], (), description="ISO 639-1 codes; a worker must speak one (empty: any)"
    )
    allowlist_only: bool = Field(False, description="only the workers on my allow list")
    regions: tuple[str, ...] = bounded(
        Q["regions"], (), description="ISO 3166-1 alpha-2 codes a worker must live in (empty: any)"
    )


class CampaignIn(Body):
    type: str = bounded(C["type"], "labeling")
    title: str = bounded(C["title"])
    instructions: str = bounded(C["instructions"], "")
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    reward: int = bounded(C["reward"])
    overlap: int = bounded(C["overlap"], 3)
    gold_share: float = bounded(C["gold_share"], 0.1)
    lease_seconds: int = bounded(C["lease_seconds"], 600)
    max_leases: int = bounded(
        C["max_leases"],
        DEFAULT_MAX_LEASES,
        description="the most of its tasks one worker may hold at once, so the largest suite",
    )
    deadline: datetime | None = None
    verifier: str = bounded(C["verifier"], "majority")
    quality: QualityIn = Field(default_factory=QualityIn)


def _all_optional(model: type[BaseModel], name: str, doc: str, **more: Any) -> type[BaseModel]:
    """`model` with every field optional and unset by default, its bounds kept: a PATCH
    body names only what changes."""
    fields: dict[str, Any] = {}
    for field, info in model.model_fields.items():
        optional = copy.copy(info)
        optional.default, optional.default_factory = None, None
        fields[field] = (Optional[info.annotation], optional)  # noqa: UP045 (known at run time)
    made: type[BaseModel] = create_model(name, __base__=Body, __doc__=doc, **(fields | more))
    return made


QualityChangesIn = _all_optional(QualityIn, "QualityChangesIn", "Quality settings to change.")
if TYPE_CHECKING:  # built at run time; to the checker a body like any other
    CampaignChangesIn = Body
else:
    CampaignChangesIn = _all_optional(
        CampaignIn,
        "CampaignChangesIn",
        "Settings to change; what the campaign's state fixes is refused with 409 (docs/api.md).",
        quality=(QualityChangesIn | None, None),
    )


class CloneIn(Body):
    title: str | None = bounded(C["title"], None, description="default: the original's + (copy)")


class BonusIn(Body):
    """A bonus to a worker who answered in the campaign; the market fee comes on top."""

    worker: str = Field(min_length=32, max_length=44, description="the worker's address")
    amount: int = bounded(POSITIVE_AMOUNT, description="base units")
    reason: str = Field(min_length=1, max_length=500, description="shown with the payment")


class BonusOut(BaseModel):
    id: str
    campaign_id: str
    worker: str
    amount: int
    fee: int
    reason: str
    payout_id: str
    created_at: datetime


class ListingIn(Body):
    """Block a worker from all my campaigns, or allow them into the allowlist_only ones."""

    kind: Literal["block", "allow"] | None


class ProfileIn(Body):
    """What a worker declares for campaigns' criteria (their own word)."""

    languages: list[str] = bounded(Q["languages"], [], description="ISO 639-1 codes")
    region: str = Field("", max_length=2, description="ISO 3166-1 alpha-2; '' = not said")


class ProfileOut(BaseModel):
    languages: list[str]
    region: str


class BandwidthCampaignIn(Body):
    """A scrape: URLs as tasks, each fetched by `overlap` nodes, paid per KB up to `reward`."""

    title: str = bounded(C["title"])
    instructions: str = bounded(C["instructions"], "")
    allowlist: list[str] = bounded(
        T["allowlist"], description="domains (and their subdomains) or IPs"
    )
    price_per_kb: int = bounded(T["price_per_kb"], description="per 1,000 bytes")
    reward: int = bounded(C["reward"], description="the most one fetch earns (escrow unit)")
    overlap: int = bounded(C["overlap"], 3, description="k: nodes that fetch each URL")
    max_bytes: int = bounded(
        T["max_bytes"], DEFAULT_FETCH_BYTES, description="where nodes cut a body"
    )
    lease_seconds: int = bounded(C["lease_seconds"], 120)
    deadline: datetime | None = None
    min_reputation: float = bounded(
        Q["min_reputation"], 0.0, description="nodes' conservative score in the skill 'bandwidth'"
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
    """What an upload did. `duplicates` lists the first 1,000 skipped rows: `row` (the
    file's row number; a CSV's header is row 1) and `task_id` (the task the campaign held
    already) or `same_as_row` (the earlier row of the file it repeats)."""

    rows: int
    added: int
    skipped: int
    duplicates: list[dict[str, int]]

    @classmethod
    def of(cls, report: UploadReport) -> UploadOut:
        return cls(
            rows=report.rows,
            added=report.added,
            skipped=report.skipped,
            duplicates=report.duplicates,
        )


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
