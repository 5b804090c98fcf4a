"""A campaign's payout cost, shown before funding (docs/money.md, "Payout cost")."""

from __future__ import annotations

from fastapi import APIRouter

from earnest.api.deps import Caller, MarketDep
from earnest.api.schemas.payout_cost import PayoutCostIn, PayoutCostOut
from earnest.services.payout_cost import EstimatePayoutCost

router = APIRouter(tags=["campaigns"])


@router.post("/campaigns/{campaign_id}/payout-cost", response_model=PayoutCostOut)
def payout_cost(campaign_id: str, body: PayoutCostIn, who: Caller, m: MarketDep) -> PayoutCostOut:
    """Tokens to fund every unit, and the SOL the payouts cost: network fees from the
    batching, rent of new payees' token accounts (a destination with one costs none)."""
    cmd = EstimatePayoutCost(who, campaign_id, body.payees, tuple(body.destinations))
    return PayoutCostOut.of(m.campaigns.payout_cost(cmd))
