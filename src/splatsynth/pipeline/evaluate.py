"""Stage 4, evaluate: the scene's scores, and ground truth where the scene ships it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..cameras import Camera
from ..config import RunConfig
from ..errors import SplatsynthError
from ..fit import Renders, render_cameras
from ..metrics import SceneMetrics, ScoreSet, ViewScores, score_view
from ..scene_io import read_cameras_file
from ..scene_io.images import ImageError, load_image
from ..scene_io.normalize import Similarity
from ..scene_io.validate import file_in_folder
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
        mask: per view, the image's alpha [H, W], or None for an image without one (that view's
            silhouette is not scored).
    """

    cameras: list[Camera]
    rgb: np.ndarray
    mask: tuple[np.ndarray | None, ...]

    @property
    def views_without_mask(self) -> list[str]:
        """The images that have no alpha channel."""
        return [str(c.file_path) for c, m in zip(self.cameras, self.mask) if m is None]


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

    The cameras go through the scene's camera checks and the images through the image
    contract, with the scene folder's path rules (relative, inside the folder).

    Raises:
        SplatsynthError: no cameras file or a bad camera; or, listing every one, a missing,
            unreadable or outside image, or one whose size differs from its camera (each naming
            the file).
    """
    gt_dir = Path(gt_dir)
    cams_file = next((gt_dir / n for n in GT_CAMERA_FILES if (gt_dir / n).is_file()), None)
    if cams_file is None:
        raise SplatsynthError(f"{gt_dir}: no {' or '.join(GT_CAMERA_FILES)}")
    cams = read_cameras_file(cams_file)
    rgbs, masks, problems = [], [], []
    for c in cams:
        path, why = file_in_folder(gt_dir, str(c.file_path))
        if why is not None:
            problems.append(f"{path}: {why} (named by {cams_file.name})")
            continue
        try:
            rgb, alpha = load_image(path)
        except ImageError as e:
            problems.append(str(e))
            continue
        if rgb.shape[:2] != (c.h, c.w):
            problems.append(f"{path}: image is {rgb.shape[1]}x{rgb.shape[0]} but its camera "
                            f"says {c.w}x{c.h}")
            continue
        rgbs.append(rgb)
        masks.append(alpha)
    if problems:
        raise SplatsynthError("\n".join([f"{gt_dir}: not a usable ground-truth folder "
                                         f"({len(problems)} problem(s))"]
                                        + [f"  - {p}" for p in problems]))
    sizes = {r.shape for r in rgbs}
    if len(sizes) > 1:
        raise SplatsynthError(f"{cams_file}: the ground-truth views differ in size "
                              f"({', '.join(f'{w}x{h}' for h, w, _ in sorted(sizes))}); "
                              "one size per folder")
    return GroundTruth(cams, np.stack(rgbs), tuple(masks))


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
