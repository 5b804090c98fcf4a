"""One confined process: bubblewrap namespaces, an unprivileged uid, limits, capped output.

The command is `prlimit` (the kernel's limits, set before anything untrusted runs) then
`bwrap` with new PID, IPC, UTS, network, mount and (where possible) cgroup namespaces, a
read-only root holding only /usr, the interpreter's prefixes and a few /etc files, the
checkout as the one writable place besides a private /tmp, a /proc of its own PID
namespace and a minimal /dev. The tree lives in that PID namespace: when its first process
exits, or bwrap is killed, the kernel kills every process left in it.

The uid: as root, the outer bwrap makes the mounts (root alone may read a Python under /root)
and keeps only CAP_SETUID and CAP_SETGID; the child drops to `uid` (nobody by default) with
setpriv, so RLIMIT_NPROC counts against that uid and even an escape is nobody, then an inner
bwrap, unprivileged now, adds a user namespace (`uid` inside, `uid` outside) over the same
root before the untrusted command runs. As any other user, bwrap adds the user namespace
itself and the child shows as `uid` inside; outside it is the server's uid, the best an
unprivileged server can do.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import cast

CHECKOUT = "/checkout"  # where the checkout is seen inside: no host path leaks into ids
_ETC = ("/etc/ld.so.cache", "/etc/localtime", "/etc/nsswitch.conf")  # what libc may read


@dataclass(frozen=True, kw_only=True)
class Limits:
    """The kernel limits of one run, and how much of its output is kept."""

    cpu_seconds: int = 30
    memory_bytes: int = 2 << 30
    wall_seconds: float = 60.0
    processes: int = 64
    file_bytes: int = 64 << 20
    open_files: int = 256
    output_bytes: int = 64 << 10


@dataclass(frozen=True)
class Finished:
    """How a confined run ended: its exit code (None: killed at the wall time) and output."""

    code: int | None
    output: str
    truncated: bool


def python_paths(python: str) -> list[str]:
    """The directories the interpreter needs: its prefix, base prefix and real location."""
    probe = "import sys; print(sys.prefix); print(sys.base_prefix); print(sys.executable)"
    done = subprocess.run(
        [python, "-I", "-c", probe], capture_output=True, text=True, check=True, timeout=30
    )
    prefix, base, exe = done.stdout.split("\n")[:3]
    paths = {os.path.realpath(prefix), os.path.realpath(base), prefix, base}
    paths |= {os.path.dirname(os.path.realpath(exe)), os.path.dirname(exe)}
    return sorted(p for p in paths if p and not p.startswith("/usr/") and p != "/usr")


class Confinement:
    """Builds and runs the confined command for one checkout (see the module docstring)."""

    def __init__(self, *, python: str, uid: int = 65534, limits: Limits | None = None) -> None:
        self.python = python
        self.uid = uid
        self.limits = limits or Limits()
        self.root = os.geteuid() == 0
        self._mounts: list[str] | None = None

    def missing(self) -> str | None:
        """Which tool this confinement lacks, or None."""
        tools = ("bwrap", "prlimit", "setpriv") if self.root else ("bwrap", "prlimit")
        for tool in tools:
            if shutil.which(tool) is None:
                return f"{tool} is not installed (Debian's bubblewrap and util-linux)"
        return None

    def command(self, checkout: Path, argv: list[str]) -> list[str]:
        """The full command line that runs `argv` confined, with `checkout` writable."""
        lim = self.limits
        limits = [
            "prlimit",
            f"--cpu={lim.cpu_seconds}",
            f"--as={lim.memory_bytes}",
            f"--nproc={lim.processes}",
            f"--fsize={lim.file_bytes}",
            f"--nofile={lim.open_files}",
            "--core=0",
            "--",
        ]
        spaces = ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net"]
        spaces += ["--unshare-cgroup-try", "--die-with-parent", "--new-session"]
        spaces += ["--hostname", "sandbox"]
        if self.root:
            # Only these two, so the child can become `uid`; it loses them doing so.
            spaces += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
            drop = ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups"]
            # The inner bwrap (nobody now) adds the user namespace over the same root.
            user = ["bwrap", *self._user_namespace(), "--dev-bind", "/", "/", "--die-with-parent"]
            argv = [*drop, "--", *user, "--", *argv]
        else:
            spaces += self._user_namespace()
        place = ["--bind", str(checkout), CHECKOUT, "--chdir", CHECKOUT, "--remount-ro", "/"]
        return [*limits, "bwrap", *spaces, *self._root_mounts(), *place, "--", *argv]

    def _user_namespace(self) -> list[str]:
        return ["--unshare-user", "--uid", str(self.uid), "--gid", str(self.uid)]

    def _root_mounts(self) -> list[str]:
        """The read-only root: /usr, the interpreter's directories, a few /etc files."""
        if self._mounts is None:
            # The private /tmp first: an interpreter under /tmp (a checkout there) is bound
            # onto it, not hidden by it.
            mounts = ["--perms", "1777", "--tmpfs", "/tmp", "--ro-bind", "/usr", "/usr"]
            for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
                if os.path.islink(top):
                    mounts += ["--symlink", os.readlink(top), top]
                elif os.path.isdir(top):
                    mounts += ["--ro-bind", top, top]
            for path in python_paths(self.python):
                mounts += [*_parents(path), "--ro-bind", path, path]
            for etc in _ETC:
                mounts += ["--ro-bind-try", etc, etc]
            mounts += ["--proc", "/proc", "--dev", "/dev"]
            self._mounts = mounts
        return self._mounts

    def run(self, checkout: Path, argv: list[str], env: dict[str, str]) -> Finished:
        """Run `argv` confined: at most the wall time, at most `output_bytes` of output kept."""
        if self.root:
            _give(checkout, self.uid)
        proc = subprocess.Popen(
            self.command(checkout, argv),
            cwd=checkout,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a timeout kills the whole group, bwrap first
        )
        reader = _Tail(proc, self.limits.output_bytes)
        reader.start()
        try:
            code: int | None = proc.wait(timeout=self.limits.wall_seconds)
        except subprocess.TimeoutExpired:
            code = None
            _kill(proc)
        reader.join(timeout=5)
        return Finished(code, reader.text(), reader.dropped > 0)


def _parents(path: str) -> list[str]:
    """Directories above a bind mount, world-traversable inside only (say /root, 0700 here)."""
    made: list[str] = []
    parts = Path(path).parts[1:-1]
    for i in range(len(parts)):
        made += ["--perms", "0755", "--dir", "/" + "/".join(parts[: i + 1])]
    return made


def _give(tree: Path, uid: int) -> None:
    """Hand the checkout to `uid` before a run: its only writable place."""
    for top, dirs, files in os.walk(tree):
        for name in (top, *(os.path.join(top, n) for n in dirs + files)):
            os.lchown(name, uid, uid)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL bwrap's process group; --die-with-parent and the PID namespace do the rest."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


class _Tail(threading.Thread):
    """Reads a child's output to its end, keeping only the last `cap` bytes."""

    def __init__(self, proc: subprocess.Popen[bytes], cap: int) -> None:
        super().__init__(daemon=True, name="earnest-sandbox-output")
        self.proc, self.cap = proc, cap
        self.kept = bytearray()
        self.dropped = 0

    def run(self) -> None:
        if self.proc.stdout is None:
            return
        # typeshed types a pipe as IO[bytes]; a binary pipe opened with the default
        # buffering is an io.BufferedReader, whose read1 returns what is ready.
        stream = cast("io.BufferedReader", self.proc.stdout)
        while chunk := stream.read1(1 << 16):
            self.kept += chunk
            if len(self.kept) > 2 * self.cap:  # trim now and then, not on every chunk
                self.dropped += len(self.kept) - self.cap
                del self.kept[: len(self.kept) - self.cap]
        stream.close()

    def text(self) -> str:
        if len(self.kept) > self.cap:
            self.dropped += len(self.kept) - self.cap
            del self.kept[: len(self.kept) - self.cap]
        return self.kept.decode(errors="replace")
