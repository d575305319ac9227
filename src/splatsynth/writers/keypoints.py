"""Keypoints for the rendered views: projection with occlusion, JSON and heatmaps.

Convention: pixel coordinates have the top-left image corner at (0, 0), so the centre of pixel
(i, j) is (i + 0.5, j + 0.5) (SPEC §2); a point at (x, y) falls in pixel (floor(x), floor(y)).
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..cameras import Camera
from ..errors import SplatsynthError
from ..fileio import atomic_write_bytes, atomic_write_json

KEYPOINTS_FILE = "keypoints_2d.json"
HEATMAPS_FILE = "keypoints_heatmaps.npz"


def project_keypoints(points3d: np.ndarray, cameras: Sequence[Camera],
                      depth_maps: np.ndarray | None = None, *, tol: float = 0.05,
                      near: float = 1e-6) -> np.ndarray:
    """Project 3D keypoints into every view and decide which are visible.

    A keypoint is visible (vis = 1) when it is known, in front of the camera, inside the image,
    and not hidden: the rendered depth at its pixel is not in front of the point by more than
    ``tol``. Pixels with no rendered depth (non-finite or <= 0) hide nothing.

    Args:
        points3d: [K, 3] world positions (canonical frame); NaN rows are unknown keypoints.
        cameras: C cameras.
        depth_maps: [C, H, W] rendered camera-frame depth, or None to skip the occlusion test.
        tol: depth slack in world units; keypoints are usually inside the body (joints) or on
            its surface, and the rendered expected depth is a blend of nearby Gaussians.
        near: points with camera depth below this are behind the camera.
    Returns:
        [C, K, 3] (x, y, vis) with vis in {0, 1}; x and y are NaN for unknown keypoints and for
        ones behind the camera, and the projected pixel otherwise (also when vis = 0).
    """
    points3d = np.asarray(points3d, dtype=np.float64).reshape(-1, 3)
    C, K = len(cameras), points3d.shape[0]
    if depth_maps is not None:
        depth_maps = np.asarray(depth_maps)
        if depth_maps.ndim != 3 or depth_maps.shape[0] != C:
            raise SplatsynthError(f"depth maps must be [{C}, H, W], got {depth_maps.shape}")
    known = np.all(np.isfinite(points3d), axis=-1)
    out = np.full((C, K, 3), np.nan)
    out[..., 2] = 0.0
    for c, cam in enumerate(cameras):
        uv, z = cam.project(np.where(known[:, None], points3d, 0.0))
        front = known & (z > near)
        out[c, front, :2] = uv[front]
        inside = front & (uv[:, 0] >= 0) & (uv[:, 0] < cam.w) & (uv[:, 1] >= 0) & (
            uv[:, 1] < cam.h)
        vis = inside.copy()
        if depth_maps is not None:
            dm = depth_maps[c]
            if dm.shape != (cam.h, cam.w):
                raise SplatsynthError(f"depth map {c} is {dm.shape[::-1]} (W, H) but camera {c} "
                                      f"is {cam.w}x{cam.h}")
            idx = np.flatnonzero(inside)
            px = np.floor(uv[idx, 0]).astype(np.int64)
            py = np.floor(uv[idx, 1]).astype(np.int64)
            d = dm[py, px].astype(np.float64)
            surface = np.isfinite(d) & (d > 0)
            vis[idx[surface & (d < z[idx] - tol)]] = False
        out[c, :, 2] = vis
    return out


def write_keypoints_json(scene_dir: str | os.PathLike[str], names: Sequence[str],
                         per_view: Mapping[str, np.ndarray]) -> Path:
    """Write ``keypoints_2d.json``: ``{"names": [...], "views": {file_path: [[x, y, vis]]}}``.

    The layout mirrors the input ``keypoints.json`` with a visibility flag in place of the
    confidence. Unknown coordinates (NaN) are written as ``null``.

    Args:
        scene_dir: the scene folder.
        names: K keypoint names.
        per_view: view ``file_path`` (e.g. ``images/cam_000.png``) -> [K, 3] (x, y, vis).
    Returns:
        The path written.
    """
    views = {}
    for fp, kp in per_view.items():
        kp = np.asarray(kp, dtype=np.float64)
        if kp.shape != (len(names), 3):
            raise SplatsynthError(f"keypoints for {fp}: expected [{len(names)}, 3], got "
                                  f"{kp.shape}")
        views[fp] = [[_num(x), _num(y), int(v > 0.5)] for x, y, v in kp]
    doc = {"names": list(names), "convention": "x, y in pixels, top-left image corner at (0, 0); "
           "vis 1 = visible, 0 = occluded, outside the image, behind the camera or unknown",
           "views": views}
    return atomic_write_json(Path(scene_dir) / KEYPOINTS_FILE, doc, indent=1)


def _num(x: float) -> float | None:
    return float(round(x, 4)) if np.isfinite(x) else None


def keypoint_heatmaps(keypoints_2d: np.ndarray, size: tuple[int, int], sigma: float = 2.0, *,
                      image_size: tuple[int, int] | None = None) -> np.ndarray:
    """Unnormalized 2D Gaussian heatmaps (peak 1) of the visible keypoints.

    Args:
        keypoints_2d: [C, K, 3] (x, y, vis) in image pixels.
        size: (H, W) of the heatmaps.
        sigma: Gaussian standard deviation in heatmap pixels.
        image_size: (H, W) of the images the keypoints refer to, when heatmaps are smaller;
            default: same as ``size``.
    Returns:
        [C, K, H, W] float32; all zero for keypoints with vis = 0.
    """
    kp = np.asarray(keypoints_2d, dtype=np.float64)
    H, W = size
    ih, iw = image_size or size
    x = kp[..., 0] * (W / iw)
    y = kp[..., 1] * (H / ih)
    on = (kp[..., 2] > 0.5) & np.isfinite(x) & np.isfinite(y)
    x, y = np.where(on, x, 0.0), np.where(on, y, 0.0)
    # Separable: exp(-(dx^2 + dy^2) / 2s^2) = gx * gy, evaluated at pixel centres (i + 0.5).
    gx = np.exp(-((np.arange(W) + 0.5)[None, None, :] - x[..., None]) ** 2 / (2 * sigma**2))
    gy = np.exp(-((np.arange(H) + 0.5)[None, None, :] - y[..., None]) ** 2 / (2 * sigma**2))
    hm = (gy[..., :, None] * gx[..., None, :]).astype(np.float32)
    hm[~on] = 0.0
    return hm


def write_heatmaps_npz(scene_dir: str | os.PathLike[str], keypoints_2d: np.ndarray,
                       size: tuple[int, int], sigma: float = 2.0, *,
                       image_size: tuple[int, int] | None = None) -> Path:
    """Write ``keypoints_heatmaps.npz`` (compressed) with ``heatmaps`` [C, K, H, W] float16,
    ``keypoints`` [C, K, 3] and ``sigma``; see :func:`keypoint_heatmaps` for the arguments.

    Heatmaps are mostly zeros, so the compressed file is small even at full resolution, but
    memory is C * K * H * W * 4 bytes while building: pass a smaller ``size`` with
    ``image_size`` for large scenes.
    """
    hm = keypoint_heatmaps(keypoints_2d, size, sigma, image_size=image_size)
    buf = io.BytesIO()
    np.savez_compressed(buf, heatmaps=hm.astype(np.float16),
                        keypoints=np.asarray(keypoints_2d, dtype=np.float32),
                        sigma=np.float32(sigma))
    return atomic_write_bytes(Path(scene_dir) / HEATMAPS_FILE, buf.getvalue())
