"""Fetching a bounty's repository: a separate, restricted step before anything runs.

The address is a requester's choice, so the server fetches only what its operator allows:
https to public hosts (optionally only the hosts listed), or a local path inside the one
directory the operator names; nothing else (no http, ssh, git://, ext::, file:// elsewhere,
no option-like or scp-like addresses). A host is resolved here and every address checked
by the bandwidth node's guard (no loopback, private, link-local...); git is then pinned to
the checked address (http.curloptResolve), so DNS rebinding cannot move it. git runs with
its protocol allow-list, no redirects, no system or global config, an empty HOME, no
prompts, hooks or submodules, a wall-clock timeout and a size bound. A failure is told as
a short summary, never git's stderr (which may echo what the address pointed at).
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpcore

from earnest.node.guard import FetchRefused, Guard, Resolver, refusal, system_resolver

FAILED = "the repository could not be fetched"


class RepoRefused(Exception):
    """The repository address is refused or its fetch failed; str() is the summary."""


@dataclass(frozen=True)
class _Plan:
    url: str
    protocol: str  # the one git protocol allowed for this fetch
    pin: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class RepoPolicy:
    """What the operator allows: a local directory (or none), https hosts (empty: any)."""

    local_dir: str = ""
    hosts: frozenset[str] = frozenset()
    timeout: float = 120.0
    max_bytes: int = 256 << 20
    resolve: Resolver = field(default=system_resolver)

    def problem(self, repo: str) -> str | None:
        """Why `repo` is refused on its face (no look-up, no connection), or None."""
        try:
            self.plan(repo, resolve=False)
        except RepoRefused as exc:
            return str(exc).removeprefix(f"{FAILED}: ")
        return None

    def plan(self, repo: str, *, resolve: bool = True) -> _Plan:
        """How to fetch `repo`, after every check that needs no connection; or RepoRefused."""
        if not repo or repo.startswith("-") or any(c.isspace() or ord(c) < 32 for c in repo):
            raise RepoRefused(f"{FAILED}: the address is not valid")
        if "::" in repo.split("/")[0]:  # git's transport::address, ext:: included
            raise RepoRefused(f"{FAILED}: scheme not allowed")
        if "://" in repo:
            scheme = repo.split("://", 1)[0].lower()
            if scheme == "https":
                return self._https(repo, resolve)
            if scheme == "file":
                return self._local(repo[len("file://") :])
            raise RepoRefused(f"{FAILED}: scheme not allowed (https only)")
        if ":" in repo.split("/")[0]:  # scp-like host:path is ssh
            raise RepoRefused(f"{FAILED}: scheme not allowed (https only)")
        return self._local(repo)

    def _https(self, repo: str, resolve: bool) -> _Plan:
        try:
            parts = urlsplit(repo)
            host, port = (parts.hostname or "").lower(), parts.port or 443
        except ValueError as exc:
            raise RepoRefused(f"{FAILED}: the address is not valid") from exc
        if not host or parts.username is not None or parts.password is not None:
            raise RepoRefused(f"{FAILED}: the address is not valid")
        if self.hosts and host not in self.hosts:
            raise RepoRefused(f"{FAILED}: host not allowed")
        if _is_ip(host):
            if refusal(host):
                raise RepoRefused(f"{FAILED}: address is not public")
            return _Plan(repo, "https")
        if not resolve:
            return _Plan(repo, "https")
        try:
            found = Guard(resolve=self.resolve).addresses(host, port)
        except FetchRefused as exc:
            raise RepoRefused(f"{FAILED}: address is not public") from exc
        except (httpcore.ConnectError, OSError) as exc:
            raise RepoRefused(f"{FAILED}: host not found") from exc
        pinned = ",".join(f"[{a}]" if ":" in a else a for a in found)
        return _Plan(repo, "https", ("-c", f"http.curloptResolve={host}:{port}:{pinned}"))

    def _local(self, path: str) -> _Plan:
        if not self.local_dir:
            raise RepoRefused(f"{FAILED}: local repositories are not allowed here")
        if not os.path.isabs(path):
            raise RepoRefused(f"{FAILED}: the address is not valid")
        allowed, real = os.path.realpath(self.local_dir), os.path.realpath(path)
        if os.path.commonpath([allowed, real]) != allowed or real == allowed:
            raise RepoRefused(f"{FAILED}: path not allowed")
        return _Plan(real, "file")

    def fetch(self, repo: str, dest: Path) -> None:
        """Clone `repo` bare into `dest`; RepoRefused with a summary if not allowed or failed."""
        plan = self.plan(repo)
        home = dest.parent / "git-home"
        home.mkdir(exist_ok=True)
        cmd = ["git", *git_config(plan.protocol), *plan.pin]
        cmd += ["clone", "--bare", "--no-local", "--quiet", "--", plan.url, str(dest)]
        proc = subprocess.Popen(
            cmd,
            env=git_env(home, plan.protocol),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        why = self._watch(proc, dest)
        if why is None and proc.returncode != 0:
            why = "not found or not readable"
        if why is not None:
            shutil.rmtree(dest, ignore_errors=True)
            raise RepoRefused(f"{FAILED}: {why}")

    def _watch(self, proc: subprocess.Popen[bytes], dest: Path) -> str | None:
        """Wait for git, killing it past the timeout or the size bound."""
        deadline = time.monotonic() + self.timeout
        while proc.poll() is None:
            if time.monotonic() > deadline:
                why = "timed out"
            elif _size(dest) > self.max_bytes:
                why = f"larger than {self.max_bytes >> 20} MiB"
            else:
                time.sleep(0.05)
                continue
            os.killpg(proc.pid, 9)
            proc.wait(timeout=10)
            return why
        return None


def git_config(protocol: str) -> list[str]:
    """git options: one protocol, no redirects, hooks, submodules, credentials or prompts."""
    options = [
        "protocol.allow=never",
        f"protocol.{protocol}.allow=always",
        "http.followRedirects=false",
        "core.hooksPath=/dev/null",
        "submodule.recurse=false",
        "credential.helper=",
        "core.askPass=",
        "transfer.fsckObjects=true",
    ]
    return [arg for option in options for arg in ("-c", option)]


def git_env(home: Path, protocol: str = "file") -> dict[str, str]:
    """git's whole environment: no system or global config, an empty HOME, no prompts."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_PROTOCOL_FROM_USER": "0",
        "GIT_ALLOW_PROTOCOL": protocol,
        "GIT_ASKPASS": "/bin/false",
        "GIT_CEILING_DIRECTORIES": "/",
    }


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _size(tree: Path) -> int:
    total = 0
    for top, _dirs, files in os.walk(tree):
        for name in files:
            try:
                total += os.lstat(os.path.join(top, name)).st_size
            except OSError:
                continue
    return total
