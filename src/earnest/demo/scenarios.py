"""`earnest demo --scenario ...`: each kind of labor worked end to end on a fresh market.

Each scenario gets its own market (SQLite file, LocalChain, the API on 127.0.0.1, the
settler and the quality loop running), in `<data dir>/<name>` when a data dir is given (a
new temporary directory otherwise), and plants bad work among the good: the summary says,
per scenario, how many answers were verified (accepted) and rejected, and how many tokens
reached workers on chain (`tokens_paid`, exact decimal text; `base_units_paid` too);
`reconciled` is true when every market's vault on chain matches its ledger after settlement.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from earnest.adapters.chain.wallet import Wallet
from earnest.bootstrap import Market, build_market
from earnest.client import Earnest
from earnest.config import Settings
from earnest.demo.funds import faucet_deposit
from earnest.demo.server import BackgroundServer
from earnest.domain.errors import InvalidInput
from earnest.domain.money import format_units
from earnest.services.funds import settlement_stats
from earnest.services.reconcile import reconcile

SETTLE_TIMEOUT_S = 60.0


@dataclass
class Stage:
    """A running market and the people who use it in one scenario."""

    market: Market
    url: str
    console: Console
    opened: list[Earnest] = field(default_factory=list)

    def person(self) -> Earnest:
        """A new wallet, signed in (closed when the scenario ends)."""
        return self.person_with_wallet()[0]

    def person_with_wallet(self) -> tuple[Earnest, Wallet]:
        """A new wallet, signed in, and the wallet (to sign for its devices)."""
        wallet = Wallet.generate()
        api = Earnest.sign_in(self.url, wallet)
        self.opened.append(api)
        return api, wallet

    def requester(self, spec: dict[str, Any], rows: list[dict[str, Any]], answers: int) -> str:
        """A new requester's campaign of `rows`, funded on chain for `answers` answers."""
        wallet = Wallet.generate()
        with Earnest.sign_in(self.url, wallet) as api:
            campaign = api.create_campaign(**spec)
            amount = answers * campaign["unit_cost"]
            self._deposit(api, wallet, amount)
            api.upload_tasks(campaign["id"], rows)
            api.fund(campaign["id"], amount)
        return str(campaign["id"])

    def require_memos(self, wallet: Wallet) -> None:
        """Open `wallet`'s token account and make it require a memo on incoming transfers."""
        chain = self.market.chain
        chain.faucet(wallet.address, 0)
        blockhash = chain.latest_blockhash()
        program = chain.token_program
        chain.submit(
            wallet.require_memos_transaction(mint=chain.mint, program=program, blockhash=blockhash)
        )

    def settle(self) -> None:
        """Wait until everything owed is on chain."""
        _wait_settled(self.market)

    def underpaid(self) -> dict[str, tuple[int, int]]:
        """Recipients whose token account holds other than their paid payouts: (held, paid)."""
        with self.market.store.uow(readonly=True) as uow:
            paid: dict[str, int] = {}
            for batch in uow.payouts.confirmed_batches():
                for payout in uow.payouts.of_batch(batch.id):
                    paid[payout.recipient] = paid.get(payout.recipient, 0) + payout.amount
        chain = self.market.chain
        held = {r: chain.token_balance(chain.token_account(r)) for r in paid}
        return {r: (held[r], paid[r]) for r in paid if held[r] != paid[r]}

    def _deposit(self, api: Earnest, wallet: Wallet, amount: int) -> None:
        """Tokens from the faucet to `wallet`, sent to the vault on chain, credited once."""
        api.deposit(faucet_deposit(self.market, wallet, amount))


Scenario = Callable[[Stage], list[str]]  # returns the campaigns it ran


def scenario_dir(name: str, data_dir: Path | None) -> Path:
    """Where scenario `name` keeps its market: `<data_dir>/<name>` (which must not hold one
    already), or a new temporary directory."""
    if data_dir is None:
        return Path(tempfile.mkdtemp(prefix=f"earnest-{name}-"))
    home = data_dir / name
    if (home / "market-keypair.json").exists() or (home / "market").exists():
        raise InvalidInput(f"{home} holds a market already: give another --data-dir")
    home.mkdir(parents=True, exist_ok=True)
    return home


def run_scenario(
    name: str, scenario: Scenario, console: Console, data_dir: Path, **settings: Any
) -> dict[str, Any]:
    """Run one scenario on its own market in `data_dir` (`settings` on top of the
    defaults); its verified/rejected/tokens_paid and reconcile."""
    repos = data_dir.with_name(data_dir.name + "-repos")  # bounty repositories, not the data
    repos.mkdir(exist_ok=True)
    market = build_market(Settings(data_dir=data_dir, sandbox_repo_dir=str(repos), **settings))
    server = BackgroundServer(market)
    market.start_loops()
    try:
        stage = Stage(market, server.start(), console)
        console.print(f"[bold]{name}[/bold]: market on {stage.url} (data in {data_dir})")
        try:
            campaigns = scenario(stage)
        finally:
            for api in stage.opened:
                api.close_client()
        _wait_settled(market)
        return _summary(market, campaigns)
    finally:
        server.stop()
        market.close()


def _wait_settled(market: Market) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        backlog = settlement_stats(store=market.store)
        if not backlog.get("pending_count") and not backlog.get("batched_count"):
            return
        time.sleep(0.2)


def _summary(market: Market, campaigns: list[str]) -> dict[str, Any]:
    with market.store.uow(readonly=True) as uow:
        counts = [uow.assignments.counts(c) for c in campaigns]
        paid = uow.payouts.stats()["paid_amount"]
    report = reconcile(store=market.store, chain=market.chain)
    return {
        "verified": sum(c["accepted"] for c in counts),
        "rejected": sum(c["rejected"] for c in counts),
        "reconciled": report.ok,
    } | paid_in_tokens(paid, market.chain.decimals)


def paid_in_tokens(base_units: int, decimals: int) -> dict[str, Any]:
    """What reached workers, in tokens (as a person reads it) and in base units."""
    return {"tokens_paid": format_units(base_units, decimals), "base_units_paid": base_units}


Runner = Callable[[Console, Path], dict[str, Any]]  # a whole scenario in a data dir: its summary


def stage_runner(name: str, scenario: Scenario, **settings: Any) -> Runner:
    """A scenario that works on a Stage, as a Runner on its own fresh market."""
    return lambda console, data_dir: run_scenario(name, scenario, console, data_dir, **settings)


def run_scenarios(
    names: list[str], runners: dict[str, Runner], console: Console, data_dir: Path | None = None
) -> dict[str, Any]:
    """Run the named scenarios, each in its own directory (scenario_dir); the summary per
    scenario and `reconciled` over all."""
    done = {name: runners[name](console, scenario_dir(name, data_dir)) for name in names}
    return {"scenarios": done, "reconciled": all(d["reconciled"] for d in done.values())}
