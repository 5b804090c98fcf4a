"""The demo's web pages: where they are, and the keys that open them as requester or operator."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from earnest.adapters.chain.wallet import Wallet

REQUESTER_KEY = "requester-keypair.json"
OPERATOR_KEY = "operator-keypair.json"


def save_keys(data_dir: Path, requester: Wallet, operator: Wallet) -> None:
    """Keep the requester's and the operator's keys, so the pages can be opened with them."""
    for wallet, name in ((requester, REQUESTER_KEY), (operator, OPERATOR_KEY)):
        path = data_dir / name
        if not path.exists():
            wallet.save(path)


def announce(console: Console, url: str, data_dir: Path, campaign_id: str) -> None:
    """Print the pages to open while the crowd works, and how to sign in to each."""
    rows = [
        ("front page", f"{url}/", ""),
        ("worker app", f"{url}/work", "a key the browser creates"),
        (
            "requester dashboard",
            f"{url}/dashboard/campaigns/{campaign_id}",
            str(data_dir / REQUESTER_KEY),
        ),
        ("operator", f"{url}/operator", str(data_dir / OPERATOR_KEY)),
    ]
    console.print("[bold]Web pages[/bold] (open them while the crowd works):")
    for name, address, key in rows:
        # soft_wrap: an address must stay whole on its line, however narrow the terminal.
        console.print(
            f"  {name:<20} {address}" + (f"  (sign in with {key})" if key else ""),
            soft_wrap=True,
            highlight=False,
        )
    console.print("  A keypair file is taken on the sign-in page, under 'Back up or bring a key'.")


def reopen_hint(data_dir: Path, operator: Wallet) -> str:
    """How to serve this demo market's pages again once the demo has ended."""
    return (
        f"To browse this market again: EARNEST_OPERATORS={operator.address} "
        f"earnest serve --data-dir {data_dir}  (then open http://127.0.0.1:8000/)"
    )
