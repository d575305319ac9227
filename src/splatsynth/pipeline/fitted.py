"""Finished scene folders: load them, render them at new cameras, score them.

Everything read here goes through the input contract: ``report.json`` through
:func:`~splatsynth.report.schema.read_report`, ``gaussians.ply`` through
:func:`~splatsynth.gaussians.read_ply`, cameras through
:func:`~splatsynth.scene_io.read_cameras_file`, ground-truth images through
:func:`~splatsynth.pipeline.load_ground_truth`; output paths are checked before any rendering.
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..cameras import Camera, cameras_to_json
from ..errors import SplatsynthError
from ..fileio import (
    atomic_write_bytes,
    atomic_write_json,
    check_output_path,
    rgba_uint8,
    staged_directory,
    write_png,
)
from ..fit import method_of, render_cameras
from ..gaussians import Gaussians, read_ply
from ..metrics import ScoreSet
from ..scene_io import read_cameras_file
from ..scene_io.normalize import Similarity
from ..writers.gslrm import CAMERAS_FILE, view_file_path
from .evaluate import render_ground_truth, score_renders
from .ground_truth import load_ground_truth

#: Pixels rendered per call of the renderer (whole views; a view larger than this goes alone):
#: bounds render's memory whatever the number of cameras.
RENDER_CHUNK_PIXELS = 1 << 24


def load_fitted(scene_dir: str | Path) -> tuple[Gaussians, Similarity, dict[str, Any]]:
    """The Gaussians, normalization and report of a finished scene folder.

    Raises:
        SplatsynthError: not a finished scene folder, or a report or PLY that breaks the
            input contract (the message names the file).
    """
    from ..report.schema import REPORT_FILE, read_report

    scene_dir = Path(scene_dir)
    if not scene_dir.is_dir():
        raise SplatsynthError(f"{scene_dir}: not a folder" if scene_dir.exists()
                              else f"{scene_dir}: no such scene folder")
    if not (scene_dir / REPORT_FILE).is_file():
        raise SplatsynthError(f"{scene_dir}: not a finished scene folder (no {REPORT_FILE})")
    report = read_report(scene_dir)
    try:
        sim = Similarity.from_dict(report.get("normalization"))
    except SplatsynthError as e:
        raise SplatsynthError(f"{scene_dir / REPORT_FILE}: no usable normalization ({e})") from e
    try:
        method_of(fitted_method(report))
    except ValueError as e:
        raise SplatsynthError(f"{scene_dir / REPORT_FILE}: {e}") from e
    return read_ply(scene_dir / "gaussians.ply"), sim, report


def fitted_method(report: dict[str, Any]) -> str:
    """The ``fit.method`` a finished scene was fitted with (a checked report)."""
    return str(report.get("config", {}).get("fit", {}).get("method", "3dgs"))


def fitted_background(report: dict[str, Any]) -> tuple[float, float, float]:
    """The ``fit.background`` a finished scene was rendered over (a checked report)."""
    bg = report.get("config", {}).get("fit", {}).get("background", (1.0, 1.0, 1.0))
    return tuple(float(x) for x in bg)  # type: ignore[return-value]


def render_fitted(scene_dir: str | Path, cameras_json: str | Path, out_dir: str | Path, *,
                  depth: bool = False) -> int:
    """Render a fitted scene at cameras given in the input world frame; returns the count.

    Writes ``out_dir/images/cam_XXX.png`` (RGBA) and ``out_dir/opencv_cameras.json`` holding the
    given cameras (input world frame), so the folder can serve as a ground-truth-style folder;
    with ``depth``, ``out_dir/depth/cam_XXX.npy`` (float32 camera-frame z). Cameras may differ
    in size. The files appear together when every view is rendered (built in a hidden sibling
    folder, then moved in), so a failed render leaves nothing behind.
    """
    out_dir = check_output_path(out_dir, what="render output folder")
    g, sim, report = load_fitted(scene_dir)
    cams = read_cameras_file(cameras_json, need_file_paths=False)
    bg = fitted_background(report)
    method = fitted_method(report)
    named: list[Camera] = []
    with staged_directory(out_dir) as tmp:
        for first, chunk in _chunks(cams):
            r = render_cameras(g, [sim.camera_to_canonical(c) for c in chunk], background=bg,
                               with_depth=depth, method=method)
            rgb = r.straight_rgb(bg)
            for k, cam in enumerate(chunk):
                rel = view_file_path(first + k)
                write_png(tmp / rel, rgba_uint8(rgb[k], r.alpha[k]))
                if depth:
                    atomic_write_bytes(tmp / f"depth/cam_{first + k:03d}.npy",
                                       _npy_bytes(r.depth[k]))
                # The cameras written beside the images are the given ones (input frame).
                named.append(replace(cam, file_path=rel))
        atomic_write_json(tmp / CAMERAS_FILE, cameras_to_json(named,
                                                              scene_id=Path(scene_dir).name))
    return len(cams)


def _chunks(cams: list[Camera]):
    """(index of the first, cameras) runs of one image size and at most
    :data:`RENDER_CHUNK_PIXELS` pixels."""
    first, chunk, pixels = 0, [], 0
    for i, c in enumerate(cams):
        if chunk and (pixels + c.w * c.h > RENDER_CHUNK_PIXELS
                      or (c.w, c.h) != (chunk[0].w, chunk[0].h)):
            yield first, chunk
            first, chunk, pixels = i, [], 0
        chunk.append(c)
        pixels += c.w * c.h
    if chunk:
        yield first, chunk


def _npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(a, dtype=np.float32))
    return buf.getvalue()


def evaluate_fitted(scene_dir: str | Path, gt_dir: str | Path, out: str | Path | None = None
                    ) -> tuple[ScoreSet, Path]:
    """Score a fitted scene against a ground-truth folder (input world frame); the scores are
    also written as JSON to ``out`` (default ``SCENE/eval_<gt folder name>.json``), with
    ``views_without_mask``: the images without alpha, whose silhouette is not scored (their
    IoU is NaN, null in the JSON).

    Returns:
        (the scores, the JSON file written).
    """
    path = Path(out) if out else Path(scene_dir) / f"eval_{Path(gt_dir).resolve().name}.json"
    check_output_path(path, kind="file", what="scores file")
    g, sim, report = load_fitted(scene_dir)
    gt = load_ground_truth(Path(gt_dir))
    bg = fitted_background(report)
    r = render_ground_truth(g, sim, gt, background=bg, method=fitted_method(report))
    scores = score_renders(r, gt, bg)
    atomic_write_json(path, {**scores.to_json(), "gt": str(Path(gt_dir).resolve()),
                             "views_without_mask": gt.views_without_mask})
    return scores, path
