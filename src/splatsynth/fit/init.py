"""Initial Gaussians for a fit: on and inside the masks' visual hull, or random in a ball."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ..gaussians import Gaussians, gaussians_from_points, random_in_ball
from ..scene_io.scene import Scene


def sample_hull_points(points: np.ndarray, surface: np.ndarray, voxel_size: float, n: int,
                       rng: np.random.Generator, surface_fraction: float = 0.8) -> np.ndarray:
    """[n, 3] points jittered inside occupied voxels, mostly on the hull's surface (where the
    visible colour lives).

    Args:
        points: [M, 3] occupied voxel centres; surface: [M] bool, voxels with a free neighbour.
    """
    surf = np.flatnonzero(surface)
    inner = np.flatnonzero(~surface)
    if inner.size == 0:
        surf, surface_fraction = np.arange(points.shape[0]), 1.0
    n_surf = int(round(n * surface_fraction)) if inner.size else n
    idx = np.concatenate([rng.choice(surf, n_surf), rng.choice(inner, n - n_surf)]
                         if n > n_surf else [rng.choice(surf, n_surf)])
    jitter = (rng.random((idx.size, 3)) - 0.5) * voxel_size
    return points[idx] + jitter


def colors_from_views(points: np.ndarray, scene: Scene) -> np.ndarray:
    """[N, 3] colour of each point: the average of the views that see it inside their mask,
    weighted towards views facing the point's outward direction (a cheap stand-in for
    visibility, which the fit then corrects)."""
    centroid = points.mean(0)
    normals = points - centroid
    normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-9
    acc = np.zeros((points.shape[0], 3))
    wsum = np.zeros(points.shape[0])
    for view in scene.views:
        cam = view.camera
        uv, z = cam.project(points)
        ix, iy = np.floor(uv[:, 0]).astype(np.int64), np.floor(uv[:, 1]).astype(np.int64)
        ok = (z > 0) & (ix >= 0) & (iy >= 0) & (ix < cam.w) & (iy < cam.h)
        ixc, iyc = np.clip(ix, 0, cam.w - 1), np.clip(iy, 0, cam.h - 1)
        if view.mask is not None:
            ok &= view.mask[iyc, ixc] > 0.5
        to_cam = cam.center - points
        to_cam /= np.linalg.norm(to_cam, axis=1, keepdims=True) + 1e-9
        w = np.clip((normals * to_cam).sum(1), 0.0, None) ** 2 + 1e-3
        w = np.where(ok, w, 0.0)
        acc += w[:, None] * view.image[iyc, ixc]
        wsum += w
    out = np.full((points.shape[0], 3), 0.5)
    seen = wsum > 0
    out[seen] = acc[seen] / wsum[seen, None]
    return out


def neighbour_scales(points: np.ndarray, k: int = 3) -> np.ndarray:
    """[N] mean distance to the ``k`` nearest neighbours (3DGS's initial scale)."""
    if points.shape[0] <= 1:
        return np.full(points.shape[0], 0.01)
    kk = min(k + 1, points.shape[0])
    d, _ = cKDTree(points).query(points, kk)
    s = d[:, 1:].mean(1)
    return np.clip(s, 1e-4, np.percentile(s, 99) + 1e-9)


def init_from_hull(scene: Scene, hull_points: np.ndarray, surface: np.ndarray,
                   voxel_size: float, n: int, sh_degree: int, rng: np.random.Generator
                   ) -> Gaussians:
    """Gaussians sampled on/in the visual hull, coloured from the views."""
    pts = sample_hull_points(hull_points, surface, voxel_size, n, rng)
    return gaussians_from_points(pts, colors_from_views(pts, scene), neighbour_scales(pts),
                                 sh_degree)


def init_random(scene: Scene, n: int, radius: float, sh_degree: int, rng: np.random.Generator
                ) -> Gaussians:
    """Gaussians uniform in a ball of ``radius`` with grey colour (the no-mask fallback)."""
    pts = random_in_ball(n, radius, rng)
    return gaussians_from_points(pts, np.full((n, 3), 0.5), neighbour_scales(pts), sh_degree)
