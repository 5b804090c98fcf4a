"""Set-based writes of a suite's answers (`uow.batched()`, PendingUpdates), and a campaign's
class-count row, which a flush leaves alone while another transaction holds it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, text

from earnest.bootstrap import Market
from earnest.domain.errors import Conflict
from earnest.domain.work import AssignmentStatus
from earnest.services import work
from tests.factories import funded_requester, labeling_campaign, unit_cost, worker


def _two_leases(market: Market) -> tuple[str, str, str]:
    _, requester = funded_requester(market, 20 * unit_cost(market))
    campaign = labeling_campaign(market, requester, tasks=4, overlap=1)
    got = market.work.claim_suite(work.ClaimSuite(worker(), campaign.id, 2))
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


def _updates_of_assignments(market: Market) -> list[str]:
    """A list that fills with every UPDATE of the assignments table sent from now on."""
    sent: list[str] = []

    def seen(*args: object) -> None:
        statement = str(args[2])
        if statement.startswith("UPDATE assignments"):
            sent.append(statement)

    event.listen(market.store.engine, "before_cursor_execute", seen)
    return sent


def test_an_answer_stored_and_decided_in_one_batch_is_one_update(market: Market) -> None:
    _, first, _ = _two_leases(market)
    now = market.clock.now()
    sent = _updates_of_assignments(market)
    with market.store.uow() as uow:
        uow.assignments.read_ahead([first])
        with uow.batched():
            uow.assignments.submit(first, {"label": "a"}, now)
            uow.assignments.decide(first, AssignmentStatus.ACCEPTED, "agreed", 7, now)
        uow.commit()
    assert len(sent) == 1  # one row version: the answer and its decision together
    with market.store.uow(readonly=True) as uow:
        found = uow.assignments.get(first)
    assert found is not None
    assert (found.status, found.answer, found.reason, found.reward) == (
        AssignmentStatus.ACCEPTED,
        {"label": "a"},
        "agreed",
        7,
    )
    assert found.submitted_at == now


def test_a_folded_update_still_refuses_a_lease_that_moved_on(market: Market) -> None:
    _, first, second = _two_leases(market)
    now = market.clock.now()
    with market.store.uow() as uow:  # another request answered `first` meanwhile
        uow.assignments.submit(first, {"label": "b"}, now)
        uow.commit()
    with pytest.raises(Conflict), market.store.uow() as uow, uow.batched():
        uow.assignments.submit(second, {"label": "a"}, now)
        uow.assignments.submit(first, {"label": "a"}, now)
        uow.assignments.decide(first, AssignmentStatus.ACCEPTED, "", 0, now)
    assert _status(market, first) is AssignmentStatus.SUBMITTED
    assert _status(market, second) is AssignmentStatus.LEASED


def test_a_batch_counts_its_queued_answers_among_a_tasks_submissions(market: Market) -> None:
    _, requester = funded_requester(market, 20 * unit_cost(market))
    campaign = labeling_campaign(market, requester, tasks=1, overlap=2)
    early = market.work.claim_suite(work.ClaimSuite(worker(), campaign.id, 1))[0].assignment
    late = market.work.claim_suite(work.ClaimSuite(worker(), campaign.id, 1))[0].assignment
    before = market.clock.now()
    with market.store.uow() as uow:
        uow.assignments.submit(early.id, {"label": "a"}, before)
        uow.commit()
    now = before + timedelta(seconds=1)
    sent = _updates_of_assignments(market)
    with market.store.uow() as uow:
        uow.assignments.read_ahead([late.id])
        with uow.batched():
            uow.assignments.submit(late.id, {"label": "b"}, now)
            given = uow.assignments.submissions_of([early.task_id])[early.task_id]
            assert sent == []  # counted from the queue, not sent to be read back
            uow.assignments.decide(late.id, AssignmentStatus.ACCEPTED, "", 0, now)
        uow.commit()
    assert [(s.assignment_id, s.answer, s.status, s.submitted_at) for s in given] == [
        (early.id, {"label": "a"}, AssignmentStatus.SUBMITTED, before),
        (late.id, {"label": "b"}, AssignmentStatus.SUBMITTED, now),
    ]
    assert len(sent) == 1
    assert _status(market, late.id) is AssignmentStatus.ACCEPTED


def test_answers_not_read_ahead_are_sent_before_the_submissions_are_read(
    market: Market,
) -> None:
    _, first, _ = _two_leases(market)
    now = market.clock.now()
    with market.store.uow(readonly=True) as uow:
        task_id = uow.assignments.get_many([first])[first].task_id
    sent = _updates_of_assignments(market)
    with market.store.uow() as uow, uow.batched():
        uow.assignments.submit(first, {"label": "c"}, now)  # not read ahead: sent first
        given = uow.assignments.submissions_of([task_id])[task_id]
        assert len(sent) == 1
    assert [(s.assignment_id, s.answer) for s in given] == [(first, {"label": "c"})]


def test_worker_counts_are_one_upsert_whether_the_worker_is_new_or_not(market: Market) -> None:
    sent: list[str] = []
    event.listen(
        market.store.engine,
        "before_cursor_execute",
        lambda *args: sent.append(str(args[2])) if "worker_stats" in str(args[2]) else None,
    )
    for _ in range(2):  # first a new worker's row, then an existing one's
        with market.store.uow() as uow:
            uow.workers.record("w-new", accepted=True, gold=True)
            uow.workers.record("w-new", accepted=False, gold=False)
            uow.workers.record("w-other", accepted=True, gold=False)
            uow.commit()
    assert len(sent) == 2 and all(s.startswith("INSERT INTO worker_stats") for s in sent)
    with market.store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT worker, accepted, rejected, gold_total, gold_correct FROM worker_stats"
                " ORDER BY worker"
            )
        ).all()
    assert [tuple(r) for r in rows] == [("w-new", 2, 2, 2, 2), ("w-other", 2, 0, 0, 0)]
