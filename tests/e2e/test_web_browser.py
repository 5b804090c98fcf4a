"""The whole story in a real browser, against uvicorn on 127.0.0.1.

A requester signs in with an imported keypair, credits an on-chain deposit, creates a
campaign from a template, uploads tasks (first with bad rows), funds it and keeps its page
open; a worker signs in with a key the browser creates, labels five tasks with the keyboard
and sees the payouts with their transactions; the requester's numbers move without a
reload; an operator reconciles. Every main page is screenshotted at 1280 and 375 px and
checked with axe-core.
"""

from __future__ import annotations

import re
import struct
import zlib
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
from tests.e2e.helpers import campaign_spec, deposit, deposit_on_chain

pytestmark = pytest.mark.slow
TIMEOUT_MS = 15_000
BUDGET = 50_000_000  # base units the requester deposits (50 tokens at 6 decimals)


@dataclass
class Site:
    url: str
    market: Market
    requester: Wallet
    operator: Wallet
    keys: Path  # where the keypair files the browser imports are


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launched()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """A market with its settler running, served by uvicorn on a free loopback port."""
    requester, operator = Wallet.generate(), Wallet.generate()
    settings = Settings(
        data_dir=tmp_path / "market", port=0, operators=operator.address, settle_interval=0.1
    )
    market = build_market(settings)
    market.settler.start()
    server = BackgroundServer(market)
    url = server.start()
    requester.save(tmp_path / "requester.json")
    operator.save(tmp_path / "operator.json")
    try:
        yield Site(url, market, requester, operator, tmp_path)
    finally:
        server.stop()
        market.close()


def _page(browser: Any, site: Site, viewport: dict[str, int]) -> Any:
    context = browser.new_context(viewport=viewport, base_url=site.url, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.on("console", _note_csp_refusal)
    return page


# What the pages' Content-Security-Policy refused (an inline script, style or handler, an
# external image): chromium reports each on the console. Every test here must end with none.
CSP_REFUSALS: list[str] = []


def _note_csp_refusal(message: Any) -> None:
    if "Content Security Policy" in message.text:
        CSP_REFUSALS.append(message.text)


@pytest.fixture(autouse=True)
def _no_csp_refusals() -> Iterator[None]:
    CSP_REFUSALS.clear()
    yield
    assert not CSP_REFUSALS, CSP_REFUSALS


def _sign_in(page: Any, next_url: str, keyfile: Path | None = None) -> None:
    """Sign in through the page; with `keyfile`, import that keypair first."""
    page.goto(f"/signin?next={next_url}")
    page.wait_for_selector("#use-key:not([disabled])")
    if keyfile is not None:
        page.set_input_files("#import-key", str(keyfile))
        page.wait_for_function("() => document.querySelector('#key-status').dataset.address")
    page.click("#use-key")
    # The sign-in page's own address ends with ?next=...; wait until it is left.
    page.wait_for_url(lambda url: "/signin" not in url and url.endswith(next_url))


def _requester_posts_work(page: Any, site: Site) -> str:
    """Deposit, create from the classification template, upload (bad, then good), fund."""
    page.fill("#deposit-signature", deposit_on_chain(site.market, site.requester, BUDGET))
    page.click("text=Credit deposit")
    page.wait_for_selector("text=Deposit credited")
    page.goto("/dashboard/new")
    page.fill("#title", "Even or odd?")
    page.fill("#instructions", "Is the number in the text even or odd?")
    page.fill("#options", "even, odd")
    page.fill("#reward", "0.25")
    page.fill("#overlap", "1")
    page.wait_for_selector("#preview .option:has-text('odd')")  # the live preview followed
    page.click("text=Create campaign")
    page.wait_for_url(re.compile(r"/dashboard/campaigns/cmp_"))
    campaign_id = page.url.split("/")[-1].split("?")[0]
    bad = site.keys / "bad.csv"
    bad.write_text("id,text,gold\nt1,item 1,\nt2,,\nt3,item 3,maybe\n")
    page.set_input_files("#tasks-file", str(bad))
    page.click("button:has-text('Upload')")
    page.wait_for_selector("table.errors")
    errors = page.inner_text("table.errors")
    assert "3" in errors and "4" in errors, errors  # spreadsheet rows of the two bad lines
    shoot(page, "campaign-upload-errors", widths=(DESKTOP,))
    good = site.keys / "tasks.csv"
    good.write_text("id,text\n" + "".join(f"t{n},item {n}\n" for n in range(1, 7)))
    page.set_input_files("#tasks-file", str(good))
    page.click("button:has-text('Upload')")
    page.wait_for_selector("text=6 task(s) added")
    page.click("button:has-text('Fund')")
    page.wait_for_selector("[data-confirm-message]")  # a money action asks first
    page.click("button:has-text('Fund ')")
    page.wait_for_selector("text=Escrow funded")
    return campaign_id


def _spot_check(site: Site) -> None:
    """Through the SDK: a second campaign whose one control task has a wrong hidden answer."""
    with Earnest.sign_in(site.url, site.requester) as api:
        campaign = api.create_campaign(
            **campaign_spec(title="Spot check", reward=100_000, gold_share=1.0)
        )
        api.upload_tasks(
            campaign["id"],
            [{"id": "g1", "data": {"text": "item 7", "n": 7}, "gold": {"label": "even"}}],
        )
        api.fund(campaign["id"], 10 * unit_cost(100_000, api.market()["fee_bps"]))


def _label_five(page: Any) -> str:
    """Answer five tasks with the keyboard: 1 = even, 2 = odd, Enter submits.

    Returns the address of the page showing the sixth task, leased and unanswered."""
    shoot(page, "feed")
    page.click("button[aria-label='Start: Even or odd?']")
    page.wait_for_url(re.compile(r"/work/tasks/asg_"))
    page.evaluate("window.__sameDocument = true")
    for _ in range(5):
        current = page.get_attribute("#task", "data-assignment")
        number = int(re.search(r"item (\d+)", page.inner_text("#task .data")).group(1))
        page.keyboard.press("1" if number % 2 == 0 else "2")
        page.keyboard.press("Enter")
        page.wait_for_function(
            "prev => document.querySelector('#task')?.dataset.assignment !== prev", arg=current
        )
    assert page.evaluate("window.__sameDocument === true"), "a task loaded with a full reload"
    assert "Accepted" in page.inner_text(".toast")
    return str(page.url)


def _rejected_and_appealed(page: Any) -> None:
    """The control task says 7 is even: the honest answer is rejected, and appealed."""
    page.goto("/work")
    page.click("button[aria-label='Start: Spot check']")
    page.wait_for_url(re.compile(r"/work/tasks/asg_"))
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    page.wait_for_selector("#nowork-title")  # the campaign had only this task
    assert "Rejected" in page.inner_text(".toast")
    page.goto("/work/earnings")
    page.fill(".appeal textarea", "Seven is odd: the control answer is wrong.")
    page.click(".appeal button")
    page.wait_for_selector(".badge:has-text('Appeal open')")


def _wait_for_payouts(page: Any, count: int) -> list[str]:
    """Reload the earnings page until `count` payouts show their transaction (bounded)."""
    for _ in range(60):
        page.goto("/work/earnings")
        signatures = page.eval_on_selector_all(
            "[data-signature]", "els => els.map(e => e.dataset.signature)"
        )
        if len(signatures) >= count:
            return [str(s) for s in signatures]
        page.wait_for_timeout(250)
    raise AssertionError("the payouts were not confirmed on chain within 15 s")


def test_story_in_a_real_browser(browser: Any, site: Site) -> None:
    requester = _page(browser, site, DESKTOP)
    _sign_in(requester, "/dashboard", site.keys / "requester.json")
    campaign_id = _requester_posts_work(requester, site)
    requester.evaluate("window.__sameDocument = true")
    assert requester.inner_text("[data-progress='resolved']") == "0"

    _spot_check(site)

    worker = _page(browser, site, PHONE)
    _sign_in(worker, "/work")
    task_url = _label_five(worker)
    signatures = _wait_for_payouts(worker, 5)
    assert all(re.fullmatch(r"[1-9A-HJ-NP-Za-km-z]{64,90}", s) for s in signatures), signatures
    _rejected_and_appealed(worker)

    requester.wait_for_function(
        "() => document.querySelector(\"[data-progress='resolved']\").textContent === '5'"
    )
    assert requester.evaluate("window.__sameDocument === true"), "the progress needed a reload"

    worker.click("table a:has-text('Receipt')")
    worker.wait_for_selector("text=The proof links this receipt")
    worker.click("[data-verify]")
    worker.wait_for_selector("text=Checked in this browser")

    operator = _page(browser, site, DESKTOP)
    _sign_in(operator, "/operator", site.keys / "operator.json")
    operator.click("text=Reconcile now")
    operator.wait_for_selector(".badge:has-text('reconciled')")

    assert "Seven is odd" in operator.inner_text("section:has(#appeals-title)")
    stranger = _page(browser, site, DESKTOP)
    _tour(requester, worker, operator, stranger, campaign_id, task_url)


def _tour(
    requester: Any, worker: Any, operator: Any, stranger: Any, campaign_id: str, task_url: str
) -> None:
    """Screenshots of every main page at both widths, axe-core on each, visible focus."""
    pages = [
        (worker, task_url, "task"),
        (worker, "/work/earnings", "earnings"),
        (worker, "/work/reputation", "reputation"),
        (requester, "/dashboard", "dashboard"),
        (requester, f"/dashboard/campaigns/{campaign_id}", "campaign"),
        (requester, "/dashboard/new", "new-campaign"),
        (requester, "/dashboard/keys", "keys"),
        (operator, "/operator", "operator"),
        (stranger, "/", "home"),
        (stranger, "/signin", "signin"),
    ]
    found: list[str] = []
    for page, path, name in pages:
        page.goto(path)
        if name == "signin":
            page.wait_for_selector("#use-key:not([disabled])")  # the browser's key was looked up
        shoot(page, name)
        found += serious_violations(page)
    worker.goto("/work/earnings")
    worker.click("table a:has-text('Receipt')")
    shoot(worker, "receipt")
    found += serious_violations(worker)
    for name in TEMPLATES:
        requester.goto(f"/dashboard/new?template={name}")
        shoot(requester, f"template-{name}", widths=(DESKTOP,))
    assert not found, "\n".join(found)
    _focus_is_visible(requester)


def _focus_is_visible(page: Any) -> None:
    """Tabbing to a control draws an outline around it."""
    page.goto("/dashboard")
    for _ in range(4):
        page.keyboard.press("Tab")
        style = page.evaluate(
            "() => { const s = getComputedStyle(document.activeElement);"
            " return [document.activeElement.tagName, s.outlineStyle, s.outlineWidth]; }"
        )
        assert style[1] != "none" and style[2] != "0px", style


def _png(width: int = 48, height: int = 32) -> bytes:
    """A small valid PNG (solid colour), written by hand: no imaging library needed."""
    rows = b"".join(b"\x00" + b"\x20\x80\xc0" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _widget_campaigns(site: Site) -> None:
    """Through the SDK: one task each for the box, span and local report widgets."""
    tasks = {
        "bounding_box": {"image": "/static/samples/street.svg", "object": "the red car"},
        "text_span": {"question": "Which company?", "text": "Shares of Acme Robotics rose 4%."},
        "local_report": {
            "question": "Is it open?",
            "lat": 52.52,
            "lon": 13.405,
            "radius_m": 500,
            "start": "2020-01-01T00:00:00+00:00",
            "end": "2100-01-01T00:00:00+00:00",
        },
    }
    with Earnest.sign_in(site.url, site.requester) as api:
        deposit(site.market, api, site.requester, 10_000_000)
        for name, data in tasks.items():
            chosen = TEMPLATES[name]
            input_schema, output_schema = chosen.schemas(chosen.options)
            made = api.create_campaign(
                type=chosen.type,
                title=chosen.label,
                instructions=chosen.instructions,
                input_schema=input_schema,
                output_schema=output_schema,
                reward=1_000,
                overlap=1,
                gold_share=0.0,
                verifier=chosen.verifier,
                quality=chosen.quality,
            )
            api.upload_tasks(made["id"], [{"data": data}])
            api.fund(made["id"], 100_000)


def _start(page: Any, title: str) -> None:
    page.goto("/work")
    page.click(f"button[aria-label='Start: {title}']")
    page.wait_for_url(re.compile(r"/work/tasks/asg_"))


def _send(page: Any) -> str:
    page.keyboard.press("Enter")
    page.wait_for_selector("#nowork-title")  # each campaign had one task
    return str(page.inner_text(".toast"))


def test_drawing_selecting_and_photographing_in_a_real_browser(browser: Any, site: Site) -> None:
    _widget_campaigns(site)
    worker = _page(browser, site, PHONE)
    _sign_in(worker, "/work")
    _draw_a_box(worker)
    _select_a_span(worker)
    _report_with_a_photo(worker, site)


def _draw_a_box(worker: Any) -> None:
    """Drag around the red car, which the 640 x 400 picture draws at (232, 228)-(404, 330)."""
    _start(worker, "Bounding box")
    box = worker.locator("[data-boxer] img").bounding_box()

    def at(x: float, y: float) -> tuple[float, float]:
        return box["x"] + box["width"] * x / 640, box["y"] + box["height"] * y / 400

    worker.mouse.move(*at(232, 228))
    worker.mouse.down()
    worker.mouse.move(*at(404, 330), steps=4)
    worker.mouse.up()
    names = ("x_min", "y_min", "x_max", "y_max")
    corners = [float(worker.input_value(f"[name={n}]")) for n in names]
    assert all(abs(c - e) < 4 for c, e in zip(corners, (232, 228, 404, 330), strict=True)), corners
    shoot(worker, "task-bounding-box", widths=(PHONE,))  # the box is drawn at this width
    assert "Accepted" in _send(worker)


def _select_a_span(worker: Any) -> None:
    """Select "Acme Robotics" in the text: its character offsets fill the form."""
    _start(worker, "Text span")
    worker.evaluate(
        """() => { const text = document.querySelector('#span-text').firstChild;
        const range = document.createRange(); range.setStart(text, 10); range.setEnd(text, 23);
        const s = getSelection(); s.removeAllRanges(); s.addRange(range); }"""
    )
    worker.wait_for_function("() => document.querySelector('[name=end]').value === '23'")
    assert "Acme Robotics" in worker.inner_text("[data-span-picked]")
    shoot(worker, "task-text-span", widths=(PHONE,))
    assert "Accepted" in _send(worker)


def _report_with_a_photo(worker: Any, site: Site) -> None:
    """A local report: the page scales the PNG photo to JPEG before sending it."""
    _start(worker, "Local report")
    worker.check("[name=choice][value='0']")
    worker.fill("[name=lat]", "52.52")
    worker.fill("[name=lon]", "13.405")
    photo = {"name": "shop.png", "mimeType": "image/png", "buffer": _png()}
    worker.set_input_files("[name=photo]", files=[photo])
    worker.fill("[name=note]", "Open; bread costs 3.20.")
    worker.focus("[name=note]")
    # one report on a task of overlap 1: nobody nearby to agree, so it is paid in good faith
    assert _send_with_ctrl(worker).startswith("Accepted")
    with site.market.store.uow(readonly=True) as uow:
        answers = [a.answer for a in uow.assignments.of_worker(_address(worker), 10)]
    report = next(a for a in answers if isinstance(a, dict) and "photo" in a)
    assert report["value"] == "open" and report["photo_sha256"] == report["photo"]["sha256"]
    assert report["photo"]["media_type"] == "image/jpeg" and report["photo"]["bytes"] > 0


def _send_with_ctrl(page: Any) -> str:
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#nowork-title")
    return str(page.inner_text(".toast"))


def _address(page: Any) -> str:
    return str(page.get_attribute(".addr", "title")).removeprefix("Signed in as ")
