"""The bug-bounty sandbox's cost per run: bubblewrap against the old prlimit + unshare runner.

Both measure the same reproducer on the same local repository, alternating, in one run, so
the machine's load falls on both alike. Two figures for each: one confined pytest process
(`run`: what the sandbox adds to every test run) and one whole answer (`answer`: the
fetch, the trees, the two runs of the reproducer and its run on the fixed commit, what a
bounty answer costs the market). The old runner is kept here only, as the baseline: it ran
as the server's user with only the network isolated (issue 21, finding 1). Target: the new
sandbox at most 1.5x the old. The last stdout line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from earnest.adapters.sandbox import BwrapSandbox, RepoPolicy
from earnest.services.ports import SandboxJob

BUGGY = "def add(a, b):\n    return a + b if b >= 0 else a - b\n"
FIXED = "def add(a, b):\n    return a + b\n"
REPRODUCER = "from calc import add\n\n\ndef test_negative():\n    assert add(1, -1) == 0\n"
PYTEST = ["-m", "pytest", "-q", "-rf", "-p", "no:cacheprovider"]
ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
    "LANG": "C.UTF-8",
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
}


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


def make_repo(root: Path) -> dict[str, str]:
    """A repository with the bug at `commit` and its fix at `fixed_commit`."""
    repo = root / "calc"
    (repo / "tests").mkdir(parents=True)
    git(repo, "init", "--quiet")
    (repo / "calc.py").write_text(BUGGY)
    (repo / "conftest.py").write_text("")
    (repo / "tests" / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    )
    ident = ["-c", "user.name=R", "-c", "user.email=r@example.org"]
    git(repo, "add", ".")
    git(repo, *ident, "commit", "-qm", "calc")
    buggy = git(repo, "rev-parse", "HEAD")
    (repo / "calc.py").write_text(FIXED)
    git(repo, *ident, "commit", "-qam", "fix")
    return {"repo": str(repo), "commit": buggy, "fixed_commit": git(repo, "rev-parse", "HEAD")}


class OldSandbox:
    """The runner before issue 21, reduced to its costs: plain git clone, prlimit, unshare."""

    def __init__(self, python: str) -> None:
        self.python = python
        isolate = ["unshare", "--net", "--"] if os.geteuid() == 0 else ["unshare", "-rn", "--"]
        self.wrapper = ["prlimit", "--cpu=30", f"--as={2 << 30}", "--", *isolate]

    def run(self, checkout: Path, test_path: str) -> int:
        """One pytest process on `checkout`, as the old sandbox started it."""
        cmd = [*self.wrapper, self.python, *PYTEST, test_path]
        env = ENV | {"HOME": str(checkout)}
        done = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, timeout=60)
        return done.returncode

    def measure(self, job: SandboxJob, tmp: Path) -> list[int]:
        """A whole answer: clone, checkout, two runs, the run on the fixed commit."""
        repo = tmp / "repo"
        git(tmp, "clone", "--quiet", "--no-checkout", "--", job.repo, str(repo))
        git(repo, "checkout", "--quiet", "--detach", job.commit)
        (repo / job.test_path).write_text(job.test)
        codes = [self.run(repo, job.test_path) for _ in range(2)]
        (repo / job.test_path).unlink()
        git(repo, "checkout", "--quiet", "--detach", job.fixed_commit or "")
        (repo / job.test_path).write_text(job.test)
        return [*codes, self.run(repo, job.test_path)]


def new_run(sandbox: BwrapSandbox, checkout: Path, test_path: str) -> int | None:
    """One pytest process confined by bubblewrap, as the new sandbox starts it."""
    argv = [sandbox.confine.python, *PYTEST, test_path]
    done = sandbox.confine.run(checkout, argv, ENV | {"HOME": "/checkout"})
    return done.code


def checkout(job: SandboxJob, dest: Path) -> Path:
    """A plain checkout of the target commit with the reproducer in it."""
    git(dest.parent, "clone", "--quiet", "--", job.repo, str(dest))
    git(dest, "checkout", "--quiet", "--detach", job.commit)
    (dest / job.test_path).write_text(job.test)
    return dest


def timed(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="rounds of each (default 10)")
    parser.add_argument("--python", default=sys.executable, help="the sandbox Python")
    args = parser.parse_args()
    repeat = max(1, min(args.repeat, 200))  # bounded: ~1.5 s a round
    with tempfile.TemporaryDirectory(prefix="earnest-bench-sandbox-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "repos").mkdir()
        job = SandboxJob(test_path="tests/test_neg.py", test=REPRODUCER, **make_repo(tmp / "repos"))
        new = BwrapSandbox(python=args.python, repos=RepoPolicy(local_dir=str(tmp / "repos")))
        missing = new.available()
        if missing is not None:
            print(f"the sandbox cannot run here: {missing}", file=sys.stderr)
            return 1
        old = OldSandbox(args.python)
        old_tree = checkout(job, tmp / "old-tree")
        new_tree = checkout(job, tmp / "new-tree")
        figures = {"old_run": [], "new_run": [], "old_answer": [], "new_answer": []}
        codes: dict[str, set[Any]] = {"old": set(), "new": set()}
        for i in range(repeat):
            figures["old_run"].append(
                timed(lambda: codes["old"].add(old.run(old_tree, job.test_path)))
            )
            figures["new_run"].append(
                timed(lambda: codes["new"].add(new_run(new, new_tree, job.test_path)))
            )
            with tempfile.TemporaryDirectory(dir=tmp) as round_tmp:
                figures["old_answer"].append(timed(lambda: old.measure(job, Path(round_tmp))))
            started = time.perf_counter()
            facts = new.measure(job)
            figures["new_answer"].append(time.perf_counter() - started)
            outcomes = [r["outcome"] for r in facts.get("runs", [])]
            outcomes.append(facts.get("on_fix", {}).get("outcome"))
            if outcomes != ["failed", "failed", "passed"]:
                print(f"round {i}: the new sandbox measured {facts}", file=sys.stderr)
                return 1
            print(f"round {i + 1}/{repeat}", file=sys.stderr)
    result: dict[str, Any] = {"repeat": repeat, "python": args.python, "root": os.geteuid() == 0}
    for name, values in figures.items():
        result[f"{name}_s"] = round(statistics.median(values), 3)
    result["run_ratio"] = round(result["new_run_s"] / result["old_run_s"], 2)
    result["answer_ratio"] = round(result["new_answer_s"] / result["old_answer_s"], 2)
    result["target_met"] = result["run_ratio"] <= 1.5 and result["answer_ratio"] <= 1.5
    result["exit_codes"] = {k: sorted(map(str, v)) for k, v in codes.items()}
    print(f"{'':10} {'old (prlimit+unshare)':>22} {'new (bwrap)':>12} {'ratio':>6}")
    for what in ("run", "answer"):
        old_s, new_s = result[f"old_{what}_s"], result[f"new_{what}_s"]
        print(f"{what:10} {old_s:>20.3f} s {new_s:>10.3f} s {result[f'{what}_ratio']:>6.2f}")
    print(f"target (new <= 1.5x old): {'met' if result['target_met'] else 'NOT met'}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
