"""`earnest ...`: run a market, run the demo, reconcile, and drive campaigns from a shell."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from earnest import __version__
from earnest.cli_campaign import (
    campaign_block,
    campaign_bonus,
    campaign_clone,
    campaign_create,
    campaign_edit,
    campaign_estimate,
    campaign_pause,
    campaign_resume,
    campaign_status,
)
from earnest.cli_errors import DEBUG, one_line
from earnest.cli_serve import chain_serve, console, existing_market, serve, settings_for
from earnest.domain.money import parse_units

# No locals in a --debug traceback: they would show API keys and session tokens.
app = typer.Typer(
    help="Earnest: an Internet Labor Market paying contributors on Solana.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
campaign_app = typer.Typer(
    help="Create, edit, fund, pause and watch campaigns (talks to a running market)."
)
tasks_app = typer.Typer(help="Upload tasks to a campaign.")
results_app = typer.Typer(help="Export a campaign's results.")
chain_app = typer.Typer(help="The embedded Solana chain (LocalChain) as a JSON-RPC endpoint.")
app.add_typer(campaign_app, name="campaign")
app.add_typer(chain_app, name="chain")
app.add_typer(tasks_app, name="tasks")
app.add_typer(results_app, name="results")

Url = Annotated[str, typer.Option(envvar="EARNEST_URL", help="the market's base URL")]
ApiKey = Annotated[str, typer.Option(envvar="EARNEST_API_KEY", help="a requester API key (ek_...)")]


app.command()(serve)
chain_app.command("serve")(chain_serve)
campaign_app.command("create")(campaign_create)
campaign_app.command("status")(campaign_status)
campaign_app.command("estimate")(campaign_estimate)
campaign_app.command("edit")(campaign_edit)
campaign_app.command("pause")(campaign_pause)
campaign_app.command("resume")(campaign_resume)
campaign_app.command("clone")(campaign_clone)
campaign_app.command("bonus")(campaign_bonus)
campaign_app.command("block")(campaign_block)
Create = Annotated[
    bool, typer.Option("--create", help="start a new market if the data dir holds none")
]


def _version(shown: bool) -> None:
    if shown:
        print(f"earnest {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="print the version"),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="show the traceback of an error")] = False,
) -> None:
    """Earnest: an Internet Labor Market paying contributors on Solana."""
    DEBUG["on"] = debug


@app.command()
def demo(
    as_json: Annotated[
        bool, typer.Option("--json", help="print the summary as one JSON line last")
    ] = False,
    tasks: Annotated[int, typer.Option(min=10, max=100_000)] = 500,
    workers: Annotated[int, typer.Option(min=3, max=5_000)] = 120,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="keep the market's files here (a scenario's in DATA_DIR/<scenario>)"),
    ] = None,
    scenario: Annotated[
        str | None,
        typer.Option(help="labeling | bandwidth | local | bugs | field | energy | token2022 | all"),
    ] = None,
) -> None:
    """A whole market on a fresh SQLite file and LocalChain, worked by a simulated crowd."""
    from earnest.demo.labeling import DemoOptions, print_summary, run_demo

    if scenario is not None:
        _demo_scenarios(scenario, as_json, data_dir)
        return

    summary = run_demo(DemoOptions(tasks=tasks, workers=workers, data_dir=data_dir), console)
    print_summary(summary, Console(), as_json)
    if not summary["reconciled"]:
        raise typer.Exit(1)


def _demo_scenarios(scenario: str, as_json: bool, data_dir: Path | None) -> None:
    from earnest.demo.kinds import SCENARIOS
    from earnest.demo.scenarios import run_scenarios

    names = list(SCENARIOS) if scenario == "all" else [scenario]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        known = " | ".join([*SCENARIOS, "all"])
        raise typer.BadParameter(f"unknown scenario {unknown[0]!r}; choose {known}")
    summary = run_scenarios(names, SCENARIOS, console, data_dir)
    table = Table(title="Earnest scenarios")
    for column in ("scenario", "verified", "rejected", "tokens_paid", "reconciled"):
        table.add_column(column, justify="right")
    for name, done in summary["scenarios"].items():
        table.add_row(
            name, *(str(done[k]) for k in ("verified", "rejected", "tokens_paid", "reconciled"))
        )
    Console().print(table)
    if as_json:
        print(json.dumps(summary))
    if not summary["reconciled"]:
        raise typer.Exit(1)


@app.command()
def reconcile(
    data_dir: Annotated[Path | None, typer.Option(envvar="EARNEST_DATA_DIR")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    create: Create = False,
) -> None:
    """Prove the vault on chain holds what the ledger owes; exit 1 on any mismatch."""
    from earnest.bootstrap import build_market
    from earnest.services.reconcile import reconcile as run

    market = build_market(existing_market(settings_for(data_dir), create))
    try:
        report = run(store=market.store, chain=market.chain)
    finally:
        market.close()
    if as_json:
        print(json.dumps(report.as_dict()))
    else:
        _print_reconcile(report, Console())
    if not report.ok:
        raise typer.Exit(1)


def _print_reconcile(report: Any, out: Console) -> None:
    """One line per account: the ledger's figure, the chain's (where it has one), a verdict."""
    out.print(
        f"at slot {report.slot}: vault on chain {report.vault_onchain}, ledger vault "
        f"{report.vault_ledger}, liabilities {report.liabilities}, in flight {report.in_flight}"
    )
    width = max([len("account"), *(len(row.account) for row in report.rows)])
    # soft_wrap: one account per line, however narrow the terminal.
    out.print(f"  {'account':<{width}} {'ledger':>20} {'chain':>20}", soft_wrap=True)
    for row in report.rows:
        chain = "-" if row.chain is None else str(row.chain)
        mark = "" if row.ok else "  [red]mismatch[/red]"
        line = f"  {row.account:<{width}} {row.ledger:>20} {chain:>20}{mark}"
        out.print(line, highlight=False, soft_wrap=True)
    out.print("[green]reconciled[/green]" if report.ok else "[red]MISMATCH[/red]")
    for problem in report.problems:
        out.print(f"[red]- {problem}[/red]")


@app.command()
def settle(
    once: Annotated[bool, typer.Option(help="one round, then exit")] = True,
    data_dir: Annotated[Path | None, typer.Option(envvar="EARNEST_DATA_DIR")] = None,
    create: Create = False,
) -> None:
    """Run settlement rounds against the market's store and chain (no API)."""
    from earnest.bootstrap import build_market

    market = build_market(existing_market(settings_for(data_dir), create))
    try:
        while True:
            report = market.settler.round()
            role = "leader" if market.settler.leading else "follower (another settler leads)"
            console.print(
                f"{role}: sent {report.sent}, confirmed {report.confirmed}, "
                f"dropped {report.dropped}"
            )
            if once:
                return
            import time

            time.sleep(market.settings.settle_interval)
    finally:
        market.close()


@chain_app.command("init")
def chain_init(
    url: Annotated[
        str, typer.Option(help="the cluster's RPC URL (devnet: https://api.devnet.solana.com)")
    ],
    mint: Annotated[
        str | None, typer.Option(help="use this existing mint (default: create one)")
    ] = None,
    decimals: Annotated[int, typer.Option(min=0, max=9, help="decimals of a new mint")] = 6,
    airdrop: Annotated[int, typer.Option(min=0, help="lamports to ask the faucet for first")] = 0,
    data_dir: Annotated[Path | None, typer.Option(envvar="EARNEST_DATA_DIR")] = None,
) -> None:
    """Prepare a cluster for this market: a new mint with the market key as mint authority
    (or an existing --mint) and the market's vault; prints the settings to run with."""
    from earnest.adapters.chain import load_or_create_keypair
    from earnest.adapters.chain.rpc_bridge import redact
    from earnest.adapters.chain.rpc_setup import init_mint

    keypair = load_or_create_keypair(settings_for(data_dir).resolved_keypair)
    done = init_mint(url, keypair, mint=mint, decimals=decimals, airdrop=airdrop)
    out = Console()
    out.print(f"market wallet {done.market}: {done.lamports} lamports", soft_wrap=True)
    made = "created, the market key is its mint authority" if done.created_mint else "existing"
    out.print(f"mint {done.mint} ({made}); vault {done.vault}", soft_wrap=True)
    # The URL may carry an API key: echo it only when it holds nothing beyond its host.
    shown = url if redact(url) == url.rstrip("/") else "'<your RPC URL>'"
    out.print(
        f"EARNEST_CHAIN=rpc EARNEST_CHAIN_URL={shown} EARNEST_MINT={done.mint}", soft_wrap=True
    )


@app.command()
def node(
    url: Url = "http://127.0.0.1:8000",
    keypair: Annotated[
        Path | None, typer.Option(help="the node's key, created (mode 0600) if missing")
    ] = None,
    log: Annotated[
        Path | None, typer.Option(help="append-only JSON Lines log of every request carried")
    ] = None,
    allow_private: Annotated[
        bool, typer.Option(help="also fetch loopback, private and link-local addresses")
    ] = False,
    max_bytes_per_day: Annotated[
        int, typer.Option(min=0, help="bytes carried per UTC day, at most")
    ] = 1_073_741_824,
    max_bytes: Annotated[
        int, typer.Option(min=1, help="bytes read from one response, at most")
    ] = 1_048_576,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="seconds per request, body included")
    ] = 10.0,
    per_domain_rate: Annotated[
        float, typer.Option(min=0.001, help="requests per second to one host, at most")
    ] = 1.0,
    once: Annotated[
        bool, typer.Option(help="stop when no job is waiting or the day's bytes are spent")
    ] = False,
    max_jobs: Annotated[int | None, typer.Option(min=1, help="stop after this many jobs")] = None,
    poll: Annotated[float, typer.Option(min=0.1, help="seconds between polls when idle")] = 5.0,
    campaign: Annotated[str | None, typer.Option(help="take jobs of this campaign only")] = None,
) -> None:
    """Share bandwidth: fetch public pages for scraping jobs and earn per byte (docs/node.md)."""
    import httpx

    from earnest.node import Node, NodeOptions

    home = Path.home() / ".earnest"
    log = log or home / "node-log.jsonl"
    options = NodeOptions(
        market_url=url,
        keypair=keypair or home / "node-keypair.json",
        log_path=log,
        allow_private=allow_private,
        max_bytes_per_day=max_bytes_per_day,
        max_bytes=max_bytes,
        timeout=timeout,
        per_domain_rate=per_domain_rate,
        once=once,
        max_jobs=max_jobs,
        poll_seconds=poll,
        campaign_id=campaign,
    )
    runner = Node(options)
    console.print(f"node {runner.wallet.address} on {url}; log {log}")
    try:
        report = runner.run()
    except KeyboardInterrupt:
        report = runner.report
    except httpx.TransportError as exc:
        console.print(f"[red]error:[/red] cannot reach the market at {url}: {exc}")
        raise typer.Exit(2) from exc
    print(json.dumps(report.as_dict()))


def _client(url: str, api_key: str) -> Any:
    from earnest.client import Earnest

    return Earnest(url, token=api_key)


@campaign_app.command("fund")
def campaign_fund(
    campaign_id: str,
    amount: Annotated[str, typer.Argument(help="tokens, as on the web: 12 or 0.5")],
    url: Url = "http://127.0.0.1:8000",
    api_key: ApiKey = "",
) -> None:
    """Move AMOUNT tokens (such as 12 or 0.5) from your balance into the campaign's escrow."""
    with _client(url, api_key) as api:
        units = parse_units(amount, api.market()["decimals"], positive=True)
        print(json.dumps(api.fund(campaign_id, units)))


@tasks_app.command("upload")
def tasks_upload(
    campaign_id: str,
    file: Annotated[
        Path,
        typer.Argument(
            help="FILE.csv (a header row: id, gold and the data's fields) or JSON Lines "
            "(one {id, data, gold?} per line)"
        ),
    ],
    url: Url = "http://127.0.0.1:8000",
    api_key: ApiKey = "",
) -> None:
    """Upload tasks from a CSV or JSON Lines file (streamed; all or none). Uploading it again
    adds nothing: rows the campaign holds are skipped and listed by row number."""
    with _client(url, api_key) as api:
        print(json.dumps(api.upload_file(campaign_id, file)))


@results_app.command("export")
def results_export(
    campaign_id: str,
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv")] = "jsonl",
    out: Annotated[Path | None, typer.Option(help="file to write (default: stdout)")] = None,
    url: Url = "http://127.0.0.1:8000",
    api_key: ApiKey = "",
) -> None:
    """Export resolved tasks with their results: JSON Lines (lossless, every answer) or a flat
    CSV (one column per data and answer field)."""
    if fmt not in ("jsonl", "csv"):
        raise typer.BadParameter("--format must be jsonl or csv")
    with _client(url, api_key) as api:
        sink = out.open("w") if out else sys.stdout
        try:
            for line in api.results(campaign_id, fmt):
                sink.write(line + "\n")
        finally:
            if out:
                sink.close()


def main() -> None:
    """Entry point: every error becomes a one-line message and exit code 2 (a traceback only
    with --debug)."""
    try:
        app()
    except Exception as exc:
        if DEBUG["on"]:
            raise
        console.print(f"[red]error:[/red] {one_line(exc)}", soft_wrap=True, highlight=False)
        sys.exit(2)
