"""Request and response bodies (pydantic). Mapping from domain objects lives here too."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from earnest.domain.work import (
    DEFAULT_MAX_LEASES,
    MAX_LEASES_PER_WORKER,
    Assignment,
    Campaign,
)
from earnest.services.ports import ApiKeyRecord, PayoutRecord
from earnest.services.ports_quality import AppealRecord, PeerReview
from earnest.services.work import SubmitResult

MAX_AMOUNT = 2**63 - 1


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChallengeIn(Body):
    address: str = Field(min_length=32, max_length=44)


class ChallengeOut(BaseModel):
    message: str
    nonce: str
    expires_at: datetime


class SessionIn(Body):
    message: str = Field(max_length=2000)
    signature: str = Field(min_length=64, max_length=100)
    kind: str = Field(
        "person",
        description="'person', 'agent' for an AI agent working as a worker, or 'node' for a "
        "bandwidth node (fetch jobs only); fixed at an address's first sign-in",
    )


class SessionOut(BaseModel):
    token: str
    address: str
    expires_at: datetime


class ApiKeyIn(Body):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1, max_length=10)


class ApiKeyOut(BaseModel):
    id: str
    name: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None = None
    key: str | None = Field(None, description="the secret, shown only once, at creation")

    @classmethod
    def of(cls, r: ApiKeyRecord, key: str | None = None) -> ApiKeyOut:
        return cls(
            id=r.id,
            name=r.name,
            scopes=list(r.scopes),
            created_at=r.created_at,
            revoked_at=r.revoked_at,
            key=key,
        )


class MarketOut(BaseModel):
    mint: str
    decimals: int
    vault: str
    vault_owner: str
    fee_bps: int
    chain_id: str
    settlement: dict[str, Any]


class DepositIn(Body):
    signature: str = Field(min_length=64, max_length=100)


class AmountIn(Body):
    amount: int = Field(gt=0, le=MAX_AMOUNT, strict=True, description="base units of the mint")


class DepositOut(BaseModel):
    amount: int
    available: int


class BalanceOut(BaseModel):
    available: int
    pending_withdrawal: int
    payable: int


class PayoutOut(BaseModel):
    id: str
    recipient: str
    amount: int
    status: str
    receipt_id: str | None
    created_at: datetime
    paid_at: datetime | None = None
    transaction: str | None = None

    @classmethod
    def of(
        cls, p: PayoutRecord, paid_at: datetime | None = None, signature: str | None = None
    ) -> PayoutOut:
        return cls(
            id=p.id,
            recipient=p.recipient,
            amount=p.amount,
            status=p.status,
            receipt_id=p.receipt_id,
            created_at=p.created_at,
            paid_at=paid_at,
            transaction=signature,
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


class ClaimIn(Body):
    campaign_id: str | None = Field(None, max_length=32)


class AssignmentOut(BaseModel):
    id: str
    task_id: int
    campaign_id: str
    status: str
    leased_at: datetime
    expires_at: datetime
    answer: Any = None
    submitted_at: datetime | None = None
    reason: str | None = None
    evidence: dict[str, Any] | None = None
    review_due: datetime | None = None
    reward: int = 0

    @classmethod
    def of(cls, a: Assignment) -> AssignmentOut:
        return cls(
            id=a.id,
            task_id=a.task_id,
            campaign_id=a.campaign_id,
            status=a.status.value,
            leased_at=a.leased_at,
            expires_at=a.expires_at,
            answer=a.answer,
            submitted_at=a.submitted_at,
            reason=a.reason,
            evidence=a.evidence,
            review_due=a.review_due,
            reward=a.reward,
        )


class ClaimOut(BaseModel):
    assignment: AssignmentOut
    task: dict[str, Any]
    title: str
    instructions: str
    output_schema: dict[str, Any]
    reward: int
    terms: dict[str, Any] = Field(
        default_factory=dict, description="a fetch job's terms: allowlist, max_bytes, price"
    )


class SubmitIn(Body):
    answer: Any


class SuiteIn(Body):
    campaign_id: str | None = Field(None, max_length=32)
    count: int = Field(10, ge=1, le=MAX_LEASES_PER_WORKER, description="leases wanted at most")


class LeaseOut(BaseModel):
    assignment: AssignmentOut
    task: dict[str, Any]


class SuiteOut(BaseModel):
    """A task suite: leases on one campaign's tasks, with the campaign's instructions once."""

    campaign_id: str
    title: str
    instructions: str
    output_schema: dict[str, Any]
    reward: int
    terms: dict[str, Any] = Field(default_factory=dict)
    leases: list[LeaseOut]


class AnswerIn(Body):
    assignment_id: str = Field(max_length=40)
    answer: Any


class AnswersIn(Body):
    answers: list[AnswerIn] = Field(min_length=1, max_length=MAX_LEASES_PER_WORKER)


class AnswerResult(BaseModel):
    """One answer's outcome: its verdict, or the problem that refused it (nothing kept)."""

    assignment_id: str
    decision: str | None = None
    reason: str | None = None
    receipt_id: str | None = None
    assignment: AssignmentOut | None = None
    problem: dict[str, Any] | None = None


class AnswersOut(BaseModel):
    results: list[AnswerResult]


class SubmitOut(BaseModel):
    assignment: AssignmentOut
    decision: str
    reason: str
    receipt_id: str | None

    @classmethod
    def of(cls, r: SubmitResult) -> SubmitOut:
        return cls(
            assignment=AssignmentOut.of(r.assignment),
            decision=r.decision.value,
            reason=r.reason,
            receipt_id=r.receipt_id,
        )


class ReviewIn(Body):
    accept: bool
    reason: str = Field("", max_length=4000, description="required (10+ characters) to reject")


class PeerReviewOut(BaseModel):
    id: str
    campaign_id: str
    status: str
    leased_at: datetime
    expires_at: datetime
    accept: bool | None
    reason: str | None
    correct: bool | None = Field(description="set once done, for a control (gold) review only")
    reward: int
    decided_at: datetime | None

    @classmethod
    def of(cls, r: PeerReview) -> PeerReviewOut:
        return cls(
            id=r.id,
            campaign_id=r.campaign_id,
            status=r.status,
            leased_at=r.leased_at,
            expires_at=r.expires_at,
            accept=r.accept,
            reason=r.reason,
            correct=r.correct if r.status == "done" else None,
            reward=r.reward,
            decided_at=r.decided_at,
        )


class PeerReviewItemOut(BaseModel):
    """An answer to review, blind to who gave it (a control review looks the same)."""

    review: PeerReviewOut
    title: str
    instructions: str
    task: dict[str, Any]
    answer: Any
    review_reward: int


class AppealIn(Body):
    reason: str = Field(min_length=10, max_length=4000)


class AppealDecisionIn(Body):
    overturn: bool
    reason: str = Field(min_length=10, max_length=4000)


class AppealVote(BaseModel):
    reviewer: str
    overturn: bool | None
    reason: str | None


class AppealOut(BaseModel):
    id: str
    assignment_id: str
    worker: str
    campaign_id: str
    mode: str
    reason: str
    status: str
    decision_reason: str | None
    decided_by: str | None
    created_at: datetime
    decided_at: datetime | None
    votes: list[AppealVote]

    @classmethod
    def of(cls, r: AppealRecord, viewer: str) -> AppealOut:
        # Panelists see each other's votes only once the appeal is decided.
        show = r.status != "open" or viewer in (r.worker, r.requester)
        return cls(
            id=r.id,
            assignment_id=r.assignment_id,
            worker=r.worker,
            campaign_id=r.campaign_id,
            mode=r.mode,
            reason=r.reason,
            status=r.status,
            decision_reason=r.decision_reason,
            decided_by=r.decided_by,
            created_at=r.created_at,
            decided_at=r.decided_at,
            votes=[
                AppealVote(
                    reviewer=v,
                    overturn=o if show or v == viewer else None,
                    reason=why if show or v == viewer else None,
                )
                for v, o, why in r.votes
            ],
        )


class AppealCaseOut(BaseModel):
    appeal: AppealOut
    assignment: AssignmentOut


class QualityOut(BaseModel):
    address: str
    skills: dict[str, Any]
    limits: list[dict[str, Any]]


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
