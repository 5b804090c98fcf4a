"""A campaign's whole setup in a real browser (Debian chromium through Playwright): every
setting on the new-campaign form, money actions that ask first, the settings page that
changes what it may and says why the rest is fixed, pause, resume, clone, close."""

from __future__ import annotations

import re
from typing import Any

import pytest

from earnest.domain.money import format_units, unit_cost
from tests.e2e.browser import DESKTOP, serious_violations, shoot
from tests.e2e.helpers import deposit_on_chain
from tests.e2e.test_web_browser import (  # noqa: F401 (fixtures)
    Site,
    _no_csp_refusals,
    _page,
    _sign_in,
    browser,
    site,
)

pytestmark = pytest.mark.slow
BUDGET = 20_000_000  # 20 tokens at 6 decimals


def _create_with_every_setting(page: Any) -> str:
    page.goto("/dashboard/new")
    page.fill("#title", "Sentiment of reviews")
    page.fill("#options", "positive, negative")
    page.fill("#reward", "0.5")
    page.fill("#overlap", "2")
    page.click("summary:has-text('qualification')")
    for name, value in {
        "gold_share": "0.2",
        "practice_tasks": "1",
        "qualification_tasks": "2",
        "qualification_accuracy": "0.75",
        "min_reputation": "0.1",
        "languages": "en, DE",
        "regions": "de, at",
        "deadline": "2099-06-01T12:00",
        "lease_seconds": "300",
        "max_leases": "4",
    }.items():
        page.fill(f"#set-{name}", value)
    page.uncheck("#set-allow_agents")
    page.select_option("#set-appeals", "panel")
    shoot(page, "new-campaign-settings", widths=(DESKTOP,))
    page.click("text=Create campaign")
    page.wait_for_url(re.compile(r"/dashboard/campaigns/cmp_"))
    summary = page.inner_text("[data-settings-summary]")
    for said in ("20% control", "1 practice", "qualification: 2 at 75%", "300 s to answer"):
        assert said in summary, summary
    assert "speaks en, de" in summary and "in DE, AT" in summary and "no AI agents" in summary
    return page.url.split("/")[-1].split("?")[0]


def _fund_asks_first(page: Any, where: Site, campaign_id: str) -> None:
    tasks = where.keys / "reviews.csv"
    tasks.write_text("id,text\n" + "".join(f"r{n},review {n}\n" for n in range(4)))
    page.set_input_files("#tasks-file", str(tasks))
    page.click("button:has-text('Upload')")
    page.wait_for_selector("text=4 task(s) added")
    cost = page.inner_text("[data-cost]")  # the payout cost estimate, before funding
    unit = site_unit_cost(where, 500_000)
    assert f"funding all 8 answers takes {format_units(8 * unit, 6)} tokens" in cost, cost
    assert "SOL" in cost and "new payees' token accounts" in cost
    page.fill("#fund-amount", "100")  # more than the balance
    page.click("button:has-text('Fund')")
    assert "Move 100 tokens from your balance (20 tokens available)" in page.inner_text(
        "[data-confirm-message]"
    )
    shoot(page, "confirm-fund")
    assert not serious_violations(page)
    page.click("button:has-text('Fund 100 tokens')")
    error = page.inner_text("[role=alert]")
    assert "your available balance is 20 tokens, less than 100" in error, error
    page.fill("#fund-amount", "5")
    page.click("button:has-text('Fund')")
    page.click("text=Cancel")  # nothing moves without the second click
    page.wait_for_url(re.compile(rf"/dashboard/campaigns/{campaign_id}$"))
    assert "escrow 0" in page.inner_text("#progress")
    page.fill("#fund-amount", "5")
    page.click("button:has-text('Fund')")
    page.click("button:has-text('Fund 5 tokens')")
    page.wait_for_selector("text=Escrow funded")


def site_unit_cost(where: Site, reward: int) -> int:
    return unit_cost(reward, where.market.settings.fee_bps)


def _settings(page: Any, campaign_id: str) -> None:
    page.click("a:has-text('Settings')")
    page.wait_for_url(re.compile(r"/settings$"))
    assert page.is_disabled("#set-reward") and page.is_disabled("#set-qualification_tasks")
    fixed = page.inner_text("[data-setting='reward'] [data-fixed]")
    assert "fixed once the campaign is funded" in fixed, fixed
    shoot(page, "campaign-settings")
    assert not serious_violations(page)
    page.fill("#set-title", "Sentiment of reviews, v2")
    page.fill("#set-min_reputation", "0.3")
    page.fill("#set-regions", "DE, AT, CH")
    page.click("text=Save settings")
    page.wait_for_selector("text=Settings saved.")
    assert page.input_value("#set-regions") == "DE, AT, CH"
    assert page.input_value("#set-min_reputation") == "0.3"
    page.fill("#set-languages", "english")
    page.click("text=Save settings")
    assert "'english' is not an ISO 639-1 (en) code" in page.inner_text("[role=alert]")
    assert page.input_value("#set-languages") == "english"  # what was typed stays

    page.click("button:has-text('Pause')")
    page.wait_for_selector("text=Paused: workers get no new tasks")
    assert page.text_content("[data-status]") == "paused"
    page.click("button:has-text('Resume')")
    page.wait_for_selector("[data-status]:has-text('active')")
    page.click("button:has-text('Clone')")
    page.wait_for_selector("text=This is the clone")
    assert page.input_value("#set-title") == "Sentiment of reviews, v2 (copy)"
    assert not page.is_disabled("#set-reward")  # a draft without tasks: everything changes
    assert page.input_value("#set-regions") == "DE, AT, CH"
    page.goto(f"/dashboard/campaigns/{campaign_id}")
    page.click("button:has-text('Close campaign and refund')")
    message = page.inner_text("[data-confirm-message]")
    assert "About 5 tokens of its escrow" in message, message
    page.click("button:has-text('Close and refund')")
    page.wait_for_selector("[data-status]:has-text('closed')")


def test_a_campaigns_setup_in_a_real_browser(browser: Any, site: Site) -> None:  # noqa: F811
    page = _page(browser, site, DESKTOP)
    _sign_in(page, "/dashboard", site.keys / "requester.json")
    page.fill("#deposit-signature", deposit_on_chain(site.market, site.requester, BUDGET))
    page.click("text=Credit deposit")
    page.wait_for_selector("text=Deposit credited")
    campaign_id = _create_with_every_setting(page)
    _fund_asks_first(page, site, campaign_id)
    _settings(page, campaign_id)
    page.goto("/dashboard/keys")
    assert not page.is_checked("input[name=scopes][value=operator]")
    assert page.is_checked("input[name=scopes][value='campaigns:write']")
