"""The serve supervisor keeps the market up when a replacement worker cannot start.

A worker killed while the chain or the database is out of reach is replaced by one whose
start fails (uvicorn's STARTUP_FAILURE) until the outage passes. Stopping the whole server
then would turn a passing outage into a market that stays down (seen in bench/soak.py);
one of the first workers failing to start still stops it (a bad setting fails them all).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import time
from pathlib import Path

from earnest.supervisor import STARTUP_FAILURE, Supervisor


class _Worker:
    """Serves (sleeps until signalled) except as the `failing` serves: those cannot start."""

    def __init__(self, starts: Path, failing: range) -> None:
        self.starts, self.failing = starts, failing

    def serve(self, sock: socket.socket) -> None:
        n = len(list(self.starts.iterdir()))
        (self.starts / f"{n}-{os.getpid()}").touch()
        if n in self.failing:
            os._exit(STARTUP_FAILURE)
        for _ in range(600):  # bounded: 30 s at most, the supervisor stops it sooner
            time.sleep(0.05)

    def close(self) -> None:
        pass


def _supervise(starts: Path, failing: range) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        code = Supervisor(lambda: _Worker(starts, failing), sock, 1, stop_after=5).run()
    os._exit(code)


def _starts(starts: Path, count: int, timeout: float) -> list[int]:
    """The pids of the first `count` serves, waiting for them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(starts.iterdir(), key=lambda p: int(p.name.split("-")[0]))
        if len(found) >= count:
            return [int(p.name.split("-")[1]) for p in found]
        time.sleep(0.05)
    raise AssertionError(f"{len(list(starts.iterdir()))} serves, not {count}, in {timeout} s")


def _run(tmp_path: Path, failing: range) -> multiprocessing.process.BaseProcess:
    starts = tmp_path / "starts"
    starts.mkdir()
    parent = multiprocessing.get_context("fork").Process(target=_supervise, args=(starts, failing))
    parent.start()
    return parent


def test_a_replacement_that_cannot_start_is_tried_again(tmp_path: Path) -> None:
    parent = _run(tmp_path, failing=range(1, 3))  # the spare and the next fork fail
    try:
        [first] = _starts(tmp_path / "starts", 1, timeout=20)
        os.kill(first, signal.SIGKILL)
        pids = _starts(tmp_path / "starts", 4, timeout=20)  # failed twice, then serves
        assert parent.is_alive(), "the server stopped when a replacement could not start"
        assert pids[3] not in pids[:3]
    finally:
        if parent.pid is not None and parent.is_alive():
            os.kill(parent.pid, signal.SIGTERM)
        parent.join(15)
    assert parent.exitcode == 0, parent.exitcode


def test_a_first_worker_that_cannot_start_stops_the_server(tmp_path: Path) -> None:
    parent = _run(tmp_path, failing=range(0, 1))
    parent.join(20)
    assert parent.exitcode == 1
    assert len(list((tmp_path / "starts").iterdir())) == 1
