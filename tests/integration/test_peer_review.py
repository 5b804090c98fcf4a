"""Peer review of free text through the HTTP API, on SQLite and PostgreSQL.

Reviewers qualify on gold reviews, are paid per review (not for a failed gold review),
judge blind, never their own answers; a rejection frees the task for another worker; an
unreviewed answer is accepted at the end of the window; the escrow covers every review.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import inspect

from earnest.adapters.store import migrate, migrations
from earnest.adapters.store.tables import schema_version
from earnest.bootstrap import Market
from earnest.client import ApiError, Earnest
from earnest.domain.money import unit_cost
from earnest.domain.work import MAX_NAME, MAX_REPUTATION_SKILL, REVIEW_SKILL_PREFIX
from tests.e2e.helpers import deposit
from tests.integration.quality_helpers import REWARD, QualityMarket, problem

REVIEW_REWARD = 30
SUMMARY = {
    "type": "object",
    "properties": {"summary": {"type": "string", "minLength": 5}},
    "required": ["summary"],
    "additionalProperties": False,
}
GOOD, BAD = {"summary": "a cat sleeps on a mat"}, {"summary": "lorem ipsum dolor"}


def _rows() -> list[dict[str, Any]]:
    """Two passages to summarise, and three gold reviews (known verdicts)."""
    regular = [{"id": f"p{n}", "data": {"text": f"passage {n}"}} for n in range(2)]
    golds = [
        {"id": f"g{n}", "data": {"text": f"control {n}"}, "gold": {"answer": a, "accept": ok}}
        for n, (a, ok) in enumerate([(GOOD, True), (BAD, False), (GOOD, True)])
    ]
    return regular + golds


def _campaign(qm: QualityMarket, **quality: Any) -> tuple[Earnest, str, int]:
    """A funded peer-reviewed campaign; (requester, id, unit cost)."""
    requester = qm.sign_in()
    spec = {
        "type": "summaries",
        "title": "Summarise the passage",
        "instructions": "One sentence.",
        "input_schema": {"type": "object", "properties": {"text": {"type": "string"}}},
        "output_schema": SUMMARY,
        "reward": REWARD,
        "overlap": 1,
        "gold_share": 0.0,
        "verifier": "peer_review",
        "quality": {
            "review": "peer",
            "review_reward": REVIEW_REWARD,
            "reviewer_tasks": 2,
            "qualification_accuracy": 1.0,
            "review_seconds": 3600,
        }
        | quality,
    }
    created = requester.create_campaign(**spec)
    budget = 10 * created["unit_cost"]
    deposit(qm.market, requester, qm._wallets[id(requester)], budget)
    requester.upload_tasks(created["id"], _rows())
    requester.fund(created["id"], budget)
    return requester, created["id"], created["unit_cost"]


def _judge_gold(reviewer: Earnest, cid: str, *, right: bool) -> dict[str, Any]:
    """Claim a review (a gold one while qualifying) and judge it right or wrong."""
    item = reviewer.claim_peer_review(cid)
    assert item["task"]["text"].startswith("control"), item
    expected = item["answer"] == GOOD
    verdict = expected if right else not expected
    done: dict[str, Any] = reviewer.submit_peer_review(
        item["review"]["id"], verdict, "" if verdict else "this summary is not about the text"
    )
    return done


def test_peer_review_qualifies_pays_and_decides(qm: QualityMarket) -> None:
    requester, cid, cost = _campaign(qm)
    assert cost == unit_cost(REWARD, qm.market.settings.fee_bps) + unit_cost(
        REVIEW_REWARD, qm.market.settings.fee_bps
    )
    author, second = qm.sign_in(), qm.sign_in()
    lease = author.claim(cid)
    assert lease["task"]["text"] == "passage 0"
    held = author.submit(lease["assignment"]["id"], BAD)
    assert held["decision"] == "wait"
    assert held["reason"].startswith("a qualified peer reviews this answer; if nobody has by ")
    qm.clock.advance(1)  # held answers are reviewed oldest first
    other = author.claim(cid)
    assert other["task"]["text"] == "passage 1"  # gold reviews are never leased to workers
    author.submit(other["assignment"]["id"], GOOD)
    assert author.claim(cid) is None

    with pytest.raises(ApiError) as info:
        requester.claim_peer_review(cid)
    problem(info, 403, "forbidden")

    reviewer = qm.sign_in()
    for _ in range(2):  # the qualification: two gold reviews, both right, both paid
        done = _judge_gold(reviewer, cid, right=True)
        assert (done["status"], done["correct"], done["reward"]) == ("done", True, REVIEW_REWARD)

    item = reviewer.claim_peer_review(cid)  # the oldest held answer, blind
    assert (item["task"], item["answer"], item["review_reward"]) == (
        {"text": "passage 0"},
        BAD,
        REVIEW_REWARD,
    )
    assert "worker" not in item and "worker" not in item["review"]
    with pytest.raises(ApiError) as info:
        reviewer.submit_peer_review(item["review"]["id"], False, "no")
    problem(info, 422, "invalid_input")
    with pytest.raises(ApiError) as info:
        author.submit_peer_review(item["review"]["id"], True)
    problem(info, 404, "not_found")
    reviewer.submit_peer_review(item["review"]["id"], False, "it does not summarise passage 0")
    rejected = author.assignment(lease["assignment"]["id"])
    assert (rejected["status"], rejected["reward"]) == ("rejected", 0)
    assert rejected["reason"] == "rejected by a peer reviewer: it does not summarise passage 0"
    assert rejected["evidence"]["reviewed_by"] == "peer"

    retry = second.claim(cid)  # the rejection freed the task's slot
    assert retry["task"]["text"] == "passage 0"
    second.submit(retry["assignment"]["id"], GOOD)

    for _ in range(2):
        item = reviewer.claim_peer_review(cid)
        assert item["answer"] == GOOD
        assert reviewer.submit_peer_review(item["review"]["id"], True)["reward"] == REVIEW_REWARD
    assert reviewer.claim_peer_review(cid) is None
    assert author.balance()["payable"] == REWARD
    assert second.balance()["payable"] == REWARD
    assert reviewer.balance()["payable"] == 5 * REVIEW_REWARD
    assert [r["status"] for r in reviewer.my_peer_reviews()] == ["done"] * 5

    results = [json.loads(line) for line in requester.results(cid)]
    assert sorted(r["result"]["summary"] for r in results) == [GOOD["summary"]] * 2
    status = requester.campaign(cid)
    fee = qm.market.settings.fee_bps
    assert status["spent"] == 2 * unit_cost(REWARD, fee) + 5 * unit_cost(REVIEW_REWARD, fee)
    assert status["reserved"] == 0


def test_a_reviewer_who_fails_gold_reviews_is_not_paid_for_them_and_is_stopped(
    qm: QualityMarket,
) -> None:
    _, cid, _ = _campaign(qm)
    author, reviewer = qm.sign_in(), qm.sign_in()
    author.submit(author.claim(cid)["assignment"]["id"], GOOD)

    wrong = _judge_gold(reviewer, cid, right=False)
    assert (wrong["correct"], wrong["reward"]) == (False, 0)
    _judge_gold(reviewer, cid, right=True)
    with pytest.raises(ApiError) as info:
        reviewer.claim_peer_review(cid)
    body = problem(info, 403, "forbidden")
    assert body["qualification"] == {
        "correct": 1,
        "answered": 2,
        "upper_bound": pytest.approx(0.8791, abs=1e-4),
    }
    assert reviewer.balance()["payable"] == REVIEW_REWARD
    history = reviewer.my_quality()["skills"]["review:summaries"]
    assert sorted((e["kind"], e["good"]) for e in history["history"]) == [
        ("gold", False),
        ("gold", True),
    ]


def test_a_reviewer_builds_reputation_in_the_longest_skill(qm: QualityMarket) -> None:
    """ "review:" and a campaign skill of the most characters allowed fit the reputation
    column: PostgreSQL refused the event (and so the review) when it held only 40."""
    skill = "s" * MAX_NAME
    _, cid, _ = _campaign(qm, skill=skill)
    author, reviewer = qm.sign_in(), qm.sign_in()
    author.submit(author.claim(cid)["assignment"]["id"], GOOD)
    done = _judge_gold(reviewer, cid, right=True)
    assert (done["correct"], done["reward"]) == (True, REVIEW_REWARD)
    history = reviewer.my_quality()["skills"][REVIEW_SKILL_PREFIX + skill]["history"]
    assert [(e["kind"], e["good"]) for e in history] == [("gold", True)]


@pytest.mark.postgres
def test_the_reputation_skill_column_is_widened_on_an_old_database(pg_market: Market) -> None:
    engine = pg_market.store.engine
    step = 1 + migrations.STEPS.index(migrations._v11_reputation_skill_length)
    with engine.begin() as conn:  # the column as the schema before the step left it
        conn.exec_driver_sql("ALTER TABLE reputation_events ALTER COLUMN skill TYPE VARCHAR(40)")
        conn.execute(schema_version.delete().where(schema_version.c.version == step))
    migrate(engine)
    (column,) = [
        c for c in inspect(engine).get_columns("reputation_events") if c["name"] == "skill"
    ]
    assert column["type"].length == MAX_REPUTATION_SKILL == len(REVIEW_SKILL_PREFIX) + 40


def test_a_reviewer_never_gets_an_answer_to_a_task_they_answered(qm: QualityMarket) -> None:
    _, cid, _ = _campaign(qm)
    author = qm.sign_in()
    author.submit(author.claim(cid)["assignment"]["id"], GOOD)
    for _ in range(2):
        _judge_gold(author, cid, right=True)
    assert author.claim_peer_review(cid) is None  # the only held answer is their own


def test_an_unreviewed_answer_is_accepted_when_the_window_closes(qm: QualityMarket) -> None:
    requester, cid, _ = _campaign(qm)
    author = qm.sign_in()
    lease = author.claim(cid)
    author.submit(lease["assignment"]["id"], GOOD)
    reviewer = qm.sign_in()
    for _ in range(2):
        _judge_gold(reviewer, cid, right=True)
    item = reviewer.claim_peer_review(cid)  # leased, then the window closes
    qm.clock.advance(3600)
    assert qm.market.quality.round()["auto_accepted"] == 1
    accepted = author.assignment(lease["assignment"]["id"])
    assert (accepted["status"], accepted["reward"]) == ("accepted", REWARD)
    assert accepted["reason"].startswith("accepted automatically: no peer reviewer reviewed it")
    assert json.loads(next(iter(requester.results(cid))))["result"] == GOOD
    with pytest.raises(ApiError) as info:  # the review lease (600 s) ran out meanwhile
        reviewer.submit_peer_review(item["review"]["id"], True)
    problem(info, 409, "lease_expired")


def test_peer_review_campaign_rules(qm: QualityMarket) -> None:
    requester = qm.sign_in()
    base = {
        "title": "t",
        "input_schema": {"type": "object"},
        "output_schema": SUMMARY,
        "reward": REWARD,
        "overlap": 1,
    }
    cases = [
        ({"verifier": "peer_review"}, 'the peer_review verifier needs quality.review = "peer"'),
        (
            {"quality": {"review": "peer"}},
            "peer review pays its reviewers: set quality.review_reward > 0",
        ),
    ]
    for changes, detail in cases:
        with pytest.raises(ApiError) as info:
            requester.create_campaign(**(base | changes))
        assert problem(info, 422, "invalid_input")["detail"] == detail
    cid = requester.create_campaign(
        **base, quality={"review": "peer", "review_reward": 5}, verifier="peer_review"
    )["id"]
    with pytest.raises(ApiError) as info:
        requester.upload_tasks(cid, [{"data": {}, "gold": GOOD}])
    errors = problem(info, 422, "schema_violation")["errors"]
    assert errors[0]["error"].startswith("in a peer-reviewed campaign gold is a gold review")
