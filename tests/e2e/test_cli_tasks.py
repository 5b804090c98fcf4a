"""`earnest tasks upload` takes CSV and JSON Lines, against a market served on loopback; an
upload made again adds nothing, and the rows it skipped are listed by number."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from earnest.bootstrap import Market
from earnest.cli import app, main
from earnest.client import ApiError, Earnest
from earnest.domain.money import unit_cost
from tests.e2e.helpers import campaign_spec, deposit

runner = CliRunner()
CSV = "id,text,n,gold\nt1,one,1,odd\nt2,two,2,\nt3,three,3,\n"


def _upload(base_url: str, api: Earnest, cid: str, path: Path) -> dict[str, object]:
    args = ["tasks", "upload", cid, str(path), "--url", base_url, "--api-key", str(api.token)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    answer: dict[str, object] = json.loads(result.output)
    return answer


def test_a_csv_uploaded_twice_is_one_set_of_tasks_paid_once(
    sqlite_market: Market, sign_in: Callable[..., Earnest], base_url: str, tmp_path: Path
) -> None:
    from earnest.adapters.chain.wallet import Wallet

    wallet = Wallet.generate()
    api = sign_in(wallet)
    cid = api.create_campaign(**campaign_spec())["id"]
    path = tmp_path / "tasks.csv"
    path.write_text(CSV)
    first = _upload(base_url, api, cid, path)
    assert (first["rows"], first["added"], first["skipped"]) == (3, 3, 0)
    again = _upload(base_url, api, cid, path)
    assert (again["added"], again["skipped"]) == (0, 3)
    assert [d["row"] for d in again["duplicates"]] == [2, 3, 4]  # type: ignore[attr-defined,index]
    lines = tmp_path / "tasks.jsonl"
    lines.write_text('{"id": "t2", "data": {"text": "two", "n": 2}}\n')
    assert api.upload_file(cid, lines)["skipped"] == 1
    assert api.campaign(cid)["tasks"]["tasks"] == 3

    # Funded for more than three tasks, the campaign still pays for three answers only.
    cost = unit_cost(campaign_spec()["reward"], api.market()["fee_bps"])
    deposit(sqlite_market, api, wallet, 6 * cost)
    api.fund(cid, 6 * cost)
    worker = sign_in()
    answered = 0
    while (lease := worker.claim(cid)) is not None and answered < 10:
        n = lease["task"]["n"]
        worker.submit(lease["assignment"]["id"], {"label": "even" if n % 2 == 0 else "odd"})
        answered += 1
    assert answered == 3  # one answer per task (overlap 1), though funded for six
    assert api.campaign(cid)["spent"] <= 3 * cost


def test_the_api_takes_csv_and_names_an_unknown_column(
    sign_in: Callable[..., Earnest], tmp_path: Path
) -> None:
    api = sign_in()
    cid = api.create_campaign(**campaign_spec())["id"]
    path = tmp_path / "typo.csv"
    path.write_text("txt,n\nhello,1\n")
    with pytest.raises(ApiError) as refused:
        api.upload_file(cid, path)
    assert refused.value.status == 422
    errors = refused.value.problem["errors"]
    assert errors[0]["row"] == 2 and "unknown field(s) txt" in errors[0]["error"]


def test_a_refused_upload_is_one_line_and_exit_code_2(
    sign_in: Callable[..., Earnest],
    base_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api = sign_in()
    cid = api.create_campaign(**campaign_spec())["id"]
    path = tmp_path / "typo.csv"
    path.write_text("txt,n\nhello,1\n")
    argv = ["earnest", "tasks", "upload", cid, str(path), "--url", base_url]
    monkeypatch.setattr(sys, "argv", [*argv, "--api-key", str(api.token)])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: 1 bad row(s); nothing was added") and "\n" not in err
    assert "row 2: data has unknown field(s) txt" in err
