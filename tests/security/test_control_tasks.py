"""Control (gold) tasks look like ordinary tasks to the workers answering them (finding 13).

Before the fix a control answer was decided at its first submission, while an ordinary task
waited for `overlap` answers, and its reason said "matches the known answer" or "this was a
control task with a known answer": a worker could tell the controls and game them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from earnest.adapters.chain.wallet import Wallet
from earnest.bootstrap import Market
from earnest.client import Earnest
from earnest.domain.money import unit_cost
from tests.e2e.helpers import campaign_spec, deposit, task_row, truth

OVERLAP = 3
GOLD_N, PLAIN_N = 1, 3  # both odd: the same right answer, so the states can match
SEEN = ("status", "reason", "evidence", "reward")  # what a worker reads of its verdict


def _campaign(market: Market, sign_in: Callable[..., Earnest]) -> str:
    wallet = Wallet.generate()
    api = sign_in(wallet)
    spec = campaign_spec(overlap=OVERLAP, gold_share=0.5)
    budget = 2 * OVERLAP * unit_cost(spec["reward"], api.market()["fee_bps"])
    deposit(market, api, wallet, budget)
    campaign = api.create_campaign(**spec)
    api.upload_tasks(campaign["id"], [task_row(GOLD_N, gold=True), task_row(PLAIN_N)])
    api.fund(campaign["id"], budget)
    return str(campaign["id"])


def _answer_both(worker: Earnest, campaign_id: str, right: bool) -> dict[int, str]:
    """Claim and answer both tasks; their assignment ids by the task's n."""
    ids: dict[int, str] = {}
    for _ in range(2):
        lease = worker.claim(campaign_id)
        assert lease is not None
        n = lease["task"]["n"]
        worker.submit(lease["assignment"]["id"], truth(n if right else n + 1))
        ids[n] = lease["assignment"]["id"]
    assert set(ids) == {GOLD_N, PLAIN_N}
    return ids


def _seen(worker: Earnest, assignment_id: str) -> dict[str, Any]:
    shown = worker.assignment(assignment_id)
    return {key: shown.get(key) for key in SEEN}


def test_a_control_verdict_reads_and_waits_like_an_ordinary_one(
    sqlite_market: Market, sign_in: Callable[..., Earnest]
) -> None:
    campaign_id = _campaign(sqlite_market, sign_in)
    workers = [sign_in() for _ in range(OVERLAP)]
    rights = [True, True, False]
    ids: list[dict[int, str]] = []
    for worker, right in zip(workers, rights, strict=True):
        ids.append(_answer_both(worker, campaign_id, right))
        # After each answer, every worker sees its control and its ordinary task alike:
        # waiting together, then decided together, in the same words.
        for w, mine in zip(workers, ids, strict=False):
            control, plain = _seen(w, mine[GOLD_N]), _seen(w, mine[PLAIN_N])
            assert control == plain, (control, plain)
            said = f"{control['reason']} {control['evidence']}".lower()
            assert "control" not in said and "known" not in said and "gold" not in said
    firsts = [_seen(w, mine[GOLD_N])["status"] for w, mine in zip(workers, ids, strict=True)]
    assert firsts == ["accepted", "accepted", "rejected"]  # the known answer still decides
