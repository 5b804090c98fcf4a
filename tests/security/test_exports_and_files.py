"""Findings 11 and 12: CSV exports never carry a live formula; the market's files are its own.

A requester's results CSV is opened in a spreadsheet, which runs a cell starting with `=`,
`+`, `-` or `@` as a formula; the task ids and data come from an upload, that is from
anyone who handed the requester a file. The data dir holds the market key, the database
and the chain state: no other user of the machine may read them.
"""

from __future__ import annotations

import csv
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from earnest.adapters.chain.wallet import Wallet
from earnest.bootstrap import build_market
from earnest.client import Earnest
from earnest.config import Settings
from earnest.demo.server import ServerProcess
from earnest.domain.money import unit_cost
from earnest.services.formats import FlatColumns, results_csv, spreadsheet_safe
from tests.e2e.helpers import campaign_spec, deposit, truth

# What a stranger puts in a task id; each one a spreadsheet would run.
FORMULAS = ['=HYPERLINK("http://x")', "+1", "-1", "@SUM(A1:A9)", "  =1+1"]
CONTROL_STARTS = ["\t=1", "\r=1", "\n=1"]  # the upload may refuse these; the writer escapes them


@pytest.mark.parametrize("cell", FORMULAS + CONTROL_STARTS + ["\uff1d1+1"])
def test_a_formula_cell_gets_a_leading_quote(cell: str) -> None:
    assert spreadsheet_safe(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["", "t1", "42", "0.5", "a=b", "e-mail", "'quoted"])
def test_plain_text_is_left_as_it_is(cell: str) -> None:
    assert spreadsheet_safe(cell) == cell


def test_every_text_cell_of_the_writer_is_escaped() -> None:
    row = {
        "task_id": 1,
        "external_id": "\t=1",
        "result": -1,  # a number answer is JSON text in the CSV: escaped like any text
        "confidence": 0.5,
        "answers": [{}],
        "data": {"x": "=1"},  # its own column now: escaped as text
    }
    columns = FlatColumns.of({"properties": {"x": {}}}, {"type": "integer"})
    [_header, line] = list(csv.reader("".join(results_csv(iter([row]), columns)).splitlines()))
    assert line == ["1", "'\t=1", "'=1", "'-1", "0.5", "1"]


def test_the_served_csv_export_escapes_every_formula(
    sqlite_market: object, sign_in: Callable[..., Earnest]
) -> None:
    wallet = Wallet.generate()
    requester = sign_in(wallet)
    spec = campaign_spec()
    budget = len(FORMULAS) * unit_cost(spec["reward"], requester.market()["fee_bps"])
    deposit(sqlite_market, requester, wallet, budget)  # type: ignore[arg-type]
    campaign = requester.create_campaign(**spec)
    rows = [{"id": f, "data": {"text": f, "n": n}} for n, f in enumerate(FORMULAS)]
    requester.upload_tasks(campaign["id"], iter(rows))
    requester.fund(campaign["id"], budget)
    worker = sign_in()
    for _ in FORMULAS:
        lease = worker.claim(campaign["id"])
        worker.submit(lease["assignment"]["id"], truth(lease["task"]["n"]))

    table = [r for r in csv.reader(requester.results(campaign["id"], "csv")) if r]
    ids = sorted(r[1] for r in table[1:])
    assert ids == sorted("'" + f for f in FORMULAS)
    for cells in table[1:]:
        assert not any(c.lstrip().startswith(("=", "+", "-", "@")) for c in cells), cells


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _market_files(data_dir: Path) -> list[Path]:
    """The database, the chain state and their journals, the key: all but the log."""
    found = sorted(p for p in data_dir.iterdir() if p.suffix != ".log")
    assert {p.name for p in found} >= {
        "earnest.sqlite",
        "earnest.sqlite-wal",
        "chain.sqlite",
        "market-keypair.json",
    }, found
    return found


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The common umask 022, which gives new files 0644 and new dirs 0755."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


@pytest.mark.usefixtures("loose_umask")
def test_a_new_data_dir_is_0700_and_its_files_0600(tmp_path: Path) -> None:
    data_dir = tmp_path / "market"
    market = build_market(Settings(data_dir=data_dir, port=0))
    try:
        assert _mode(data_dir) == 0o700
        for path in _market_files(data_dir):
            assert _mode(path) == 0o600, path
    finally:
        market.close()


@pytest.mark.usefixtures("loose_umask")
def test_earnest_serve_tightens_an_existing_0644_database_in_a_0755_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "market"
    build_market(Settings(data_dir=data_dir, port=0)).close()
    os.chmod(data_dir, 0o755)
    for path in data_dir.iterdir():
        if path.name != "market-keypair.json":  # a loose key is refused, not tightened
            os.chmod(path, 0o644)
    (data_dir / "earnest.sqlite-journal").write_bytes(b"")  # left by an older SQLite mode

    server = ServerProcess(data_dir)  # the demo's way to run `earnest serve`
    server.start()
    try:
        assert _mode(data_dir) == 0o700
        for path in [*_market_files(data_dir), data_dir / "server.log"]:
            assert _mode(path) == 0o600, path
    finally:
        server.stop()
