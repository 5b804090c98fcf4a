"""The ledger as a state machine, on the real store (SQLite and PostgreSQL).

Hypothesis drives deposits, transfers, accepted units and payouts, replays idempotency
keys (same entry, or another entry under a used key) and tries overdrafts. After every step
the store must agree with a model: every entry balanced, no account below zero, the vault
equal to the liabilities, one journal row per applied key, refused entries leaving nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule
from sqlalchemy import delete, func, select

from earnest.adapters.store import SqlStore, create_store_engine, migrate
from earnest.adapters.store.tables import journal, ledger_accounts, postings
from earnest.domain import ledger
from earnest.domain.errors import InsufficientFunds
from earnest.domain.ledger import JournalEntry

NOW = datetime(2026, 1, 1, tzinfo=UTC)
PEOPLE = ("A", "B")
CAMPAIGNS = ("C1", "C2")
WORKERS = ("W1", "W2")
LIABILITIES = [
    *(ledger.requester_available(p) for p in PEOPLE),
    ledger.requester_payable("A"),
    *(ledger.campaign_escrow(c) for c in CAMPAIGNS),
    *(ledger.worker_payable(w) for w in WORKERS),
    ledger.FEES,
]
amounts = st.integers(min_value=1, max_value=10**12)


@pytest.fixture
def store(database_url: str) -> Iterator[SqlStore]:
    engine = create_store_engine(database_url)
    migrate(engine)
    yield SqlStore(engine)
    engine.dispose()


class LedgerMachine(RuleBasedStateMachine):
    """Random movements against the store, checked against a dictionary of balances."""

    store: SqlStore  # set by the test before the machine runs

    def __init__(self) -> None:
        super().__init__()
        with self.store.engine.begin() as conn:  # each example starts from empty books
            for table in (postings, journal, ledger_accounts):
                conn.execute(delete(table))
        self.balances: dict[str, int] = {}
        self.applied: dict[str, JournalEntry] = {}
        self.serial = 0

    keys = Bundle("keys")

    def _key(self) -> str:
        self.serial += 1
        return f"k{self.serial}"

    def _post(self, entry: JournalEntry) -> str:
        """Post once; the model applies it unless an account would go below zero."""
        after = dict(self.balances)
        for account, delta in entry.deltas().items():
            after[account] = after.get(account, 0) + delta
        fits = all(after[a] >= 0 for a in entry.deltas())
        try:
            with self.store.uow() as uow:
                assert uow.ledger.post(entry, NOW) is True
                uow.commit()
        except InsufficientFunds:
            assert not fits, f"{entry.key} was refused though every account covers it"
            return entry.key
        assert fits, f"{entry.key} overdrew an account and was accepted"
        self.balances, self.applied[entry.key] = after, entry
        return entry.key

    @rule(target=keys, who=st.sampled_from(PEOPLE), amount=amounts)
    def deposit(self, who: str, amount: int) -> str:
        return self._post(ledger.deposit(self._key(), who, amount))

    @rule(
        target=keys,
        source=st.sampled_from(LIABILITIES),
        dest=st.sampled_from(LIABILITIES),
        amount=amounts,
    )
    def transfer(self, source: str, dest: str, amount: int) -> str:
        return self._post(ledger.transfer(self._key(), "move", source, dest, amount))

    @rule(
        target=keys,
        campaign=st.sampled_from(CAMPAIGNS),
        hand=st.sampled_from(WORKERS),
        reward=amounts,
        fee=st.integers(min_value=0, max_value=10**9),
    )
    def accept(self, campaign: str, hand: str, reward: int, fee: int) -> str:
        return self._post(ledger.accept_unit(self._key(), campaign, hand, reward, fee))

    @rule(target=keys, hand=st.sampled_from(WORKERS), amount=amounts)
    def payout(self, hand: str, amount: int) -> str:
        return self._post(ledger.payout_confirmed(self._key(), ledger.worker_payable(hand), amount))

    @rule(key=keys, other=st.sampled_from(PEOPLE), amount=amounts)
    def replay(self, key: str, other: str, amount: int) -> None:
        """A used key applies nothing, whether it carries the same entry or another one; a
        refused entry left nothing behind, its key included."""
        first = self.applied.get(key)
        if first is None:
            self._post(ledger.deposit(key, other, amount))
            return
        for entry in (first, ledger.deposit(key, other, amount)):
            with self.store.uow() as uow:
                assert uow.ledger.post(entry, NOW) is False
                uow.commit()

    @invariant()
    def books_match_the_model(self) -> None:
        with self.store.uow(readonly=True) as uow:
            stored = uow.ledger.balances()
            assert all(uow.ledger.entry_exists(k) for k in self.applied)
        assert {k: v for k, v in stored.items() if v} == {
            k: v for k, v in self.balances.items() if v
        }
        assert all(v >= 0 for v in stored.values()), stored
        liabilities = sum(v for k, v in stored.items() if k != ledger.VAULT)
        assert stored.get(ledger.VAULT, 0) == liabilities

    @invariant()
    def every_entry_balances_and_each_key_is_applied_once(self) -> None:
        with self.store.engine.connect() as conn:
            sums = conn.execute(
                select(postings.c.entry_id, func.sum(postings.c.amount)).group_by(
                    postings.c.entry_id
                )
            ).all()
            entries = conn.scalar(select(func.count()).select_from(journal))
        assert all(total == 0 for _, total in sums)
        assert entries == len(sums) == len(self.applied)


def test_the_ledger_keeps_its_rules_under_random_movements(store: SqlStore) -> None:
    LedgerMachine.store = store
    LedgerMachine.TestCase.settings = settings(
        max_examples=25 if store.dialect == "sqlite" else 10,
        stateful_step_count=30,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    LedgerMachine.TestCase().runTest()
