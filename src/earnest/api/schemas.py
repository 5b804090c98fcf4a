"""Request and response bodies (pydantic). Mapping from domain objects lives here too."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from earnest.domain.work import Assignment, Campaign
from earnest.services.ports import ApiKeyRecord, PayoutRecord

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
        "person", description="'person', or 'agent' for an AI agent working as a worker"
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
    deadline: datetime | None = None
    verifier: str = "majority"


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
    deadline: datetime | None
    verifier: str
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
            deadline=s.deadline,
            verifier=s.verifier,
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
            reward=a.reward,
        )


class ClaimOut(BaseModel):
    assignment: AssignmentOut
    task: dict[str, Any]
    title: str
    instructions: str
    output_schema: dict[str, Any]
    reward: int


class SubmitIn(Body):
    answer: Any


class SubmitOut(BaseModel):
    assignment: AssignmentOut
    decision: str
    reason: str
    receipt_id: str | None
