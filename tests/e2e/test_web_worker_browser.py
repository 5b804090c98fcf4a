"""The worker's journey in a real browser: leaving and resuming tasks, the focus ring, and
what axe-core and a person would notice on the pages around it.

Each test builds its own market (uvicorn on 127.0.0.1, the settler running) and drives
Debian's chromium; screenshots go to artifacts/screenshots/, named after the page, the width
and the locale.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from earnest.adapters.chain.wallet import Wallet
from earnest.bootstrap import Market, build_market
from earnest.client import Earnest
from earnest.config import Settings
from earnest.demo.server import BackgroundServer
from earnest.domain.money import unit_cost
from earnest.services.templates import TEMPLATES
from tests.e2e.browser import DESKTOP, PHONE, launched, serious_violations, shoot
from tests.e2e.helpers import campaign_spec, deposit, task_row

pytestmark = pytest.mark.slow
TIMEOUT_MS = 15_000


@dataclass
class Site:
    url: str
    market: Market
    requester: Wallet
    keys: Path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launched()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from served(tmp_path)


def served(tmp_path: Path, **settings: Any) -> Iterator[Site]:
    """A market served on 127.0.0.1 with its settler running, and a requester's wallet."""
    requester = Wallet.generate()
    market = build_market(
        Settings(data_dir=tmp_path / "market", port=0, settle_interval=0.1, **settings)
    )
    market.settler.start()
    server = BackgroundServer(market)
    url = server.start()
    requester.save(tmp_path / "requester.json")
    try:
        yield Site(url, market, requester, tmp_path)
    finally:
        server.stop()
        market.close()


def _page(browser: Any, site: Site, viewport: dict[str, int]) -> Any:
    context = browser.new_context(viewport=viewport, base_url=site.url, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


def _sign_in(page: Any, next_url: str, keyfile: Path | None = None) -> None:
    page.goto(f"/signin?next={next_url}")
    page.wait_for_selector("#use-key:not([disabled])")
    if keyfile is not None:
        page.set_input_files("#import-key", str(keyfile))
        page.wait_for_function("() => document.querySelector('#key-status').dataset.address")
    page.click("#use-key")
    page.wait_for_url(lambda url: "/signin" not in url and url.endswith(next_url))


def _campaign(site: Site, tasks: int, **changes: Any) -> dict[str, Any]:
    with Earnest.sign_in(site.url, site.requester) as api:
        spec = campaign_spec(**changes)
        budget = tasks * spec["overlap"] * unit_cost(spec["reward"], api.market()["fee_bps"])
        deposit(site.market, api, site.requester, budget)
        made: dict[str, Any] = api.create_campaign(**spec)
        api.upload_tasks(made["id"], [task_row(n) for n in range(tasks)])
        api.fund(made["id"], budget)
    return made


def _outline(page: Any, selector: str = "document.activeElement") -> list[str]:
    return list(
        page.evaluate(
            f"() => {{ const e = {selector}; const s = getComputedStyle(e);"
            " return [e.id || e.tagName, s.outlineStyle, s.outlineWidth]; }"
        )
    )


def test_skip_resume_and_give_back_in_the_browser(browser: Any, site: Site) -> None:
    _campaign(site, tasks=3, title="Even or odd?")
    worker = _page(browser, site, PHONE)
    _sign_in(worker, "/work")
    assert "3 left" in worker.inner_text(".offer")
    worker.click("button[aria-label='Start: Even or odd?']")
    worker.wait_for_url(re.compile(r"/work/tasks/asg_"))
    first = worker.get_attribute("#task", "data-assignment")
    worker.evaluate("window.__sameDocument = true")
    worker.click("text=Skip this task")
    worker.wait_for_function(
        "prev => document.querySelector('#task')?.dataset.assignment !== prev", arg=first
    )
    assert worker.evaluate("window.__sameDocument === true"), "skipping reloaded the page"
    assert "Skipped" in worker.inner_text(".toast")
    second = worker.get_attribute("#task", "data-assignment")
    assert second and second != first and second in worker.url
    # Away to the feed: the task is waiting there, with a way back to it.
    worker.goto("/work")
    shoot(worker, "feed-in-progress", locale="en")
    assert not serious_violations(worker)
    worker.click("a[aria-label='Resume: Even or odd?']")
    worker.wait_for_url(re.compile(rf"/work/tasks/{second}$"))
    worker.click("text=Give it back and leave")
    worker.wait_for_url(re.compile(r"/work\?done=released"))
    assert "Task given back" in worker.inner_text("main")
    assert worker.locator("#held-title").count() == 0
    # Two tasks were given back: one to the pool for others, none twice to this worker.
    assert "1 left" in worker.inner_text(".offer")


def test_the_focus_ring_is_for_the_keyboard_only(browser: Any, site: Site) -> None:
    _campaign(site, tasks=3, title="Even or odd?")
    worker = _page(browser, site, DESKTOP)
    _sign_in(worker, "/work")
    worker.click("button[aria-label='Start: Even or odd?']")
    worker.wait_for_url(re.compile(r"/work/tasks/asg_"))
    worker.click("label.option >> nth=0")  # with the mouse: no ring on the option card
    ring = _outline(worker, "document.querySelector('label.option')")
    assert ring[1] == "none", ring
    current = worker.get_attribute("#task", "data-assignment")
    worker.keyboard.press("Enter")
    worker.wait_for_function(
        "prev => document.querySelector('#task')?.dataset.assignment !== prev", arg=current
    )
    # The next task's card takes the focus (for screen readers) but draws no ring.
    assert worker.evaluate("document.activeElement.id") == "task"
    ring = _outline(worker)
    assert ring[1] == "none" or ring[2] == "0px", ring
    shoot(worker, "task-after-answer", locale="en")
    # Tabbing still shows where the keyboard is.
    for _ in range(3):
        worker.keyboard.press("Tab")
        ring = _outline(worker)
        assert ring[1] != "none" and ring[2] != "0px", ring


def from_template(site: Site, name: str, title: str, data: dict[str, Any]) -> dict[str, Any]:
    """A funded one-task campaign made from the template `name`, as the dashboard makes it."""
    chosen = TEMPLATES[name]
    input_schema, output_schema = chosen.schemas(chosen.options)
    with Earnest.sign_in(site.url, site.requester) as api:
        deposit(site.market, api, site.requester, 1_000_000)
        made: dict[str, Any] = api.create_campaign(
            type=chosen.type,
            title=title,
            instructions=chosen.instructions,
            input_schema=input_schema,
            output_schema=output_schema,
            reward=1_000,
            overlap=1,
            gold_share=0.0,
            verifier=chosen.verifier,
            quality=chosen.quality,
        )
        api.upload_tasks(made["id"], [{"id": "t1", "data": data}])
        api.fund(made["id"], 100_000)
    return made


def test_the_review_list_and_empty_charts_on_the_campaign_page(browser: Any, site: Site) -> None:
    data = {"prompt": "Sum up.", "text": "A long text."}
    made = from_template(site, "free_text", "Summaries", data)
    with Earnest.sign_in(site.url, Wallet.generate()) as worker:
        leased = worker.claim(made["id"])
        # One unbroken 300-character line: the answer box scrolled sideways, unfocusable.
        worker.submit(leased["assignment"]["id"], {"text": "x" * 300})
    requester = _page(browser, site, PHONE)
    _sign_in(requester, f"/dashboard/campaigns/{made['id']}", site.keys / "requester.json")
    requester.wait_for_selector(".answer-json")
    found = serious_violations(requester)
    assert not found, "\n".join(found)
    # Empty charts say so in words that fit inside the chart at phone width.
    clipped = requester.evaluate(
        """() => [...document.querySelectorAll('svg.chart')].flatMap(svg => {
            const width = svg.viewBox.baseVal.width;
            return [...svg.querySelectorAll('text.chart-empty tspan, text.chart-empty')]
              .map(t => t.getBBox()).filter(b => b.width > 0 && (b.x < 0 || b.x + b.width > width))
              .map(b => [b.x, b.width, width]); })"""
    )
    assert requester.locator("text.chart-empty").count() > 0
    assert not clipped, clipped
    shoot(requester, "campaign-review", locale="en")
