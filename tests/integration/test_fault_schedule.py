"""Seeded fault schedules: work and payouts under crashes, expiries and lost connections.

Each seed draws a schedule (tests/integration/faults.py) of units of work, withdrawals and
settlement rounds, with the settler stopped dead before a send, after a send before its
record, or after a confirmation; blockhashes expired; the database connection killed under
a statement (PostgreSQL: pg_terminate_backend; SQLite: closed); and, on the RPC chain
(RpcChain against a served LocalChain), answers of the node lost. Then the market drains
and must have paid every accepted unit exactly once: each wallet's tokens on chain equal
its accepted rewards, each payout is paid once, and reconciliation is clean.

A failing seed prints its schedule; EARNEST_FAULT_SEEDS=5,6,7 runs other seeds.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from earnest.adapters.chain import RpcChain, RpcOptions, load_or_create_keypair
from earnest.adapters.chain.rpc_server import Params
from earnest.adapters.store.tables import assignments, batches, journal, payouts, postings
from earnest.bootstrap import Market, build_market
from earnest.config import Settings
from earnest.domain import ledger
from earnest.domain.errors import ChainError, Conflict, NoWorkAvailable, Unavailable
from earnest.services import funds
from earnest.services.chain_port import Chain
from earnest.services.reconcile import reconcile
from earnest.services.settlement import settle_once
from tests.factories import claim, funded_requester, labeling_campaign, submit, worker
from tests.integration.faults import Crash, DbDrops, PointFaults, Step, crash, schedule
from tests.rpc_helpers import Node, running_node, signature_of

SEEDS = [int(s) for s in os.environ.get("EARNEST_FAULT_SEEDS", "1,2,3").split(",")]
DRAIN_ROUNDS = 12
Survivable = (Crash, DBAPIError, Unavailable, ChainError)  # a round or a request that died midway


@dataclass
class Rig:
    """A market, the chain its settler uses, and the faults it can suffer."""

    market: Market
    chain: Chain
    drops: DbDrops
    expire: Callable[[], None]
    lose_answers: Callable[[int], None] | None = None


@dataclass
class Run:
    """One seed's schedule on a rig: a requester, a campaign, five workers."""

    rig: Rig
    seed: int
    done: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        m = self.rig.market
        self.rng = random.Random(self.seed)
        _, self.requester = funded_requester(m, 200_000)
        self.campaign = labeling_campaign(m, self.requester, tasks=60, overlap=1, fund=100_000)
        self.crew = [worker() for _ in range(5)]
        self.unsent: list[tuple[Any, str]] = []  # answers whose request died: sent again
        self.withdrawn = 0
        self.fired: list[str] = []  # the faults that struck

    def play(self, step: Step) -> None:
        self.done.append(str(step))
        actions: dict[str, Callable[[Step], None]] = {
            "work": self._work,
            "withdraw": self._withdraw,
            "settle": self._settle,
            "expire": lambda _: self.rig.expire(),
            "drop_db": lambda s: self.rig.drops.arm(s.n),
            "drop_rpc": lambda s: self._lose(s.n),
        }
        actions[step.kind](step)

    def _work(self, step: Step) -> None:
        for _ in range(step.n):
            hand = self.rng.choice(self.crew)
            try:
                lease = claim(self.rig.market, hand, self.campaign.id)
            except (*Survivable, NoWorkAvailable, Conflict):
                continue
            self.unsent.append((hand, lease.assignment.id))
        self._send_answers()

    def _send_answers(self) -> None:
        waiting, self.unsent = self.unsent, []
        for hand, assignment_id in waiting:
            try:
                submit(self.rig.market, hand, assignment_id, {"label": "a"})
            except Survivable:
                self.unsent.append((hand, assignment_id))

    def _withdraw(self, step: Step) -> None:
        m = self.rig.market
        try:
            m.money.withdraw(funds.Withdraw(self.requester, step.n * 1_000))
        except Survivable:
            return
        self.withdrawn += step.n * 1_000

    def _settle(self, step: Step) -> None:
        """A settlement round with the step's fault. A round that did not reach the fault's
        point (an earlier fault struck first, or nothing was owed) is followed by a unit of
        work and another round, three rounds at most."""
        action = {
            "crash": crash,
            "expire": self.rig.expire,
            "drop_db": lambda: self.rig.drops.arm(0),
            "drop_rpc": lambda: self._lose(2),
        }[step.fault or ""]
        faults = PointFaults(step.point, action)
        for _ in range(3):
            self._round(faults)
            if faults.fired:
                self.fired.append(f"{step.fault}@{step.point}")
                return
            self._work(Step("work", n=1))

    def _round(self, faults: PointFaults) -> None:
        m = self.rig.market
        with contextlib.suppress(*Survivable):  # the next round recovers, as a restart would
            settle_once(
                store=m.store, chain=self.rig.chain, clock=m.clock, rand=m.rand, faults=faults
            )

    def _lose(self, answers: int) -> None:
        if self.rig.lose_answers is not None:
            self.rig.lose_answers(answers)

    def drain(self) -> None:
        """No more faults: answer what is left and settle until nothing is owed."""
        self.rig.drops.arm(-1)
        for _ in range(DRAIN_ROUNDS):
            self._send_answers()
            self._round(PointFaults(None, lambda: None))
            with self.rig.market.store.uow(readonly=True) as uow:
                owed = uow.payouts.pending(1) or uow.payouts.unfinished_batches()
            if not owed and not self.unsent:
                return
        raise AssertionError(f"still owed after {DRAIN_ROUNDS} clean rounds")


def play(rig: Rig, seed: int, *, rpc: bool = False) -> Run:
    run = Run(rig, seed)
    steps = schedule(seed, rpc=rpc)
    try:
        for step in steps:
            run.play(step)
        run.drain()
        assert_paid_exactly_once(run)
        struck = [f"{s.fault}@{s.point}" for s in steps if s.fault]
        assert run.fired == struck, "some faults never struck"
    except AssertionError as exc:
        raise AssertionError(f"seed {seed}: {' '.join(run.done)}: {exc}") from exc
    return run


def assert_paid_exactly_once(run: Run) -> None:
    """Every wallet holds on chain exactly what it earned; the books agree with the chain."""
    m, chain = run.rig.market, run.rig.chain
    with m.store.engine.connect() as conn:
        earned = dict(
            conn.execute(
                select(assignments.c.worker, func.sum(assignments.c.reward))
                .where(assignments.c.campaign_id == run.campaign.id)
                .where(assignments.c.status == "accepted")
                .group_by(assignments.c.worker)
            ).all()
        )
        statuses = dict(
            conn.execute(select(payouts.c.status, func.count()).group_by(payouts.c.status)).all()
        )
        # One payout entry per landed batch, one posting per payout it paid.
        paid_entries = conn.scalar(
            select(func.count()).select_from(journal).where(journal.c.kind == "payout")
        )
        confirmed = conn.scalar(
            select(func.count()).select_from(batches).where(batches.c.status == "confirmed")
        )
        settled = conn.execute(
            select(postings.c.account, func.sum(postings.c.amount))
            .join(journal, journal.c.id == postings.c.entry_id)
            .where(journal.c.kind == "payout", postings.c.account != ledger.VAULT)
            .group_by(postings.c.account)
        ).all()
        owed_paid = conn.execute(
            select(payouts.c.account, func.sum(payouts.c.amount))
            .where(payouts.c.status == "paid")
            .group_by(payouts.c.account)
        ).all()
    for hand in run.crew:
        held = chain.token_balance(chain.token_account(hand.address))
        assert held == earned.get(hand.address, 0), f"{hand.address} holds {held}"
    wallet = chain.token_balance(chain.token_account(run.requester.address))
    assert wallet == run.withdrawn, f"the requester holds {wallet}, withdrew {run.withdrawn}"
    assert set(statuses) == {"paid"} and paid_entries == confirmed, (statuses, paid_entries)
    # Each account's paid payouts were settled in the ledger once each, no more, no fewer:
    # one entry per confirmed batch, and per account the sum of what its payouts owed.
    assert sorted(map(tuple, settled)) == sorted(map(tuple, owed_paid))
    report = reconcile(store=m.store, chain=chain)
    assert report.ok and report.in_flight == 0, report.problems


@pytest.fixture
def local_rig(market: Market) -> Iterator[Rig]:
    drops = DbDrops(market.store.engine)
    yield Rig(market, market.chain, drops, market.chain.expire_blockhash)
    drops.close()


def test_seeded_fault_schedules_pay_every_unit_exactly_once(local_rig: Rig) -> None:
    seeds = SEEDS if local_rig.market.store.dialect == "sqlite" else SEEDS[:1]
    for seed in seeds:
        play(local_rig, seed)
    assert local_rig.drops.drops > 0  # the schedules did kill connections


@pytest.fixture
def rpc_rig(tmp_path: Path) -> Iterator[Rig]:
    with running_node(tmp_path / "market") as node:
        market = build_market(
            Settings(
                data_dir=tmp_path / "market",
                chain="rpc",
                chain_url=node.url,
                mint=node.local.mint,
                port=0,
            )
        )
        quick = RpcOptions(poll_seconds=0.01, rebroadcast_seconds=0.02, confirm_seconds=5)
        key = load_or_create_keypair(node.keypair_path)
        with RpcChain.open(node.url, key, node.local.mint, quick) as chain:
            drops = DbDrops(market.store.engine)
            yield Rig(market, chain, drops, node.local.expire_blockhash, _answers_lost(node))
            drops.close()
        market.close()


def _answers_lost(node: Node) -> Callable[[int], None]:
    """Make the node lose its next `n` answers: a send is answered as if taken but held back,
    and lands three requests later (a transaction in flight, as on a cluster); a status
    read is answered with a reset connection after the node read it."""
    lost = {"left": 0}
    held: list[list[Any]] = []  # [params, requests until it lands]
    send, statuses = node.handlers["sendTransaction"], node.handlers["getSignatureStatuses"]

    def flush() -> None:
        for item in list(held):
            item[1] -= 1
            if item[1] <= 0:
                held.remove(item)
                with contextlib.suppress(Exception):  # expired meanwhile: it never lands
                    send(item[0])

    def sending(params: Params) -> Any:
        flush()
        if lost["left"] > 0:
            lost["left"] -= 1
            held.append([params, 3])
            return signature_of(params)
        return send(params)

    def reading(params: Params) -> Any:
        flush()
        answer = statuses(params)
        if lost["left"] > 0:
            lost["left"] -= 1
            raise ConnectionResetError("the answer never made it back")
        return answer

    for method, real in list(node.handlers.items()):
        node.handlers[method] = _flushing(real, flush)
    node.handlers["sendTransaction"], node.handlers["getSignatureStatuses"] = sending, reading

    def lose(n: int) -> None:
        lost["left"] = n

    return lose


def _flushing(real: Callable[[Params], Any], flush: Callable[[], None]) -> Callable[[Params], Any]:
    def handler(params: Params) -> Any:
        flush()
        return real(params)

    return handler


def test_seeded_fault_schedules_on_an_rpc_chain_pay_every_unit_exactly_once(
    rpc_rig: Rig,
) -> None:
    play(rpc_rig, SEEDS[0], rpc=True)
