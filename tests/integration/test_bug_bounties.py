"""Bug bounties: answers run in the real sandbox on a real git repository made by the test.

The repository has a bug (`add` subtracts a negative b) at one commit and its fix at the
next. Hunters send a broken test, a passing test, `assert False`, a flaky test, two valid
reproducers, and (for the fix bounty) a good and a bad patch: each gets its verdict from
what the sandbox measured, and only the first valid answer wins the bounty.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from earnest.adapters.sandbox import BwrapSandbox, RepoPolicy
from earnest.client import Earnest
from earnest.services.ports import SandboxJob
from earnest.services.sandbox_checks import measure_pending
from tests.integration.quality_helpers import REWARD, QualityMarket

BUGGY = "def add(a, b):\n    return a + b if b >= 0 else a - b\n"
FIXED = "def add(a, b):\n    return a + b\n"
REPO_TEST = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
REPRODUCER = "from calc import add\n\n\ndef test_negative():\n    assert add(1, -1) == 0\n"
FLAKY = (
    "import pathlib\n\n\ndef test_flaky():\n"
    "    marker = pathlib.Path(__file__).with_suffix('.ran')\n"
    "    first = not marker.exists()\n    marker.touch()\n    assert not first\n"
)
ANSWER = {"type": "object", "required": ["test_path", "test"]}


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _require_sandbox(sandbox: BwrapSandbox) -> None:
    """Off CI a machine without bubblewrap skips, visibly; in CI (CI=true) it fails."""
    missing = sandbox.available()
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the sandbox cannot run here: {missing}")
        pytest.skip(f"the sandbox cannot run here: {missing} (run `make sandbox`)")


@pytest.fixture
def allowed(tmp_path: Path) -> Path:
    """The one directory the operator lets bounty repositories be local paths in."""
    (tmp_path / "repos").mkdir()
    return tmp_path / "repos"


@pytest.fixture
def sandboxed(qm: QualityMarket, allowed: Path) -> QualityMarket:
    """The served market, its sandbox allowed to fetch from `allowed` only."""
    qm.market.sandbox.sandbox.repos = RepoPolicy(local_dir=str(allowed))
    _require_sandbox(qm.market.sandbox.sandbox)
    return qm


@pytest.fixture
def repo(allowed: Path) -> dict[str, str]:
    """A git repository with the bug at `commit` and its fix at `fixed_commit`."""
    path = allowed / "calc-repo"
    (path / "tests").mkdir(parents=True)
    _git(path, "init", "--quiet")
    (path / "calc.py").write_text(BUGGY)
    (path / "tests" / "test_calc.py").write_text(REPO_TEST)
    (path / "conftest.py").write_text("")  # puts the repository root on sys.path
    ident = ["-c", "user.name=Requester", "-c", "user.email=r@example.org"]
    _git(path, "add", ".")
    _git(path, *ident, "commit", "--quiet", "-m", "calc")
    buggy = _git(path, "rev-parse", "HEAD")
    (path / "calc.py").write_text(FIXED)
    patch = _git(path, "diff") + "\n"
    _git(path, *ident, "commit", "--quiet", "-am", "fix")
    return {
        "repo": str(path),
        "commit": buggy,
        "fixed_commit": _git(path, "rev-parse", "HEAD"),
        "patch": patch,
    }


def _bounty(qm: QualityMarket, data: dict[str, Any]) -> tuple[Earnest, str]:
    return qm.campaign(
        [{"id": "bug-1", "data": data}],
        type="bugs",
        input_schema={"type": "object", "required": ["repo", "commit"]},
        output_schema=ANSWER,
        verifier="bug_reproducer",
        overlap=6,
    )


def _send(qm: QualityMarket, cid: str, answers: list[dict[str, Any]]) -> list[tuple[Earnest, str]]:
    sent = []
    for answer in answers:
        hunter = qm.sign_in()
        lease = hunter.claim(cid)
        verdict = hunter.submit(lease["assignment"]["id"], answer)
        assert (verdict["decision"], verdict["reason"]) == ("wait", "queued for the sandbox")
        sent.append((hunter, lease["assignment"]["id"]))
        qm.clock.advance(1)
    return sent


def _measure_all(qm: QualityMarket) -> None:
    m = qm.market
    for _ in range(5):  # bounded: 4 answers a round
        if not measure_pending(
            store=m.store, sandbox=m.sandbox.sandbox, crypto=m.crypto, clock=qm.clock, rand=m.rand
        ):
            return


def test_the_first_valid_reproducer_wins(sandboxed: QualityMarket, repo: dict[str, str]) -> None:
    qm = sandboxed
    data = {k: repo[k] for k in ("repo", "commit", "fixed_commit")}
    _, cid = _bounty(qm, data)
    answers = [
        {"test_path": "tests/test_broken.py", "test": "def test_x(:\n    pass\n"},
        {"test_path": "tests/test_fine.py", "test": REPO_TEST.replace("test_add", "test_fine")},
        {"test_path": "tests/test_false.py", "test": "def test_false():\n    assert False\n"},
        {"test_path": "tests/test_flaky.py", "test": FLAKY},
        {"test_path": "tests/test_negative.py", "test": REPRODUCER},
        {"test_path": "tests/test_negative_too.py", "test": REPRODUCER},
    ]
    sent = _send(qm, cid, answers)
    _measure_all(qm)
    decided = [hunter.assignment(aid) for hunter, aid in sent]
    assert [a["status"] for a in decided] == ["rejected"] * 4 + ["accepted", "rejected"]
    reasons = [a["reason"] for a in decided]
    assert reasons[0].startswith("your test did not run to a failure")
    assert reasons[1] == "your test passed on the target commit: it does not reproduce the bug"
    assert (
        reasons[2]
        == "your test also fails on the commit that fixes the bug: it does not pin this bug"
    )
    assert reasons[3].startswith("your test failed on one run and not on the other")
    assert reasons[4] == "your test fails on the target commit every time: you won the bounty"
    assert decided[4]["evidence"]["failing"] == ["tests/test_negative.py::test_negative"]
    assert reasons[5].startswith("the bounty was already won by a reproducer sent at ")
    assert [hunter.balance()["payable"] for hunter, _ in sent] == [0, 0, 0, 0, REWARD, 0]


def test_a_fix_must_pass_its_reproducer_and_the_repository_tests(
    sandboxed: QualityMarket, repo: dict[str, str]
) -> None:
    qm = sandboxed
    _, cid = _bounty(qm, {"repo": repo["repo"], "commit": repo["commit"], "kind": "fix"})
    zero = repo["patch"].replace("+    return a + b", "+    return 0")
    answers = [
        {"test_path": "tests/test_neg.py", "test": REPRODUCER, "patch": zero},
        {"test_path": "tests/test_neg.py", "test": REPRODUCER, "patch": "not a diff\n"},
        {"test_path": "tests/test_neg.py", "test": REPRODUCER, "patch": repo["patch"]},
    ]
    sent = _send(qm, cid, answers)
    _measure_all(qm)
    decided = [hunter.assignment(aid) for hunter, aid in sent]
    assert [a["status"] for a in decided] == ["rejected", "rejected", "accepted"]
    assert decided[0]["reason"].startswith(
        "with your patch applied, the repository's own tests fail"
    )
    assert decided[1]["reason"].startswith("your patch does not apply to the target commit")


def test_the_sandbox_has_no_network_and_keeps_the_repository(
    repo: dict[str, str], allowed: Path
) -> None:
    sandbox = BwrapSandbox(python=sys.executable, repos=RepoPolicy(local_dir=str(allowed)))
    _require_sandbox(sandbox)
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        reach = f"import socket\n\n\ndef test_reach():\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
        facts = sandbox.measure(
            SandboxJob(repo["repo"], repo["commit"], "tests/test_reach.py", reach)
        )
        server.setblocking(False)
        with pytest.raises(BlockingIOError):  # nobody connected to the host's loopback
            server.accept()
    assert [r["outcome"] for r in facts["runs"]] == ["failed", "failed"]
    # bwrap's network namespace has only its own loopback, where nothing listens.
    assert "ConnectionRefusedError" in facts["runs"][0]["output"]
    replaced = sandbox.measure(
        SandboxJob(repo["repo"], repo["commit"], "calc.py", "def test_x(): pass\n")
    )
    assert replaced["refused"].startswith("test_path must name a new file called test_*.py")
    evil = sandbox.measure(SandboxJob(repo["repo"], repo["commit"], "../test_x.py", ""))
    assert (
        evil["refused"] == "test_path must be a relative path to a .py file inside the repository"
    )
