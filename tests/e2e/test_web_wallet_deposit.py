"""A deposit from a connected Wallet Standard wallet, in a real browser: the page finds the
wallet the standard way, the market builds the transfer, the wallet signs it, the market
co-signs, sends and credits it from the chain. The wallet here is a Wallet Standard wallet
registered in the page whose key stays outside it (in the test, as an extension's does);
the page, the market and the chain are the real ones."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from earnest.domain import ledger
from tests.e2e.browser import DESKTOP
from tests.e2e.test_web_browser import (  # noqa: F401 (fixtures)
    Site,
    _no_csp_refusals,
    _page,
    _sign_in,
    browser,
    site,
)
from tests.factories import balance

pytestmark = pytest.mark.slow

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
