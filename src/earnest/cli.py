"""`earnest ...`: run a market, run the demo, reconcile, and drive campaigns from a shell."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from earnest.domain.errors import EarnestError

app = typer.Typer(
    help="Earnest: an Internet Labor Market paying contributors on Solana.", no_args_is_help=True
)
campaign_app = typer.Typer(help="Create, fund and watch campaigns (talks to a running market).")
tasks_app = typer.Typer(help="Upload tasks to a campaign.")
results_app = typer.Typer(help="Export a campaign's results.")
app.add_typer(campaign_app, name="campaign")
app.add_typer(tasks_app, name="tasks")
app.add_typer(results_app, name="results")
console = Console(stderr=True)

Url = Annotated[str, typer.Option(envvar="EARNEST_URL", help="the market's base URL")]
ApiKey = Annotated[str, typer.Option(envvar="EARNEST_API_KEY", help="a requester API key (ek_...)")]


def _settings(data_dir: Path | None) -> Any:
    from earnest.config import Settings

    return Settings(data_dir=data_dir) if data_dir else Settings()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to bind")] = 8000,
    data_dir: Annotated[Path | None, typer.Option(envvar="EARNEST_DATA_DIR")] = None,
) -> None:
    """Run the market: the API, the settler paying verified work every few hundred ms, and
    the quality loop (re-estimation of worker confusions, automatic acceptance)."""
    import uvicorn

    from earnest.api import create_app
    from earnest.bootstrap import build_market

    settings = _settings(data_dir).model_copy(update={"host": host, "port": port})
    market = build_market(settings)
    market.settler.start()
    market.quality.start()
    console.print(
        f"Earnest on http://{host}:{port}  (web: /work, /dashboard, /operator; API docs: /docs)"
        f"  mint {market.chain.mint}",
        soft_wrap=True,
    )
    try:
        uvicorn.run(create_app(market), host=host, port=port, log_level="info")
    finally:
        market.close()


@app.command()
def demo(
    as_json: Annotated[
        bool, typer.Option("--json", help="print the summary as one JSON line last")
    ] = False,
    tasks: Annotated[int, typer.Option(min=10, max=100_000)] = 500,
    workers: Annotated[int, typer.Option(min=3, max=5_000)] = 120,
    data_dir: Annotated[Path | None, typer.Option(help="keep the market's files here")] = None,
) -> None:
    """A whole market on a fresh SQLite file and LocalChain, worked by a simulated crowd."""
    from earnest.demo.labeling import DemoOptions, print_summary, run_demo

    summary = run_demo(DemoOptions(tasks=tasks, workers=workers, data_dir=data_dir), console)
    print_summary(summary, Console(), as_json)
    if not summary["reconciled"]:
        raise typer.Exit(1)


@app.command()
def reconcile(
    data_dir: Annotated[Path | None, typer.Option(envvar="EARNEST_DATA_DIR")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Prove the vault on chain holds what the ledger owes; exit 1 on any mismatch."""
    from earnest.bootstrap import build_market
    from earnest.services.reconcile import reconcile as run

    market = build_market(_settings(data_dir))
    try:
        report = run(store=market.store, chain=market.chain)
    finally:
        market.close()
    if as_json:
        print(json.dumps(report.as_dict()))
    else:
        out = Console()
        out.print(
            f"at slot {report.slot}: vault on chain {report.vault_onchain}, ledger vault "
            f"{report.vault_ledger}, liabilities {report.liabilities}, in flight {report.in_flight}"
        )
        for account, balance in report.accounts.items():
            out.print(f"  {account:<70} {balance:>20}")
        out.print("[green]reconciled[/green]" if report.ok else "[red]MISMATCH[/red]")
        for problem in report.problems:
            out.print(f"[red]- {problem}[/red]")
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def settle(
    once: Annotated[bool, typer.Option(help="one round, then exit")] = True,
    data_dir: Annotated[Path | None, typer.Option(envvar="EARNEST_DATA_DIR")] = None,
) -> None:
    """Run settlement rounds against the market's store and chain (no API)."""
    from earnest.bootstrap import build_market

    market = build_market(_settings(data_dir))
    try:
        while True:
            report = market.settler.round()
            console.print(
                f"sent {report.sent}, confirmed {report.confirmed}, dropped {report.dropped}"
            )
            if once:
                return
            import time

            time.sleep(market.settings.settle_interval)
    finally:
        market.close()


def _client(url: str, api_key: str) -> Any:
    from earnest.client import Earnest

    return Earnest(url, token=api_key)


@campaign_app.command("create")
def campaign_create(
    spec: Annotated[Path, typer.Argument(help="JSON file with the campaign's fields")],
    url: Url = "http://127.0.0.1:8000",
    api_key: ApiKey = "",
) -> None:
    """Create a campaign from a JSON spec (title, input_schema, output_schema, reward, ...)."""
    with _client(url, api_key) as api:
        print(json.dumps(api.create_campaign(**json.loads(spec.read_text())), indent=2))


@campaign_app.command("fund")
def campaign_fund(
    campaign_id: str, amount: int, url: Url = "http://127.0.0.1:8000", api_key: ApiKey = ""
) -> None:
    """Move AMOUNT base units from your balance into the campaign's escrow."""
    with _client(url, api_key) as api:
        print(json.dumps(api.fund(campaign_id, amount)))


@campaign_app.command("status")
def campaign_status(
    campaign_id: str, url: Url = "http://127.0.0.1:8000", api_key: ApiKey = ""
) -> None:
    """Progress and money of a campaign."""
    with _client(url, api_key) as api:
        print(json.dumps(api.campaign(campaign_id), indent=2))


@tasks_app.command("upload")
def tasks_upload(
    campaign_id: str,
    file: Annotated[Path, typer.Argument(help="JSON Lines: one {id, data, gold?} per line")],
    url: Url = "http://127.0.0.1:8000",
    api_key: ApiKey = "",
) -> None:
    """Upload tasks from a JSON Lines file (streamed; all or none)."""
    with _client(url, api_key) as api, file.open() as lines:
        print(
            json.dumps(
                api.upload_tasks(campaign_id, (json.loads(line) for line in lines if line.strip()))
            )
        )


@results_app.command("export")
def results_export(
    campaign_id: str,
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv")] = "jsonl",
    out: Annotated[Path | None, typer.Option(help="file to write (default: stdout)")] = None,
    url: Url = "http://127.0.0.1:8000",
    api_key: ApiKey = "",
) -> None:
    """Export resolved tasks with their results, as JSON Lines or CSV."""
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
    """Entry point: domain errors become a one-line message and exit code 2."""
    try:
        app()
    except EarnestError as exc:
        console.print(f"[red]error:[/red] {exc.detail}")
        sys.exit(2)
