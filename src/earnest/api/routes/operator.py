"""The market operator's view: addresses listed in the `operators` setting only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from earnest.api.deps import Caller, MarketDep

router = APIRouter(tags=["operator"])


@router.get("/operator/reconcile")
def reconcile(who: Caller, m: MarketDep) -> dict[str, Any]:
    """The ledger against the chain, account by account, as `earnest reconcile` prints it."""
    report = m.views.reconcile(who)
    return report.as_dict()
