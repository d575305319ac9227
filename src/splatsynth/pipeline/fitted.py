"""Finished scene folders: load them, render them at new cameras, score them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import SplatsynthError
from ..fileio import atomic_write_json
from ..fit import render_cameras
from ..gaussians import Gaussians, read_ply
from ..metrics import ScoreSet
from ..scene_io import read_cameras_file
from ..scene_io.normalize import Similarity
from ..writers import write_gslrm_views
from .evaluate import load_ground_truth, render_ground_truth, score_renders


def load_fitted(scene_dir: str | Path) -> tuple[Gaussians, Similarity, dict[str, Any]]:
    """The Gaussians, normalization and report of a finished scene folder."""
    from ..report.schema import read_report

    scene_dir = Path(scene_dir)
    if not (scene_dir / "report.json").is_file():
        raise SplatsynthError(f"{scene_dir}: not a finished scene folder (no report.json)")
    if not (scene_dir / "gaussians.ply").is_file():
        raise SplatsynthError(f"{scene_dir}: no gaussians.ply")
    report = read_report(scene_dir)
    try:
        sim = Similarity.from_dict(report["normalization"])
    except (KeyError, TypeError, ValueError) as e:
        raise SplatsynthError(f"{scene_dir / 'report.json'}: no usable normalization ({e})") from e
    return read_ply(scene_dir / "gaussians.ply"), sim, report


def fitted_method(report: dict[str, Any]) -> str:
    """The ``fit.method`` a finished scene was fitted with."""
    return str(report.get("config", {}).get("fit", {}).get("method", "3dgs"))


def fitted_background(report: dict[str, Any]) -> tuple[float, float, float]:
    """The ``fit.background`` a finished scene was rendered over."""
    bg = report.get("config", {}).get("fit", {}).get("background", (1.0, 1.0, 1.0))
    return tuple(float(x) for x in bg)  # type: ignore[return-value]


def render_fitted(scene_dir: str | Path, cameras_json: str | Path, out_dir: str | Path, *,
                  depth: bool = False) -> int:
    """Render a fitted scene at cameras given in the input world frame; returns the count.

    Writes ``out_dir/images/cam_XXX.png`` (RGBA) and ``out_dir/opencv_cameras.json`` holding the
    given cameras (input world frame), so the folder can serve as a ground-truth-style folder.
    """
    g, sim, report = load_fitted(scene_dir)
    cams = read_cameras_file(cameras_json, need_file_paths=False)
    bg = fitted_background(report)
    r = render_cameras(g, [sim.camera_to_canonical(c) for c in cams], background=bg,
                       with_depth=depth, method=fitted_method(report))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # The cameras written beside the images are the given ones (input frame): the contract.
    write_gslrm_views(out_dir, Path(scene_dir).name, cams, r.straight_rgb(bg), r.alpha,
                      depth=r.depth if depth else None, depth_format="npy")
    return len(cams)


def evaluate_fitted(scene_dir: str | Path, gt_dir: str | Path, out: str | Path | None = None
                    ) -> tuple[ScoreSet, Path]:
    """Score a fitted scene against a ground-truth folder (input world frame); the scores are
    also written as JSON to ``out`` (default ``SCENE/eval_<gt folder name>.json``)."""
    g, sim, report = load_fitted(scene_dir)
    gt = load_ground_truth(Path(gt_dir))
    bg = fitted_background(report)
    r = render_ground_truth(g, sim, gt, background=bg, method=fitted_method(report))
    scores = score_renders(r, gt, bg)
    path = Path(out) if out else Path(scene_dir) / f"eval_{Path(gt_dir).resolve().name}.json"
    atomic_write_json(path, {**scores.to_json(), "gt": str(Path(gt_dir).resolve())})
    return scores, path
