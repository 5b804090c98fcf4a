"""A campaign's payout cost before funding: request and response bodies."""

from __future__ import annotations

from pydantic import BaseModel, Field

from earnest.api.schemas.common import Body
from earnest.services.payout_cost import MAX_DESTINATIONS, PayoutCost


class PayoutCostIn(Body):
    payees: int | None = Field(
        None, ge=0, le=10**9, description="distinct workers expected; default one per unit"
    )
    destinations: list[str] = Field(
        default_factory=list,
        max_length=MAX_DESTINATIONS,
        description="payee wallets known now; one already holding a token account costs no rent",
    )


class PayoutCostOut(BaseModel):
    token_program: str
    units: int
    unit_cost: int
    budget: int
    token_transfer_fees: int
    payees: int
    new_accounts: int
    existing_accounts: int
    memo_payees: int
    transfers_per_transaction: int
    transactions: int
    signature_fee: int
    network_fees: int
    account_size: int
    account_rent: int
    rent: int
    total_lamports: int

    @classmethod
    def of(cls, cost: PayoutCost) -> PayoutCostOut:
        return cls(**cost.as_dict())
