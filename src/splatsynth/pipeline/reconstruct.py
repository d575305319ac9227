"""Stage 2, reconstruct: the fit, and the leave-one-view-out fit when asked for."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ..config import RunConfig
from ..fit import FitResult, fit_scene
from ..metrics import ViewScores
from .prepare import Prepared

#: Fewer views leave nothing to learn from once one is held out.
MIN_VIEWS_FOR_HOLDOUT = 3


@dataclass(frozen=True)
class Reconstruction:
    """The fitted scene.

    Attributes:
        fit: the main fit (all views).
        holdout: the held-out view's scores of a second fit without it (``output.holdout``).
        timings: seconds of ``fit`` and ``holdout_fit``.
    """

    fit: FitResult
    holdout: ViewScores | None = None
    timings: dict[str, float] = field(default_factory=dict)


def reconstruct(prepared: Prepared, cfg: RunConfig | None = None, *,
                check_fit: Callable[[FitResult], None] | None = None) -> Reconstruction:
    """Fit the canonical scene; with ``output.holdout`` also fit it without its middle view
    and score that view.

    Args:
        prepared: from :func:`~splatsynth.pipeline.prepare`.
        cfg: the run configuration.
        check_fit: called with the main fit before anything else happens (before the held-out
            fit); raising there aborts the scene (the post-fit check,
            :func:`~splatsynth.pipeline.check.reconstruct_checked`).
    Raises:
        FitDiverged: the fit left every sane range.
    """
    cfg = cfg or RunConfig()
    scene = prepared.canonical
    result = fit_scene(scene, cfg.fit)
    if check_fit is not None:
        check_fit(result)
    timings = {"fit": result.timings["total"]}
    holdout = None
    if cfg.output.holdout and len(scene.views) >= MIN_VIEWS_FOR_HOLDOUT:
        t = time.perf_counter()
        ho = fit_scene(scene, replace(cfg.fit, holdout_view=len(scene.views) // 2,
                                      progress=False))
        holdout = ho.metrics.holdout
        timings["holdout_fit"] = time.perf_counter() - t
    return Reconstruction(result, holdout, timings)
