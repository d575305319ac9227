"""``BatchConfig``: how a batch runs (parallelism, retries, quality gate), not how a scene is
fitted (that is :class:`splatsynth.config.RunConfig`, shared with ``run`` and ``demo``)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..knobs import Knobs


@dataclass(frozen=True)
class BatchConfig(Knobs):
    """Parallelism, failure handling and the quality gate of ``splatsynth batch`` (the post-fit
    check and its safer retry are the scene's, ``check.*``, shared with ``splatsynth run``)."""

    # Named batch.<knob> in errors and summary.json; on the command line the flags have no
    # prefix (--workers).
    section = "batch"

    workers: int = 1
    """Scenes fitted at once on this machine, each in its own process. 0 runs scenes in the
    calling process (for debugging: a crash there takes the batch down)."""
    threads: int | None = None
    """numba and torch threads per scene. Default: the machine's cores divided by --workers
    (at least 1), so workers x threads = cores; with Ray, 1 unless given."""
    ray: str | None = None
    """Run scenes as Ray tasks instead of local processes: "auto" joins the running cluster
    (RAY_ADDRESS or `ray start` on this machine), "local" starts a private Ray instance here,
    anything else is a cluster address (e.g. ray://head:10001). OUT must be on a file system
    every node can write. Needs the `splatsynth[ray]` extra."""
    min_holdout_psnr_masked: float | None = None
    """Quality gate: quarantine scenes whose leave-one-view-out masked PSNR (dB) is below this.
    Any gate threshold needs --output.holdout (the held-out score is what it reads)."""
    min_holdout_iou: float | None = None
    """Quality gate: quarantine scenes whose leave-one-view-out silhouette IoU is below this."""
    scene_timeout: float | None = None
    """Seconds after which a scene's worker is killed and the scene recorded as failed
    (local processes and Ray; not with --workers 0)."""
    skip_failed: bool = False
    """Do not retry scenes listed in OUT/failures.jsonl by an earlier run (default: retry)."""
    progress: bool = True
    """Show the overall progress bar (per-scene status lines are printed either way)."""
    summary_every: float = 300.0
    """Seconds between refreshes of OUT/summary.html during the batch (it is always written at
    the end; summary.json is refreshed after every scene)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._at_least("workers", 0)
        self._at_least("threads", 1)
        self._check("ray", self.ray is None or bool(self.ray.strip()),
                    "'auto', 'local' or a cluster address")
        self._within("min_holdout_iou", 0, 1)
        self._positive("scene_timeout")
        self._at_least("summary_every", 0)

    @property
    def gate_enabled(self) -> bool:
        """Whether any quality-gate threshold is set."""
        return self.min_holdout_psnr_masked is not None or self.min_holdout_iou is not None

    def threads_per_scene(self) -> int:
        """numba/torch threads each scene gets (see :attr:`threads`)."""
        if self.threads is not None:
            return self.threads
        if self.ray is not None:
            return 1
        return max(1, available_cores() // max(1, self.workers))


def available_cores() -> int:
    """CPU cores this process may use (the affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
