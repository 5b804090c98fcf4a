"""Attacks from a bug-bounty reproducer, run in the real sandbox by a real served market.

A requester opens a bounty on a git repository in the directory the operator allows; a
hunter sends a reproducer that attacks the host: it reads a planted fake keypair in the
market's data dir and puts it in its test ids and output, writes outside its checkout,
leaves detached sleepers, reports its uid, looks for PostgreSQL's socket and the server's
/proc. The market measures the answer with its own sandbox (bubblewrap). Each test fails
on the old sandbox (prlimit + unshare --net, as the server's user).

The sandbox is mandatory in CI (CI=true): there, a machine without it fails these tests;
elsewhere they skip with the reason.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from earnest.adapters.chain.wallet import Wallet
from earnest.adapters.sandbox import BwrapSandbox, Limits, RepoPolicy
from earnest.bootstrap import Market
from earnest.client import Earnest
from earnest.domain.money import unit_cost
from earnest.services.ports import SandboxJob
from earnest.services.sandbox_checks import measure_pending
from tests.e2e.helpers import deposit

BUGGY = "def add(a, b):\n    return a + b if b >= 0 else a - b\n"
REWARD = 1_000_000
BOUNTY = {
    "type": "bugs",
    "title": "Reproduce: add() with a negative b",
    "instructions": "Write a new test file that fails on the commit.",
    "input_schema": {"type": "object", "required": ["repo", "commit"]},
    "output_schema": {"type": "object", "required": ["test_path", "test"]},
    "verifier": "bug_reproducer",
    "reward": REWARD,
    "overlap": 4,
    "gold_share": 0.0,
    "lease_seconds": 600,
}


def require(sandbox: BwrapSandbox) -> None:
    """Off CI a machine without the sandbox skips, visibly; in CI (CI=true) it fails."""
    missing = sandbox.available()
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the sandbox cannot run here: {missing}")
        pytest.skip(f"the sandbox cannot run here: {missing} (run `make sandbox`)")


def _git(repo: Path, *args: str) -> str:
    ident = ["-c", "user.name=Requester", "-c", "user.email=r@example.org"]
    done = subprocess.run(
        ["git", *ident, *args], cwd=repo, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def make_repo(path: Path) -> str:
    """A one-commit repository with a bug in calc.add; its commit id."""
    path.mkdir(parents=True)
    _git(path, "init", "--quiet")
    (path / "calc.py").write_text(BUGGY)
    (path / "conftest.py").write_text("")
    _git(path, "add", ".")
    _git(path, "commit", "--quiet", "-m", "calc")
    return _git(path, "rev-parse", "HEAD")


class Bounty:
    """A funded bounty on the served market; `attack` sends a reproducer and measures it."""

    def __init__(
        self,
        market: Market,
        sign_in: Callable[..., Earnest],
        repos: Path,
        address: str | None = None,
    ) -> None:
        self.market, self.sign_in = market, sign_in
        self.repo = repos / "calc-repo"
        self.commit = make_repo(self.repo)
        wallet = Wallet.generate()
        self.requester = sign_in(wallet)
        budget = BOUNTY["overlap"] * unit_cost(REWARD, self.requester.market()["fee_bps"])
        deposit(market, self.requester, wallet, budget)
        self.cid = self.requester.create_campaign(**BOUNTY)["id"]
        data = {"repo": address or str(self.repo), "commit": self.commit}
        row = {"id": "bug-1", "data": data}
        self.requester.upload_tasks(self.cid, [row])
        self.requester.fund(self.cid, budget)

    def attack(self, test: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The hunter's view of the decided answer, and the facts (the requester's log)."""
        hunter = self.sign_in()
        lease = hunter.claim(self.cid)
        aid = lease["assignment"]["id"]
        hunter.submit(aid, {"test_path": "tests/test_attack.py", "test": test})
        m = self.market
        measure_pending(
            store=m.store, sandbox=m.sandbox.sandbox, crypto=m.crypto, clock=m.clock, rand=m.rand
        )
        with m.store.uow(readonly=True) as uow:
            assignment = uow.assignments.get(aid)
            assert assignment is not None
            facts = uow.facts.of_task(assignment.task_id)[aid]
        return hunter.assignment(aid), facts


@pytest.fixture
def bounty(
    sqlite_market: Market, base_url: str, sign_in: Callable[..., Earnest], tmp_path: Path
) -> Iterator[Bounty]:
    """A bounty on a served market whose sandbox may fetch from tmp_path/repos only."""
    repos = tmp_path / "repos"
    repos.mkdir()
    sqlite_market.sandbox.sandbox.repos = RepoPolicy(local_dir=str(repos))
    require(sqlite_market.sandbox.sandbox)
    yield Bounty(sqlite_market, sign_in, repos)


def _report(facts: dict[str, Any]) -> dict[str, Any]:
    """The JSON line a reproducer printed (from the first run's log)."""
    for line in facts["runs"][0]["output"].splitlines():
        if line.startswith("REPORT "):
            found: dict[str, Any] = json.loads(line[len("REPORT ") :])
            return found
    raise AssertionError(f"no report in {facts['runs'][0]['output'][-500:]}")


def test_a_planted_secret_never_reaches_the_worker(bounty: Bounty, sqlite_market: Market) -> None:
    secret = secrets.token_hex(16)
    planted = sqlite_market.settings.data_dir / "planted-keypair.json"
    planted.write_text(json.dumps({"secret_key": secret}))
    leak = f"""
import json, pytest
try:
    DATA = open({str(planted)!r}).read()
except Exception as exc:
    DATA = "unreadable " + type(exc).__name__
NAME = "test_" + "".join(c for c in DATA if c.isalnum())
globals()[NAME] = lambda: print(DATA) or (_ for _ in ()).throw(AssertionError(DATA))

@pytest.mark.parametrize("value", [DATA])
def test_leak(value):
    print(value)
    assert False, value
"""
    seen, facts = bounty.attack(leak)
    assert seen["status"] == "accepted"  # it fails every time: valid, as far as it goes
    assert secret not in json.dumps(seen)
    assert seen["evidence"]["failing"] == ["tests/test_attack.py::test_leak"]
    assert "output" not in json.dumps(seen["evidence"])
    # Not even the requester's log holds it: the sandbox has no view of the data dir.
    assert secret not in json.dumps(facts)
    assert "unreadable FileNotFoundError" in facts["runs"][0]["output"]
    # The log is the requester's: in their results, and in no hunter's view.
    (row,) = [json.loads(line) for line in bounty.requester.results(bounty.cid)]
    (log,) = row["sandbox"].values()
    assert "unreadable FileNotFoundError" in log["runs"][0]["output"]
    assert "unreadable FileNotFoundError" not in json.dumps(seen)


def test_a_reproducer_cannot_write_outside_its_checkout(
    bounty: Bounty, sqlite_market: Market
) -> None:
    targets = [
        sqlite_market.settings.data_dir / "written-by-sandbox",
        Path(sys.prefix) / "written-by-sandbox",
        Path("/usr/written-by-sandbox"),
        Path("/written-by-sandbox"),
    ]
    attack = f"""
import json
def test_write():
    done = {{}}
    for target in {[str(t) for t in targets]!r} + ["/checkout/mine", "/tmp/mine"]:
        try:
            open(target, "w").write("x")
            done[target] = "written"
        except OSError as exc:
            done[target] = type(exc).__name__
    print("REPORT " + json.dumps(done))
    assert False
"""
    _, facts = bounty.attack(attack)
    report = _report(facts)
    assert [report[str(t)] for t in targets] != ["written"] * 4
    assert not any(t.exists() for t in targets)
    assert report["/checkout/mine"] == report["/tmp/mine"] == "written"


def _processes_with(marker: str) -> list[str]:
    """The host's processes whose command line holds `marker`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(pid)
    return found


def _sleepers(seconds: str) -> str:
    return f"""
import os, subprocess
def test_detach():
    subprocess.Popen(["setsid", "sleep", "{seconds}"], start_new_session=True)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execvp("sleep", ["sleep", "{seconds}"])
        os._exit(0)
    assert False
"""


def test_detached_sleepers_do_not_outlive_the_run(bounty: Bounty) -> None:
    seconds = f"1000.{secrets.randbelow(10**6):06d}"  # the marker: a unique sleep time
    try:
        bounty.attack(_sleepers(seconds))
        assert _processes_with(seconds) == []
    finally:
        for pid in _processes_with(seconds):  # the old sandbox leaves them: clean up
            os.kill(int(pid), 9)


def test_a_timeout_kills_the_whole_tree(tmp_path: Path) -> None:
    (tmp_path / "repos").mkdir()
    commit = make_repo(tmp_path / "repos" / "calc")
    policy = RepoPolicy(local_dir=str(tmp_path / "repos"))
    sandbox = BwrapSandbox(python=sys.executable, repos=policy, limits=Limits(wall_seconds=3))
    require(sandbox)
    seconds = f"1000.{secrets.randbelow(10**6):06d}"
    hang = _sleepers(seconds).replace("    assert False\n", "    import time; time.sleep(100)\n")
    try:
        facts = sandbox.measure(
            SandboxJob(str(tmp_path / "repos" / "calc"), commit, "tests/test_hang.py", hang)
        )
        assert [r["outcome"] for r in facts["runs"]] == ["timeout", "timeout"]
        assert _processes_with(seconds) == []
    finally:
        for pid in _processes_with(seconds):
            os.kill(int(pid), 9)


def test_the_reproducer_is_nobody_and_sees_no_socket_or_server_process(
    bounty: Bounty,
) -> None:
    attack = f"""
import json, os
def test_where():
    def read(path):
        try:
            return open(path, "rb").read()[:100].decode(errors="replace")
        except OSError as exc:
            return type(exc).__name__
    print("REPORT " + json.dumps({{
        "uid": os.getuid(), "euid": os.geteuid(),
        "user_namespace": os.readlink("/proc/self/ns/user"),
        "sockets": [p for p in ("/var/run/postgresql", "/run/postgresql", "/run", "/var/run")
                    if os.path.exists(p)],
        "server_environ": read("/proc/{os.getpid()}/environ"),
        "processes": [p for p in os.listdir("/proc") if p.isdigit()],
        "root": sorted(os.listdir("/")),
    }}))
    assert False
"""
    _, facts = bounty.attack(attack)
    report = _report(facts)
    assert report["uid"] not in (0, os.getuid()) and report["euid"] not in (0, os.geteuid())
    assert report["user_namespace"] != os.readlink("/proc/self/ns/user")  # a user namespace
    assert report["sockets"] == []
    assert report["server_environ"] == "FileNotFoundError"
    assert len(report["processes"]) < 10  # its own PID namespace only
    assert set(report["root"]) <= {
        "usr",
        "bin",
        "sbin",
        "lib",
        "lib32",
        "lib64",
        "libx32",
        "etc",
        "tmp",
        "proc",
        "dev",
        "checkout",
        *(p.split("/")[1] for p in (sys.prefix, sys.base_prefix)),
    }


def test_output_is_capped(bounty: Bounty) -> None:
    flood = "def test_flood():\n    for _ in range(50_000):\n        print('x' * 1000)\n    assert False\n"
    seen, facts = bounty.attack(flood)
    assert seen["status"] == "accepted"
    assert all(len(r["output"]) <= 4000 and r["truncated"] for r in facts["runs"])


def test_no_bounty_where_the_sandbox_cannot_be_built(
    bounty: Bounty, sqlite_market: Market, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    hunter = bounty.sign_in()
    lease = hunter.claim(bounty.cid)
    hunter.submit(lease["assignment"]["id"], {"test_path": "tests/test_x.py", "test": "x = 1\n"})
    monkeypatch.setenv("PATH", "/nonexistent")  # no bwrap, no prlimit to be found
    sandbox = sqlite_market.sandbox.sandbox
    assert sandbox.available() == "bwrap is not installed (Debian's bubblewrap and util-linux)"
    m = sqlite_market
    waited = measure_pending(
        store=m.store, sandbox=sandbox, crypto=m.crypto, clock=m.clock, rand=m.rand
    )
    assert waited == 0 and hunter.assignment(lease["assignment"]["id"])["status"] == "submitted"
    refused = http.post(
        "/v1/campaigns", json=BOUNTY, headers={"Authorization": f"Bearer {bounty.requester.token}"}
    )
    assert refused.status_code == 422, refused.text
    assert "bug bounties are unavailable here: bwrap is not installed" in refused.json()["detail"]


def test_a_fix_patch_cannot_make_the_server_write_through_a_symlink(tmp_path: Path) -> None:
    """A patch turning tests/ into a link out of the tree: the server writes nothing there."""
    repos, outside = tmp_path / "repos", tmp_path / "outside"
    outside.mkdir()
    commit = make_repo(repos / "calc")
    (repos / "calc" / "tests").mkdir()
    (repos / "calc" / "tests" / "test_calc.py").write_text("def test_ok():\n    pass\n")
    _git(repos / "calc", "add", ".")
    _git(repos / "calc", "commit", "--quiet", "-m", "tests")
    commit = _git(repos / "calc", "rev-parse", "HEAD")
    scratch = tmp_path / "scratch"
    _git(tmp_path, "clone", "--quiet", str(repos / "calc"), str(scratch))
    _git(scratch, "rm", "-r", "--quiet", "tests")
    (scratch / "tests").symlink_to(outside)
    _git(scratch, "add", "tests")
    patch = _git(scratch, "diff", "--cached") + "\n"
    assert "new file mode 120000" in patch
    sandbox = BwrapSandbox(python=sys.executable, repos=RepoPolicy(local_dir=str(repos)))
    require(sandbox)
    job = SandboxJob(
        str(repos / "calc"), commit, "tests/test_neg.py", "def test_x(): pass\n", patch
    )
    facts = sandbox.measure(job)
    assert facts["refused"] == (
        "test_path must be a relative path to a .py file inside the repository"
    )
    assert list(outside.iterdir()) == []
