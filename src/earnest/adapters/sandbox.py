"""The sandbox that runs bug bounty answers: a fresh checkout, limits, no network.

Each run is a new `python -m pytest` process in a temporary checkout of the bounty's
commit, started through util-linux: `prlimit` caps CPU seconds and address space (set on
the child by the kernel, not by a preexec_fn, which is unsafe in a threaded server) and
`unshare --net` gives it a network namespace with no interfaces up, so a test can reach
nothing, not even loopback. A wall-clock timeout kills what the CPU limit does not catch.
The reproducer runs twice: a valid one fails the same way both times.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from earnest.services.ports_quality import SandboxJob

MAX_TEST_BYTES = 100_000
MAX_PATCH_BYTES = 200_000
_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
_TEST_PATH = re.compile(r"^(?!/)(?!.*\.\.)[\w./-]{1,200}\.py$")
_BROKEN = re.compile(r"^E\s+(SyntaxError|IndentationError|ImportError|ModuleNotFoundError)\b", re.M)
_FAILED = re.compile(r"^FAILED (\S+)", re.M)


class ProcessSandbox:
    """The Sandbox port over subprocesses (see the module docstring)."""

    def __init__(
        self,
        *,
        python: str = sys.executable,
        cpu_seconds: int = 30,
        memory_bytes: int = 2 << 30,
        wall_seconds: float = 60.0,
    ) -> None:
        self.python = python
        self.wall_seconds = wall_seconds
        limits = ["prlimit", f"--cpu={cpu_seconds}", f"--as={memory_bytes}", "--"]
        # As root a plain network namespace; otherwise a user namespace makes it possible.
        isolate = ["unshare", "--net", "--"] if os.geteuid() == 0 else ["unshare", "-rn", "--"]
        self.wrapper = [*limits, *isolate]

    def available(self) -> str | None:
        """None when the sandbox can run here, else why not."""
        for tool in ("git", "prlimit", "unshare"):
            if shutil.which(tool) is None:
                return f"{tool} is not installed"
        probe = subprocess.run([*self.wrapper, "true"], capture_output=True, check=False)
        if probe.returncode != 0:
            return f"cannot isolate a process here: {probe.stderr.decode(errors='replace')[:200]}"
        return None

    def measure(self, job: SandboxJob) -> dict[str, Any]:
        """Check out the commit, run the test twice (and a fix's patch, test and suite)."""
        refused = _refusal(job) or self.available()
        if refused:
            return {"commit": job.commit, "refused": refused}
        with tempfile.TemporaryDirectory(prefix="earnest-sandbox-") as tmp:
            repo = Path(tmp) / "repo"
            checkout = _git(["clone", "--quiet", "--no-checkout", "--", job.repo, str(repo)], tmp)
            checkout = checkout or _git(["checkout", "--quiet", "--detach", job.commit], repo)
            if checkout:
                return {
                    "commit": job.commit,
                    "refused": f"the bounty's commit could not be checked out: {checkout}",
                }
            target = repo / job.test_path
            if target.exists() or not target.name.startswith("test_"):
                why = (
                    "test_path must name a new file called test_*.py, not replace the repository's"
                )
                return {"commit": job.commit, "refused": why}
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(job.test)
            facts: dict[str, Any] = {"commit": job.commit}
            facts["runs"] = [self._pytest(repo, [job.test_path]) for _ in range(2)]
            if job.patch is not None:
                facts |= self._fix(repo, job)
            elif job.fixed_commit is not None:
                facts["on_fix"] = self._on_fix(repo, job)
            return facts

    def _on_fix(self, repo: Path, job: SandboxJob) -> dict[str, Any]:
        """The reproducer on the commit that fixes the bug: it must pass there."""
        (repo / job.test_path).unlink()
        moved = _git(["checkout", "--quiet", "--detach", job.fixed_commit or ""], repo)
        if moved:
            return _run(
                "error",
                f"the fixed commit could not be checked out: {moved}",
                -1,
                time.monotonic(),
                "",
            )
        (repo / job.test_path).parent.mkdir(parents=True, exist_ok=True)
        (repo / job.test_path).write_text(job.test)
        return self._pytest(repo, [job.test_path])

    def _fix(self, repo: Path, job: SandboxJob) -> dict[str, Any]:
        applied = subprocess.run(
            ["git", "apply", "--whitespace=nowarn", "-"],
            cwd=repo,
            input=job.patch,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        if applied.returncode != 0:
            return {"patch_error": applied.stderr.strip()[:500] or "git apply failed"}
        return {"fixed": self._pytest(repo, [job.test_path]), "suite": self._pytest(repo, [])}

    def _pytest(self, repo: Path, args: list[str]) -> dict[str, Any]:
        """One pytest run in a fresh process: outcome passed|failed|error|timeout, and why."""
        cmd = [
            *self.wrapper,
            self.python,
            "-m",
            "pytest",
            "-q",
            "-rf",
            "-p",
            "no:cacheprovider",
            *args,
        ]
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(repo), "PYTHONHASHSEED": "0"}
        # No plug-ins from the sandbox Python's site-packages: a run depends on the bounty's
        # repository alone, and starts in a fifth of the time.
        env |= {
            "PYTHONDONTWRITEBYTECODE": "1",
            "LANG": "C.UTF-8",
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        }
        started = time.monotonic()
        try:
            done = subprocess.run(
                cmd,
                cwd=repo,
                env=env,
                capture_output=True,
                text=True,
                timeout=self.wall_seconds,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return _run("timeout", f"killed after {self.wall_seconds:.0f} s", -1, started, "")
        return _classify(done.returncode, done.stdout + done.stderr, started)


def _classify(code: int, output: str, started: float) -> dict[str, Any]:
    """pytest's exit codes: 0 passed, 1 tests failed, 2 interrupted (collection), 5 none."""
    if code == 0:
        return _run("passed", "all tests passed", code, started, output)
    if code == 1:
        broken = _BROKEN.search(output)
        if broken:
            return _run("error", f"the failure is a {broken.group(1)}", code, started, output)
        return _run("failed", "tests failed", code, started, output)
    if code < 0 or code in (137, 152):
        return _run(
            "timeout", "stopped by the sandbox's CPU or memory limit", code, started, output
        )
    why = {
        2: "the test could not be collected (syntax or import error)",
        5: "no tests were collected",
    }
    return _run("error", why.get(code, f"pytest exited with code {code}"), code, started, output)


def _run(outcome: str, detail: str, code: int, started: float, output: str) -> dict[str, Any]:
    return {
        "outcome": outcome,
        "detail": detail,
        "exit_code": code,
        "failing": sorted(set(_FAILED.findall(output))) if outcome == "failed" else [],
        "seconds": round(time.monotonic() - started, 3),
        "output": output[-2000:],
    }


def _refusal(job: SandboxJob) -> str | None:
    for commit in (job.commit, job.fixed_commit or job.commit):
        if not _COMMIT.match(commit):
            return "the bounty's commits must be hexadecimal git commit ids"
    if job.repo.startswith("-"):
        return "the bounty's repository address is not valid"
    if not _TEST_PATH.match(job.test_path):
        return "test_path must be a relative path to a .py file inside the repository"
    if len(job.test.encode()) > MAX_TEST_BYTES:
        return f"the test file is larger than {MAX_TEST_BYTES} bytes"
    if job.patch is not None and len(job.patch.encode()) > MAX_PATCH_BYTES:
        return f"the patch is larger than {MAX_PATCH_BYTES} bytes"
    return None


def _git(args: list[str], cwd: Path | str) -> str | None:
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )
    return None if done.returncode == 0 else (done.stderr.strip()[:300] or "git failed")
