"""The `earnest` command line: reconcile on a fresh market, and help for every command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from earnest.cli import app

runner = CliRunner()
ENTRY = (sys.executable, "-c", "from earnest.cli import main; main()")


def _command_paths(command: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    commands = getattr(command, "commands", None)  # a group (typer may vendor its own click)
    if commands:
        for name, sub in sorted(commands.items()):
            paths += _command_paths(sub, (*prefix, name))
    return paths


COMMANDS = _command_paths(typer.main.get_command(app))


def test_every_command_is_found() -> None:
    assert {("reconcile",), ("serve",), ("demo",), ("settle",), ("campaign", "create")} <= set(
        COMMANDS
    )


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "earnest")
def test_help(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_reconcile_refuses_a_data_dir_without_a_market(tmp_path: Path) -> None:
    """A mistyped --data-dir is not a new market: nothing is created, and it says so."""
    result = runner.invoke(app, ["reconcile", "--data-dir", str(tmp_path / "typo")])
    assert result.exit_code == 1  # CliRunner: the NotFound that main() turns into exit 2
    assert "holds no market" in str(result.exception)
    assert not (tmp_path / "typo").exists()


def test_reconcile_on_a_fresh_data_dir_with_create(tmp_path: Path) -> None:
    result = runner.invoke(app, ["reconcile", "--create", "--data-dir", str(tmp_path / "fresh")])
    assert result.exit_code == 0, result.output
    assert "reconciled" in result.output
    assert "MISMATCH" not in result.output
    assert (tmp_path / "fresh" / "market-keypair.json").exists()
    again = runner.invoke(app, ["reconcile", "--data-dir", str(tmp_path / "fresh")])
    assert again.exit_code == 0, again.output  # a market now: no --create needed


def test_settle_refuses_a_data_dir_without_a_market(tmp_path: Path) -> None:
    result = runner.invoke(app, ["settle", "--data-dir", str(tmp_path / "typo")])
    assert "holds no market" in str(result.exception)
    assert not (tmp_path / "typo").exists()


def test_reconcile_json(tmp_path: Path) -> None:
    args = ["reconcile", "--create", "--data-dir", str(tmp_path / "m"), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    # A fresh market: nothing deposited, owed or in flight, on either side of the books.
    assert report["ok"] is True and report["problems"] == []
    assert report["vault_onchain"] == report["vault_ledger"] == 0
    assert report["liabilities"] == report["in_flight"] == 0
    assert report["accounts"] == {}
    assert report["rows"] == [{"account": "chain:vault", "ledger": 0, "chain": 0, "ok": True}]
    assert report["slot"] > 0


def test_entry_point_in_a_subprocess(tmp_path: Path) -> None:
    """The real `earnest` entry point, as a user would run it."""
    src = Path(__file__).resolve().parents[2] / "src"
    env = os.environ | {"PYTHONPATH": str(src), "NO_COLOR": "1"}
    env.pop("EARNEST_DATA_DIR", None)
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "from earnest.cli import main; main()",
            "reconcile",
            "--create",
            "--data-dir",
            str(tmp_path / "sub"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "reconciled" in run.stdout


def test_no_arguments_shows_help() -> None:
    result = runner.invoke(app, [])
    assert "Usage:" in result.output


def test_demo_scenarios_verify_work_and_catch_planted_bad_work(tmp_path: Path) -> None:
    """`earnest demo --scenario all --json --data-dir D`: every kind verifies, rejects, pays
    (in tokens) and reconciles, each in D/<scenario>."""
    src = Path(__file__).resolve().parents[2] / "src"
    env = os.environ | {"PYTHONPATH": str(src), "NO_COLOR": "1", "TMPDIR": str(tmp_path)}
    home = tmp_path / "demo"
    run = subprocess.run(
        [*ENTRY, "demo", "--scenario", "all", "--json", "--data-dir", str(home)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=240,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["reconciled"] is True
    assert set(summary["scenarios"]) == {
        "labeling",
        "bandwidth",
        "local",
        "bugs",
        "field",
        "energy",
        "token2022",
    }
    for name, done in summary["scenarios"].items():
        assert done["verified"] > 0 and done["rejected"] > 0, name
        assert done["base_units_paid"] > 0 and done["reconciled"] is True, name
        # the demo mint has 6 decimals: tokens are base units / 10**6, exactly
        assert Decimal(done["tokens_paid"]) == Decimal(done["base_units_paid"]) / 10**6, name
        assert any((home / name).rglob("*.sqlite")), f"{name} kept its market elsewhere"


def test_demo_refuses_an_unknown_scenario() -> None:
    result = runner.invoke(app, ["demo", "--scenario", "mining"])
    assert result.exit_code == 2
    assert "unknown scenario 'mining'" in result.output
