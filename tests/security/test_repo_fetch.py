"""Attacks through a bounty's repository address: the server fetches only what is allowed.

A requester names the `repo` a bug bounty's sandbox clones. The old sandbox cloned any
address with plain git, as the server: loopback services, private hosts, any local path,
git's `ext::` transport (a shell command) and option-like addresses, and handed git's raw
stderr to the worker. Each refusal here must happen before any connection: a real server
on 127.0.0.1 counts the connections it gets (none), a resolver counts the look-ups it
answers, and no test sends a packet to a non-loopback address (refusal comes first).
"""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from earnest.adapters.sandbox import RepoPolicy, RepoRefused
from earnest.bootstrap import Market
from earnest.client import ApiError, Earnest
from tests.security.test_sandbox import Bounty, require

FAILED = "the repository could not be fetched"


class Listener:
    """A TCP server on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    served = Listener()
    yield served
    served.close()


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, capture_output=True, check=True, timeout=30)


@pytest.fixture
def allowed(tmp_path: Path) -> Path:
    """The operator's repository directory, with one real repository in it."""
    root = tmp_path / "repos"
    repo = root / "calc"
    repo.mkdir(parents=True)
    _git(repo, "init", "--quiet")
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=R", "-c", "user.email=r@example.org", "commit", "-qm", "c")
    return root


class Lookups:
    """A resolver that records what it was asked and answers one fixed address."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return [self.answer]


def _refused(policy: RepoPolicy, repo: str, dest: Path) -> str:
    """The summary a refused fetch gives; the fetch must leave nothing behind."""
    with pytest.raises(RepoRefused) as refused:
        policy.fetch(repo, dest)
    assert not dest.exists()
    return str(refused.value)


@pytest.mark.parametrize(
    "address",
    [
        "http://127.0.0.1:{port}/repo.git",
        "https://127.0.0.1:{port}/repo.git",
        "https://localhost:{port}/repo.git",
        "https://[::1]:{port}/repo.git",
        "https://[::ffff:127.0.0.1]:{port}/repo.git",
        "git://127.0.0.1:{port}/repo.git",
        "ssh://127.0.0.1:{port}/repo.git",
        "http://localhost:{port}/repo.git",
    ],
)
def test_loopback_addresses_are_refused_before_any_connection(
    address: str, listener: Listener, allowed: Path, tmp_path: Path
) -> None:
    policy = RepoPolicy(local_dir=str(allowed))
    why = _refused(policy, address.format(port=listener.port), tmp_path / "clone.git")
    assert why.startswith(f"{FAILED}: ")
    assert why.endswith(("address is not public", "scheme not allowed (https only)"))
    assert listener.accepted == 0


@pytest.mark.parametrize(
    ("address", "summary"),
    [
        ("https://10.0.0.1/acme/calc.git", "address is not public"),
        ("https://192.168.1.1/acme/calc.git", "address is not public"),
        ("https://169.254.169.254/latest/meta-data", "address is not public"),
        ("https://100.64.0.1/acme/calc.git", "address is not public"),
        ("https://[fe80::1]/acme/calc.git", "address is not public"),
        ("https://0.0.0.0/acme/calc.git", "address is not public"),
        ("ssh://git@github.com/acme/calc.git", "scheme not allowed (https only)"),
        ("git@github.com:acme/calc.git", "scheme not allowed (https only)"),
        ("git://github.com/acme/calc.git", "scheme not allowed (https only)"),
        ("ftp://github.com/acme/calc.git", "scheme not allowed (https only)"),
        ("https://user:secret@github.com/acme/calc.git", "the address is not valid"),
    ],
)
def test_private_addresses_and_other_schemes_are_refused_without_a_lookup(
    address: str, summary: str, tmp_path: Path
) -> None:
    lookups = Lookups("93.184.215.14")
    policy = RepoPolicy(resolve=lookups)
    assert _refused(policy, address, tmp_path / "clone.git") == f"{FAILED}: {summary}"
    assert lookups.asked == []  # refused on its face: nothing was even resolved


def test_a_name_resolving_to_a_private_address_is_refused(tmp_path: Path) -> None:
    lookups = Lookups("10.1.2.3")
    policy = RepoPolicy(resolve=lookups)
    why = _refused(policy, "https://git.internal.example/acme/calc.git", tmp_path / "c.git")
    assert why == f"{FAILED}: address is not public"
    assert lookups.asked == ["git.internal.example"]


def test_a_public_name_is_pinned_to_the_address_checked(tmp_path: Path) -> None:
    """git connects to the address the guard checked: a second DNS answer cannot move it."""
    policy = RepoPolicy(resolve=Lookups("93.184.215.14"))
    plan = policy.plan("https://git.example.org/acme/calc.git")
    assert plan.protocol == "https"
    assert "http.curloptResolve=git.example.org:443:93.184.215.14" in plan.pin


def test_hosts_outside_the_operator_list_are_refused(tmp_path: Path) -> None:
    lookups = Lookups("93.184.215.14")
    policy = RepoPolicy(hosts=frozenset({"github.com"}), resolve=lookups)
    why = _refused(policy, "https://gitlab.example.org/acme/calc.git", tmp_path / "c.git")
    assert why == f"{FAILED}: host not allowed"
    assert lookups.asked == []


@pytest.mark.parametrize(
    "address",
    [
        "ext::sh -c touch% {marker}",
        "ext::sh%20-c%20touch%20{marker}",
        "--upload-pack=touch {marker}",
        "-uhttps://github.com/acme/calc.git",
        "https://github.com/acme/calc.git --upload-pack=touch {marker}",
        "fd::3",
        "file::{allowed}/calc",
    ],
)
def test_git_transport_and_option_tricks_run_nothing(
    address: str, allowed: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    policy = RepoPolicy(local_dir=str(allowed), resolve=Lookups("93.184.215.14"))
    why = _refused(policy, address.format(marker=marker, allowed=allowed), tmp_path / "c.git")
    assert why in (f"{FAILED}: scheme not allowed", f"{FAILED}: the address is not valid")
    assert not marker.exists()


def test_local_paths_only_inside_the_operator_directory(allowed: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    _git(outside, "init", "--quiet")
    (allowed / "escape").symlink_to(outside)
    policy = RepoPolicy(local_dir=str(allowed))
    for address in (
        "file:///etc",
        "/etc",
        str(outside),
        f"file://{outside}",
        f"{allowed}/../elsewhere",
        str(allowed / "escape"),  # a symlink inside that leads out
        str(allowed),  # the directory itself is not a repository of it
        "calc",  # relative: resolved against whatever the server's cwd is
    ):
        why = _refused(policy, address, tmp_path / "c.git")
        assert why in (f"{FAILED}: path not allowed", f"{FAILED}: the address is not valid")
    assert _refused(RepoPolicy(), str(allowed / "calc"), tmp_path / "c.git") == (
        f"{FAILED}: local repositories are not allowed here"
    )


def test_an_allowed_local_repository_is_fetched(allowed: Path, tmp_path: Path) -> None:
    dest = tmp_path / "clone.git"
    RepoPolicy(local_dir=str(allowed)).fetch(str(allowed / "calc"), dest)
    done = subprocess.run(
        ["git", "--git-dir", str(dest), "log", "--format=%s"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert done.stdout.strip() == "c"


def test_git_errors_are_summarized_never_echoed(allowed: Path, tmp_path: Path) -> None:
    """git's stderr names paths and echoes what the address pointed at: none of it shows."""
    missing = allowed / "no-such-repo-7f3a"
    not_a_repo = allowed / "notes"
    not_a_repo.mkdir()
    (not_a_repo / "secret.txt").write_text("s3cr3t-42\n")
    policy = RepoPolicy(local_dir=str(allowed))
    for address in (str(missing), str(not_a_repo)):
        why = _refused(policy, address, tmp_path / "c.git")
        assert why == f"{FAILED}: not found or not readable"
        assert "fatal" not in why and str(allowed) not in why and "s3cr3t" not in why


def test_an_unusual_spelling_of_loopback_is_resolved_and_refused(
    listener: Listener, allowed: Path, tmp_path: Path
) -> None:
    policy = RepoPolicy(local_dir=str(allowed))
    address = f"https://0x7f000001:{listener.port}/repo.git"  # 127.0.0.1 to the resolver
    assert _refused(policy, address, tmp_path / "c.git") == f"{FAILED}: address is not public"
    assert listener.accepted == 0


def test_a_local_repository_cannot_smuggle_in_its_own_config(allowed: Path, tmp_path: Path) -> None:
    """The requester's repository config (hooks, fsmonitor) runs nothing on the server."""
    marker = tmp_path / "pwned"
    hook = allowed / "calc" / ".git" / "hooks" / "post-checkout"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    _git(allowed / "calc", "config", "core.fsmonitor", f"touch {marker}")
    RepoPolicy(local_dir=str(allowed)).fetch(str(allowed / "calc"), tmp_path / "c.git")
    assert not marker.exists()


def test_the_worker_sees_a_summary_not_git_stderr(
    sqlite_market: Market,
    base_url: str,
    sign_in: Callable[..., Earnest],
    tmp_path: Path,
    listener: Listener,
) -> None:
    """End to end: a bounty on a refused or missing address; the hunter's verdict."""
    repos = tmp_path / "bounties"
    repos.mkdir()
    sqlite_market.sandbox.sandbox.repos = RepoPolicy(local_dir=str(repos))
    require(sqlite_market.sandbox.sandbox)
    cases = {
        # A name passes the upload's look-up-free check; resolved at fetch, it is refused.
        f"https://localhost:{listener.port}/secret-service": "address is not public",
        str(repos / "missing-repo"): "not found or not readable",
    }
    for n, (address, why) in enumerate(cases.items()):
        bounty = Bounty(sqlite_market, sign_in, repos / f"case-{n}", address)
        seen, facts = bounty.attack("def test_x():\n    assert False\n")
        assert seen["status"] == "rejected"
        assert seen["reason"] == f"the sandbox could not run your answer: {FAILED}: {why}"
        assert "fatal" not in str(seen) and "fatal" not in str(facts)
    assert listener.accepted == 0


def test_an_upload_with_a_refused_address_is_a_422_and_adds_nothing(
    sqlite_market: Market,
    base_url: str,
    sign_in: Callable[..., Earnest],
    tmp_path: Path,
    listener: Listener,
) -> None:
    """The address is checked on its face when the task is uploaded, too (no look-up)."""
    repos = tmp_path / "bounties"
    repos.mkdir()
    sqlite_market.sandbox.sandbox.repos = RepoPolicy(local_dir=str(repos))
    require(sqlite_market.sandbox.sandbox)
    bounty = Bounty(sqlite_market, sign_in, repos / "ok")
    rows = [
        {"id": "a", "data": {"repo": f"http://127.0.0.1:{listener.port}/x", "commit": "ab" * 20}},
        {"id": "b", "data": {"repo": "https://10.0.0.1/x.git", "commit": "ab" * 20}},
        {"id": "c", "data": {"repo": "/etc", "commit": "ab" * 20}},
    ]
    with pytest.raises(ApiError) as refused:
        bounty.requester.upload_tasks(bounty.cid, rows)
    assert refused.value.status == 422
    errors = [e["error"] for e in refused.value.problem["errors"]]
    assert errors == [
        "data.repo is refused: scheme not allowed (https only)",
        "data.repo is refused: address is not public",
        "data.repo is refused: path not allowed",
    ]
    assert bounty.requester.campaign(bounty.cid)["tasks"]["tasks"] == 1
    assert listener.accepted == 0
