"""The store when its connection dies: nothing half-written, and no lock left behind."""

from __future__ import annotations

import threading

import pytest

from earnest.bootstrap import Market
from earnest.domain import ledger
from earnest.domain.errors import Unavailable
from tests.integration.faults import DbDrops


def test_a_transaction_that_cannot_begin_leaves_no_lock_behind(market: Market) -> None:
    drops = DbDrops(market.store.engine)
    try:
        drops.arm(0)  # SQLite: its BEGIN IMMEDIATE; PostgreSQL: the first statement
        with pytest.raises(Unavailable), market.store.uow() as uow:
            uow.ledger.balance(ledger.FEES)
    finally:
        drops.close()
    wrote = threading.Event()

    def write() -> None:  # another thread, as the API's pool would
        with market.store.uow() as uow:
            uow.parties.ensure("someone", "person", market.clock.now())
            uow.commit()
        wrote.set()

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert wrote.is_set(), "a writer is stuck behind the lock of a transaction that failed"
