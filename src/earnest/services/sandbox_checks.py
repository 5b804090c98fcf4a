"""Measure bug bounty answers in the sandbox, then let the verifier decide on the facts.

A submitted answer to a sandboxed campaign (quality.SANDBOXED) waits ("queued for the
sandbox"). This background pass picks the oldest unmeasured answers, runs each in the
sandbox outside any database transaction (it takes seconds), stores the facts, and re-runs
the task's verification in one transaction, as a submission would.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from earnest.domain.errors import Conflict
from earnest.domain.work import Assignment, Task
from earnest.quality import SANDBOXED
from earnest.services.chain_port import Crypto
from earnest.services.decisions import apply_outcome
from earnest.services.loop import Every
from earnest.services.ports import Clock, Random, Sandbox, SandboxJob, Store
from earnest.services.verify import verify_task

MEASURE_BATCH = 4
log = logging.getLogger("earnest.sandbox")


def measure_pending(
    *, store: Store, sandbox: Sandbox, crypto: Crypto, clock: Clock, rand: Random
) -> int:
    """Measure up to MEASURE_BATCH waiting answers and decide their tasks; returns how many."""
    missing = sandbox.available()
    if missing is not None:
        # Answers wait rather than run unconfined or be rejected for the operator's fault.
        log.warning("bug bounty answers wait: %s", missing)
        return 0
    with store.uow(readonly=True) as uow:
        waiting = uow.facts.unmeasured(SANDBOXED, MEASURE_BATCH)
        jobs = [
            (aid, tid, cid, _job(uow.tasks.get(tid), uow.assignments.get(aid)))
            for aid, tid, cid in waiting
        ]
    measured = 0
    for assignment_id, task_id, campaign_id, job in jobs:
        facts = sandbox.measure(job) if job else {"refused": "the answer is not a test file"}
        try:
            _decide(store, assignment_id, task_id, campaign_id, facts, crypto, clock, rand)
        except Conflict:
            continue  # measured and decided meanwhile by another market process
        measured += 1
    return measured


def _job(task: Task | None, assignment: Assignment | None) -> SandboxJob | None:
    """The sandbox job for an answer, or None when it holds no test file."""
    data = task.data if task else {}
    answer = assignment.answer if assignment else None
    if not isinstance(answer, dict) or not isinstance(answer.get("test"), str):
        return None
    # A fix must bring a patch: an empty one fails to apply, with its reason.
    patch = answer.get("patch") if data.get("kind") == "fix" else None
    if data.get("kind") == "fix" and not isinstance(patch, str):
        patch = ""
    return SandboxJob(
        repo=str(data.get("repo", "")),
        commit=str(data.get("commit", "")),
        test_path=str(answer.get("test_path", "")),
        test=answer["test"],
        patch=patch,
        fixed_commit=str(data["fixed_commit"]) if data.get("fixed_commit") else None,
    )


def _decide(
    store: Store,
    assignment_id: str,
    task_id: int,
    campaign_id: str,
    facts: dict[str, Any],
    crypto: Crypto,
    clock: Clock,
    rand: Random,
) -> None:
    now = clock.now()
    with store.uow() as uow:
        campaign, task = uow.campaigns.get(campaign_id), uow.tasks.get(task_id)
        if campaign is None or task is None:
            return
        uow.assignments.lock_task(task_id)
        uow.facts.add(assignment_id, task_id, campaign_id, facts, now)
        submissions = tuple(uow.assignments.submissions(task_id))
        outcome = verify_task(uow, campaign, task, submissions)
        apply_outcome(uow, campaign, task, submissions, outcome, crypto, now, rand)
        uow.commit()


@dataclass
class SandboxLoop:
    """Runs `measure_pending` every `interval` seconds, until stopped."""

    store: Store
    sandbox: Sandbox
    crypto: Crypto
    clock: Clock
    rand: Random
    interval: float
    _loop: Every = field(init=False)

    def __post_init__(self) -> None:
        self._loop = Every("earnest-sandbox", self.interval, self.round, log)

    def round(self) -> int:
        return measure_pending(
            store=self.store,
            sandbox=self.sandbox,
            crypto=self.crypto,
            clock=self.clock,
            rand=self.rand,
        )

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()
