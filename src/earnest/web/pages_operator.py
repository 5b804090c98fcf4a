"""The operator's page: settlement health, the last reconciliation, rule limits, appeals.

Operators are the wallets listed in the `operators` setting. The last reconciliation is
kept by this process (reconciling reads the chain; it runs when an operator asks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from earnest.services.reconcile import ReconcileReport
from earnest.web.render import page
from earnest.web.session import MarketDep, SignedIn, same_origin

router = APIRouter(prefix="/operator", include_in_schema=False, dependencies=[Depends(same_origin)])


@dataclass(frozen=True)
class LastReconcile:
    at: datetime
    report: ReconcileReport


@router.get("", response_class=HTMLResponse)
def operator(request: Request, who: SignedIn, m: MarketDep) -> Response:
    """Market health, quality-rule flags and the appeals queue."""
    health, flags = m.views.health(who), m.views.quality_flags(who)
    queue = m.views.appeals_queue(who)
    last: LastReconcile | None = getattr(request.app.state, "last_reconcile", None)
    return page(
        request,
        "operator/operator.html",
        who,
        health=health,
        flags=flags,
        queue=queue,
        last=last,
        now=m.clock.now(),
    )


@router.post("/reconcile")
def run_reconcile(request: Request, who: SignedIn, m: MarketDep) -> Response:
    """Reconcile the vault on chain with the ledger now, and keep the result to show."""
    report = m.views.check_books(who)
    request.app.state.last_reconcile = LastReconcile(m.clock.now(), report)
    return RedirectResponse("/operator", status_code=303)
