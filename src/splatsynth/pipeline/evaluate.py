"""Stage 4, evaluate: the scene's scores, and ground truth where the scene ships it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..cameras import Camera
from ..config import RunConfig
from ..errors import SplatsynthError
from ..fit import Renders, render_cameras
from ..metrics import SceneMetrics, ScoreSet, ViewScores, score_view
from ..scene_io import read_cameras_file
from ..scene_io.images import read_image
from ..scene_io.normalize import Similarity
from .prepare import Prepared
from .reconstruct import Reconstruction

#: Where a scene folder may ship ground-truth novel views (the demo and benchmark scenes do).
GT_ORBIT_DIR = Path("gt") / "orbit"
#: The cameras file of a ground-truth folder, first match wins.
GT_CAMERA_FILES = ("opencv_cameras.json", "cameras.json")


@dataclass(frozen=True)
class GroundTruth:
    """Reference views in the input world frame.

    Attributes:
        cameras: C cameras (``file_path`` names each image).
        rgb: [C, H, W, 3] straight colour.
        mask: [C, H, W] alpha of the images, or None when any image has none (the scores then
            skip the silhouette).
    """

    cameras: list[Camera]
    rgb: np.ndarray
    mask: np.ndarray | None


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


def load_ground_truth(gt_dir: str | Path) -> GroundTruth:
    """Read a ground-truth folder: ``opencv_cameras.json`` (or ``cameras.json``) + images.

    Raises:
        SplatsynthError: no cameras file, a bad camera, a missing or unreadable image, or an
            image whose size differs from its camera (each naming the file).
    """
    gt_dir = Path(gt_dir)
    cams_file = next((gt_dir / n for n in GT_CAMERA_FILES if (gt_dir / n).is_file()), None)
    if cams_file is None:
        raise SplatsynthError(f"{gt_dir}: no {' or '.join(GT_CAMERA_FILES)}")
    cams = read_cameras_file(cams_file)
    rgbs, masks = [], []
    for c in cams:
        rgb, alpha = read_image(gt_dir / c.file_path)
        if rgb.shape[:2] != (c.h, c.w):
            raise SplatsynthError(f"{gt_dir / c.file_path}: image is {rgb.shape[1]}x"
                                  f"{rgb.shape[0]} but its camera says {c.w}x{c.h}")
        rgbs.append(rgb)
        masks.append(alpha)
    has_mask = all(m is not None for m in masks)
    return GroundTruth(cams, np.stack(rgbs), np.stack(masks) if has_mask else None)


def score_renders(renders: Renders, gt: GroundTruth, background) -> ScoreSet:
    """Scores of renders [C, ...] against the ground truth's C views."""
    return ScoreSet(tuple(
        ViewScores(cam.file_path, score_view(renders.rgb[k], renders.alpha[k], gt.rgb[k],
                                             None if gt.mask is None else gt.mask[k],
                                             background))
        for k, cam in enumerate(gt.cameras)))


def render_ground_truth(gaussians, sim: Similarity, gt: GroundTruth, *, background,
                        method: str, backend: str = "auto") -> Renders:
    """Render fitted (canonical-frame) Gaussians at the ground truth's input-frame cameras."""
    return render_cameras(gaussians, [sim.camera_to_canonical(c) for c in gt.cameras],
                          background=background, backend=backend, method=method)


def evaluate(prepared: Prepared, recon: Reconstruction, cfg: RunConfig | None = None
             ) -> Evaluation:
    """Collect the scores: the fit's own, the held-out view's, and ground truth's when the
    scene folder has ``gt/orbit``."""
    cfg = cfg or RunConfig()
    fit = recon.fit
    gt = gt_r = gt_scores = None
    timings = {}
    gt_dir = prepared.path / GT_ORBIT_DIR
    if (gt_dir / GT_CAMERA_FILES[0]).is_file():
        t = time.perf_counter()
        gt = load_ground_truth(gt_dir)
        gt_r = render_ground_truth(fit.gaussians, prepared.similarity, gt,
                                   background=cfg.fit.background, method=cfg.fit.method,
                                   backend=cfg.fit.backend)
        gt_scores = score_renders(gt_r, gt, cfg.fit.background)
        timings["ground_truth_eval"] = time.perf_counter() - t
    metrics = SceneMetrics(fit.scores, tuple(fit.train_views), holdout=recon.holdout,
                           ground_truth=gt_scores)
    return Evaluation(metrics, gt, gt_r, timings)
