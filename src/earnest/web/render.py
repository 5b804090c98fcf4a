"""Jinja2 templates, the filters pages share, and the page and fragment responses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context

from earnest import __version__
from earnest.domain.bandwidth import BandwidthTerms
from earnest.domain.money import format_units
from earnest.domain.work import CampaignSpec, QualityPolicy
from earnest.services.identity import Principal
from earnest.web.session import market
from earnest.web.widgets import is_external, is_image

TEMPLATES = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=TEMPLATES)


@pass_context
def _tokens(ctx: Context, amount: int | None) -> str:
    return "–" if amount is None else format_units(int(amount), ctx["decimals"])


def _short(address: str | None) -> str:
    if not address:
        return ""
    return address if len(address) <= 12 else f"{address[:4]}…{address[-4:]}"


def _when(moment: datetime | str | None) -> str:
    if moment is None:
        return "–"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "new"
    if seconds < 90:
        return f"~{max(round(seconds), 1)} s"
    if seconds < 5400:
        return f"~{round(seconds / 60)} min"
    return f"~{seconds / 3600:.1f} h"


def _pct(share: float | None) -> int:
    """A share as a whole percent 0-100, for the bar classes (w-N, l-N) in app.css."""
    return 0 if share is None else min(max(round(float(share) * 100), 0), 100)


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{share:.0%}"


templates.env.filters.update(
    tokens=_tokens,
    short=_short,
    when=_when,
    duration=_duration,
    percent=_percent,
    pct=_pct,
    pretty=lambda value: json.dumps(value, indent=2, sort_keys=True),
)
# Forms take their maxlength/min/max from the domain: {{ bounds.campaign.title.max_length }}.
templates.env.globals["bounds"] = {
    "campaign": CampaignSpec.BOUNDS,
    "quality": QualityPolicy.BOUNDS,
    "bandwidth": BandwidthTerms.BOUNDS,
}
templates.env.tests["image"] = is_image
templates.env.tests["external"] = is_external


def section_of(path: str) -> str:
    """Which menu entry a page belongs to (it is marked as the current one)."""
    for prefix, section in _SECTIONS:
        if path == prefix or path.startswith(prefix + "/"):
            return section
    return ""


_SECTIONS = [
    ("/work/earnings", "earnings"),
    ("/work/receipts", "earnings"),
    ("/work/reputation", "reputation"),
    ("/work", "work"),
    ("/dashboard", "dashboard"),
    ("/operator", "operator"),
]


def page(
    request: Request, name: str, who: Principal | None, status: int = 200, **context: Any
) -> HTMLResponse:
    """A whole page, with what the layout needs: the viewer, the mint's decimals, the menu."""
    m = market(request)
    operators = m.settings.operator_addresses
    base = {
        "who": who,
        "decimals": m.chain.decimals,
        "is_operator": who is not None and who.address in operators,
        "fragment": False,
        "section": section_of(request.url.path),
        "asset_version": __version__,
    }
    return templates.TemplateResponse(request, name, base | context, status_code=status)


def fragment(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A part of a page, for a script to swap in without reloading."""
    base = {
        "decimals": market(request).chain.decimals,
        "fragment": True,
        "asset_version": __version__,
    }
    return templates.TemplateResponse(request, name, base | context, status_code=status)
