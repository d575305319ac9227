"""Triangulate 2D keypoints seen by calibrated pinhole cameras (numpy only).

Convention: cameras are undistorted OpenCV pinholes (``Camera``); 2D points use the same pixel
convention as the cameras (top-left image corner at (0, 0)). Undistort labelled points with the
lens model of the importer before calling these functions.

``triangulate_robust`` is RANSAC over view pairs (a handful of views makes this exhaustive and
cheap), then a confidence-weighted linear solve on the inliers, then Gauss-Newton on the
reprojection error, re-deciding inliers until they stop changing.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .camera import Camera


def _projections(cameras: Sequence[Camera]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stacked [V, 3, 3] rotations, [V, 3] translations and [V, 4] (fx, fy, cx, cy)."""
    R = np.stack([c.R for c in cameras])
    t = np.stack([c.t for c in cameras])
    f = np.array([[c.fx, c.fy, c.cx, c.cy] for c in cameras], dtype=np.float64)
    return R, t, f


def _dlt(R: np.ndarray, t: np.ndarray, f: np.ndarray, uv: np.ndarray, w: np.ndarray
         ) -> np.ndarray:
    """Weighted linear triangulation in normalized camera coordinates.

    For a view with normalized coordinates (x, y) = ((u - cx) / fx, (v - cy) / fy) the point X
    satisfies (x r3 - r1) . X = t1 - x t3 and (y r3 - r2) . X = t2 - y t3. Rows are scaled by
    the focal length so residuals are in pixels at unit depth, and by sqrt(weight). Solving for
    the 3 inhomogeneous unknowns avoids the conditioning trouble of the homogeneous 4-vector
    when the world is in millimetres.
    """
    x = (uv[:, 0] - f[:, 2]) / f[:, 0]
    y = (uv[:, 1] - f[:, 3]) / f[:, 1]
    sw = np.sqrt(np.maximum(w, 0.0))
    A = np.concatenate([
        (x[:, None] * R[:, 2] - R[:, 0]) * (sw * f[:, 0])[:, None],
        (y[:, None] * R[:, 2] - R[:, 1]) * (sw * f[:, 1])[:, None]])
    b = np.concatenate([(t[:, 0] - x * t[:, 2]) * sw * f[:, 0],
                        (t[:, 1] - y * t[:, 2]) * sw * f[:, 1]])
    X, *_ = np.linalg.lstsq(A, b, rcond=None)
    return X


def _reproject(R: np.ndarray, t: np.ndarray, f: np.ndarray, X: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """[V, 2] pixels and [V] depths of the world point X in every view."""
    pc = R @ X + t
    z = pc[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = np.stack([f[:, 0] * pc[:, 0] / z + f[:, 2], f[:, 1] * pc[:, 1] / z + f[:, 3]], -1)
    return uv, z


def _errors(R, t, f, X, uv) -> np.ndarray:
    """[V] reprojection errors in pixels; inf where the point is behind the camera."""
    proj, z = _reproject(R, t, f, X)
    err = np.linalg.norm(proj - uv, axis=-1)
    return np.where(z > 0, err, np.inf)


def _gauss_newton(R, t, f, uv, w, X, iters: int = 10) -> np.ndarray:
    """Minimize sum_v w_v |pi_v(X) - uv_v|^2 from X (few views: 3x3 normal equations)."""
    for _ in range(iters):
        pc = R @ X + t  # [V, 3]
        z = pc[:, 2]
        if np.any(z <= 0):
            break
        proj = np.stack([f[:, 0] * pc[:, 0] / z + f[:, 2], f[:, 1] * pc[:, 1] / z + f[:, 3]], -1)
        r = (proj - uv).reshape(-1)  # [2V] ordered (u0, v0, u1, v1, ...)
        # d(u)/d(pc) = fx * (1/z, 0, -x/z^2); chain rule through pc = R X + t.
        du = f[:, 0:1] * (R[:, 0] / z[:, None] - pc[:, 0:1] * R[:, 2] / z[:, None] ** 2)
        dv = f[:, 1:2] * (R[:, 1] / z[:, None] - pc[:, 1:2] * R[:, 2] / z[:, None] ** 2)
        J = np.stack([du, dv], axis=1).reshape(-1, 3)
        ww = np.repeat(w, 2)
        H = J.T @ (J * ww[:, None])
        g = J.T @ (ww * r)
        try:
            step = np.linalg.solve(H, -g)
        except np.linalg.LinAlgError:
            break
        X = X + step
        if np.linalg.norm(step) <= 1e-12 * (1.0 + np.linalg.norm(X)):
            break
    return X


def triangulate_dlt(cameras: Sequence[Camera], points2d: np.ndarray,
                    weights: np.ndarray | None = None) -> np.ndarray:
    """Linear (DLT-style) triangulation of one point seen in V >= 2 views.

    Args:
        cameras: V cameras.
        points2d: [V, 2] pixel positions.
        weights: [V] non-negative weights (e.g. detector confidence); default all 1.
    Returns:
        [3] world point (least-squares, not reprojection-optimal; see ``triangulate_robust``).
    """
    uv = np.asarray(points2d, dtype=np.float64).reshape(-1, 2)
    w = np.ones(len(uv)) if weights is None else np.asarray(weights, dtype=np.float64)
    if len(cameras) != len(uv) or len(w) != len(uv):
        raise ValueError(f"{len(cameras)} cameras, {len(uv)} points and {len(w)} weights")
    R, t, f = _projections(cameras)
    return _dlt(R, t, f, uv, w)


def triangulate_robust(cameras: Sequence[Camera], points2d: np.ndarray, conf: np.ndarray,
                       *, min_views: int = 2, outlier_px: float = 10.0,
                       min_conf: float = 0.0, max_rounds: int = 5
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Triangulate one point, dropping views that disagree with the others.

    Steps: every pair of usable views proposes a point (RANSAC, exhaustive for few views);
    the proposal whose inliers (reprojection error < ``outlier_px``) carry the most confidence
    wins; then a confidence-weighted linear solve and Gauss-Newton on the inliers, repeated
    while the inlier set changes.

    Args:
        cameras: V cameras.
        points2d: [V, 2] pixel positions; NaN marks a view without the point.
        conf: [V] confidences; views with conf <= ``min_conf`` are not used.
        min_views: fewest agreeing views for a result.
        outlier_px: reprojection error above which a view is an outlier.
        min_conf: confidence threshold for a view to count.
        max_rounds: cap on inlier re-decisions.
    Returns:
        point: [3] world point, all NaN when fewer than ``min_views`` views agree.
        used: [V] bool, the views the point was computed from.
        reproj_err: [V] pixel error of ``point`` in every view with a 2D point (NaN elsewhere,
            and everywhere when the point is NaN).
    """
    uv = np.asarray(points2d, dtype=np.float64).reshape(-1, 2)
    c = np.asarray(conf, dtype=np.float64).reshape(-1)
    V = len(uv)
    if len(cameras) != V or len(c) != V:
        raise ValueError(f"{len(cameras)} cameras, {V} points and {len(c)} confidences")
    nan3 = np.full(3, np.nan)
    usable = np.all(np.isfinite(uv), axis=-1) & np.isfinite(c) & (c > min_conf)
    if usable.sum() < max(min_views, 2):
        return nan3, np.zeros(V, bool), np.full(V, np.nan)
    R, t, f = _projections(cameras)
    idx = np.flatnonzero(usable)
    uv0 = np.where(usable[:, None], uv, 0.0)

    def score(X: np.ndarray) -> tuple[np.ndarray, float, float]:
        err = _errors(R, t, f, X, uv0)
        inl = usable & (err < outlier_px)
        return inl, float(c[inl].sum()), float(np.sum(np.minimum(err[usable], outlier_px)))

    best = None
    candidates = [_dlt(R[idx], t[idx], f[idx], uv[idx], c[idx])]
    candidates += [_dlt(R[[a, b]], t[[a, b]], f[[a, b]], uv[[a, b]], np.ones(2))
                   for a, b in itertools.combinations(idx, 2)]
    for X in candidates:
        if not np.all(np.isfinite(X)):
            continue
        inl, s, cost = score(X)
        # Most confident support first, then the smaller truncated error (MSAC-style).
        if inl.sum() >= 2 and (best is None or (s, -cost) > (best[1], -best[2])):
            best = (inl, s, cost)
    if best is None:
        return nan3, np.zeros(V, bool), np.full(V, np.nan)

    inl = best[0]
    X = nan3
    for _ in range(max_rounds):
        X = _dlt(R[inl], t[inl], f[inl], uv[inl], c[inl])
        X = _gauss_newton(R[inl], t[inl], f[inl], uv[inl], c[inl], X)
        new_inl, _, _ = score(X)
        if np.array_equal(new_inl, inl) or new_inl.sum() < 2:
            break
        inl = new_inl
    err = np.where(usable, _errors(R, t, f, X, uv0), np.nan)
    if inl.sum() < min_views or not np.all(np.isfinite(X)):
        return nan3, np.zeros(V, bool), np.full(V, np.nan)
    return X, inl, err


@dataclass(frozen=True)
class TriangulationInfo:
    """Per-keypoint diagnostics of :func:`triangulate_keypoints`.

    Attributes:
        used_views: [K, V] bool, views each point was computed from.
        reproj_err: [K, V] pixel reprojection error (NaN where not defined).
    """

    used_views: np.ndarray
    reproj_err: np.ndarray

    @property
    def mean_reproj_err(self) -> np.ndarray:
        """[K] mean reprojection error over the used views (NaN for failed points)."""
        n = self.used_views.sum(axis=1)
        total = np.where(self.used_views, self.reproj_err, 0.0).sum(axis=1)
        return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def triangulate_keypoints(cameras: Sequence[Camera], keypoints: np.ndarray, *,
                          min_views: int = 2, outlier_px: float = 10.0,
                          min_conf: float = 0.0) -> tuple[np.ndarray, TriangulationInfo]:
    """Triangulate K keypoints labelled or detected in V views.

    Args:
        cameras: V cameras (undistorted pinholes).
        keypoints: [V, K, 3] (x, y, conf) per view; NaN coordinates or conf <= ``min_conf``
            mean "not seen in this view".
        min_views, outlier_px, min_conf: see :func:`triangulate_robust`.
    Returns:
        points3d: [K, 3] world points, NaN rows for keypoints seen in too few agreeing views.
        info: per-keypoint used views and reprojection errors.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[0] != len(cameras) or kp.shape[2] != 3:
        raise ValueError(f"keypoints must be [V={len(cameras)}, K, 3], got {kp.shape}")
    V, K = kp.shape[:2]
    pts = np.full((K, 3), np.nan)
    used = np.zeros((K, V), bool)
    err = np.full((K, V), np.nan)
    for k in range(K):
        pts[k], used[k], err[k] = triangulate_robust(
            cameras, kp[:, k, :2], kp[:, k, 2], min_views=min_views, outlier_px=outlier_px,
            min_conf=min_conf)
    return pts, TriangulationInfo(used, err)
