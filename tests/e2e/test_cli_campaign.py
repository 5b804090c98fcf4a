"""`earnest campaign create|edit|pause|resume|clone|status` against a market on loopback:
every setting from a shell, amounts typed in tokens, fixed settings refused with the reason."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from earnest.adapters.chain.wallet import Wallet
from earnest.bootstrap import Market
from earnest.cli import app, main
from earnest.client import Earnest
from tests.e2e.helpers import campaign_spec, deposit

runner = CliRunner()


def run(*args: str) -> dict[str, object]:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    found: dict[str, object] = json.loads(result.output)
    return found


def test_a_campaign_driven_from_the_shell(
    sqlite_market: Market,
    sign_in: Callable[..., Earnest],
    base_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    decimals = sqlite_market.chain.decimals
    wallet = Wallet.generate()
    api = sign_in(wallet)
    deposit(sqlite_market, api, wallet, 10 * 10**decimals)
    spec = tmp_path / "spec.json"
    fields = campaign_spec(overlap=2, deadline="2099-01-01T00:00:00+00:00")
    # Typed by a person: the reward in tokens (a JSON number read exactly), every setting.
    text = json.dumps(fields | {"reward": 0}).replace('"reward": 0', '"reward": 0.1')
    text = text.replace(
        '"overlap": 2',
        '"overlap": 2, "quality": {"practice_tasks": 2, "qualification_tasks": 3, '
        '"languages": ["en"], "regions": ["NZ"], "min_reputation": 0.25}',
    )
    spec.write_text(text)
    where = ("--url", base_url, "--api-key", api.token)
    made = run("campaign", "create", str(spec), *where)
    cid = str(made["id"])
    assert made["reward"] == 10 ** (decimals - 1)  # 0.1 tokens
    assert made["quality"]["languages"] == ["en"]  # type: ignore[index]
    assert made["quality"]["practice_tasks"] == 2  # type: ignore[index]

    edited = run(
        "campaign", "edit", cid, "--set", "reward=0.25", "--set", "title=Even or odd, v2",
        "--set", 'quality.regions=["NZ", "au"]', "--set", "lease_seconds=900", *where,
    )  # fmt: skip
    assert edited["reward"] == 25 * 10 ** (decimals - 2)
    assert edited["title"] == "Even or odd, v2" and edited["lease_seconds"] == 900
    assert edited["quality"]["regions"] == ["NZ", "AU"]  # type: ignore[index]

    run("campaign", "fund", cid, "1", *where)
    status = run("campaign", "status", cid, *where)
    assert status["tokens"] == {
        "escrow": "1",
        "reserved": "0",
        "spent": "0",
        "reward": "0.25",
        "unit_cost": format_cost(edited, decimals),
    }
    assert run("campaign", "pause", cid, *where) == {"status": "paused"}
    assert run("campaign", "resume", cid, *where) == {"status": "active"}
    copy = run("campaign", "clone", cid, "--title", "Round two", *where)
    assert copy["status"] == "draft" and copy["title"] == "Round two"
    assert copy["quality"] == edited["quality"]

    # A price fixed by the funding: one line, exit 2, the reason.
    argv = ["earnest", "campaign", "edit", cid, "--set", "reward=1", *where]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 2
    said = capsys.readouterr().err
    assert "reward is fixed once the campaign is funded" in said
    assert api.campaign(cid)["campaign"]["reward"] == 25 * 10 ** (decimals - 2)


def format_cost(campaign: dict[str, object], decimals: int) -> str:
    from earnest.domain.money import format_units

    return format_units(int(str(campaign["unit_cost"])), decimals)
