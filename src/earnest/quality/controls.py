"""Control (gold) tasks that look like any other task to the workers who answer them.

A worker who can tell a control task from an ordinary one answers the controls carefully
and the rest carelessly, and the controls measure nothing. So what a worker sees of a
control task's verdict is what the same answers would get on an ordinary task:

* timing: the verdict waits exactly as long as the ordinary rules (overlap, dynamic
  overlap) would make it wait, found by running the campaign's verifier on the same answers
  with the known answer left out;
* words: where the known answer and the ordinary rules reach the same decision, the verdict
  carries the ordinary reason and evidence, word for word. Where they differ (the crowd got
  a control wrong), the verdict reads in neutral words an ordinary task's verdict could use,
  and never states the known answer or that there was one.

The decision itself, the task's result and the gold statistics still come from the known
answer; the requester and the operator see which tasks are controls. A worker still in a
campaign's qualification is told the rules say its tasks are controls, so its verdicts are
not held back (they still use the neutral words). See docs/quality.md.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from earnest.domain.verification import Decision, Outcome, Verdict, VerificationInput, Verifier

# Neutral reasons for a control verdict the ordinary rules would not have given.
ACCEPTED = "agrees with the task's result; accepted"
REJECTED = "your answer disagrees with the task's result"
WAITING = "waiting for other workers' answers"  # what every consensus verifier says


def disguised(
    verifier: Verifier, given: VerificationInput, qualifying: Collection[str] = ()
) -> Outcome:
    """The verifier's outcome, with a control task's verdicts timed and worded as ordinary.

    `qualifying` names the workers still in the campaign's qualification (decided at once).
    """
    truth = verifier.verify(given)
    if not given.task.is_gold:
        return truth
    try:
        ordinary = verifier.verify(replace(given, task=replace(given.task, gold=None)))
    except ValueError:  # the ordinary rules cannot read these answers: words are neutral
        ordinary = Outcome(())
    shown = {v.assignment_id: v for v in ordinary.verdicts}
    workers = {s.assignment_id: s.worker for s in given.submissions}
    verdicts = []
    for v in truth.verdicts:
        mirror = shown.get(v.assignment_id)
        if v.decision is Decision.WAIT:
            verdicts.append(v)
        elif workers.get(v.assignment_id) in qualifying:
            verdicts.append(_worded(v, mirror))
        elif mirror is None or mirror.decision is Decision.WAIT:
            verdicts.append(mirror or Verdict(v.assignment_id, Decision.WAIT, WAITING))
        else:
            verdicts.append(_worded(v, mirror))
    if any(v.decision is Decision.WAIT for v in verdicts):
        return Outcome(tuple(verdicts))  # not resolved: an ordinary task would not be yet
    # Resolved when either would be: a control task is not served after an ordinary one stops.
    return replace(truth, verdicts=tuple(verdicts), resolved=truth.resolved or ordinary.resolved)


def _worded(truth: Verdict, mirror: Verdict | None) -> Verdict:
    """The known answer's decision in the words the ordinary rules use, or neutral ones."""
    if mirror is not None and mirror.decision is truth.decision:
        return replace(truth, reason=mirror.reason, evidence=mirror.evidence)
    if truth.decision is Decision.ACCEPT:
        return replace(truth, reason=ACCEPTED, evidence={})
    yours = truth.evidence.get("yours")
    evidence = {} if yours is None else {"yours": yours}
    return replace(truth, reason=REJECTED, evidence=evidence)
