"""Set-based writes of a suite's answers (`uow.batched()`, PendingUpdates), and a campaign's
class-count row, which a flush leaves alone while another transaction holds it."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from earnest.bootstrap import Market
from earnest.domain.errors import Conflict
from earnest.domain.work import AssignmentStatus
from earnest.services import work
from tests.factories import funded_requester, labeling_campaign, unit_cost, worker


def _two_leases(market: Market) -> tuple[str, str, str]:
    _, requester = funded_requester(market, 20 * unit_cost(market))
    campaign = labeling_campaign(market, requester, tasks=4, overlap=1)
    got = work.claim_suite(
        worker(), campaign.id, 2, store=market.store, clock=market.clock, rand=market.rand
    )
    return campaign.id, got[0].assignment.id, got[1].assignment.id


def _status(market: Market, assignment_id: str) -> AssignmentStatus:
    with market.store.uow(readonly=True) as uow:
        found = uow.assignments.get(assignment_id)
    assert found is not None
    return found.status


def test_a_queued_update_whose_row_moved_on_refuses_the_whole_transaction(
    market: Market,
) -> None:
    _, first, second = _two_leases(market)
    now = market.clock.now()
    with pytest.raises(Conflict), market.store.uow() as uow, uow.batched():
        assert uow.assignments.submit(first, {"label": "a"}, now)  # queued: no answer yet
        assert uow.assignments.submit(second, {"label": "a"}, now)
        uow.assignments.submit(first, {"label": "b"}, now)  # the row is no longer leased
    # Nothing was kept: both leases still take an answer.
    assert _status(market, first) is AssignmentStatus.LEASED
    assert _status(market, second) is AssignmentStatus.LEASED


def test_a_row_queued_by_two_statements_keeps_their_order(market: Market) -> None:
    _, first, second = _two_leases(market)
    now = market.clock.now()
    with market.store.uow() as uow:
        uow.assignments.submit(first, {"label": "a"}, now)
        uow.commit()
    accepted = AssignmentStatus.ACCEPTED
    with market.store.uow() as uow:
        with uow.batched():
            uow.assignments.decide(first, accepted, "", 0, now)
            uow.assignments.submit(second, {"label": "a"}, now)
            # Sent by statement, the decision of `second` would precede its answer.
            uow.assignments.decide(second, accepted, "", 0, now)
        uow.commit()
    assert _status(market, first) is accepted
    assert _status(market, second) is accepted


def test_reads_inside_a_batch_see_the_queued_writes(market: Market) -> None:
    _, first, _ = _two_leases(market)
    now = market.clock.now()
    with market.store.uow() as uow, uow.batched():
        uow.assignments.submit(first, {"label": "c"}, now)
        found = uow.assignments.get_many([first])[first]
        assert found.status is AssignmentStatus.SUBMITTED
        assert found.answer == {"label": "c"}


@pytest.mark.postgres
def test_the_class_counts_are_left_alone_while_another_transaction_holds_them(
    pg_market: Market,
) -> None:
    market = pg_market
    campaign_id, _, _ = _two_leases(market)
    now = market.clock.now()
    with market.store.uow() as uow:  # the row exists (its first insert may wait)
        uow.confusions.put(campaign_id, {"*": [[0.0, 0.0]]}, now)
        uow.commit()
    with market.store.uow() as holder:
        holder.confusions.put(campaign_id, {"*": [[1.0, 0.0]]}, now, if_free=["*"])
        holder.flush()  # holds the row until it commits
        with market.store.uow() as other:
            # Waiting for the holder would fail after 2 s instead of hanging the test.
            other.conn.execute(text("SET LOCAL lock_timeout = '2s'"))
            other.confusions.put(
                campaign_id, {"*": [[9.0, 9.0]], "w1": [[1.0, 0.0], [0.0, 1.0]]}, now, if_free=["*"]
            )
            other.commit()  # did not wait: its class counts are left out, the rest is kept
        holder.commit()
    with market.store.uow(readonly=True) as uow:
        stored = uow.confusions.get(campaign_id, ["w1"])
    assert stored["*"] == [[1.0, 0.0]]
    assert stored["w1"] == [[1.0, 0.0], [0.0, 1.0]]
