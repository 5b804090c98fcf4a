"""The data browser in a real browser (Debian chromium through Playwright): the requester
reads the labels, the workers' accuracy and alpha, opens a rejected answer with its task,
control answer and history, decides its appeal, blocks the sloppy worker and pays the
careful one a bonus, which the settler puts on chain."""

from __future__ import annotations

import re
from typing import Any

import pytest

from earnest.adapters.chain.wallet import Wallet
from earnest.client import Earnest
from tests.e2e.browser import DESKTOP, PHONE, serious_violations, shoot
from tests.e2e.helpers import campaign_spec, deposit, task_row
from tests.e2e.test_web_browser import (  # noqa: F401 (fixtures)
    Site,
    _no_csp_refusals,
    _page,
    _sign_in,
    browser,
    site,
)
from tests.e2e.test_web_data import _answer_all

pytestmark = pytest.mark.slow


def test_browse_decide_block_and_pay_a_bonus(browser: Any, site: Site) -> None:  # noqa: F811
    with Earnest.sign_in(site.url, site.requester) as api:
        deposit(site.market, api, site.requester, 10_000_000)
        made = api.create_campaign(**campaign_spec(overlap=3, title="Parity"))
        api.upload_tasks(made["id"], [task_row(n) for n in range(3)])
        api.fund(made["id"], 1_000_000)
    careful, also, sloppy = Wallet.generate(), Wallet.generate(), Wallet.generate()
    for wallet in (careful, also):
        _answer_all(site.url, made["id"], wallet, wrong=False)
    sent = _answer_all(site.url, made["id"], sloppy, wrong=True)
    rejected = next(s for s in sent if s["decision"] == "reject")
    with Earnest.sign_in(site.url, sloppy) as api:
        api.appeal(rejected["assignment"]["id"], "I counted twice; my label is right.")

    page = _page(browser, site, DESKTOP)
    _sign_in(page, "/dashboard", site.keys / "requester.json")
    page.goto(f"/dashboard/campaigns/{made['id']}")
    page.click("a:has-text('The task, the answer, the control answer')")
    page.wait_for_url(re.compile(r"/dashboard/assignments/asg_"))
    assert "I counted twice" in page.inner_text("[data-appeal]")
    assert "item" in page.inner_text("[data-context-task]")
    assert page.text_content("[data-others]").count("accepted") == 2
    shoot(page, "answer-context")
    found = serious_violations(page)
    page.fill("[data-appeal] input[name=reason]", "Checked again: the label stands.")
    page.click("[data-appeal] button:has-text('Uphold')")
    page.wait_for_url(re.compile(r"done=decided"))

    page.click("a:has-text('Data')")
    page.wait_for_selector("[data-alpha]")
    assert page.inner_text("[data-alpha]") != "–"
    sloppy_row = f"tr[data-worker='{sloppy.address}']"
    assert page.inner_text(f"{sloppy_row} [data-agreement]") == "0%"
    assert page.inner_text(f"tr[data-worker='{careful.address}'] [data-agreement]") == "100%"
    shoot(page, "data", widths=(DESKTOP, PHONE))
    found += serious_violations(page)
    page.click(f"{sloppy_row} button:has-text('Block')")
    page.wait_for_selector(f"{sloppy_row} [data-listed]:has-text('blocked')")
    row = f"tr[data-worker='{careful.address}']"
    page.fill(f"{row} input[name=amount]", "0.5")
    page.fill(f"{row} input[name=reason]", "careful work")
    page.click(f"{row} button:has-text('Pay')")
    assert "Pay 0.5 tokens to" in page.inner_text("[data-confirm-message]")
    page.click("button:has-text('Pay 0.5 tokens')")
    page.wait_for_selector("text=Bonus paid")
    assert "0.5 tokens to" in page.inner_text("[data-bonuses]")
    assert not found, "\n".join(found)

    with Earnest.sign_in(site.url, careful) as api:
        for _ in range(60):  # the settler (every 0.1 s) sends the bonus in its next batch
            if any(p["amount"] == 500_000 and p["transaction"] for p in api.payouts()):
                break
            page.wait_for_timeout(250)
        else:
            raise AssertionError("the bonus was not paid on chain within 15 s")
