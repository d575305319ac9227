"""Ray backend: each scene is a Ray task that reserves ``threads`` CPUs (``splatsynth[ray]``).

Workers on any node run :func:`process_scene` and write ``OUT/<scene_id>/`` themselves, so OUT
must be a path every node can write (a shared file system); every node also needs splatsynth
installed (or a Ray ``runtime_env``). The driver only collects results and writes the batch
records, exactly as with local processes.

Scenes are submitted in a window of about as many tasks as the cluster has CPU slots for (the
window follows the cluster as it grows or shrinks), so a task starts soon after it is
submitted and ``scene_timeout`` can be measured from submission; thousands of scenes never sit
as pending objects in the driver.

A worker that dies (node lost, OOM) is retried once by Ray (``max_retries=1``: a lost node
is usually not the scene's fault); errors inside a scene never reach Ray, since
:func:`process_scene` turns them into results.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import SplatsynthError
from ..threads import thread_policy
from .worker import Backend, SceneResult, SceneTask, crashed_result, process_scene


def import_ray() -> Any:
    """``import ray``, or a :class:`SplatsynthError` saying how to install it."""
    try:
        import ray
    except ImportError as e:
        raise SplatsynthError("batch --ray needs Ray: pip install 'splatsynth[ray]' "
                              "(or pip install 'ray[default]')") from e
    return ray


def _ray_scene(task: SceneTask) -> SceneResult:
    """Body of the Ray task: the scene runs with as many threads as Ray reserved CPUs."""
    with thread_policy(task.threads):
        return process_scene(task)


class RayBackend(Backend):
    """Scenes as Ray tasks with ``num_cpus=threads`` each.

    Args:
        address: ``"auto"`` (join the running cluster), ``"local"`` (start a private instance
            on this machine) or a cluster address. Ignored when Ray is already initialised in
            this process (e.g. by the caller's ``ray.init``).
        threads: CPUs reserved per scene, and numba/torch threads inside it.
        timeout: seconds per scene before its task is cancelled (None: no limit).
    """

    def __init__(self, address: str, *, threads: int, timeout: float | None = None) -> None:
        self.address, self.threads, self.timeout = address, threads, timeout

    def describe(self) -> str:
        return f"Ray ({self.address}), {self.threads} CPU(s) per scene"

    def _window(self, ray: Any) -> int:
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        return max(1, int(cpus // self.threads))

    def run(self, tasks: Sequence[SceneTask]) -> Iterator[SceneResult]:
        ray = import_ray()
        started_here = False
        if not ray.is_initialized():
            try:
                if self.address == "local":
                    ray.init(include_dashboard=False, log_to_driver=False)
                else:
                    ray.init(address=self.address, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise SplatsynthError(f"batch --ray {self.address}: cannot connect to a Ray "
                                      f"cluster ({e}); start one with `ray start --head`, or "
                                      "use --ray local") from e
            started_here = True
        remote = ray.remote(num_cpus=self.threads, max_retries=1)(_ray_scene)
        pending = list(reversed(tasks))
        inflight: dict[Any, tuple[SceneTask, float]] = {}
        try:
            while pending or inflight:
                window = self._window(ray)
                while pending and len(inflight) < window:
                    t = pending.pop()
                    inflight[remote.remote(t)] = (t, time.monotonic())
                wait_s = None
                if self.timeout is not None:
                    now = time.monotonic()
                    wait_s = max(0.0, min(t0 + self.timeout - now for _, t0 in inflight.values()))
                    wait_s = min(wait_s, 5.0)
                done, _ = ray.wait(list(inflight), num_returns=1, timeout=wait_s)
                for ref in done:
                    task, t0 = inflight.pop(ref)
                    try:
                        yield ray.get(ref)
                    except ray.exceptions.RayError as e:
                        msg = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
                        yield crashed_result(task, "worker died", f"Ray task failed: {msg}",
                                             time.monotonic() - t0)
                if self.timeout is not None:
                    now = time.monotonic()
                    for ref, (task, t0) in list(inflight.items()):
                        if now - t0 > self.timeout:
                            ray.cancel(ref, force=True)
                            del inflight[ref]
                            yield crashed_result(task, "timeout",
                                                 f"cancelled after {self.timeout:g} s "
                                                 "(--scene_timeout)", now - t0)
        finally:
            for ref in inflight:
                ray.cancel(ref, force=True)
            if started_here:
                ray.shutdown()
