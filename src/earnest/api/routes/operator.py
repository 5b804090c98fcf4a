"""The market operator's view: addresses listed in the `operators` setting only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from earnest.api.deps import Caller, MarketDep
from earnest.services.reconcile import reconcile_as_operator

router = APIRouter(tags=["operator"])


@router.get("/operator/reconcile")
def reconcile(who: Caller, m: MarketDep) -> dict[str, Any]:
    """The ledger against the chain, account by account, as `earnest reconcile` prints it."""
    report = reconcile_as_operator(
        who, operators=m.settings.operators, store=m.store, chain=m.chain
    )
    return report.as_dict()
