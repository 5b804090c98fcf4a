"""Jinja2 templates, the filters pages share, and the page and fragment responses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from earnest import __version__
from earnest.domain.bandwidth import BandwidthTerms
from earnest.domain.money import format_units
from earnest.domain.work import CampaignSpec, QualityPolicy
from earnest.services.identity import Principal
from earnest.web import i18n, present, schema_form
from earnest.web.session import market
from earnest.web.widgets import is_external, is_image

TEMPLATES = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=TEMPLATES)
templates.env.add_extension("jinja2.ext.i18n")


# gettext for templates: the catalog of the locale this page is rendered in ({{ _("...") }},
# {% trans %}...{% endtrans %}); the i18n extension's new style escapes and fills %(name)s.
@pass_context
def _gettext(ctx: Context, message: str) -> str:
    return i18n.translations(ctx.get("locale", i18n.DEFAULT)).gettext(message)


@pass_context
def _ngettext(ctx: Context, singular: str, plural: str, n: int) -> str:
    return i18n.translations(ctx.get("locale", i18n.DEFAULT)).ngettext(singular, plural, n)


@pass_context
def _pgettext(ctx: Context, context: str, message: str) -> str:
    return str(i18n.translations(ctx.get("locale", i18n.DEFAULT)).pgettext(context, message))


@pass_context
def _npgettext(ctx: Context, context: str, singular: str, plural: str, n: int) -> str:
    found = i18n.translations(ctx.get("locale", i18n.DEFAULT))
    return found.npgettext(context, singular, plural, n)


templates.env.install_gettext_callables(  # type: ignore[attr-defined]
    _gettext, _ngettext, newstyle=True, pgettext=_pgettext, npgettext=_npgettext
)


@pass_context
def _tokens(ctx: Context, amount: int | None) -> str:
    return "–" if amount is None else format_units(int(amount), ctx["decimals"])


@pass_context
def _money(ctx: Context, amount: int | None, places: int | None = None) -> str:
    """A base-unit amount in tokens with the mint's symbol, as the page's locale writes it;
    `places` rounds (down) for estimates such as a pay rate."""
    if amount is None:
        return "–"
    decimals = ctx["decimals"]
    value = Decimal(format_units(int(amount), decimals))
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places), rounding="ROUND_DOWN")
    shown = i18n.number(
        value, ctx.get("locale", i18n.DEFAULT), decimals if places is None else places
    )
    return f"{shown}\u00a0{ctx.get('token_symbol', 'tokens')}"


@pass_context
def _fiat(ctx: Context, amount: int | None) -> str:
    """The operator's fiat estimate of a base-unit amount ("≈ KES 1,234.50"), or ''."""
    rate, currency = ctx.get("fiat_rate"), ctx.get("fiat_currency")
    if amount is None or rate is None or not currency:
        return ""
    value = Decimal(format_units(int(amount), ctx["decimals"])) * rate
    return i18n.currency(value, currency, ctx.get("locale", i18n.DEFAULT))


@pass_context
def _number(ctx: Context, value: float | int | None, places: int | None = None) -> str:
    if value is None:
        return "–"
    return i18n.number(value, ctx.get("locale", i18n.DEFAULT), places)


@pass_context
def _moment(ctx: Context, value: datetime | str | None) -> Markup:
    """A moment for a person: `<time>` in the page's locale (UTC); the page's script rewrites
    it in the reader's own time zone, with how long ago or ahead it is."""
    if value is None:
        return Markup("–")
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    text = i18n.moment(value, ctx.get("locale", i18n.DEFAULT))
    stamp = value.astimezone(UTC).isoformat()
    return Markup(f'<time datetime="{escape(stamp)}" data-local>{escape(text)} UTC</time>')


# Parts of an answer too big to show back (a photo's bytes, a test file's text).
_BULKY = frozenset({"photo", "test", "data"})


def answer_text(value: Any) -> str:
    """An answer as a person reads it: `{"label": "sports"}` is "sports", a list is joined,
    several fields are "name: value"; a photo's bytes or a test file's text are left out."""
    if isinstance(value, dict):
        shown = {k: v for k, v in value.items() if k not in _BULKY}
        if len(shown) == 1:
            return answer_text(next(iter(shown.values())))
        return "; ".join(f"{str(k).replace('_', ' ')}: {answer_text(v)}" for k, v in shown.items())
    if isinstance(value, list):
        return ", ".join(answer_text(v) for v in value)
    if value is None:
        return "–"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


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


@pass_context
def _duration(ctx: Context, seconds: float | None) -> str:
    """About how long, as the page's locale says it ("~5 min", "~5 Min.", "~5 मिनट")."""
    if seconds is None:
        return "–"
    return "~" + i18n.duration(seconds, ctx.get("locale", i18n.DEFAULT))


def _pct(share: float | None) -> int:
    """A share as a whole percent 0-100, for the bar classes (w-N, l-N) in app.css."""
    return 0 if share is None else min(max(round(float(share) * 100), 0), 100)


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{share:.0%}"


templates.env.filters.update(
    tokens=_tokens,
    money=_money,
    fiat=_fiat,
    number=_number,
    moment=_moment,
    answer=answer_text,
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
templates.env.globals["task_rows"] = present.rows
templates.env.globals["form_of"] = schema_form.form_of
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
    base = _shared(request) | {
        "who": who,
        "is_operator": who is not None and who.address in operators,
        "fragment": False,
        "section": section_of(request.url.path),
    }
    return _respond(request, name, base | context, status)


def _shared(request: Request) -> dict[str, Any]:
    """What every page and fragment needs: the mint's decimals and symbol, the locale."""
    m = market(request)
    locale = i18n.negotiate(request)
    return {
        "decimals": m.chain.decimals,
        "token_symbol": m.settings.token_symbol,
        "fiat_rate": m.settings.fiat_rate,
        "fiat_currency": m.settings.fiat_currency,
        "asset_version": __version__,
        "locale": locale,
        "html_lang": i18n.html_lang(locale),
        "dir": i18n.direction(locale),
        "locales": i18n.LOCALES,
        "script_strings": i18n.script_strings(locale),
    }


def _respond(request: Request, name: str, context: dict[str, Any], status: int) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Content-Language"] = context["html_lang"]
    response.headers["Vary"] = "Accept-Language, Cookie"
    chosen = request.query_params.get("lang")
    if chosen and chosen.replace("-", "_") in i18n.LOCALES:
        # The switcher's choice is remembered for a year, for this site only.
        response.set_cookie(
            i18n.COOKIE, context["locale"], max_age=365 * 86400, path="/", samesite="lax"
        )
    return response


def fragment(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A part of a page, for a script to swap in without reloading."""
    base = _shared(request) | {"fragment": True}
    return _respond(request, name, base | context, status)
