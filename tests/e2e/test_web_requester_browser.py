"""The requester's journey in a real browser (Debian chromium through Playwright).

A campaign's whole setup: every setting on the new-campaign form, the payout cost estimate,
money actions that ask first, the settings page that changes what it may and says why the
rest is fixed, pause, resume, clone, close. The data browser: labels, workers' accuracy and
alpha, a rejected answer with its task, control answer and history, its appeal decided, the
sloppy worker blocked and the careful one paid a bonus the settler puts on chain. A deposit
from a connected Wallet Standard wallet: the wallet registered in the page keeps its key
outside it (in the test, as an extension's does); the page, the market and the chain are
the real ones.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from earnest.adapters.chain.wallet import Wallet
from earnest.client import Earnest
from earnest.domain import ledger
from earnest.domain.money import format_units, unit_cost
from tests.e2e.browser import DESKTOP, PHONE, serious_violations, shoot
from tests.e2e.helpers import campaign_spec, deposit, deposit_on_chain, task_row
from tests.e2e.test_web_browser import (  # noqa: F401 (fixtures)
    Site,
    _no_csp_refusals,
    _page,
    _sign_in,
    browser,
    site,
)
from tests.e2e.test_web_data import _answer_all
from tests.factories import balance

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


# The wallet side of the Wallet Standard: register on app-ready; connect shares one
# account; signTransaction asks the extension (here: Python) to sign the wire bytes.
WALLET = """
(() => {
  const address = %r;
  const wallet = {
    version: "1.0.0", name: "Test Wallet", icon: "data:image/svg+xml;base64,", chains: ["solana:localnet"],
    accounts: [],
    features: {
      "standard:connect": { version: "1.0.0", connect: async () => {
        wallet.accounts = [{ address, publicKey: new Uint8Array(32), chains: ["solana:localnet"], features: [] }];
        return { accounts: wallet.accounts };
      } },
      "solana:signTransaction": { version: "1.0.0", supportedTransactionVersions: ["legacy"],
        signTransaction: async (...inputs) => Promise.all(inputs.map(async ({ transaction }) => {
          const b64 = btoa(String.fromCharCode(...transaction));
          const signed = await window.__extensionSign(b64);
          return { signedTransaction: Uint8Array.from(atob(signed), (c) => c.charCodeAt(0)) };
        })) },
    },
  };
  const callback = ({ register }) => register(wallet);
  window.addEventListener("wallet-standard:app-ready", ({ detail }) => callback(detail));
  window.dispatchEvent(new CustomEvent("wallet-standard:register-wallet", { detail: callback }));
})();
"""


def test_a_deposit_from_a_connected_wallet(browser: Any, site: Site) -> None:  # noqa: F811
    site.market.chain.faucet(site.requester.address, 7_000_000, lamports=0)
    signed: list[bytes] = []

    def extension_sign(wire_b64: str) -> str:
        """The wallet: show nothing, sign the message as the requester's key (slot 1)."""
        wire = bytearray(base64.b64decode(wire_b64))
        count = wire[0]
        message = bytes(wire[1 + 64 * count :])
        signature = site.requester.keypair.sign_message(message)
        wire[1 + 64 : 1 + 128] = bytes(signature)
        signed.append(message)
        return base64.b64encode(bytes(wire)).decode()

    page = _page(browser, site, DESKTOP)
    page.expose_function("__extensionSign", extension_sign)
    page.add_init_script(WALLET % site.requester.address)
    _sign_in(page, "/dashboard", site.keys / "requester.json")
    page.wait_for_selector("button:has-text('Deposit with Test Wallet')")
    page.fill("#wallet-amount", "2.5")
    page.click("button:has-text('Deposit with Test Wallet')")
    page.wait_for_selector("text=Deposit credited")
    assert len(signed) == 1
    available = balance(site.market, ledger.requester_available(site.requester.address))
    assert available == 2_500_000
    assert site.market.chain.token_balance(site.market.chain.vault) == 2_500_000

    # More than the wallet holds: refused in tokens before the wallet is asked.
    page.fill("#wallet-amount", "100")
    page.click("button:has-text('Deposit with Test Wallet')")
    page.wait_for_selector("text=your wallet holds 4.5 tokens, less than 100")
    assert len(signed) == 1
    assert balance(site.market, ledger.requester_available(site.requester.address)) == 2_500_000
