"""Local parallelism: a pool of worker processes, one scene at a time each.

Why not ``concurrent.futures.ProcessPoolExecutor``: when one worker dies (a segfault in a
native library, the OOM killer) it marks the whole pool broken and fails every pending scene,
without saying which scene killed it. Here each worker has its own pipe, so the parent knows
exactly which scene was running when a worker died, records that one scene, and starts a new
worker for the rest. The same bookkeeping gives a per-scene timeout.

Workers are started with ``spawn`` (a fresh interpreter: no inherited torch/numba thread
pools, no inherited lock file descriptors) with ``NUMBA_NUM_THREADS`` / ``OMP_NUM_THREADS`` set
before they import anything, so workers x threads = cores. On Linux each worker asks the kernel
to kill it when the parent dies (``PR_SET_PDEATHSIG``), so a SIGKILLed batch leaves no
orphans that could keep writing into OUT.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from multiprocessing.connection import Connection, wait

from ..errors import SplatsynthError
from ..threads import THREAD_ENV_VARS, thread_env, thread_policy
from .worker import Backend, SceneResult, SceneTask, crashed_result, process_scene


def _die_with_parent() -> None:
    """Linux: deliver SIGKILL to this process when its parent exits (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


def _worker_main(conn: Connection, threads: int, parent_pid: int) -> None:
    """A worker's loop: receive a task, send back its result; ``None`` or EOF ends it."""
    _die_with_parent()
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        return
    # Ctrl-C goes to the whole process group; the parent decides what to do about it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with thread_policy(threads):
        conn.send("ready")
        while True:
            try:
                task = conn.recv()
            except (EOFError, OSError):
                return
            if task is None:
                return
            conn.send(process_scene(task))


class _Worker:
    def __init__(self, ctx: mp.context.SpawnContext, threads: int) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_worker_main, args=(child, threads, os.getpid()),
                                daemon=True, name="splatsynth-batch-worker")
        # Spawned children inherit os.environ at start: set thread counts for their imports.
        saved = {v: os.environ.get(v) for v in THREAD_ENV_VARS}
        os.environ.update(thread_env(threads))
        try:
            self.proc.start()
        finally:
            for v, old in saved.items():
                if old is None:
                    os.environ.pop(v, None)
                else:
                    os.environ[v] = old
        child.close()
        self.task: SceneTask | None = None
        self.t_start = 0.0
        self._await_ready()

    def _await_ready(self, timeout: float = 600.0) -> None:
        """Wait for the worker's hello; a worker that cannot start is an environment problem
        (every scene would fail the same way), so it stops the batch instead of being recorded
        against a scene."""
        msg = None
        try:
            if self.conn.poll(timeout):
                msg = self.conn.recv()
        except (EOFError, OSError):
            msg = None
        if msg != "ready":
            self.kill()
            raise SplatsynthError(
                f"batch: a worker process could not start ({_death_note(self.proc, 'starting')}"
                "); if you call run_batch from a script, guard it with "
                "`if __name__ == \"__main__\":` (workers are spawned, see the multiprocessing "
                "docs), or use --workers 0 to find the error")

    def give(self, task: SceneTask) -> None:
        self.task, self.t_start = task, time.monotonic()
        self.conn.send(task)

    def kill(self) -> None:
        with contextlib.suppress(OSError, AttributeError):
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()

    def stop(self) -> None:
        with contextlib.suppress(OSError, BrokenPipeError):
            self.conn.send(None)
        self.proc.join(10)
        if self.proc.is_alive():
            self.kill()
        with contextlib.suppress(OSError):
            self.conn.close()


def _death_note(proc: mp.process.BaseProcess, doing: str = "running this scene") -> str:
    code = proc.exitcode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (killed: out of memory?)" if -code == signal.SIGKILL else ""
        return f"the worker process died from {name}{hint} while {doing}"
    return f"the worker process exited with status {code} while {doing}"


class ProcessBackend(Backend):
    """``workers`` spawned processes with ``threads`` numba/torch threads each."""

    def __init__(self, workers: int, *, threads: int, timeout: float | None = None) -> None:
        self.workers, self.threads, self.timeout = max(1, workers), threads, timeout

    def describe(self) -> str:
        return f"{self.workers} local process(es) x {self.threads} thread(s)"

    def run(self, tasks: Sequence[SceneTask]) -> Iterator[SceneResult]:
        ctx = mp.get_context("spawn")
        pending = list(reversed(tasks))  # pop() from the end keeps input order
        busy: list[_Worker] = []
        idle: list[_Worker] = []
        try:
            while pending or busy:
                while pending and len(busy) < self.workers:
                    w = idle.pop() if idle else _Worker(ctx, self.threads)
                    w.give(pending.pop())
                    busy.append(w)
                timeout = None
                if self.timeout is not None:
                    now = time.monotonic()
                    timeout = max(0.0, min(w.t_start + self.timeout - now for w in busy))
                ready = wait([w.conn for w in busy] + [w.proc.sentinel for w in busy], timeout)
                for w in list(busy):
                    task = w.task
                    assert task is not None
                    result: SceneResult | None = None
                    if w.conn in ready or w.proc.sentinel in ready:
                        try:
                            if w.conn.poll():
                                result = w.conn.recv()
                        except (EOFError, OSError):
                            result = None
                        if result is None and not w.proc.is_alive():
                            w.proc.join(1)
                            result = crashed_result(task, "worker died", _death_note(w.proc),
                                                    time.monotonic() - w.t_start)
                            busy.remove(w)
                            w.kill()
                            yield result
                            continue
                    if result is not None:
                        busy.remove(w)
                        w.task = None
                        idle.append(w)
                        yield result
                    elif (self.timeout is not None
                          and time.monotonic() - w.t_start > self.timeout):
                        busy.remove(w)
                        w.kill()
                        yield crashed_result(task, "timeout",
                                             f"killed after {self.timeout:g} s (--scene_timeout)",
                                             time.monotonic() - w.t_start)
        finally:
            for w in busy:
                w.kill()
            for w in idle:
                w.stop()


class InlineBackend(Backend):
    """Scenes one after another in this process (``workers=0``; for debugging and tests)."""

    def describe(self) -> str:
        return "this process"

    def run(self, tasks: Sequence[SceneTask]) -> Iterator[SceneResult]:
        for t in tasks:
            yield process_scene(t)
