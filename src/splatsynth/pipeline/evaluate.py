"""Stage 4, evaluate: the scene's scores, and ground truth where the scene ships it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from ..config import RunConfig
from ..fit import Renders, render_cameras
from ..metrics import SceneMetrics, ScoreSet, ViewScores, score_view
from ..scene_io.normalize import Similarity
from .ground_truth import GroundTruth
from .prepare import Prepared
from .reconstruct import Reconstruction


@dataclass(frozen=True)
class Evaluation:
    """The scene's metrics, with what the contact sheet shows of the ground truth.

    Attributes:
        metrics: training, held-out and ground-truth scores.
        ground_truth: the reference views, when the scene has ``gt/orbit``.
        gt_renders: renders at the reference cameras (canonical frame).
        timings: seconds of ``ground_truth_eval``.
    """

    metrics: SceneMetrics
    ground_truth: GroundTruth | None = None
    gt_renders: Renders | None = None
    timings: dict[str, float] = field(default_factory=dict)


def score_renders(renders: Renders, gt: GroundTruth, background) -> ScoreSet:
    """Scores of renders [C, ...] against the ground truth's C views.

    A view whose image has no alpha while others have one is scored on what it can be: PSNR
    and SSIM; its masked PSNR and IoU are NaN (left out of the means) rather than a whole-frame
    number mixed into the masked mean. When no image has alpha, masked PSNR is over the whole
    frame as :func:`~splatsynth.metrics.score_view` says.
    """
    some_masks = any(m is not None for m in gt.mask)
    out = []
    for k, cam in enumerate(gt.cameras):
        s = score_view(renders.rgb[k], renders.alpha[k], gt.rgb[k], gt.mask[k], background)
        if gt.mask[k] is None and some_masks:
            s = replace(s, psnr_masked=float("nan"), iou=float("nan"))
        out.append(ViewScores(str(cam.file_path), s))
    return ScoreSet(tuple(out))


def render_ground_truth(gaussians, sim: Similarity, gt: GroundTruth, *, background,
                        method: str, backend: str = "auto") -> Renders:
    """Render fitted (canonical-frame) Gaussians at the ground truth's input-frame cameras."""
    return render_cameras(gaussians, [sim.camera_to_canonical(c) for c in gt.cameras],
                          background=background, backend=backend, method=method)


def evaluate(prepared: Prepared, recon: Reconstruction, cfg: RunConfig | None = None
             ) -> Evaluation:
    """Collect the scores: the fit's own, the held-out view's, and ground truth's when the
    scene folder has ``gt/orbit`` (read and checked by :func:`prepare`, before the fit)."""
    cfg = cfg or RunConfig()
    fit = recon.fit
    gt, gt_r, gt_scores = prepared.ground_truth, None, None
    timings = {}
    if gt is not None:
        t = time.perf_counter()
        gt_r = render_ground_truth(fit.gaussians, prepared.similarity, gt,
                                   background=cfg.fit.background, method=cfg.fit.method,
                                   backend=cfg.fit.backend)
        gt_scores = score_renders(gt_r, gt, cfg.fit.background)
        timings["ground_truth_eval"] = time.perf_counter() - t
    metrics = SceneMetrics(fit.scores, tuple(fit.train_views), holdout=recon.holdout,
                           ground_truth=gt_scores)
    return Evaluation(metrics, gt, gt_r, timings)
