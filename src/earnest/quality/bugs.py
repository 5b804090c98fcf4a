"""Bug bounties: a test file that reproduces a bug, judged on what the sandbox measured.

A task points at a git repository and a commit (`repo`, `commit`; `kind` "reproduce", the
default, or "fix"). An answer is {"test_path": "tests/test_x.py", "test": "<source>"} and,
for a fix bounty, "patch" (a unified diff). The sandbox (services.sandbox_checks) runs the
test twice on the target commit, each time in a fresh process with CPU, memory and time
limits and no network, and for a fix applies the patch and runs the test and the
repository's own tests; when the task names a `fixed_commit` (one known to fix the bug),
the test must pass there, which turns away tests that fail for any reason at all. Its
facts come here as `given.facts[assignment_id]`.

A reproducer is valid when both runs fail with the same failing tests, and the failure is
not a syntax or import error (the test must run to fail). A fix is valid when its
reproducer is, and with the patch both the reproducer and the repository's tests pass.
The first valid answer, in the order they were sent, wins the bounty; later valid ones are
rejected with the winner's time, and answers sent before the winner wait for their runs.

What the worker sees is the verdict, a reason from a fixed set of sentences, and a summary
built from their own test names: failing ids that name the answer's file and functions or
classes written in it, capped in count and length. A run's output (which a test can fill
with anything it reads) stays in the facts, the requester's log; it is never evidence.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from earnest.domain.verification import Decision, Outcome, Submission, Verdict, VerificationInput
from earnest.domain.work import AssignmentStatus

_COUNTED = (AssignmentStatus.SUBMITTED, AssignmentStatus.ACCEPTED, AssignmentStatus.REJECTED)
MAX_FAILING = 20  # failing ids shown to the worker, each at most MAX_ID characters
MAX_ID = 200
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")


class BugReproducerVerifier:
    """The first deterministic, genuine failure (and passing fix) wins the bounty."""

    name = "bug_reproducer"

    def verify(self, given: VerificationInput) -> Outcome:
        fix = given.task.data.get("kind") == "fix"
        ordered = sorted(
            (s for s in given.submissions if s.status in _COUNTED),
            key=lambda s: (s.submitted_at, s.assignment_id),
        )
        winner = next((s for s in ordered if s.status is AssignmentStatus.ACCEPTED), None)
        verdicts: list[Verdict] = []
        blocked = False  # an earlier answer still waits for the sandbox
        for s in ordered:
            if s.status is not AssignmentStatus.SUBMITTED:
                continue
            facts = given.facts.get(s.assignment_id)
            problem = None if facts is None else _problem(facts, fix)
            if facts is None or (blocked and problem is None):
                blocked = True
                verdicts.append(Verdict(s.assignment_id, Decision.WAIT, "queued for the sandbox"))
            elif problem is not None:
                verdicts.append(_reject(s, problem, facts))
            elif winner is not None:
                why = f"the bounty was already won by a reproducer sent at {winner.submitted_at.isoformat()}"
                verdicts.append(_reject(s, why, facts))
            else:
                winner = s
                verdicts.append(
                    Verdict(s.assignment_id, Decision.ACCEPT, _won(fix), _evidence(s, facts))
                )
        if winner is None:
            return Outcome(tuple(verdicts))
        result = {"winner": winner.assignment_id, "test_path": _path(winner)}
        return Outcome(tuple(verdicts), True, result, 1.0)


def _problem(facts: Any, fix: bool) -> str | None:
    """Why the measured runs do not make a valid answer, or None if they do."""
    if facts.get("refused"):
        return f"the sandbox could not run your answer: {facts['refused']}"
    runs = facts.get("runs") or []
    if len(runs) < 2:
        return "the sandbox did not finish both runs"
    first, second = runs[0], runs[1]
    for run in runs:
        if run["outcome"] == "error":
            return f"your test did not run to a failure ({run['detail']}): a reproducer must run and fail"
        if run["outcome"] == "timeout":
            return f"your test ran past the sandbox's time limit ({run['detail']})"
    if first["outcome"] == "passed" and second["outcome"] == "passed":
        return "your test passed on the target commit: it does not reproduce the bug"
    if first["outcome"] != second["outcome"] or first["failing"] != second["failing"]:
        return "your test failed on one run and not on the other: a reproducer must fail every time"
    if fix:
        return _fix_problem(facts)
    on_fix = facts.get("on_fix")
    if on_fix is not None and on_fix.get("outcome") != "passed":
        return "your test also fails on the commit that fixes the bug: it does not pin this bug"
    return None


def _fix_problem(facts: Any) -> str | None:
    if facts.get("patch_error"):
        return f"your patch does not apply to the target commit: {facts['patch_error']}"
    fixed, suite = facts.get("fixed") or {}, facts.get("suite") or {}
    if fixed.get("outcome") != "passed":
        return "with your patch applied, your reproducer still fails: the bug is not fixed"
    if suite.get("outcome") != "passed":
        return (
            f"with your patch applied, the repository's own tests fail ({suite.get('detail', '')})"
        )
    return None


def _won(fix: bool) -> str:
    if fix:
        return "your reproducer fails on the target commit every time and your fix passes it and the repository's tests: you won the bounty"
    return "your test fails on the target commit every time: you won the bounty"


def _evidence(s: Submission, facts: Any) -> dict[str, Any]:
    runs = facts.get("runs") or []
    return {
        "failing": _own(s, runs[0].get("failing") if runs else []),
        "commit": facts.get("commit"),
    }


def _reject(s: Submission, reason: str, facts: Any) -> Verdict:
    runs = facts.get("runs") or []
    evidence = {
        "runs": [
            {
                "outcome": r.get("outcome"),
                "detail": r.get("detail"),
                "failing": _own(s, r.get("failing")),
            }
            for r in runs
        ]
    }
    return Verdict(s.assignment_id, Decision.REJECT, reason, evidence)


def _own(s: Submission, failing: Any) -> list[str]:
    """The failing ids that name the answer's own file and what it defines, capped."""
    answer = s.answer if isinstance(s.answer, dict) else {}
    path, source = answer.get("test_path"), answer.get("test")
    if not isinstance(failing, list) or not isinstance(path, str) or not isinstance(source, str):
        return []
    names = defined_names(source)
    kept = []
    for found in failing:
        head, _, rest = str(found).partition("::")
        parts = rest.split("::") if rest else []
        if head == path and parts and all(_NAME.match(p) and p in names for p in parts):
            kept.append(str(found)[:MAX_ID])
    return sorted(set(kept))[:MAX_FAILING]


def defined_names(source: str) -> set[str]:
    """Function and class names written in a test file (the sandbox keeps only ids naming them)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return {node.name for node in ast.walk(tree) if isinstance(node, kinds)}


def _path(s: Submission) -> Any:
    return s.answer.get("test_path") if isinstance(s.answer, dict) else None
