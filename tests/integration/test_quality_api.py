"""The quality engine through the HTTP API, on SQLite and PostgreSQL.

Appeals (requester and panel), requester review with automatic acceptance, rule limits,
claim gates, AI agents, dynamic overlap, model predictions and the bound on any one
requester's effect on a reputation. Each test serves a fresh market on loopback with a
FakeClock (routes read `market.clock`) and a FixedRandom that never picks gold by chance.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any

import pytest

from earnest.client import ApiError, Earnest
from earnest.quality.controls import ACCEPTED, REJECTED
from earnest.quality.reputation import DEFAULT_POLICY, Reputation, beta_quantile, bounded_effect
from earnest.services.aggregation import refit_campaign
from tests.integration.quality_helpers import REWARD, QualityMarket, problem, task_row, truth

AUTO = (
    "accepted automatically: the requester did not review it within the campaign's "
    "review window (3600 s)"
)
LATE = "the task was resolved before your answer arrived; your lease was valid, so it is paid"
# A control task's rejection reads in words an ordinary task could use (quality/controls.py).
GOLD_WRONG = REJECTED
SQRT_005 = round(math.sqrt(0.05), 6)  # 5% quantile of Beta(2, 1): a newcomer's lower bound
SEVENTH_ROOT_005 = round(0.05 ** (1 / 7), 6)  # of Beta(7, 1): five good control answers


def _skill(api: Earnest, skill: str = "labeling") -> dict[str, Any]:
    found: dict[str, Any] = api.my_quality()["skills"][skill]
    return found


def _score(skill: dict[str, Any]) -> tuple[float, float, int]:
    return skill["good"], skill["bad"], skill["events"]


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# 1. appeals decided by the requester


def test_appeal_overturned_by_requester_pays_and_reverses_reputation(qm: QualityMarket) -> None:
    rows = [task_row(0, gold=True), task_row(1, gold=True), task_row(2)]
    requester, cid = qm.campaign(rows)
    worker, stranger = qm.sign_in(), qm.sign_in()
    budget = 3 * qm.cost

    # regular tasks come first (no gold pick by chance), then the two control tasks
    accepted = qm.answer(worker, cid)
    wrong = qm.answer(worker, cid, right=False)
    also_wrong = qm.answer(worker, cid, right=False)
    assert [v["n"] for v in (accepted, wrong, also_wrong)] == [2, 0, 1]
    assert accepted["decision"] == "accept"
    assert (wrong["decision"], wrong["reason"]) == ("reject", GOLD_WRONG)
    before = _skill(worker)
    # consensus good (0.5) over the prior Beta(2, 1), two control failures (1 each)
    assert _score(before) == (2.5, 3.0, 3)
    assert before["mean"] == round(2.5 / 5.5, 6)
    status = requester.campaign(cid)
    assert (status["escrow"], status["reserved"], status["spent"]) == (
        budget - qm.cost,
        0,
        qm.cost,
    )

    wrong_id = wrong["assignment"]["id"]
    filed = worker.appeal(wrong_id, "n=0 is even; my answer was right, the key is wrong")
    assert (filed["mode"], filed["status"], filed["votes"]) == ("requester", "open", [])
    assert (filed["assignment_id"], filed["campaign_id"]) == (wrong_id, cid)
    assert requester.campaign(cid)["reserved"] == qm.cost  # the overturn stays covered

    with pytest.raises(ApiError) as info:
        worker.appeal(wrong_id, "and once more, with feeling")
    assert problem(info, 409, "conflict")["detail"] == "this rejection was already appealed"
    with pytest.raises(ApiError) as info:
        stranger.appeal(wrong_id, "this is not even my assignment")
    problem(info, 404, "not_found")
    with pytest.raises(ApiError) as info:
        worker.appeal(accepted["assignment"]["id"], "appealing my own acceptance")
    assert problem(info, 409, "conflict")["detail"] == (
        "only a rejection can be appealed; this one is accepted"
    )
    with pytest.raises(ApiError) as info:
        worker.appeal(also_wrong["assignment"]["id"], "short")
    problem(info, 422, "invalid_input")

    assert [a["id"] for a in requester.appeals("requester")] == [filed["id"]]
    assert [a["id"] for a in worker.appeals()] == [filed["id"]]
    case = requester.appeal_case(filed["id"])
    assert (case["assignment"]["status"], case["assignment"]["reason"]) == ("rejected", GOLD_WRONG)
    with pytest.raises(ApiError) as info:
        stranger.appeal_case(filed["id"])
    problem(info, 404, "not_found")
    with pytest.raises(ApiError) as info:
        worker.decide_appeal(filed["id"], True, "I find in my own favour")
    problem(info, 404, "not_found")

    decided = requester.decide_appeal(filed["id"], True, "the control answer key was wrong")
    assert (decided["status"], decided["decided_by"], decided["decision_reason"]) == (
        "overturned",
        "requester",
        "the control answer key was wrong",
    )
    with pytest.raises(ApiError) as info:
        requester.decide_appeal(filed["id"], False, "changed my mind after all")
    assert problem(info, 409, "conflict")["detail"] == "this appeal was already decided"

    paid = worker.assignment(wrong_id)
    assert (paid["status"], paid["reward"]) == ("accepted", REWARD)
    assert paid["reason"] == "rejection overturned on appeal: the control answer key was wrong"
    assert paid["evidence"] == {"appeal": filed["id"], "rejected_for": GOLD_WRONG}
    assert worker.balance()["payable"] == 2 * REWARD
    payouts = worker.payouts()
    assert sorted((p["amount"], p["status"]) for p in payouts) == [(REWARD, "pending")] * 2
    receipts = [worker.receipt(p["receipt_id"])["receipt"] for p in payouts]
    appeal_receipt = next(r for r in receipts if r["assignment_id"] == wrong_id)
    assert (appeal_receipt["verdict"], appeal_receipt["reward"]) == ("accept", REWARD)

    after = _skill(worker)
    assert _score(after) == (2.5, 2.0, 2)  # the overturned control failure no longer counts
    assert after["mean"] == round(2.5 / 4.5, 6) > before["mean"]
    reversed_rows = [e for e in after["history"] if e["reversed"]]
    assert [(e["kind"], e["good"], e["weight"]) for e in reversed_rows] == [("gold", False, 0.0)]

    status = requester.campaign(cid)
    assert (status["escrow"], status["reserved"], status["spent"]) == (
        budget - 2 * qm.cost,
        0,
        2 * qm.cost,
    )
    assert (status["assignments"]["accepted"], status["assignments"]["rejected"]) == (2, 1)


def test_upheld_appeal_changes_nothing_and_appeals_close_after_thirty_days(
    qm: QualityMarket,
) -> None:
    requester, cid = qm.campaign([task_row(n, gold=True) for n in (1, 3, 5)])
    worker = qm.sign_in()
    wrong = [qm.answer(worker, cid, right=False)["assignment"]["id"] for _ in range(3)]
    before = _skill(worker)
    filed = worker.appeal(wrong[0], "1 is odd, I am sure of it")
    assert requester.campaign(cid)["reserved"] == qm.cost

    decided = requester.decide_appeal(filed["id"], False, "the answer given was even, not odd")
    assert (decided["status"], decided["decided_by"]) == ("upheld", "requester")
    still = worker.assignment(wrong[0])
    assert (still["status"], still["reward"], still["reason"]) == ("rejected", 0, GOLD_WRONG)
    assert worker.balance()["payable"] == 0
    assert worker.payouts() == []
    assert _skill(worker) == before
    status = requester.campaign(cid)
    assert (status["escrow"], status["reserved"], status["spent"]) == (3 * qm.cost, 0, 0)

    qm.clock.advance(30 * 24 * 3600)
    worker = qm.sign_in_again(worker)  # sessions last a day
    assert worker.appeal(wrong[1], "on the last day of the window")["status"] == "open"
    qm.clock.advance(1)
    with pytest.raises(ApiError) as info:
        worker.appeal(wrong[2], "one second too late for this")
    assert problem(info, 409, "conflict")["detail"] == "appeals close 30 days after the answer"


def test_an_appeal_filed_after_the_campaign_closed_can_still_be_paid(qm: QualityMarket) -> None:
    # Closing refunded the rejected unit's escrow; the requester's balance covers it.
    requester, cid = qm.campaign([task_row(1, gold=True)])
    worker = qm.sign_in()
    wrong = qm.answer(worker, cid, right=False)
    assert requester.close(cid) == {"refunded": qm.cost}
    available = requester.balance()["available"]
    filed = worker.appeal(wrong["assignment"]["id"], "1 is odd, I am sure of it")
    requester.decide_appeal(filed["id"], True, "the answer was right after all")
    assert worker.balance()["payable"] == REWARD
    assert requester.balance()["available"] == available - qm.cost


# 2. appeals decided by a panel


def test_panel_of_three_qualified_reviewers_decides_by_majority(qm: QualityMarket) -> None:
    reviewers = [qm.sign_in() for _ in range(3)]
    requester, worker, outsider = qm.sign_in(), qm.sign_in(), qm.sign_in()
    # qualified: ≥ 5 events and a lower bound ≥ 0.6 in the skill. The requester and the
    # worker qualify too (the worker even after a rejection: Beta(10, 2), lower bound 0.64),
    # so only excluding them leaves two reviewers, too few for a panel
    qm.train([reviewers[0], reviewers[1], requester, worker], [5, 5, 5, 8])
    _, cid = qm.campaign(
        [task_row(n, gold=True) for n in (0, 2)], requester=requester, quality={"appeals": "panel"}
    )
    wrong = qm.answer(worker, cid, right=False)["assignment"]["id"]
    assert _skill(worker)["lower_bound"] == round(beta_quantile(0.05, 10, 2), 6) >= 0.6
    assert _skill(requester)["lower_bound"] == SEVENTH_ROOT_005 >= 0.6
    fallback = worker.appeal(wrong, "0 is even, the control answer is wrong")
    assert (fallback["mode"], fallback["votes"]) == ("requester", [])
    decided = requester.decide_appeal(fallback["id"], True, "agreed, the key was wrong")
    assert (decided["status"], decided["decided_by"]) == ("overturned", "requester")

    qm.train([reviewers[2]], [5])  # the third qualified reviewer
    wrong = qm.answer(worker, cid, right=False)["assignment"]["id"]
    filed = worker.appeal(wrong, "2 is even, the control answer is wrong")
    assert filed["mode"] == "panel"
    panel = [v["reviewer"] for v in filed["votes"]]
    addresses = {r.my_quality()["address"]: r for r in reviewers}
    assert sorted(panel) == sorted(addresses)  # never the worker nor the requester
    assert requester.campaign(cid)["reserved"] == qm.cost
    first, second, third = (addresses[a] for a in panel)
    assert [a["id"] for a in first.appeals("panel")] == [filed["id"]]
    assert outsider.appeals("panel") == []

    with pytest.raises(ApiError) as info:
        requester.decide_appeal(filed["id"], True, "the requester would like to decide")
    detail = problem(info, 403, "forbidden")["detail"]
    assert detail == "this appeal is decided by a panel of reviewers"
    with pytest.raises(ApiError) as info:
        outsider.vote_appeal(filed["id"], True, "I am not on this panel at all")
    problem(info, 404, "not_found")

    voted = first.vote_appeal(filed["id"], True, "two is an even number")
    assert voted["status"] == "open"
    mine = {v["reviewer"]: v for v in voted["votes"]}
    assert mine[panel[0]]["overturn"] is True
    hidden = {
        v["reviewer"]: v["overturn"] for v in second.appeal_case(filed["id"])["appeal"]["votes"]
    }
    assert hidden == dict.fromkeys(panel)  # panelists see others' votes only once decided
    with pytest.raises(ApiError) as info:
        first.vote_appeal(filed["id"], False, "a second vote from the same panelist")
    assert problem(info, 409, "conflict")["detail"] == "you already voted on this appeal"

    decided = second.vote_appeal(filed["id"], True, "agreed: two is even")
    assert (decided["status"], decided["decided_by"], decided["decision_reason"]) == (
        "overturned",
        "panel",
        "2 of 3 panelists voted to overturn",
    )
    with pytest.raises(ApiError) as info:
        third.vote_appeal(filed["id"], False, "too late to make a difference")
    assert problem(info, 409, "conflict")["detail"] == "this appeal was already decided: overturned"

    paid = worker.assignment(wrong)
    assert (paid["status"], paid["reward"]) == ("accepted", REWARD)
    # eight control answers in training, and the two overturned rejections
    assert worker.balance()["payable"] == (8 + 2) * REWARD
    assert len(worker.payouts()) == 10
    assert requester.campaign(cid)["reserved"] == 0
    of_worker = {a["id"]: a for a in worker.appeals()}
    assert set(of_worker) == {fallback["id"], filed["id"]}
    assert [v["overturn"] for v in of_worker[filed["id"]]["votes"]] == [True, True, None]


# 3. requester review and automatic acceptance


def test_requester_review_then_automatic_acceptance(qm: QualityMarket) -> None:
    requester, cid = qm.campaign(
        [task_row(n) for n in range(4)], quality={"review": "requester", "review_seconds": 3600}
    )
    worker = qm.sign_in()
    submitted = [qm.answer(worker, cid, seconds=60) for _ in range(4)]
    for verdict in submitted:
        a = verdict["assignment"]
        due = _at(a["submitted_at"]) + timedelta(seconds=3600)
        assert (verdict["decision"], verdict["receipt_id"]) == ("wait", None)
        assert verdict["reason"] == (
            "the requester reviews this answer; if nobody has by "
            f"{due.isoformat()}, it is accepted automatically"
        )
        assert (a["status"], a["reward"]) == ("submitted", 0)
        assert _at(a["review_due"]) == due
        stored = worker.assignment(a["id"])
        assert stored["status"] == "submitted"
        assert stored["evidence"] == {
            "suggested": "accept",
            "suggested_reason": "agrees with 1 of 1",
        }
    assert worker.balance()["payable"] == 0

    held = requester.reviews(cid)  # oldest first
    assert [a["id"] for a in held] == [v["assignment"]["id"] for v in submitted]
    assert {a["evidence"]["suggested"] for a in held} == {"accept"}
    with pytest.raises(ApiError) as info:
        worker.reviews(cid)
    problem(info, 404, "not_found")

    first, second = held[0]["id"], held[1]["id"]
    with pytest.raises(ApiError) as info:
        requester.review(first, False)
    assert problem(info, 422, "invalid_input")["detail"] == (
        "a rejection needs a reason the worker can act on (10+ characters)"
    )
    rejected = requester.review(first, False, "the text says 0, which you labelled odd")
    assert (rejected["status"], rejected["reward"]) == ("rejected", 0)
    assert rejected["reason"] == "the text says 0, which you labelled odd"
    accepted = requester.review(second, True)
    assert (accepted["status"], accepted["reward"]) == ("accepted", REWARD)
    with pytest.raises(ApiError) as info:
        requester.review(second, False, "second thoughts about this answer")
    problem(info, 409, "conflict")
    with pytest.raises(ApiError) as info:
        worker.review(held[2]["id"], True)
    problem(info, 404, "not_found")
    assert worker.balance()["payable"] == REWARD

    assert qm.market.quality.round() == {"auto_accepted": 0, "refitted": 0}
    qm.clock.advance(3600)
    assert qm.market.quality.round() == {"auto_accepted": 2, "refitted": 0}
    for a in held[2:]:
        done = worker.assignment(a["id"])
        assert (done["status"], done["reward"]) == ("accepted", REWARD)
        assert done["reason"] == AUTO
    assert requester.reviews(cid) == []
    assert worker.balance()["payable"] == 3 * REWARD
    assert len(worker.payouts()) == 3
    status = requester.campaign(cid)
    assert (status["reserved"], status["spent"]) == (0, 3 * qm.cost)

    # only the requester's explicit decisions are evidence, each counted once
    history = _skill(worker)["history"]
    assert sorted((e["kind"], e["good"]) for e in history) == [("review", False), ("review", True)]
    assert _score(_skill(worker)) == (3.0, 2.0, 2)


def test_later_answers_do_not_move_a_held_answers_review_deadline(qm: QualityMarket) -> None:
    # In qualification a control answer is decided (here: held for review) at once.
    quality = {"review": "requester", "review_seconds": 3600, "qualification_tasks": 1}
    requester, cid = qm.campaign([task_row(0, gold=True)], overlap=2, quality=quality)
    early, late = qm.sign_in(), qm.sign_in()
    first = qm.answer(early, cid)["assignment"]
    due = qm.clock.now() + timedelta(seconds=3600)
    qm.clock.advance(600)
    second = qm.answer(late, cid, right=False)["assignment"]

    held = {a["id"]: a for a in requester.reviews(cid)}
    assert _at(held[first["id"]]["review_due"]) == due
    assert held[first["id"]]["evidence"] == {
        "suggested": "accept",
        "suggested_reason": ACCEPTED,
    }
    assert _at(held[second["id"]]["review_due"]) == due + timedelta(seconds=600)
    assert held[second["id"]]["evidence"] == {"suggested": "reject", "suggested_reason": GOLD_WRONG}
    qm.clock.advance(3000)
    assert qm.market.quality.round()["auto_accepted"] == 1
    assert early.assignment(first["id"])["status"] == "accepted"
    assert late.assignment(second["id"])["status"] == "submitted"


# 4. rule limits


def test_too_fast_answers_pause_the_worker_until_the_limit_ends(qm: QualityMarket) -> None:
    quality = {"min_seconds": 30, "limit_seconds": 600}
    _, cid = qm.campaign([task_row(n) for n in range(10)], quality=quality)
    worker = qm.sign_in()
    fast = [qm.answer(worker, cid, seconds=5) for _ in range(3)]
    assert [v["decision"] for v in fast] == ["accept"] * 3
    paused_at = qm.clock.now()

    with pytest.raises(ApiError) as info:
        worker.claim(cid)
    body = problem(info, 403, "forbidden")
    limit = body["limit"]
    reason = (
        "3 of your last 3 answers took less than 30 seconds, too fast for this task; the limit is 3"
    )
    until = paused_at + timedelta(seconds=600)
    assert body["detail"] == f"you are paused in this campaign until {until.isoformat()}: {reason}"
    assert body["campaign_id"] == cid
    assert (limit["rule"], limit["reason"], limit["active"]) == ("too_fast", reason, True)
    assert limit["evidence"] == {
        "too_fast": 3,
        "answers": 3,
        "window": 10,
        "min_seconds": 30.0,
        "limit": 3,
        "assignment_ids": [v["assignment"]["id"] for v in fast],
    }
    assert (_at(limit["since"]), _at(limit["until"])) == (paused_at, until)
    assert worker.my_quality()["limits"] == [limit]
    assert worker.claim() is None  # other campaigns' work only: there is none

    qm.clock.advance(599)
    with pytest.raises(ApiError) as info:
        worker.claim(cid)
    problem(info, 403, "forbidden")
    qm.clock.advance(1)
    slow = qm.answer(worker, cid, seconds=45)
    assert slow["decision"] == "accept"
    # the evidence that paused them once does not pause them again
    assert [x["active"] for x in worker.my_quality()["limits"]] == [False]
    assert worker.claim(cid) is not None


def test_failing_control_tasks_pauses_the_worker(qm: QualityMarket) -> None:
    _, cid = qm.campaign([task_row(n, gold=True) for n in range(8)], quality={"limit_seconds": 120})
    worker = qm.sign_in()
    verdicts = [qm.answer(worker, cid, right=r, seconds=20) for r in (True, False, True)]
    assert [v["decision"] for v in verdicts] == ["accept", "reject", "accept"]
    assert worker.my_quality()["limits"] == []  # three control answers: too few to judge
    verdicts.append(qm.answer(worker, cid, right=False, seconds=20))
    assert verdicts[-1]["decision"] == "reject"

    with pytest.raises(ApiError) as info:
        worker.claim(cid)
    limit = problem(info, 403, "forbidden")["limit"]
    assert limit["rule"] == "gold_failure"
    assert limit["reason"] == "2 of your last 4 control answers were wrong (50%); the limit is 50%"
    assert limit["evidence"] == {
        "wrong": 2,
        "answers": 4,
        "rate": 0.5,
        "window": 10,
        "min_answers": 4,
        "threshold": 0.5,
        "assignment_ids": [v["assignment"]["id"] for v in verdicts],
    }
    assert [x["rule"] for x in worker.my_quality()["limits"] if x["active"]] == ["gold_failure"]
    qm.clock.advance(119)
    with pytest.raises(ApiError) as info:
        worker.claim(cid)
    problem(info, 403, "forbidden")
    qm.clock.advance(1)
    assert qm.answer(worker, cid)["decision"] == "accept"
    assert [x["active"] for x in worker.my_quality()["limits"]] == [False]


# 5. qualification and reputation gates


def test_qualification_tasks_come_first_and_failing_them_bars_the_worker(
    qm: QualityMarket,
) -> None:
    regular = [task_row(n) for n in (10, 11, 12)]
    gold = [task_row(n, gold=True) for n in range(3)]
    _, cid = qm.campaign(regular + gold, overlap=2, quality={"qualification_tasks": 3})
    good, bad = qm.sign_in(), qm.sign_in()

    assert [qm.answer(good, cid)["n"] for _ in range(3)] == [0, 1, 2]  # control tasks first
    assert qm.answer(good, cid)["n"] == 10  # qualified: regular work follows

    answers = [qm.answer(bad, cid, right=r) for r in (True, False, False)]
    assert [v["n"] for v in answers] == [0, 1, 2]
    with pytest.raises(ApiError) as info:
        bad.claim(cid)
    body = problem(info, 403, "forbidden")
    assert body["detail"] == (
        "you got 1 of 3 control tasks right; this campaign asks for 80% "
        "(your accuracy is at most 75% with 95% confidence)"
    )
    assert body["campaign_id"] == cid
    assert body["qualification"] == {
        "correct": 1,
        "answered": 3,
        "upper_bound": pytest.approx(0.7465, abs=1e-4),
    }


def test_a_worker_who_missed_one_of_three_controls_gets_more_before_a_decision(
    qm: QualityMarket,
) -> None:
    regular = [task_row(n) for n in (10, 11, 12)]
    gold = [task_row(n, gold=True) for n in range(5)]
    _, cid = qm.campaign(regular + gold, overlap=2, quality={"qualification_tasks": 3})
    unlucky, short = qm.sign_in(), qm.sign_in()
    # 2 of 3 is below 80%, but three answers cannot say so with confidence: more controls
    assert [qm.answer(unlucky, cid, right=r)["n"] for r in (True, False, True)] == [0, 1, 2]
    more = [qm.answer(unlucky, cid)["n"] for _ in range(2)]  # 3 of 4, then 4 of 5: passed
    assert set(more) <= {3, 4}
    assert qm.answer(unlucky, cid)["n"] in (10, 11, 12)  # regular work follows
    # two misses in four controls: the gold-failure rule (4 answers, 50%) waits for the
    # qualification to decide, instead of pausing the worker on the same weak evidence
    doubtful = qm.sign_in()
    for right in (True, False, True, False):
        qm.answer(doubtful, cid, right=right)
    lease = doubtful.claim(cid)
    assert lease is not None and lease["task"]["n"] in range(5)  # one more control
    # once no control is left to decide by, the share decides, as it did before
    for right in (True, False, True, True, False):  # 3 of 5: still undecided by the bound
        qm.answer(short, cid, right=right)
    with pytest.raises(ApiError) as info:
        short.claim(cid)
    assert problem(info, 403, "forbidden")["qualification"]["answered"] == 5


def test_min_reputation_bars_newcomers_until_they_have_a_record(qm: QualityMarket) -> None:
    _, cid = qm.campaign([task_row(n) for n in range(3)], quality={"min_reputation": 0.6})
    newcomer, veteran = qm.sign_in(), qm.sign_in()
    with pytest.raises(ApiError) as info:
        newcomer.claim(cid)
    body = problem(info, 403, "forbidden")
    assert body["detail"] == (
        "this campaign asks for a reputation of 0.6 in 'labeling'; "
        f"yours is {SQRT_005:.3f} (conservative score)"
    )
    assert body["reputation"] == {
        "good": 2.0,
        "bad": 1.0,
        "events": 0,
        "mean": round(2 / 3, 6),
        "lower_bound": SQRT_005,
    }

    qm.train([veteran], [5])  # Beta(7, 1): lower bound 0.05 ** (1/7) = 0.652
    assert _skill(veteran)["lower_bound"] == SEVENTH_ROOT_005
    assert veteran.claim(cid) is not None


# 6. AI agents


def test_agents_claim_only_where_allowed(qm: QualityMarket) -> None:
    _, closed_to_agents = qm.campaign([task_row(0)], quality={"allow_agents": False})
    _, open_to_agents = qm.campaign([task_row(1)])
    agent, person = qm.sign_in(kind="agent"), qm.sign_in()

    with pytest.raises(ApiError) as info:
        agent.claim(closed_to_agents)
    body = problem(info, 403, "forbidden")
    assert (body["detail"], body["campaign_id"]) == (
        "this campaign does not accept AI agents",
        closed_to_agents,
    )
    lease = agent.claim()  # any campaign: the one that bars agents is skipped
    assert (lease["assignment"]["campaign_id"], lease["task"]["n"]) == (open_to_agents, 1)
    assert person.claim(closed_to_agents)["task"]["n"] == 0


# 7. dynamic overlap


def test_dynamic_overlap_stops_once_confident(qm: QualityMarket) -> None:
    trusted = [qm.sign_in(), qm.sign_in()]
    qm.train(trusted, [2, 2])  # gold accuracy (2 + 2) / (2 + 3) = 0.8 each
    quality = {"confidence": 0.9, "min_overlap": 2}
    requester, cid = qm.campaign([task_row(0)], verifier="dawid_skene", overlap=5, quality=quality)
    late = qm.sign_in()
    a, b = (w.claim(cid) for w in trusted)
    c = late.claim(cid)
    assert a["task"]["n"] == b["task"]["n"] == c["task"]["n"] == 0

    first = trusted[0].submit(a["assignment"]["id"], truth(0))
    assert (first["decision"], first["reason"]) == ("wait", "waiting for other workers' answers")
    # two agreeing 0.8 voters: 0.8² / (0.8² + 0.2²) = 0.941 ≥ 0.9, with 2 ≥ min_overlap
    second = trusted[1].submit(b["assignment"]["id"], truth(0))
    assert (second["decision"], second["reason"]) == (
        "accept",
        "agrees with the result (2 answers)",
    )
    assert qm.sign_in().claim(cid) is None  # resolved: no third claim gets the task

    after = late.submit(c["assignment"]["id"], truth(1))
    assert (after["decision"], after["reason"]) == ("accept", LATE)
    assert after["receipt_id"] is not None
    assert late.balance()["payable"] == REWARD
    assert late.my_quality()["skills"] == {}  # a late answer says nothing about the worker
    assert trusted[0].balance()["payable"] == REWARD * 3  # two control answers and this one

    (result,) = (_json(line) for line in requester.results(cid))
    assert (result["result"], result["confidence"]) == (truth(0), round(0.64 / 0.68, 6))
    assert len(result["answers"]) == 3


def test_dynamic_overlap_with_fresh_workers_takes_two_answers(qm: QualityMarket) -> None:
    quality = {"confidence": 0.9, "min_overlap": 2}
    requester, cid = qm.campaign([task_row(1)], verifier="dawid_skene", overlap=5, quality=quality)
    # a newcomer is judged by the estimator's prior alone (4 pseudo-answers on the diagonal,
    # 1 off: 4/5 accurate), priors uniform: two agreeing answers give 0.8² / (0.8² + 0.2²)
    workers = [qm.sign_in() for _ in range(3)]
    decisions = [qm.answer(w, cid)["decision"] for w in workers[:2]]
    assert decisions == ["wait", "accept"]
    assert workers[2].claim(cid) is None
    (result,) = (_json(line) for line in requester.results(cid))
    assert (result["result"], result["confidence"]) == (truth(1), round(16 / 17, 6))
    assert qm.market.quality.round() == {"auto_accepted": 0, "refitted": 1}


def test_dawid_skene_reads_the_class_of_answers_with_extra_properties(qm: QualityMarket) -> None:
    schema = {  # extra properties allowed: a comment may ride along with the label
        "type": "object",
        "properties": {"label": {"enum": ["even", "odd"]}},
        "required": ["label"],
    }
    requester, cid = qm.campaign(
        [task_row(0)], verifier="dawid_skene", overlap=2, output_schema=schema
    )
    first, second = qm.sign_in(), qm.sign_in()
    lease = first.claim(cid)
    noted = first.submit(lease["assignment"]["id"], {"label": "even", "note": "easy one"})
    assert noted["decision"] == "wait"
    assert qm.answer(second, cid)["decision"] == "accept"
    assert first.assignment(lease["assignment"]["id"])["status"] == "accepted"
    (result,) = (_json(line) for line in requester.results(cid))
    assert (result["result"], result["confidence"]) == (truth(0), round(16 / 17, 6))


def test_the_refit_learns_from_answers_with_extra_properties(qm: QualityMarket) -> None:
    schema = {
        "type": "object",
        "properties": {"label": {"enum": ["even", "odd"]}},
        "required": ["label"],
    }
    _, cid = qm.campaign([task_row(0)], verifier="dawid_skene", overlap=2, output_schema=schema)
    first, second = qm.sign_in(), qm.sign_in()
    lease = first.claim(cid)
    first.submit(lease["assignment"]["id"], {"label": "even", "note": "easy one"})
    assert qm.answer(second, cid)["decision"] == "accept"
    # the live path counted both answers; the refit must read the noted one the same way
    assert refit_campaign(cid, store=qm.market.store, clock=qm.clock) == 2


# 8. humans and AI


def _predicted(n: int, confidence: Any, **extra: Any) -> dict[str, Any]:
    prediction = {"answer": truth(n), "confidence": confidence, "model": "m1"} | extra
    return task_row(n) | {"prediction": prediction}


def test_predictions_are_validated_and_route_uncertain_tasks_first(qm: QualityMarket) -> None:
    rows = [
        _predicted(0, 0.9),
        _predicted(1, 0.6),
        _predicted(2, 0.99),
        task_row(3),
        _predicted(4, 0.75),
    ]
    requester, cid = qm.campaign(rows, quality={"routing": "uncertain_first"})
    bad = [
        _predicted(5, 0.5),
        _predicted(6, 1.5),
        task_row(7) | {"prediction": {"answer": {"label": "maybe"}, "confidence": 0.5}},
        _predicted(8, 0.5, source="vendor"),
        task_row(9) | {"prediction": "even"},
        _predicted(10, True),
        _predicted(11, 0.5, model=""),
    ]
    with pytest.raises(ApiError) as info:
        requester.upload_tasks(cid, bad)
    body = problem(info, 422, "schema_violation")
    errors = {e["row"]: e["error"] for e in body["errors"]}
    shape = 'prediction must be {"answer": ..., "confidence": 0..1, "model": "name"}'
    number = "prediction.confidence must be a number between 0 and 1"
    assert sorted(errors) == [2, 3, 4, 5, 6, 7]
    assert (errors[2], errors[4], errors[5], errors[6]) == (number, shape, shape, number)
    assert errors[3].startswith("prediction.answer ")
    assert errors[7] == "prediction.model must be a name of 1 to 60 characters"
    assert requester.campaign(cid)["tasks"]["tasks"] == 5

    worker = qm.sign_in()
    order = [worker.claim(cid)["task"]["n"] for _ in range(5)]
    assert order == [3, 1, 4, 0, 2]  # no prediction, then by rising model confidence


def test_a_model_prediction_votes_in_the_posterior(qm: QualityMarket) -> None:
    human = qm.sign_in()
    qm.train([human], [2])  # gold accuracy 0.8
    quality = {"confidence": 0.9, "min_overlap": 1}
    rows = [task_row(0), _predicted(2, 0.9)]
    requester, cid = qm.campaign(rows, verifier="dawid_skene", overlap=5, quality=quality)

    alone = qm.answer(human, cid)  # no prediction: 0.8 < 0.9, the task waits for more
    assert (alone["n"], alone["decision"]) == (0, "wait")
    # with the model (its stated 0.9 tempered to 0.8): 0.8² / (0.8² + 0.2²) = 0.941
    helped = qm.answer(human, cid)
    assert (helped["n"], helped["decision"]) == (2, "accept")
    (result,) = (_json(line) for line in requester.results(cid))
    assert (result["task_id"], result["confidence"]) == (
        helped["assignment"]["task_id"],
        round(0.64 / 0.68, 6),
    )
    assert qm.market.quality.round() == {"auto_accepted": 0, "refitted": 1}


# 9. one requester's effect on a reputation is bounded


def test_mass_rejection_by_one_requester_is_bounded(qm: QualityMarket) -> None:
    worker = qm.sign_in()
    qm.train([worker], [5])
    start = _skill(worker)
    assert _score(start) == (7.0, 1.0, 5)

    requester, cid = qm.campaign(
        [task_row(n) for n in range(8)], quality={"review": "requester", "review_seconds": 3600}
    )
    for _ in range(8):
        qm.answer(worker, cid)
    for held in requester.reviews(cid):
        done = requester.review(held["id"], False, "rejected in bulk without a real look")
        assert done["status"] == "rejected"

    end = _skill(worker)
    assert _score(end) == (7.0, 1.0 + DEFAULT_POLICY.max_bad_per_requester, 13)
    drop = start["good"] / (start["good"] + start["bad"]) - end["good"] / (end["good"] + end["bad"])
    assert drop == pytest.approx(bounded_effect(DEFAULT_POLICY, Reputation(7.0, 1.0)))
    assert drop <= bounded_effect(DEFAULT_POLICY)
    rejections = [e for e in end["history"] if not e["good"]]
    assert len(rejections) == 8
    assert {(e["kind"], e["weight"], e["capped"]) for e in rejections} == {("review", 0.375, True)}


def _json(line: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(line)
    return value
