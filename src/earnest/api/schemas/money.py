"""The market, deposits, balances and payouts: request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from earnest.api.schemas.bounded import bounded
from earnest.api.schemas.common import Body
from earnest.domain.money import POSITIVE_AMOUNT
from earnest.services.ports import PayoutRecord


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
    amount: int = bounded(POSITIVE_AMOUNT, description="base units of the mint")


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
