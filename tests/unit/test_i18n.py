"""The pages' languages: every visible string of the worker's pages, the sign-in page and
the layout goes through the catalogs, every catalog holds every string, and the locale,
numbers and amounts follow the reader (docs/web.md, "Languages")."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from earnest.web import i18n

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "src/earnest/web/templates"
# The templates whose every visible word must be translatable (requester and operator pages
# are marked by whoever edits them; docs/web.md says how).
CHECKED = [
    TEMPLATES / "base.html",
    TEMPLATES / "signin.html",
    TEMPLATES / "error.html",
    *sorted((TEMPLATES / "worker").rglob("*.html")),
]
# Words that are the same in every language: the product's name, key caps.
SAME_EVERYWHERE = {"Earnest", "API", "Enter", "Ctrl"}
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def unmarked(source: str) -> list[str]:
    """The visible text (and the attributes people read) left outside gettext calls."""
    text = re.sub(r"{#.*?#}", "", source, flags=re.S)
    text = re.sub(r"<script\b.*?</script>", "", text, flags=re.S)
    # A translated expression or statement leaves nothing visible behind.
    text = re.sub(r"{{.*?}}|{%.*?%}", "\x00", text, flags=re.S)
    found = []
    for attribute in re.findall(r'(?:title|aria-label|alt|placeholder)="([^"]*)"', text):
        found.extend(_words(attribute))
    for node in re.findall(r">([^<>]+)<", re.sub(r"<[^<>]*>", lambda m: _tag(m.group(0)), text)):
        found.extend(_words(node))
    return found


def _tag(tag: str) -> str:
    return "<>"  # a tag's own text (names, classes) is not shown


def _words(text: str) -> list[str]:
    """The parts of `text` between template tags holding a word not the same everywhere."""
    parts = [re.sub(r"&\w+;", " ", part).strip() for part in text.split("\x00")]
    return [
        part
        for part in parts
        if any(word not in SAME_EVERYWHERE for word in re.findall(r"[A-Za-z]{2,}", part))
    ]


@pytest.mark.parametrize("path", CHECKED, ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_every_visible_string_is_marked(path: Path) -> None:
    left = unmarked(path.read_text())
    assert not left, f"{path.name}: not marked for translation: {left}"


def test_the_unmarked_string_check_can_fail() -> None:
    assert unmarked('<p>{{ _("Fine") }}</p><p>Forgotten words</p>') == ["Forgotten words"]
    assert unmarked('<a title="A title">{{ x }}</a>') == ["A title"]
    assert unmarked("<kbd>Enter</kbd> {{ _('submits') }}") == []


def _extracted() -> dict[Any, set[str]]:
    """What pybabel extracts now, by (context, msgid): the catalogs must hold all of it."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = {
        "_": None,
        "gettext": ((2,)),
        "ngettext": (1, 2),
        "pgettext": ((1, "c"), 2),
        "t": None,
    }
    found: dict[Any, set[str]] = {}
    for name, _line, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        key = (context, message if isinstance(message, str) else message[0])
        found.setdefault(key, set()).add(name)
    return found


@pytest.fixture(scope="module")
def extracted() -> dict[Any, set[str]]:
    return _extracted()


def test_the_template_catalog_is_up_to_date(extracted: dict[Any, set[str]]) -> None:
    with (i18n.LOCALE_DIR / "messages.pot").open("rb") as pot:
        known = {
            (m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in read_po(pot) if m.id
        }
    new = sorted(str(k) for k in set(extracted) - known)
    assert not new, f"run `make i18n`: strings missing from messages.pot: {new[:20]}"


@pytest.mark.parametrize("locale", [code for code in i18n.LOCALES if code != i18n.DEFAULT])
def test_every_catalog_translates_every_string(locale: str, extracted: dict[Any, set[str]]) -> None:
    with i18n.catalog_path(locale).open("rb") as po:
        catalog = read_po(po, locale=locale)
    entries = {(m.context, m.id if isinstance(m.id, str) else m.id[0]): m for m in catalog if m.id}
    problems = []
    for key in extracted:
        entry = entries.get(key)
        strings = entry and (entry.string if isinstance(entry.string, tuple) else (entry.string,))
        if entry is None or not strings or not all(strings):
            problems.append(f"missing: {key}")
        elif entry.fuzzy:
            problems.append(f"fuzzy: {key}")
        else:
            wanted = set(_PLACEHOLDER.findall(key[1]))
            for text in strings:
                if set(_PLACEHOLDER.findall(text)) != wanted:
                    problems.append(f"placeholders differ: {key} -> {text}")
    assert not problems, f"{locale}: " + "\n".join(problems[:30])


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("pt-BR,pt;q=0.9,en;q=0.5", "pt_BR"),
        ("pt-PT", "pt_BR"),
        ("es-MX,es;q=0.9", "es"),
        ("fr-FR,fr;q=0.9", "en"),
        ("fr-FR,sw;q=0.5", "sw"),
        ("ar-EG", "ar"),
        ("hi-IN,en;q=0.1", "hi"),
        ("id", "id"),
        ("en;q=0.2,ar;q=0.9", "ar"),
        ("ar;q=0,es", "es"),
        ("", "en"),
        ("*", "en"),
    ],
)
def test_the_locale_follows_accept_language(header: str, locale: str) -> None:
    assert i18n.from_accept_language(header) == locale


def test_numbers_and_moments_follow_the_locale() -> None:
    from datetime import UTC, datetime
    from decimal import Decimal

    assert i18n.number(Decimal("1234.5"), "es", 6) == "1.234,5"
    assert i18n.number(Decimal("12345.5"), "pt_BR", 6) == "12.345,5"
    assert i18n.number(Decimal("12345.5"), "en", 6) == "12,345.5"
    assert i18n.number(Decimal("1234567"), "hi") == "12,34,567"
    moment = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)
    assert "2026" in i18n.moment(moment, "ar") and i18n.moment(moment, "es") != i18n.moment(
        moment, "en"
    )
    assert i18n.direction("ar") == "rtl" and i18n.direction("sw") == "ltr"
    assert i18n.gettext("es", "Score in %(skill)s", skill="x") == "Puntuación en x"
    assert i18n.script_strings("ar")["Sending…"] == "جارٍ الإرسال…"
