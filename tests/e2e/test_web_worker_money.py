"""The worker's keys and money in a real browser: backing a key up in the form Phantom and
Solflare import, bringing one without losing the other, seeing why an answer was rejected
(and appealing), and cashing out to another address with the transfer landing on chain.

Each test builds its own market (uvicorn on 127.0.0.1, the settler running) and drives
Debian's chromium; screenshots go to artifacts/screenshots/, ending in the locale.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from solders.keypair import Keypair

from earnest.adapters.chain.wallet import Wallet
from earnest.client import Earnest
from earnest.services.chain_port import TxState
from tests.e2e.browser import DESKTOP, PHONE, launched, serious_violations, shoot
from tests.e2e.test_web_worker_browser import Site, _campaign, _page, _sign_in, served

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launched()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from served(tmp_path, token_symbol="USDC", fiat_currency="KES", fiat_rate="129.5")


def _clean(page: Any) -> None:
    found = serious_violations(page)
    assert not found, "\n".join(found)


def test_a_key_is_backed_up_for_phantom_and_never_silently_replaced(
    browser: Any, site: Site
) -> None:
    worker = _page(browser, site, PHONE)
    _sign_in(worker, "/work")
    worker.goto("/signin")
    worker.wait_for_function("() => document.querySelector('#key-status').dataset.address")
    mine = worker.get_attribute("#key-status", "data-address")
    worker.click("#key-more summary")
    worker.click("#show-secret")
    secret = worker.input_value("#secret-key")
    # The base58 secret is what Phantom imports: the same key, the same address.
    assert str(Keypair.from_base58_string(secret).pubkey()) == mine
    shoot(worker, "signin-backup", locale="en")
    _clean(worker)
    # A file that is not a key says so in words, not a JavaScript parser error.
    junk = site.keys / "notes.json"
    junk.write_text("my shopping list")
    worker.set_input_files("#import-key", str(junk))
    worker.wait_for_selector("#signin-error:not([hidden])")
    problem = worker.inner_text("#signin-error")
    assert "not a key" in problem and "JSON" not in problem.split(":")[1], problem
    # Bringing another key first shows both addresses and offers the backup; keeping the
    # current key changes nothing.
    other = Wallet.generate()
    other.save(site.keys / "other.json")
    worker.set_input_files("#import-key", str(site.keys / "other.json"))
    worker.wait_for_selector("#replace-key:not([hidden])")
    assert mine in worker.inner_text("#replace-key")
    assert other.address in worker.inner_text("#replace-key")
    assert worker.get_attribute("#key-status", "data-address") == mine
    _clean(worker)
    with worker.expect_download() as saved:
        worker.click("#replace-backup")
    assert Wallet.load(Path(saved.value.path())).address == mine
    worker.click("#replace-cancel")
    assert worker.get_attribute("#key-status", "data-address") == mine
    # Pasting the other key's base58 secret (as Phantom exports it), then replacing.
    other_secret = str(Keypair.from_json(Path(site.keys / "other.json").read_text()))
    worker.fill("#paste-key", other_secret)
    worker.click("#use-pasted")
    worker.wait_for_selector("#replace-key:not([hidden])")
    worker.click("#replace-confirm")
    worker.wait_for_function(
        "want => document.querySelector('#key-status').dataset.address === want",
        arg=other.address,
    )


def test_a_rejection_says_why_and_can_be_appealed(browser: Any, site: Site) -> None:
    made = _campaign(site, tasks=1, title="Even or odd?", overlap=3)
    worker = _page(browser, site, DESKTOP)
    _sign_in(worker, "/work")
    worker.click("button[aria-label='Start: Even or odd?']")
    worker.wait_for_url(re.compile(r"/work/tasks/asg_"))
    worker.click("label.option:has-text('odd')")  # task t0 has n = 0: even
    worker.click("text=Submit answer")
    worker.wait_for_selector(".toast:not([hidden])")
    for _ in range(2):
        with Earnest.sign_in(site.url, Wallet.generate()) as other:
            leased = other.claim(made["id"])
            other.submit(leased["assignment"]["id"], {"label": "even"})
    worker.goto("/work/earnings")
    rejection = worker.locator("article.rejection")
    assert rejection.count() == 1
    assert rejection.locator("[data-yours]").inner_text() == "odd"
    assert rejection.locator("[data-expected]").inner_text() == "even"
    assert "most workers" in rejection.inner_text()
    shoot(worker, "earnings-rejected", locale="en")
    _clean(worker)
    worker.fill("article.rejection textarea", "n is 0 and I misread it, but please look again")
    worker.click("article.rejection button:has-text('Appeal')")
    worker.wait_for_url(re.compile(r"done=appealed"))
    assert "appeal open" in worker.inner_text("article.rejection .badge").lower()


def test_cash_out_to_another_address_lands_on_chain(browser: Any, site: Site) -> None:
    wallet = Wallet.generate()
    wallet.save(site.keys / "worker.json")
    chain = site.market.chain
    chain.faucet(wallet.address, 5_000_000, lamports=0)  # earnings paid in: no SOL at all
    exchange = Wallet.generate()
    worker = _page(browser, site, PHONE)
    _sign_in(worker, "/work/earnings", site.keys / "worker.json")
    held = worker.inner_text("[data-wallet]")
    assert held.replace("\u00a0", " ") == "5 USDC", held
    assert "KES" in worker.inner_text(".stats")  # the operator's estimate, at its rate
    shoot(worker, "earnings-wallet", locale="en")
    _clean(worker)
    worker.fill("#cashout-to", exchange.address)
    worker.fill("#cashout-amount", "1.5")
    worker.click("text=Review the transfer")
    worker.wait_for_selector("[data-sign]:not([disabled])")
    page = worker.inner_text("main")
    assert exchange.address in page and "paid by the market" in page
    assert "New token account" in page  # the exchange had no account for the mint
    shoot(worker, "cashout-confirm", locale="en")
    _clean(worker)
    worker.click("[data-sign]")
    worker.wait_for_url(re.compile(r"/work/earnings\?done=sent&tx=\w+"))
    signature = worker.get_attribute("main .notice-ok [data-signature]", "data-signature")
    assert signature and chain.status(signature).state is TxState.CONFIRMED
    assert chain.token_balance(chain.token_account(exchange.address)) == 1_500_000
    assert chain.token_balance(chain.token_account(wallet.address)) == 3_500_000
    assert worker.inner_text("[data-wallet]").replace("\u00a0", " ") == "3.5 USDC"


# A Wallet Standard wallet scripted for the test: it registers itself the way Phantom or
# Solflare do, connects with a WebCrypto Ed25519 key, and signs what the page asks.
TEST_WALLET = """
(() => {
  const ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  const b58 = (bytes) => {
    const digits = [];
    for (const byte of bytes) {
      let carry = byte;
      for (let j = 0; j < digits.length; j++) { carry += digits[j] << 8; digits[j] = carry % 58; carry = (carry / 58) | 0; }
      while (carry) { digits.push(carry % 58); carry = (carry / 58) | 0; }
    }
    let zeros = 0; while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
    return "1".repeat(zeros) + digits.reverse().map((d) => ALPHABET[d]).join("");
  };
  let keys = null, account = null;
  const wallet = {
    version: "1.0.0", name: "Test Wallet", chains: ["solana:devnet"], accounts: [],
    icon: "data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciLz4=",
    features: {
      "standard:connect": { version: "1.0.0", connect: async () => {
        keys = keys || await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
        const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", keys.publicKey));
        account = { address: b58(publicKey), publicKey, chains: ["solana:devnet"], features: ["solana:signMessage"] };
        sessionStorage.setItem("walletAddress", account.address);
        wallet.accounts = [account];
        return { accounts: [account] };
      } },
      "solana:signMessage": { version: "1.0.0", signMessage: async (...inputs) => Promise.all(inputs.map(async ({ message }) => {
        sessionStorage.setItem("walletSigned", new TextDecoder().decode(message));
        const signature = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, keys.privateKey, message));
        return { signedMessage: message, signature };
      })) },
    },
  };
  window.addEventListener("wallet-standard:app-ready", (event) => event.detail.register(wallet));
})();
"""


def test_sign_in_with_a_wallet_standard_wallet(browser: Any, site: Site) -> None:
    context = browser.new_context(viewport=DESKTOP, base_url=site.url)
    context.add_init_script(TEST_WALLET)
    worker = context.new_page()
    worker.set_default_timeout(15_000)
    worker.goto("/signin?next=/work/earnings")
    worker.click("text=Sign in with Test Wallet")
    # "/signin?next=/work/earnings" ends the same way: wait until the sign-in page is left.
    worker.wait_for_url(lambda url: "/signin" not in url and url.endswith("/work/earnings"))
    address = worker.evaluate("sessionStorage.getItem('walletAddress')")
    assert worker.get_attribute(".who .addr", "title") == f"Signed in as {address}"
    # What the wallet signed is the market's Sign-In-With-Solana challenge for this site.
    signed = worker.evaluate("sessionStorage.getItem('walletSigned')")
    assert address and address in signed and "127.0.0.1" in signed, signed
    assert worker.locator("#open-in-wallet").is_hidden()


def test_a_phone_without_a_wallet_is_offered_to_open_the_page_in_one(
    browser: Any, site: Site
) -> None:
    context = browser.new_context(viewport=PHONE, base_url=site.url, is_mobile=True, has_touch=True)
    worker = context.new_page()
    worker.set_default_timeout(15_000)
    worker.goto("/signin?next=/work")
    worker.wait_for_selector("#open-in-wallet:not([hidden])")
    link = worker.get_attribute("#open-in-wallet a >> nth=0", "href") or ""
    assert link.startswith("https://phantom.app/ul/browse/http%3A%2F%2F127.0.0.1"), link
    assert "%2Fsignin%3Fnext%3D%2Fwork?ref=http%3A%2F%2F127.0.0.1" in link, link
    shoot(worker, "signin-phone", locale="en", widths=(PHONE,))
    found = serious_violations(worker)
    assert not found, "\n".join(found)
