"""Kill the settler for real (`earnest settle` with EARNEST_FAULTS) and restart it.

The process dies by os._exit(137) at a fault point: after the chain accepted a batch but
before the database recorded it, or after the batch was signed but before it was sent.
The restarted settler must ask the chain first and pay nothing twice.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from earnest.adapters.chain import LocalChain, load_or_create_keypair
from earnest.adapters.store.tables import batches
from earnest.bootstrap import Market, build_market
from earnest.config import Settings
from earnest.domain import ledger
from earnest.services.chain_port import TxState
from earnest.services.identity import Principal
from earnest.services.ports import BatchRecord
from earnest.services.reconcile import reconcile
from tests.conftest import _drop_pg_database, _fresh_pg_database
from tests.factories import REWARD, do_unit, funded_requester, labeling_campaign, worker

SRC = Path(__file__).resolve().parents[2] / "src"
# 55 payees do not fit one v0 transaction (48 do): the crash hits batch one.
UNITS = [1] * 53 + [2, 3]


def _settings(data_dir: Path, database_url: str) -> Settings:
    return Settings(data_dir=data_dir, database_url=database_url, port=0)


def _prepare(data_dir: Path, database_url: str) -> list[Principal]:
    """Fill a new market with accepted, unpaid work (58 units); close it again."""
    market = build_market(_settings(data_dir, database_url))
    try:
        total = sum(UNITS)
        _, requester = funded_requester(market, total * 2 * REWARD)
        campaign = labeling_campaign(market, requester, tasks=total, overlap=1)
        crew = [worker() for _ in UNITS]
        for w, n in zip(crew, UNITS, strict=True):
            for _ in range(n):
                assert do_unit(market, w, campaign.id).decision.value == "accept"
    finally:
        market.close()
    return crew


@dataclass(frozen=True)
class _Template:
    data_dir: Path
    database: str  # a SQLite file, or the name of a PostgreSQL database
    crew: list[Principal]
    pg_base: str = ""  # the PostgreSQL server's admin URL (postgres only)


@pytest.fixture(scope="module")
def templates() -> Iterator[dict[str, _Template]]:
    """The prepared market, built once per backend per module (it is most of each test's time).

    Each test then starts from its own copy: the data dir (chain state, keys) copied, and the
    database copied (SQLite file) or cloned (PostgreSQL CREATE DATABASE ... TEMPLATE).
    """
    built: dict[str, _Template] = {}
    yield built
    if "postgres" in built:
        _drop_pg_database(built["postgres"].pg_base, built["postgres"].database)


def _template(built: dict[str, _Template], backend: str, root: Path, pg_base: str) -> _Template:
    if backend not in built:
        if backend == "sqlite":
            database = str(root / "template.sqlite")
            url = f"sqlite:///{database}"
        else:
            url, database = _fresh_pg_database(pg_base)
        crew = _prepare(root / "crash-market", url)
        built[backend] = _Template(root / "crash-market", database, crew, pg_base)
    return built[backend]


@pytest.fixture
def prepared(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    database_url: str,
    templates: dict[str, _Template],
    request: pytest.FixtureRequest,
) -> Iterator[tuple[Path, list[Principal]]]:
    """A data dir (and database_url) holding accepted, unpaid work; the market is closed."""
    backend = "sqlite" if database_url.startswith("sqlite") else "postgres"
    pg_base = request.getfixturevalue("postgres_url") if backend == "postgres" else ""
    root = tmp_path_factory.mktemp(f"crash-settler-template-{backend}")
    template = _template(templates, backend, root, pg_base)
    data_dir = tmp_path / "crash-market"
    shutil.copytree(template.data_dir, data_dir)
    if backend == "sqlite":
        target = make_url(database_url).database
        assert target is not None and not Path(template.database + "-wal").exists()
        shutil.copyfile(template.database, target)
    else:
        name = make_url(database_url).database
        admin = create_engine(pg_base, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template.database}"'))
        finally:
            admin.dispose()
    yield data_dir, list(template.crew)


def _settle_process(data_dir: Path, database_url: str, faults: str = "") -> int:
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "EARNEST_DATABASE_URL": database_url,
        "EARNEST_FAULTS": faults,
    }
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from earnest.cli import main; main()",
            "settle",
            "--data-dir",
            str(data_dir),
        ],
        env=env,
        cwd=data_dir,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode in (0, 137), done.stderr
    return done.returncode


def _batches(market: Market) -> list[BatchRecord]:
    with market.store.uow(readonly=True) as uow:
        rows = uow.payouts.unfinished_batches() + uow.payouts.confirmed_batches()
    return rows


def _token(market: Market, owner: str) -> int:
    return market.chain.token_balance(market.chain.token_account(owner))


def _assert_paid_once(data_dir: Path, database_url: str, crew: list[Principal]) -> None:
    market = build_market(_settings(data_dir, database_url))
    try:
        for w, n in zip(crew, UNITS, strict=True):
            assert _token(market, w.address) == n * REWARD
        with market.store.uow(readonly=True) as uow:
            balances = uow.ledger.balances()
            assert uow.payouts.unfinished_batches() == []
            backlog = uow.payouts.backlog()
            stats = uow.payouts.stats()
        assert backlog == {"paid_count": sum(UNITS), "paid_amount": sum(UNITS) * REWARD}
        assert stats["paid_amount"] == sum(UNITS) * REWARD
        assert stats["transfers"] == len(UNITS)
        assert all(balances[ledger.worker_payable(w.address)] == 0 for w in crew)
        report = reconcile(store=market.store, chain=market.chain)
        assert report.ok, report.problems
        assert report.vault_onchain == balances[ledger.VAULT]
    finally:
        market.close()


def test_a_crash_after_send_is_recovered_without_paying_twice(
    prepared: tuple[Path, list[Principal]], database_url: str
) -> None:
    data_dir, crew = prepared
    assert _settle_process(data_dir, database_url, "after_send") == 137

    market = build_market(_settings(data_dir, database_url))
    try:
        [batch] = _batches(market)
        assert batch.status == "signed"  # the database never heard of the send
        assert market.chain.status(batch.signature).state is TxState.CONFIRMED
        paid_on_chain = sum(1 for w in crew if _token(market, w.address) > 0)
        assert paid_on_chain == batch.transfers < len(crew)
        report = reconcile(store=market.store, chain=market.chain)
        assert report.ok, report.problems
        assert report.in_flight == sum(
            n * REWARD for w, n in zip(crew, UNITS, strict=True) if _token(market, w.address)
        )
    finally:
        market.close()

    assert _settle_process(data_dir, database_url) == 0
    _assert_paid_once(data_dir, database_url, crew)


def test_a_crash_before_send_sends_the_batch_once_after_restart(
    prepared: tuple[Path, list[Principal]], database_url: str
) -> None:
    data_dir, crew = prepared
    assert _settle_process(data_dir, database_url, "before_send") == 137

    market = build_market(_settings(data_dir, database_url))
    try:
        [batch] = _batches(market)
        assert batch.status == "signed"
        assert market.chain.status(batch.signature).state is TxState.UNKNOWN
        assert all(_token(market, w.address) == 0 for w in crew)
    finally:
        market.close()

    assert _settle_process(data_dir, database_url) == 0
    market = build_market(_settings(data_dir, database_url))
    try:
        # The signed batch went out as it was signed: same signature, now confirmed.
        with market.store.uow(readonly=True) as uow:
            again = uow.payouts.batch(batch.id)
        assert again is not None and again.status == "confirmed"
        assert again.signature == batch.signature
    finally:
        market.close()
    _assert_paid_once(data_dir, database_url, crew)


def test_a_batch_whose_blockhash_expired_while_down_is_dropped_and_repaid_once(
    prepared: tuple[Path, list[Principal]], database_url: str
) -> None:
    data_dir, crew = prepared
    assert _settle_process(data_dir, database_url, "before_send") == 137
    settings = _settings(data_dir, database_url)
    with LocalChain.open(
        settings.chain_state, load_or_create_keypair(settings.resolved_keypair)
    ) as chain:
        chain.expire_blockhash()

    assert _settle_process(data_dir, database_url) == 0
    market = build_market(settings)
    try:
        with market.store.engine.connect() as conn:
            rows = conn.execute(select(batches.c.status, batches.c.signature)).all()
        statuses = Counter(status for status, _ in rows)
        assert statuses["dropped"] == 1
        assert statuses["confirmed"] >= 2
        assert set(statuses) == {"dropped", "confirmed"}
        [stale] = [sig for status, sig in rows if status == "dropped"]
        assert market.chain.status(stale).state is TxState.UNKNOWN
    finally:
        market.close()
    _assert_paid_once(data_dir, database_url, crew)
