"""Threads: the numba kernels' pool (rasterizers, fused SSIM) and the policy for every pool;
and the kernels' reusable output buffers (:func:`pooled`).

The kernels are ``nogil`` numba functions that each take a static slice of the work; a small
pool of Python threads runs one slice per thread. Static slices keep results independent of
timing, and a busy core cannot make one thread take all the work (as numba's dynamic
scheduling did).

Why the kernels leave torch's thread setting alone: the 10x slowdown measured with torch and
numba both at 2 threads came from numba's OpenMP pool competing with torch's. These kernels
never start numba's threading layer (no ``parallel=True``) and run no torch op while they work,
so there is nothing to hold back; and toggling ``torch.set_num_threads`` costs the caller's next
torch op ~10 ms (torch rebuilds its pool), more than a whole small render. Thread counts are set
once per fit or per worker, by :func:`thread_policy`.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_override: int | None = None


def set_num_threads(n: int | None) -> None:
    """Threads the CPU kernels use; None restores the default (numba's thread count, which is
    all available cores unless NUMBA_NUM_THREADS says otherwise)."""
    global _override
    if n is not None and n < 1:
        raise ValueError(f"num_threads must be >= 1, got {n}")
    _override = n


def get_num_threads() -> int:
    """Threads the CPU kernels split their work over."""
    if _override is not None:
        return _override
    try:
        import numba

        n = int(numba.config.NUMBA_NUM_THREADS)
    except Exception:  # pragma: no cover - numba is a dependency
        n = len(os.sched_getaffinity(0))
    return max(1, n)


def _forget_pool() -> None:
    # a forked child inherits the pool object but not its threads: submitting would hang
    global _pool, _pool_size
    _pool, _pool_size = None, 0


os.register_at_fork(after_in_child=_forget_pool)


def run_parallel(fn: Callable, arg_lists: Sequence[tuple], threads: int | None = None) -> None:
    """Call ``fn(*args)`` for every tuple and wait; re-raises the first error.

    ``threads`` workers (default: one per tuple, at most :func:`get_num_threads`) take the
    tuples in order from a shared queue, the calling thread among them. Give more tuples than
    threads, most expensive first, and a core that another process keeps busy simply takes
    fewer of them. Callers only pass work whose result does not depend on which thread runs it.
    """
    n = len(arg_lists)
    workers = min(n, threads if threads is not None else get_num_threads())
    if workers <= 1:
        for args in arg_lists:
            fn(*args)
        return
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < workers - 1:
            # a replaced pool is not shut down: another thread may still be using it; its idle
            # workers exit once it is garbage
            _pool = ThreadPoolExecutor(workers - 1, thread_name_prefix="splatsynth")
            _pool_size = workers - 1
        pool = _pool
    take = iter(range(n)).__next__  # next() on a range iterator is atomic under the GIL
    errors: list[BaseException] = []

    def worker() -> None:
        while not errors:
            try:
                i = take()
            except StopIteration:
                return
            try:
                fn(*arg_lists[i])
            except BaseException as e:  # noqa: BLE001 - re-raised in the caller
                errors.append(e)

    futures = [pool.submit(worker) for _ in range(workers - 1)]
    worker()
    for f in futures:
        f.result()
    if errors:
        raise errors[0]


MIN_PARALLEL = 4096
"""Below this many items of work (Gaussians, tile pairs) waking a thread costs more than it
saves."""


def threads_for(work: int) -> int:
    """Threads worth waking for ``work`` items: all of :func:`get_num_threads`, or 1."""
    return get_num_threads() if work >= MIN_PARALLEL else 1


def split(n: int, work: int) -> list[tuple[int, int]]:
    """[0, n) in ranges for :func:`run_parallel`'s queue: 4 per thread, or 1 for small work."""
    t = threads_for(work)
    return ranges(n, 4 * t if t > 1 else 1)


def ranges(n: int, parts: int) -> list[tuple[int, int]]:
    """[0, n) in ``parts`` contiguous ranges of nearly equal size (fewer when n is small)."""
    parts = max(1, min(parts, n))
    return [(k * n // parts, (k + 1) * n // parts) for k in range(parts)]


MAX_BUFFERS = 4
"""Buffers kept per tag: a training step holds two or three generations at once (the last
step's results, this step's, a virtual view's)."""

_POOL: dict[str, list[np.ndarray]] = {}
_POOL_LOCK = threading.Lock()


def pooled(tag: str, shape: tuple, dtype) -> np.ndarray:
    """An uninitialized array of ``shape`` backed by a buffer reused from call to call.

    Every render allocates tens of MB of outputs and work arrays; fresh ones cost page faults
    (the kernel zeroes each page, ~3 ms of system time per 512x512 training step). A pooled
    buffer is handed out again only once nothing refers to it (no array or tensor viewing it is
    alive), so results held by a caller are never overwritten; ``tag`` keeps the uses apart.
    At most :data:`MAX_BUFFERS` buffers per tag are kept.
    """
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    with _POOL_LOCK:
        bufs = _POOL.setdefault(tag, [])
        for i in range(len(bufs)):
            if sys.getrefcount(bufs[i]) == 2:  # the list's and getrefcount's own: free
                if bufs[i].nbytes < nbytes + 64:  # + room for the alignment
                    bufs[i] = np.empty(nbytes + nbytes // 4 + 64, np.uint8)  # room to grow
                buf = bufs[i]
                break
        else:
            buf = np.empty(nbytes + 64, np.uint8)
            if len(bufs) < MAX_BUFFERS:  # else a one-off (many results held at once)
                bufs.append(buf)
    start = -buf.ctypes.data % 64  # cache-line aligned
    return buf[start:start + nbytes].view(dtype).reshape(shape)


#: Variables that size the pools of libraries as they are imported (numba, OpenMP and the BLAS
#: libraries inside torch and numpy).
THREAD_ENV_VARS = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                   "OPENBLAS_NUM_THREADS")


def thread_env(cores: int) -> dict[str, str]:
    """The environment that gives a process started from here ``cores`` threads per pool
    (set it before the child imports anything: pools are sized at import)."""
    return dict.fromkeys(THREAD_ENV_VARS, str(cores))


@contextlib.contextmanager
def thread_policy(cores: int | None = None, *, fitting: bool = False) -> Iterator[None]:
    """The one place that decides thread counts; everything is restored on exit.

    Two pools compete for the cores: torch's intra-op pool and the kernels' own (above). The
    policy, and why:

    - ``cores``: this process's share of the machine (a batch worker gets cores / workers).
      Every pool is held to it -- the kernels, numba's, torch's, and through
      :data:`THREAD_ENV_VARS` the pools of libraries imported later -- because pools that each
      take every core fight for them (10x slowdowns measured with torch and numba both at
      2 threads on 2 cores). None leaves the process's pools as they are.
    - ``fitting``: torch runs on one thread inside a fit. Its ops there are small (tens of
      thousands of elements), where a second intra-op thread only adds synchronisation, and
      under load it cost ~10x; the kernels keep every thread of the share.

    Args:
        cores: threads per pool for this process (>= 1), or None.
        fitting: hold torch to one thread.
    """
    import torch

    saved_torch = torch.get_num_threads()
    saved_override = _override
    saved_env = {v: os.environ.get(v) for v in THREAD_ENV_VARS}
    numba_saved = None
    try:
        if cores is not None:
            import numba

            os.environ.update(thread_env(cores))
            numba_saved = numba.get_num_threads()
            # numba's pool size is fixed at its first use; set_num_threads may only lower it.
            numba.set_num_threads(max(1, min(cores, numba.config.NUMBA_NUM_THREADS)))
            set_num_threads(cores)
            torch.set_num_threads(cores)
        if fitting:
            torch.set_num_threads(1)
        yield
    finally:
        if torch.get_num_threads() != saved_torch:
            torch.set_num_threads(saved_torch)
        if numba_saved is not None:
            import numba

            numba.set_num_threads(numba_saved)
            set_num_threads(saved_override)
            for v, old in saved_env.items():
                if old is None:
                    os.environ.pop(v, None)
                else:
                    os.environ[v] = old
