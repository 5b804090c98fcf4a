"""The chain's own limit on this machine: token transfers per second in LiteSVM, in-process.

`batched_transfers_per_s`: as many transfer_checked instructions per transaction as fit
Solana's 1,232 bytes (v0 with lookup tables), signed and sent back to back.
`naive_transfers_per_s`: one transfer per transaction, as a settler that does not batch
would. Both pay wallets whose token accounts exist already, so account creation is not
counted. `settler_transfers_per_s`: the market's own settler draining a backlog.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx

from earnest.adapters.chain import LocalChain, load_or_create_keypair
from earnest.adapters.chain.wallet import Wallet
from earnest.demo.server import free_port
from earnest.services.chain_port import Transfer

T = TypeVar("T")
RECIPIENTS = 256
NAIVE_TRANSFERS = 1_000
SETTLER_UNITS, SETTLER_WORKERS = 2_000, 1_000  # the settler's backlog: payouts, recipients


def _chain() -> tuple[LocalChain, list[str]]:
    root = Path(tempfile.mkdtemp(prefix="earnest-chain-bench-"))
    chain = LocalChain.open(root / "chain.sqlite", load_or_create_keypair(root / "key.json"))
    chain.faucet(chain.vault_owner, 10**15)
    owners = [Wallet.generate().address for _ in range(RECIPIENTS)]
    for start in range(0, RECIPIENTS, 8):  # accounts first, a few per transaction
        batch = owners[start : start + 8]
        chain.send(chain.build_payout([Transfer(o, 1) for o in batch], b"setup", create_for=batch))
    return chain, owners


def naive_transfers_per_s() -> float:
    """One transfer per transaction, as a settler that does not batch would."""
    chain, owners = _chain()
    try:
        started = time.monotonic()
        for sent in range(NAIVE_TRANSFERS):
            chain.send(chain.build_payout([Transfer(owners[sent % RECIPIENTS], 1)], b"n" * 32))
        return NAIVE_TRANSFERS / (time.monotonic() - started)
    finally:
        chain.close()


def batched_transfers_per_s() -> float:
    """As many transfers per transaction as fit (v0 with lookup tables), signed and sent:
    the chain side of settlement without the store (bench/settle.py's `v0_alt`)."""
    from settle import measure

    with tempfile.TemporaryDirectory() as tmp:
        figures: Any = measure(Path(tmp), 480)
    return float(figures["packings"]["v0_alt"]["transfers_per_s"])


@contextmanager
def scratch_database(database_url: str | None) -> Iterator[str | None]:
    """None for SQLite; for a PostgreSQL URL, a new database on that server, dropped after
    (the market's own database may hold payouts and lookup tables of another chain)."""
    if database_url is None or database_url.startswith("sqlite"):
        yield None
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"earnest_settler_{uuid.uuid4().hex[:8]}"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def settler_transfers_per_s(
    units: int = SETTLER_UNITS,
    workers: int = SETTLER_WORKERS,
    database_url: str | None = None,
    *,
    warm: bool = True,
) -> float:
    """The market's settler draining a backlog of `units` owed payouts (LocalChain; SQLite,
    or a scratch database on the PostgreSQL server of `database_url`): the whole path,
    store included, that `batched_transfers_per_s` bounds from above. A worker's payouts owed
    at once travel in one transfer: `workers` transfers are timed (a second at least, so
    that one pause of the machine does not decide the figure).

    `warm`: every worker has been paid once before (untimed), so their token accounts and
    lookup tables exist, as for the raw figure; otherwise the first payments, which create
    them, are timed too.
    """
    with scratch_database(database_url) as url:
        return _settler_transfers_per_s(units, workers, url, warm, None)[0]


def settler_beside(
    measure: Callable[[], T], database_url: str | None = None
) -> tuple[float, list[T]]:
    """`settler_transfers_per_s`, and `measure()` run just before and just after the
    settler's timed drain: this machine's speed swings within a minute, so a ratio of the
    two is only fair between figures taken seconds apart."""
    with scratch_database(database_url) as url:
        return _settler_transfers_per_s(SETTLER_UNITS, SETTLER_WORKERS, url, True, measure)


def _settler_transfers_per_s(
    units: int,
    workers: int,
    database_url: str | None,
    warm: bool,
    measure: Callable[[], T] | None,
) -> tuple[float, list[T]]:
    from earnest.services.identity import SESSION_SCOPES, Principal

    with bench_market(database_url, units + workers) as (m, campaign_id):
        crew = [
            Principal(Wallet.generate().address, SESSION_SCOPES, "session") for _ in range(workers)
        ]
        if warm:
            _owe(m, campaign_id, crew, workers)
            _drain(m, workers)
        _owe(m, campaign_id, crew, units)
        beside = [measure()] if measure else []
        started = time.monotonic()
        paid = _drain(m, units)
        rate = paid / (time.monotonic() - started)
        if measure:
            beside.append(measure())
        return rate, beside


@contextmanager
def bench_market(
    database_url: str | None, tasks: int, **settings: Any
) -> Iterator[tuple[Any, str]]:
    """A market in a temporary folder (LocalChain unless `settings` say otherwise; SQLite,
    or the PostgreSQL database of `database_url`) with one funded labeling campaign of
    `tasks` tasks, overlap 1."""
    from earnest.bootstrap import build_market
    from earnest.config import Settings
    from earnest.demo.funds import faucet_deposit
    from earnest.domain.work import MAX_LEASES_PER_WORKER, CampaignSpec
    from earnest.services import campaigns, funds, uploads
    from earnest.services.identity import SESSION_SCOPES, Principal
    from earnest.services.uploads import TaskLine

    data_dir = Path(tempfile.mkdtemp(prefix="earnest-bench-"))
    m = build_market(Settings(data_dir=data_dir, database_url=database_url, **settings))
    try:
        wallet = Wallet.generate()
        budget = tasks * 2_000
        requester = Principal(wallet.address, SESSION_SCOPES, "session")
        m.money.record_deposit(funds.RecordDeposit(requester, faucet_deposit(m, wallet, budget)))
        spec = CampaignSpec(
            "labeling",
            "bench",
            "",
            {"type": "object"},
            {"type": "object"},
            1_000,
            overlap=1,
            gold_share=0.0,
            max_leases=MAX_LEASES_PER_WORKER,  # any suite a bench asks for
        )
        c = m.campaigns.create(campaigns.CreateCampaign(requester, spec))
        lines = [TaskLine(i + 1, {"data": {"n": i}}) for i in range(tasks)]
        uploads.add_tasks(requester, c.id, lines, store=m.store)
        m.campaigns.fund(campaigns.FundCampaign(requester, c.id, budget))
        yield m, c.id
    finally:
        m.close()


def _owe(market: Any, campaign_id: str, crew: list[Any], units: int) -> None:
    """`units` accepted answers from the crew in turn, in task suites: payouts owed, spread
    evenly over the crew (a worker's payouts owed at once are paid in one transfer)."""
    from earnest.services import answers as work_answers
    from earnest.services import work

    m, deps = market, {"store": market.store, "clock": market.clock, "rand": market.rand}
    done, turn, size = 0, 0, max(1, min(20, units // len(crew)))
    while done < units:  # bounded: every suite answers at least one task
        who = crew[turn % len(crew)]
        turn += 1
        suite = work.claim_suite(work.ClaimSuite(who, campaign_id, min(size, units - done)), **deps)
        answers = [(lease.assignment.id, {"x": 1}) for lease in suite]
        work_answers.submit_answers(
            work_answers.SubmitAnswers(who, answers), crypto=m.crypto, **deps
        )
        done += len(suite)


def _drain(market: Any, units: int) -> int:
    """Settle rounds until nothing is owed; the transfers paid."""
    from earnest.services.settlement import settle_once

    m, paid = market, 0
    for _ in range(units):  # bounded: each round pays at least one batch or stops
        report = settle_once(store=m.store, chain=m.chain, clock=m.clock, rand=m.rand)
        if not report.transfers:
            break
        paid += report.transfers
    return paid


def chain_node(
    data_dir: Path, *, slot_ms: int = 0, timeout: float = 60.0
) -> tuple[subprocess.Popen[bytes], str]:
    """`earnest chain serve` on the data dir's chain (a block every `slot_ms`, 0: none) and
    its URL, once it answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "earnest", "chain", "serve", "--port", str(port)]
    command += ["--slot-ms", str(slot_ms)]
    with (data_dir / "chain.log").open("ab") as log:
        node = subprocess.Popen(
            [*command, "--data-dir", str(data_dir)], stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            health = {"jsonrpc": "2.0", "id": 1, "method": "getHealth"}
            if httpx.post(url, json=health, timeout=1).status_code == 200:
                return node, url
        except httpx.TransportError:
            pass
        if node.poll() is not None:
            break
        time.sleep(0.2)
    stop_process(node)
    raise SystemExit(f"the chain node did not start; see {data_dir / 'chain.log'}")


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
