"""The worker side of a batch: one scene in, one :class:`SceneResult` out.

:func:`process_scene` runs in a local worker process, a Ray task or inline (the backends in
local.py and ray_backend.py run it); it runs ``run_scene`` (under the thread share its backend
set), whose post-fit check and one safer retry are those of ``splatsynth run``, and turns every
outcome -- success, invalid scene, divergence, a failed check, any exception -- into plain data
that pickles across processes. Workers write only their scene folders; the parent
(runner.py) alone writes the batch's files.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal

from ..config import RunConfig
from ..errors import FitFailed, FitRejected, SceneError, SplatsynthError
from ..metrics import SceneMetrics
from .config import BatchConfig

Reason = Literal["invalid scene", "diverged", "failed check", "error", "worker died",
                 "timeout"]


@dataclass(frozen=True)
class SceneTask:
    """One scene to run (pickled to a worker process or a Ray task)."""

    scene: str
    """The input scene folder (absolute)."""
    scene_id: str
    """Its output folder name."""
    out: str
    """The dataset root OUT."""
    run_cfg: RunConfig
    """How to fit it."""
    batch_cfg: BatchConfig
    """The batch's settings."""
    threads: int
    """numba/torch threads for this scene."""


@dataclass
class SceneResult:
    """What happened to one scene; plain data, so it pickles across processes and Ray."""

    scene: str
    scene_id: str
    status: Literal["done", "skipped", "failed"]
    seconds: float = 0.0
    retried: bool = False
    retry_setting: dict = field(default_factory=dict)
    stage: str = ""
    """Where it failed: validate | fit | check | run | worker."""
    reason: str = ""
    """Short category (see ``Reason``)."""
    error: str = ""
    """The error message (the traceback for unexpected exceptions)."""
    exception: str = ""
    first_error: str = ""
    """The first attempt's error when the scene was retried."""
    metrics: SceneMetrics | None = None
    host: str = ""
    pid: int = 0
    threads: dict = field(default_factory=dict)
    """numba and torch thread counts the scene ran with."""
    check: dict = field(default_factory=dict)
    """The post-fit check's numbers of a fit that failed it."""

    def failure_record(self) -> dict:
        """The ``failures.jsonl`` line of a failed scene."""
        rec = {"scene": self.scene, "scene_id": self.scene_id, "stage": self.stage,
               "error": self.error, "reason": self.reason, "retried": self.retried,
               "time": datetime.now(UTC).isoformat(timespec="seconds"),
               "exception": self.exception, "host": self.host, "pid": self.pid,
               "threads": self.threads}
        if self.retried:
            rec["retry_setting"] = self.retry_setting
            rec["first_error"] = self.first_error
        if self.check:
            rec["check"] = self.check
        return rec



def process_scene(task: SceneTask) -> SceneResult:
    """Run one scene (``run_scene``: the post-fit check and its one safer retry included);
    never raises (except KeyboardInterrupt/SystemExit), so a bad scene cannot stop a worker.
    """
    import numba
    import torch

    from ..pipeline import run_scene

    t0 = time.perf_counter()
    res = SceneResult(task.scene, task.scene_id, "failed", host=socket.gethostname(),
                      pid=os.getpid(), threads={"numba": numba.get_num_threads(),
                                                "torch": torch.get_num_threads()})
    # Workers share a terminal: per-scene fit bars would interleave; the parent reports.
    cfg = replace(task.run_cfg, fit=replace(task.run_cfg.fit, progress=False))
    try:
        outcome = run_scene(task.scene, task.out, cfg, scene_id=task.scene_id,
                            update_list=False)
    except SceneError as e:
        res.stage, res.reason, res.error = "validate", "invalid scene", str(e)
        res.exception = type(e).__name__
    except FitFailed as e:
        res.exception = type(e).__name__
        res.retried, res.retry_setting, res.first_error = (e.retried, e.retry_setting,
                                                           e.first_error)
        if isinstance(e, FitRejected):
            res.stage, res.reason, res.error, res.check = "check", "failed check", str(e), e.check
        else:
            res.stage, res.reason, res.error = "fit", "diverged", str(e).strip()
    except SplatsynthError as e:
        res.exception = type(e).__name__
        res.stage, res.reason, res.error = "run", "error", str(e)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # a bug or a library error: record it with its traceback
        res.stage, res.reason = "run", "error"
        res.exception = type(e).__name__
        res.error = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=8)}"
    else:
        res.status = "done" if outcome.status == "done" else "skipped"
        res.metrics = outcome.metrics
        res.retried, res.retry_setting, res.first_error = (outcome.retried,
                                                           outcome.retry_setting,
                                                           outcome.first_error)
    res.seconds = time.perf_counter() - t0
    return res


def crashed_result(task: SceneTask, reason: Literal["worker died", "timeout"], error: str,
                   seconds: float) -> SceneResult:
    """The result of a scene whose worker died or was killed."""
    return SceneResult(task.scene, task.scene_id, "failed", seconds=seconds, stage="worker",
                       reason=reason, error=error, exception="", host=socket.gethostname())



class Backend:
    """Runs tasks and yields their results in completion order (see local.py, ray_backend.py).
    """

    def run(self, tasks: Sequence[SceneTask]) -> Iterator[SceneResult]:  # pragma: no cover
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover
        raise NotImplementedError
