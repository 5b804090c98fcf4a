"""`earnest serve --workers N`: the parent keeps N API processes serving one listening socket.

uvicorn's own supervisor noticed a dead worker only between health pings of every worker,
each allowed 5 s to answer, and then spawned a fresh interpreter that imported everything
again: with both workers killed, nothing answered for 5 s or more. Here:

- the parent binds the socket once and imports the application once, then forks each worker
  from itself; connections arriving while no worker serves wait in the socket's backlog;
- it waits on the workers' exit sentinels, so a death is seen the moment it happens;
- one spare worker is kept forked and prepared (its market and app built, its loops not
  started), waiting on a pipe: a dead worker's place goes to the spare at once, which only
  has to start serving; a new spare is then prepared in the background. A second worker
  dying at the same moment is replaced by a fresh fork, half a second later.

On SIGTERM or SIGINT the parent passes SIGTERM to the workers, which drain their requests and
close their markets (cli_serve.run_until_signal), and releases the spare; it exits 0 when
they all stopped cleanly. One of the first workers that cannot start (exit status
STARTUP_FAILURE) stops the whole server: a bad setting would fail every next one the same
way. A replacement that cannot start (the chain or the database out of reach at that moment)
is tried again after a growing pause, as is one that dies soon after it started: stopping
then would turn a passing outage into a market that stays down.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Protocol

STARTUP_FAILURE = 3  # uvicorn's exit status for a worker that could not start serving
QUICK_DEATH = 1.0  # a worker that dies sooner than this after its start is not replaced at once
MAX_PAUSE = 5.0
# After the spare takes a place, new workers and the next spare are forked this long later:
# the CPU goes first to the spare starting to serve.
SPARE_DELAY = 0.5
TICK = 0.2  # how soon a signal to the parent, or a paused replacement, is acted upon

log = logging.getLogger("uvicorn.error")


class Worker(Protocol):
    """One API process, prepared (market and app built) before it serves."""

    def serve(self, sock: socket.socket) -> None: ...

    def close(self) -> None: ...


Prepare = Callable[[], Worker]


def _in_child(prepare: Prepare, sock: socket.socket, go: int | None, others: list[int]) -> None:
    # The parent's handlers were copied by fork: a worker stops on its own signals. The
    # spare's pipe end copied too is closed, or the spare would never read EOF.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    for fd in others:
        os.close(fd)
    worker = prepare()
    if go is not None and not os.read(go, 1):  # a spare: serve when told; EOF: not needed
        worker.close()
        return
    worker.serve(sock)


@dataclass
class _Slot:
    process: BaseProcess
    started: float
    go: int | None = None  # a spare's end of its pipe (the parent writes to serve)
    quick_deaths: int = 0
    due: float = 0.0  # when the replacement may start
    pending: bool = False  # dead, its replacement not started yet
    first: bool = False  # one of the workers forked when the server started


class Supervisor:
    """N forked workers serving `sock` and one prepared spare; stopped by a signal."""

    def __init__(self, prepare: Prepare, sock: socket.socket, workers: int, *, stop_after: float):
        self.prepare, self.sock, self.workers, self.stop_after = prepare, sock, workers, stop_after
        self.stopping = False
        self.failed = False
        self._context = multiprocessing.get_context("fork")
        self._spare_pipe: int | None = None  # the parent's end of the spare's pipe

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def _fork(self, *, spare: bool = False, first: bool = False) -> _Slot:
        read, write = os.pipe() if spare else (None, None)
        # A child closes the spare's pipe end it copied (its own too, if it is the spare).
        others = [fd for fd in (self._spare_pipe, write) if fd is not None]
        process = self._context.Process(
            target=_in_child, args=(self.prepare, self.sock, read, others), name="earnest-worker"
        )
        process.start()
        if read is not None:
            os.close(read)
            self._spare_pipe = write
        log.info("Started %s process [%s]", "spare" if spare else "worker", process.pid)
        return _Slot(process, time.monotonic(), go=write, first=first)

    def run(self) -> int:
        """Serve until a signal; the exit status (0: every worker stopped cleanly)."""
        before = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            slots = [self._fork(first=True) for _ in range(self.workers)]
            spare = self._fork(spare=True)
            while not self.stopping:
                alive = [s.process.sentinel for s in [*slots, spare] if not s.pending]
                wait(alive, timeout=TICK)
                for n, slot in enumerate(slots):
                    if not self.stopping and self._died(slot) and time.monotonic() >= slot.due:
                        slots[n], spare = self._replace(slot, spare)
                if not self.stopping and self._died(spare) and time.monotonic() >= spare.due:
                    spare = self._fork(spare=True)
            return self._shutdown(slots, spare)
        finally:
            for sig, handler in before.items():
                signal.signal(sig, handler)

    def _died(self, slot: _Slot) -> bool:
        """Whether the slot's process is dead (noted once, with when to replace it)."""
        if slot.pending:
            return True
        code = slot.process.exitcode
        if code is None:
            return False
        slot.process.join()
        self._release(slot)
        if code == STARTUP_FAILURE and slot.first:
            log.error("Worker [%s] could not start; stopping", slot.process.pid)
            self.stopping = self.failed = True
            return False
        now = time.monotonic()
        young = code == STARTUP_FAILURE or now - slot.started < QUICK_DEATH
        slot.quick_deaths = slot.quick_deaths + 1 if young else 0
        slot.due = now + (min(MAX_PAUSE, 0.1 * 2**slot.quick_deaths) if young else 0.0)
        how = f"signal {-code}" if code < 0 else f"status {code}"
        log.warning("Worker [%s] died (%s); replacing it", slot.process.pid, how)
        slot.pending = True
        return True

    def _replace(self, dead: _Slot, spare: _Slot) -> tuple[_Slot, _Slot]:
        """The dead slot's new worker (the spare, told to serve, if it is there) and the
        spare to keep."""
        if spare.pending or spare.go is None:
            if spare.pending and time.monotonic() < spare.due:
                dead.due = spare.due  # the spare just took a place: let it start serving first
                return dead, spare
            return self._fork(), spare
        os.write(spare.go, b"s")
        self._release(spare)
        log.info("Spare process [%s] serves in place of [%s]", spare.process.pid, dead.process.pid)
        promoted = _Slot(spare.process, time.monotonic(), quick_deaths=dead.quick_deaths)
        used = _Slot(spare.process, spare.started, due=time.monotonic() + SPARE_DELAY)
        used.pending = True  # a new spare is forked once `due` has passed
        return promoted, used

    def _release(self, slot: _Slot) -> None:
        if slot.go is not None:
            os.close(slot.go)
            if self._spare_pipe == slot.go:
                self._spare_pipe = None
            slot.go = None

    def _shutdown(self, slots: list[_Slot], spare: _Slot) -> int:
        self._release(spare)  # the spare reads EOF: it closes its market and exits 0
        every = [*slots, spare]
        running = [s.process for s in every if not s.pending and s.process.exitcode is None]
        # A spare promoted a moment ago still sits in the pending spare slot: it serves, so
        # it drains on SIGTERM like the others.
        waiting = None if spare.pending else spare.process
        for process in running:
            if process.pid is not None and process is not waiting:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_after
        for process in running:
            process.join(max(0.0, deadline - time.monotonic()))
        clean = not self.failed
        for process in running:
            if process.exitcode is None:
                log.error("Worker [%s] did not stop in time; killed", process.pid)
                process.kill()
                process.join()
            # -SIGTERM: it was still preparing (no handler yet), so it served nothing.
            clean = clean and process.exitcode in (0, -signal.SIGTERM)
        return 0 if clean else 1
