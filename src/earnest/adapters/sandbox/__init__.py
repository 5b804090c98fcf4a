"""The sandbox that runs bug bounty answers: a fetched repository, bubblewrap, limits.

A run has three steps, each restricted on its own. The repository is fetched by `fetch`
(allowed schemes, hosts and directory only, public addresses only). Every tree the answer
needs (the target commit with the test; the fixed commit with the test; the target with
the patch applied) is written out by the server from the bare clone before any untrusted
code runs, so nothing the test leaves behind (a symlink, a hook) is ever followed by the
server. Each run is then a fresh `python -m pytest` confined by `bwrap.Confinement`: its
own namespaces, an unprivileged uid, a read-only minimal root, limits, capped output.

What a run returns is split by reader: `failing` holds only test ids that name functions
or classes written in the answer's own file (a test cannot put the host's data there), and
`output` (capped) is the requester's log, which no worker-facing route carries.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from earnest.adapters.sandbox.bwrap import CHECKOUT, Confinement, Finished, Limits
from earnest.adapters.sandbox.fetch import RepoPolicy, RepoRefused, git_env
from earnest.quality.bugs import defined_names
from earnest.services.ports import SandboxJob

__all__ = ["BwrapSandbox", "Limits", "RepoPolicy", "RepoRefused"]

MAX_TEST_BYTES = 100_000
MAX_PATCH_BYTES = 200_000
MAX_TREE_BYTES = 512 << 20  # a checkout larger than this is refused (a compressed bomb)
MAX_FAILING = 20  # failing ids a worker sees, each at most MAX_ID characters
MAX_ID = 200
_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
_TEST_PATH = re.compile(r"^(?!/)(?!.*\.\.)[\w./-]{1,200}\.py$")
_BROKEN = re.compile(r"^E\s+(SyntaxError|IndentationError|ImportError|ModuleNotFoundError)\b", re.M)
_FAILED = re.compile(r"^FAILED (\S+)", re.M)
_PROBE_TTL = 60.0  # seconds a positive probe is trusted


class BwrapSandbox:
    """The Sandbox port over bubblewrap (see the module docstring)."""

    def __init__(
        self,
        *,
        python: str,
        repos: RepoPolicy | None = None,
        uid: int = 65534,
        limits: Limits | None = None,
    ) -> None:
        self.confine = Confinement(python=python, uid=uid, limits=limits)
        self.repos = repos or RepoPolicy()
        self._probed = -_PROBE_TTL

    def available(self) -> str | None:
        """None when the sandbox can be built here, else why not (it never runs unconfined)."""
        missing = self.confine.missing()
        if missing:
            return missing
        if time.monotonic() - self._probed < _PROBE_TTL:
            return None
        with tempfile.TemporaryDirectory(prefix="earnest-probe-") as tmp:
            try:
                done = self.confine.run(Path(tmp), [self.confine.python, "-c", "pass"], _env())
            except (OSError, subprocess.SubprocessError) as exc:
                return f"the sandbox cannot be built here: {exc}"[:300]
        if done.code != 0:
            first = done.output.strip().splitlines()[:1]
            return f"the sandbox cannot be built here: {' '.join(first)}"[:300]
        self._probed = time.monotonic()
        return None

    def repo_problem(self, repo: str) -> str | None:
        """Why a bounty's repository address is refused on its face, or None (no look-up)."""
        return self.repos.problem(repo)

    def measure(self, job: SandboxJob) -> dict[str, Any]:
        """Fetch, write the trees, run the test twice (and a fix's patch, test and suite)."""
        refused = _refusal(job) or self.available()
        if refused:
            return {"commit": job.commit, "refused": refused}
        with tempfile.TemporaryDirectory(prefix="earnest-sandbox-") as tmp:
            try:
                trees = self._prepare(job, Path(tmp))
            except RepoRefused as exc:
                return {"commit": job.commit, "refused": str(exc)}
            except (tarfile.TarError, subprocess.SubprocessError, OSError):
                # A hostile archive or a hung git: a summary, never the exception's text.
                why = "the bounty's commit could not be checked out"
                return {"commit": job.commit, "refused": why}
            names = defined_names(job.test)
            facts: dict[str, Any] = {"commit": job.commit}
            facts["runs"] = [self._pytest(trees["target"], job, names) for _ in range(2)]
            if "patched" in trees:
                facts |= {
                    "fixed": self._pytest(trees["patched"], job, names),
                    "suite": self._pytest(trees["patched"], None, names),
                }
            elif "patch_error" in trees:
                facts["patch_error"] = "the patch does not apply"
            if "fixed" in trees:
                facts["on_fix"] = self._pytest(trees["fixed"], job, names)
            elif job.fixed_commit is not None and job.patch is None:
                facts["on_fix"] = _run("error", "the fixed commit is not in the repository")
            return facts

    def _prepare(self, job: SandboxJob, tmp: Path) -> dict[str, Any]:
        """Fetch the repository and write every tree out, before any untrusted code runs."""
        bare = tmp / "repo.git"
        self.repos.fetch(job.repo, bare)
        trees: dict[str, Any] = {"target": _tree(bare, job.commit, tmp / "target")}
        if job.patch is not None:
            patched = _tree(bare, job.commit, tmp / "patched")
            if _apply(patched, job.patch, tmp):
                trees["patched"] = patched
            else:
                trees["patch_error"] = True
        elif job.fixed_commit is not None:
            with contextlib.suppress(RepoRefused):
                trees["fixed"] = _tree(bare, job.fixed_commit, tmp / "fixed")
        for name in ("target", "patched", "fixed"):
            if name in trees:
                _place_test(trees[name], job)
        return trees

    def _pytest(self, tree: Path, job: SandboxJob | None, names: set[str]) -> dict[str, Any]:
        """One pytest run in a fresh confined process (the whole suite when job is None)."""
        args = [job.test_path] if job is not None else []
        argv = [self.confine.python, "-m", "pytest", "-q", "-rf", "-p", "no:cacheprovider"]
        started = time.monotonic()
        done = self.confine.run(tree, [*argv, *args], _env())
        prefix = job.test_path if job is not None else None
        return _classify(done, started, self.confine.limits, prefix, names)


def _env() -> dict[str, str]:
    """The whole environment of a run: nothing of the server's."""
    # No plug-ins from the sandbox Python's site-packages: a run depends on the bounty's
    # repository alone, and starts in a fifth of the time.
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": CHECKOUT,
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "LANG": "C.UTF-8",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }


def _tree(bare: Path, commit: str, dest: Path) -> Path:
    """Write `commit`'s files to `dest` from the bare clone (git archive, safely untarred)."""
    home = bare.parent / "git-home"
    home.mkdir(exist_ok=True)
    git = ["git", "--git-dir", str(bare), "-c", "core.hooksPath=/dev/null"]
    env = git_env(home)
    known = subprocess.run(
        [*git, "cat-file", "-e", f"{commit}^{{commit}}"], env=env, capture_output=True, timeout=60
    )
    if known.returncode != 0:
        raise RepoRefused("the bounty's commit is not in the repository")
    dest.mkdir()
    archive = subprocess.Popen(
        [*git, "archive", "--format=tar", commit],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        with tarfile.open(fileobj=archive.stdout, mode="r|") as tar:
            total = 0
            for member in tar:
                total += member.size
                if total > MAX_TREE_BYTES:
                    raise RepoRefused(f"the checkout is larger than {MAX_TREE_BYTES >> 20} MiB")
                tar.extract(member, dest, filter="data")
    finally:
        archive.kill()
        archive.wait(timeout=10)
        if archive.stdout is not None:
            archive.stdout.close()
    return dest


def _apply(tree: Path, patch: str, tmp: Path) -> bool:
    """Apply a fix's patch to its own tree, outside the sandbox, before anything runs."""
    done = subprocess.run(
        ["git", "apply", "--whitespace=nowarn", "-"],
        cwd=tree,
        env=git_env(tmp / "git-home"),
        input=patch,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    return done.returncode == 0


def _place_test(tree: Path, job: SandboxJob) -> None:
    """Write the test file as root, never through a link that leads out of the tree."""
    target = tree / job.test_path
    if target.exists() or target.is_symlink():
        raise RepoRefused(
            "test_path must name a new file called test_*.py, not replace the repository's"
        )
    # The repository (or a fix's patch) may make a directory on the way a symlink.
    parent, root = os.path.realpath(target.parent), os.path.realpath(tree)
    if os.path.commonpath([parent, root]) != root:
        raise RepoRefused("test_path must be a relative path to a .py file inside the repository")
    os.makedirs(parent, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    with os.fdopen(os.open(os.path.join(parent, target.name), flags, 0o644), "w") as out:
        out.write(job.test)


def own_ids(output: str, test_path: str | None, names: set[str]) -> list[str]:
    """Failing test ids the worker may see: in their file, naming only what they wrote."""
    kept: set[str] = set()
    for found in _FAILED.findall(output):
        path, _, rest = found.partition("::")
        parts = [re.sub(r"\[.*$", "", p) for p in rest.split("::")] if rest else []
        if path != test_path or not parts or not all(p in names for p in parts):
            continue
        kept.add("::".join([path, *parts])[:MAX_ID])
    return sorted(kept)[:MAX_FAILING]


def _classify(
    done: Finished, started: float, limits: Limits, test_path: str | None, names: set[str]
) -> dict[str, Any]:
    """pytest's exit codes: 0 passed, 1 tests failed, 2 interrupted (collection), 5 none."""
    code, output = done.code, done.output
    if code is None:
        run = _run("timeout", f"killed after {limits.wall_seconds:.0f} s", -1, started, output)
    elif code == 0:
        run = _run("passed", "all tests passed", code, started, output)
    elif code == 1:
        broken = _BROKEN.search(output)
        if broken:
            run = _run("error", f"the failure is a {broken.group(1)}", code, started, output)
        else:
            run = _run("failed", "tests failed", code, started, output)
            run["failing"] = own_ids(output, test_path, names)
    elif code < 0 or code in (137, 152, 153):
        why = "stopped by the sandbox's CPU, memory or file size limit"
        run = _run("timeout", why, code, started, output)
    else:
        why = {
            2: "the test could not be collected (syntax or import error)",
            5: "no tests were collected",
        }.get(code, f"pytest exited with code {code}")
        run = _run("error", why, code, started, output)
    run["truncated"] = done.truncated
    return run


def _run(
    outcome: str, detail: str, code: int = -1, started: float | None = None, output: str = ""
) -> dict[str, Any]:
    seconds = 0.0 if started is None else round(time.monotonic() - started, 3)
    return {
        "outcome": outcome,
        "detail": detail,
        "exit_code": code,
        "failing": [],
        "seconds": seconds,
        "output": output[-4000:],  # the requester's log; never shown to the worker
    }


def _refusal(job: SandboxJob) -> str | None:
    for commit in (job.commit, job.fixed_commit or job.commit):
        if not _COMMIT.match(commit):
            return "the bounty's commits must be hexadecimal git commit ids"
    if not _TEST_PATH.match(job.test_path):
        return "test_path must be a relative path to a .py file inside the repository"
    if not Path(job.test_path).name.startswith("test_"):
        return "test_path must name a new file called test_*.py, not replace the repository's"
    if len(job.test.encode()) > MAX_TEST_BYTES:
        return f"the test file is larger than {MAX_TEST_BYTES} bytes"
    if job.patch is not None and len(job.patch.encode()) > MAX_PATCH_BYTES:
        return f"the patch is larger than {MAX_PATCH_BYTES} bytes"
    return None
