"""The pages' languages: gettext catalogs (Babel), the locale a request is shown in, and
numbers, amounts and dates formatted the way that locale writes them.

Catalogs are the `.po` files under `web/locale/<locale>/LC_MESSAGES/messages.po`, made from
`web/locale/messages.pot` (`make i18n` extracts the marked strings with pybabel and updates
every catalog). They are compiled here, in memory, the first time a locale is asked for:
there is no `.mo` file to build or to forget to rebuild. docs/web.md, "Languages", says how
to mark a string.

The locale is the `earnest_lang` cookie when the worker picked one with the switcher, else
the best match of the browser's Accept-Language, else English.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.core import negotiate_locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations
from fastapi import Request

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT = "en"
# (code, the language's own name): the switcher lists them in this order.
LOCALES: dict[str, str] = {
    "en": "English",
    "es": "Español",
    "pt_BR": "Português (Brasil)",
    "hi": "हिन्दी",
    "id": "Bahasa Indonesia",
    "sw": "Kiswahili",
    "ar": "العربية",
}
RTL = frozenset({"ar"})
COOKIE = "earnest_lang"


def catalog_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"


def translations(locale: str) -> Translations:
    """The compiled catalog of `locale`; English (the msgids themselves) has none."""
    return _compiled(locale)[0]


def script_strings(locale: str) -> dict[str, str]:
    """The translations of the messages the pages' scripts show (`t("...")` in static/*.js),
    for the page to hand them in a JSON block; English needs none."""
    return _compiled(locale)[1]


@lru_cache(maxsize=len(LOCALES))
def _compiled(locale: str) -> tuple[Translations, dict[str, str]]:
    path = catalog_path(locale)
    if locale == DEFAULT or not path.exists():
        return Translations(), {}
    with path.open("rb") as po:
        catalog = read_po(po, locale=locale)
    scripts = {
        str(m.id): str(m.string)
        for m in catalog
        if m.id and m.string and not m.fuzzy and isinstance(m.id, str)
        if any(where.endswith(".js") for where, _ in m.locations)
    }
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled), scripts


def _known(code: str | None) -> str | None:
    if not code:
        return None
    code = code.replace("-", "_")
    if code in LOCALES:
        return code
    lowered = {c.lower(): c for c in LOCALES}
    return lowered.get(code.lower())


def negotiate(request: Request) -> str:
    """The locale to show `request` in: the switcher's cookie, then Accept-Language."""
    chosen = _known(request.query_params.get("lang")) or _known(request.cookies.get(COOKIE))
    if chosen:
        return chosen
    return from_accept_language(request.headers.get("accept-language", ""))


def from_accept_language(header: str) -> str:
    """The best of our locales for an Accept-Language header ("pt-BR,pt;q=0.9,en;q=0.5")."""
    weighted: list[tuple[float, str]] = []
    for position, part in enumerate(header.split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and quality > 0:
            weighted.append((-quality + position * 1e-6, tag.strip().replace("-", "_")))
    preferred = [tag for _, tag in sorted(weighted)]
    # Babel matches "pt_BR" to pt_BR, "pt" to pt_BR by its aliases, "es_MX" to es.
    found = negotiate_locale(preferred, list(LOCALES), sep="_")
    if found:
        return _known(found) or DEFAULT
    for tag in preferred:
        language = tag.split("_")[0].lower()
        for code in LOCALES:
            if code.split("_")[0].lower() == language:
                return code
    return DEFAULT


def direction(locale: str) -> str:
    return "rtl" if locale in RTL else "ltr"


def html_lang(locale: str) -> str:
    return locale.replace("_", "-")


def _babel_locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT)


def number(value: int | float | Decimal, locale: str, places: int | None = None) -> str:
    """A number as `locale` writes it (digits grouped, its decimal sign)."""
    pattern = None if places is None else "#,##0." + "#" * places if places else "#,##0"
    return format_decimal(value, format=pattern, locale=_babel_locale(locale))


def moment(value: datetime, locale: str) -> str:
    """A date and time in UTC as `locale` writes it; the page's script shows it in local time."""
    return format_datetime(
        value.astimezone(UTC), "medium", tzinfo=UTC, locale=_babel_locale(locale)
    )


def gettext(locale: str, message: str, **variables: Any) -> str:
    """A message of Python code (not a template) in `locale`, with %(name)s filled in."""
    text = translations(locale).gettext(message)
    return text % variables if variables else text


def currency(value: Decimal, code: str, locale: str) -> str:
    """An amount of a fiat currency as `locale` writes it ("KES 1,234.50", "1.234,50 €")."""
    from babel.numbers import format_currency

    return format_currency(value, code, locale=_babel_locale(locale))


def duration(seconds: float, locale: str) -> str:
    """A length of time in the locale's short units, rounded as a person would say it."""
    from babel.dates import format_timedelta

    shown = max(round(seconds), 1)
    return format_timedelta(shown, threshold=1.5, format="short", locale=_babel_locale(locale))
