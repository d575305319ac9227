"""The GS-LRM scene layout that FaceLift's ``RandomViewDataset`` reads unchanged.

    <scene>/images/cam_000.png ...   RGBA 8-bit, colour straight (not premultiplied)
    <scene>/opencv_cameras.json      {"id": scene_id, "frames": [{w, h, fx, fy, cx, cy, w2c,
                                      file_path}, ...]}
    <scene>/depth/cam_000.png ...    optional 16-bit depth, value * depth/scale.json["scale"]
    <scene>/alpha/cam_000.png ...    optional 8-bit opacity maps
    <scene>/gaussians.ply            written through :func:`write_gaussians_ply`

FaceLift composites each RGBA image onto its background with PIL's ``paste(image,
mask=alpha)``, i.e. ``rgb * alpha + bg * (1 - alpha)``, so the stored colour must be straight
(un-premultiplied): a premultiplied colour would be darkened twice at soft edges.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..cameras import Camera, cameras_to_json
from ..errors import SplatsynthError
from ..fileio import (
    atomic_path,
    atomic_write_bytes,
    atomic_write_json,
    rgba_uint8,
    to_uint8,
    write_pngs,
)

CAMERAS_FILE = "opencv_cameras.json"
PLY_FILE = "gaussians.ply"
#: 16-bit depth: 0 means "no depth" (nothing rendered there).
DEPTH_INVALID = 0


def view_file_path(i: int, folder: str = "images") -> str:
    """The relative path of view ``i``: ``images/cam_000.png`` ..."""
    return f"{folder}/cam_{i:03d}.png"


def _check_views(scene_id: str, cameras: Sequence[Camera], rgb: np.ndarray, alpha: np.ndarray,
                 depth: np.ndarray | None) -> None:
    where = f"scene {scene_id}"
    C = len(cameras)
    if rgb.ndim != 4 or rgb.shape[-1] != 3:
        raise SplatsynthError(f"{where}: rgb must be [C, H, W, 3], got {rgb.shape}")
    if rgb.shape[0] != C:
        raise SplatsynthError(f"{where}: {rgb.shape[0]} rendered views for {C} cameras")
    H, W = rgb.shape[1:3]
    if alpha.shape != (C, H, W):
        raise SplatsynthError(f"{where}: alpha must be {(C, H, W)}, got {alpha.shape}")
    if depth is not None and depth.shape != (C, H, W):
        raise SplatsynthError(f"{where}: depth must be {(C, H, W)}, got {depth.shape}")
    for i, cam in enumerate(cameras):
        if (cam.w, cam.h) != (W, H):
            raise SplatsynthError(f"{where}: camera {i} is {cam.w}x{cam.h} but its rendered "
                                  f"image is {W}x{H}")


def depth_to_uint16(depth: np.ndarray) -> tuple[np.ndarray, float]:
    """Quantize depth for 16-bit PNGs with one scale per scene.

    Args:
        depth: [C, H, W] camera-frame z; non-finite or <= 0 means no depth.
    Returns:
        ([C, H, W] uint16 with 0 = no depth, scale) so that ``depth ~= value * scale``.
    """
    valid = np.isfinite(depth) & (depth > 0)
    dmax = float(depth[valid].max()) if valid.any() else 1.0
    scale = dmax / 65535.0
    q = np.zeros(depth.shape, dtype=np.uint16)
    # Round to nearest, but never down to 0, which is reserved for "no depth".
    q[valid] = np.clip(np.rint(depth[valid] / scale), 1, 65535).astype(np.uint16)
    return q, scale


def write_gslrm_views(scene_dir: str | os.PathLike[str], scene_id: str,
                      cameras: Sequence[Camera], rgb: np.ndarray, alpha: np.ndarray, *,
                      depth: np.ndarray | None = None, write_alpha_maps: bool = False,
                      depth_format: Literal["png16", "npy"] = "png16") -> dict[str, Any]:
    """Write the rendered orbit and its cameras in FaceLift's GS-LRM layout.

    Views are named ``images/cam_{i:03d}.png`` in camera order whatever the cameras'
    ``file_path`` says, because the layout fixes the names.

    Args:
        scene_dir: the scene folder to fill (usually the temporary folder of
            :func:`~splatsynth.writers.atomic.scene_dir_transaction`).
        scene_id: written as ``"id"`` in ``opencv_cameras.json``.
        cameras: C cameras the views were rendered at (canonical frame).
        rgb: [C, H, W, 3] float colour in [0, 1], straight (not multiplied by alpha).
        alpha: [C, H, W] float rendered opacity in [0, 1].
        depth: [C, H, W] optional camera-frame depth (world units); non-finite or <= 0 = none.
        write_alpha_maps: also write ``alpha/cam_XXX.png`` (8-bit grey).
        depth_format: ``"png16"`` (``depth/cam_XXX.png`` + ``depth/scale.json``) or ``"npy"``
            (``depth/cam_XXX.npy``, float32).
    Returns:
        A manifest of relative paths: ``{"cameras": ..., "images": [...], "depth": [...],
        "alpha": [...], "depth_scale": float | None}``.
    Raises:
        SplatsynthError: shapes that disagree with each other or with the cameras.
    """
    scene_dir = Path(scene_dir)
    rgb = np.asarray(rgb)
    alpha = np.asarray(alpha)
    depth = None if depth is None else np.asarray(depth, dtype=np.float32)
    _check_views(scene_id, cameras, rgb, alpha, depth)

    manifest: dict[str, Any] = {"cameras": CAMERAS_FILE, "images": [], "depth": [],
                                "alpha": [], "depth_scale": None}
    named = []
    pngs: list[tuple[Path, Callable[[], np.ndarray]]] = []
    for i, cam in enumerate(cameras):
        rel = view_file_path(i)
        pngs.append((scene_dir / rel, partial(_rgba_view, rgb, alpha, i)))
        manifest["images"].append(rel)
        named.append(replace(cam, file_path=rel))
        if write_alpha_maps:
            rel_a = view_file_path(i, "alpha")
            pngs.append((scene_dir / rel_a, partial(_alpha_view, alpha, i)))
            manifest["alpha"].append(rel_a)

    if depth is not None:
        if depth_format == "png16":
            q, scale = depth_to_uint16(depth)
            for i in range(len(cameras)):
                rel_d = view_file_path(i, "depth")
                pngs.append((scene_dir / rel_d, partial(q.__getitem__, i)))
                manifest["depth"].append(rel_d)
            atomic_write_json(scene_dir / "depth" / "scale.json", {
                "scale": scale, "invalid": DEPTH_INVALID,
                "meaning": "camera-frame z in world units = png_value * scale; 0 = no depth"})
            manifest["depth_scale"] = scale
        elif depth_format == "npy":
            for i in range(len(cameras)):
                rel_d = f"depth/cam_{i:03d}.npy"
                atomic_write_bytes(scene_dir / rel_d, _npy_bytes(depth[i]))
                manifest["depth"].append(rel_d)
        else:
            raise ValueError(f"unknown depth_format {depth_format!r}")

    write_pngs(pngs)
    atomic_write_json(scene_dir / CAMERAS_FILE, cameras_to_json(named, scene_id=scene_id))
    return manifest


def _rgba_view(rgb: np.ndarray, alpha: np.ndarray, i: int) -> np.ndarray:
    return rgba_uint8(rgb[i], alpha[i])


def _alpha_view(alpha: np.ndarray, i: int) -> np.ndarray:
    return to_uint8(alpha[i])


def _npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def write_gaussians_ply(scene_dir: str | os.PathLike[str],
                        source: bytes | str | os.PathLike[str] | Callable[[Path], Any]) -> Path:
    """Put ``gaussians.ply`` into the scene folder.

    The PLY encoder lives in the gaussians room; this is the hook the pipeline calls.

    Args:
        scene_dir: the scene folder being filled.
        source: the PLY as bytes, a path to copy, or a callable that writes the file at the
            path it is given (e.g. ``lambda p: save_ply(gaussians, p)``).
    Returns:
        The path of the written PLY.
    """
    dest = Path(scene_dir) / PLY_FILE
    if isinstance(source, bytes | bytearray):
        atomic_write_bytes(dest, bytes(source))
    elif callable(source):
        with atomic_path(dest, suffix=".ply") as tmp:
            source(tmp)
            if not tmp.is_file() or tmp.stat().st_size == 0:
                raise SplatsynthError(f"{dest}: the PLY writer did not create it "
                                      f"(nothing written to {tmp.name})")
    else:
        src = Path(source)
        if not src.is_file():
            raise SplatsynthError(f"{src}: Gaussian PLY to copy does not exist")
        with atomic_path(dest, suffix=".ply") as tmp:
            shutil.copyfile(src, tmp)
    return dest
