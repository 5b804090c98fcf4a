"""Task pages for people, in a real browser: a place drawn without map tiles with the
distance and direction to it, moments in the reader's time zone, numbers with their units,
and the worker's pages in Arabic (right to left) as in English.

Each test builds its own market and drives Debian's chromium; screenshots end in the locale.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from earnest.adapters.chain.wallet import Wallet
from earnest.client import Earnest
from earnest.services.templates import TEMPLATES
from tests.e2e.browser import DESKTOP, PHONE, launched, serious_violations, shoot
from tests.e2e.test_web_worker_browser import (
    Site,
    _campaign,
    _page,
    _sign_in,
    from_template,
    site,
)

pytestmark = pytest.mark.slow
__all__ = ["site"]  # the market fixture, shared with the other worker browser tests

PLACE = {"lat": 52.52, "lon": 13.405}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launched()


def _metres(a: dict[str, float], b: dict[str, float]) -> float:
    rad = math.pi / 180
    h = (
        math.sin((b["lat"] - a["lat"]) * rad / 2) ** 2
        + math.cos(a["lat"] * rad)
        * math.cos(b["lat"] * rad)
        * math.sin((b["lon"] - a["lon"]) * rad / 2) ** 2
    )
    return 2 * 6371008.8 * math.asin(math.sqrt(h))


def test_a_place_a_window_and_units_read_as_a_person_would(browser: Any, site: Site) -> None:
    data = TEMPLATES["local_report"].sample | PLACE | {"radius_m": 300}
    from_template(site, "local_report", "Is the bakery open?", data)
    worker = _page(browser, site, PHONE)
    _sign_in(worker, "/work")
    worker.click("button[aria-label='Start: Is the bakery open?']")
    worker.wait_for_url(re.compile(r"/work/tasks/asg_"))
    data = worker.inner_text("dl.data").replace("\xa0", " ")
    # No raw machine data: no ISO stamps, no bare coordinates, no RADIUS M heading.
    assert "2026-11-22T" not in data and "RADIUS" not in data.upper().split("WITHIN")[0]
    assert "52.52° N, 13.405° E" in data and "within 300 m" in data, data
    assert worker.locator("dl.data time[data-local]").count() == 0  # rewritten locally
    assert worker.locator("dl.data time").count() == 2
    # The worker stands ~400 m north-east of the bakery: it lies to their south-west.
    here = {"lat": PLACE["lat"] + 0.0025, "lon": PLACE["lon"] + 0.004}
    worker.fill("input[name='lat']", str(here["lat"]))
    worker.fill("input[name='lon']", str(here["lon"]))
    figure = worker.locator("[data-place]")
    worker.wait_for_function("() => document.querySelector('[data-place]').dataset.distance")
    assert figure.get_attribute("data-direction") == "south-west"
    measured = int(figure.get_attribute("data-distance") or 0)
    assert abs(measured - _metres(PLACE, here)) < 2, measured
    assert "to your south-west" in worker.inner_text("[data-place-say]")
    assert worker.locator("[data-you]").get_attribute("visibility") == "visible"
    shoot(worker, "task-place", locale="en")
    found = serious_violations(worker)
    assert not found, "\n".join(found)


def test_the_worker_pages_in_arabic_read_right_to_left(browser: Any, site: Site) -> None:
    _campaign(site, tasks=2, title="Even or odd?")
    context = browser.new_context(viewport=DESKTOP, base_url=site.url, locale="ar")
    context.set_default_timeout(15_000)
    worker = context.new_page()
    worker.goto("/signin?next=/work")
    assert worker.get_attribute("html", "lang") == "ar"
    assert worker.get_attribute("html", "dir") == "rtl"
    worker.wait_for_selector("#use-key:not([disabled])")
    worker.click("#use-key")
    # "/signin?next=/work" ends in /work too: wait for the feed itself.
    worker.wait_for_url(lambda url: "/signin" not in url and url.endswith("/work"))
    feed = worker.inner_text("main")
    assert "Work you can do now" not in feed, feed  # the heading is in Arabic
    assert re.search("[\u0600-\u06ff]", feed)
    # Laid out right to left: the Start button sits left of the card's text.
    card = worker.locator(".offer").first
    text_box = card.locator("h2").bounding_box()
    start_box = card.locator(".offer-go button").bounding_box()
    assert text_box and start_box and start_box["x"] < text_box["x"]
    for width in (DESKTOP, PHONE):
        worker.set_viewport_size(width)
        found = serious_violations(worker)
        assert not found, "\n".join(found)
    shoot(worker, "feed", locale="ar")
    worker.locator(".offer-go button").first.click()
    worker.wait_for_url(re.compile(r"/work/tasks/asg_"))
    shoot(worker, "task", locale="ar")
    worker.goto("/work/earnings")
    shoot(worker, "earnings", locale="ar")
    found = serious_violations(worker)
    assert not found, "\n".join(found)
    # The switcher: English again, remembered by a cookie.
    worker.select_option("#lang-pick", "en")
    worker.click("form.lang button")
    worker.wait_for_url(re.compile(r"lang=en"))
    assert worker.get_attribute("html", "dir") == "ltr"
    worker.goto("/work")
    assert "Work you can do now" in worker.inner_text("main")


def test_meter_readings_are_typed_in_rows_with_their_unit_not_json(
    browser: Any, site: Site
) -> None:
    from_template(site, "energy", "Evening peak", TEMPLATES["energy"].sample)
    context = browser.new_context(
        viewport=PHONE, base_url=site.url, timezone_id="Africa/Nairobi", locale="en-GB"
    )
    context.set_default_timeout(15_000)
    worker = context.new_page()
    _sign_in(worker, "/work")
    worker.click("button[aria-label='Start: Evening peak']")
    worker.wait_for_url(re.compile(r"/work/tasks/asg_"))
    assert worker.locator("textarea[name='answer']").count() == 0  # no JSON box
    data = worker.inner_text("dl.data").replace("\xa0", " ")
    assert "0.02 tokens per kWh" in data and "20000" not in data, data
    assert "Wh" in worker.inner_text("[data-rows='readings'] label >> nth=1")
    assert "local time" in worker.inner_text("[data-rows='readings']")
    worker.fill("[name='f.device']", "Meter1")
    rows = [("2026-11-22T21:00:00", "1200"), ("2026-11-22T22:30:00", "1500.5")]
    for i, (at, wh) in enumerate(rows):
        worker.fill(f"[name='f.readings.{i}.at']", at)
        worker.fill(f"[name='f.readings.{i}.wh']", wh)
        worker.fill(f"[name='f.readings.{i}.signature']", f"sig{i}")
    worker.click("[data-add-row]")
    assert worker.locator("[name='f.readings.2.wh']").count() == 1
    shoot(worker, "task-readings", locale="en")
    found = serious_violations(worker)
    assert not found, "\n".join(found)
    assignment = worker.get_attribute("#task", "data-assignment")
    worker.click("text=Submit answer")
    worker.wait_for_selector(".toast:not([hidden])")
    with site.market.store.uow(readonly=True) as uow:
        stored = uow.assignments.get(str(assignment))
    assert stored is not None and stored.answer == {
        "device": "Meter1",
        "readings": [  # typed at UTC+3, sent in UTC; a whole Wh stays whole
            {"at": "2026-11-22T18:00:00+00:00", "wh": 1200, "signature": "sig0"},
            {"at": "2026-11-22T19:30:00+00:00", "wh": 1500.5, "signature": "sig1"},
        ],
    }


# Values that run out of their card (a long amount at phone width, on either side).
_SPILLED = """() => [...document.querySelectorAll('.stat-value, .chip, .card h1, .card h2')]
  .filter(e => { const r = e.getBoundingClientRect(), c = e.closest('.card, .offer');
    if (!c || !r.width) return false; const b = c.getBoundingClientRect();
    return e.scrollWidth > e.clientWidth + 1 || r.left < b.left - 1 || r.right > b.right + 1; })
  .map(e => e.textContent.trim().slice(0, 40))"""


def test_every_worker_page_is_axe_clean_in_english_and_arabic_at_both_widths(
    browser: Any, site: Site
) -> None:
    """The worker's pages with something on them (a paid answer and its receipt, a rejection,
    a task in progress, reputation), at phone and desktop width, left to right and right to
    left: no serious or critical axe finding, nothing wider than the screen."""
    made = _campaign(site, tasks=4, title="Even or odd?", overlap=1, gold_share=0.0)
    wallet = Wallet.generate()
    wallet.save(site.keys / "worker.json")
    with Earnest.sign_in(site.url, wallet) as api:
        first = api.claim(made["id"])["assignment"]["id"]
        api.submit(first, {"label": "even"})
        held = api.claim(made["id"])["assignment"]["id"]
    # The settler pays within a second or so: wait (bounded) for the receipt's payout.
    receipt = ""
    for _ in range(100):
        with Earnest.sign_in(site.url, wallet) as api:
            paid = [p for p in api.payouts() if p.get("receipt_id")]
        if paid:
            receipt = paid[0]["receipt_id"]
            break
        time.sleep(0.1)
    assert receipt
    pages = {
        "signin": "/signin",
        "feed": "/work",
        "task": f"/work/tasks/{held}",
        "done": f"/work/done/{first}",
        "earnings": "/work/earnings",
        "receipt": f"/work/receipts/{receipt}",
        "reputation": "/work/reputation",
    }
    for locale in ("en", "ar"):
        context = browser.new_context(viewport=DESKTOP, base_url=site.url, locale=locale)
        context.set_default_timeout(15_000)
        worker = context.new_page()
        _sign_in(worker, "/work", site.keys / "worker.json")
        for name, path in pages.items():
            worker.goto(path)
            assert worker.get_attribute("html", "dir") == ("rtl" if locale == "ar" else "ltr")
            for width in (DESKTOP, PHONE):
                worker.set_viewport_size(width)
                found = serious_violations(worker)
                assert not found, f"{locale} {name} {width['width']}:\n" + "\n".join(found)
                spilled = worker.evaluate(_SPILLED)
                assert not spilled, f"{locale} {name} {width['width']}: {spilled}"
            shoot(worker, f"sweep-{name}", locale=locale)
        context.close()
