"""Align a rig's cameras to its 2D keypoints: robust bundle adjustment (numpy + scipy).

Convention: cameras are undistorted OpenCV pinholes (``Camera``); keypoints are [C, K, 3]
(x, y, confidence) in each view's pixels (pixel-corner origin), NaN or conf <= 0 meaning "not
seen". A corrected camera is the given one turned about its centre (refined R = exp(phi) R,
as :class:`splatsynth.optim.PoseDeltas` turns cameras) and, unless the centres are fixed, with
its centre moved.

The gauge: the reference view never moves, which pins the world's rotation and position. The
scale is pinned by a prior that keeps each centre near its calibrated place (a shift of
``centre_sigma`` times its distance to the subject costs as much as one label error of
``noise_px``): a single frame of keypoints barely tells a far camera's depth from its scale,
while the calibration knows both to better than a percent. ``centre_sigma=None`` fixes the
centres and turns the cameras only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import SplatsynthError
from .camera import Camera
from .rotations import rotation_angle_deg
from .triangulation import triangulate_robust

#: Bound of the refinement's angle per view (degrees). A calibration more than this far off
#: is not a small error to polish: the keypoints are more likely wrong (swapped left/right).
MAX_ROTATION_DEG = 5.0


@dataclass(frozen=True)
class KeypointAlignment:
    """The result of :func:`align_to_keypoints`.

    Attributes:
        cameras: C cameras, aligned when ``applied``, else exactly as given.
        applied: whether the alignment was accepted.
        reason: why not (empty when applied).
        moved: [C] bool, views the alignment was free to move (not the gauge, enough points).
        rotation_deg: [C] angle of each view's correction (0 when not applied).
        centre_shift: [C] how far each centre moved (world units; 0 when not applied).
        residual_before: (median, p90) reprojection error in pixels over the used labels,
            at the given cameras (3D points fitted to them); NaN when nothing was solved.
        residual_after: the same at the aligned cameras (equal to ``residual_before`` when
            not applied).
        num_points: 3D points (keypoints seen by >= 2 views) the solve used.
        points: [K, 3] those points at the aligned cameras (NaN for the unused).
    """

    cameras: list[Camera]
    applied: bool
    reason: str
    moved: np.ndarray
    rotation_deg: np.ndarray
    centre_shift: np.ndarray
    residual_before: tuple[float, float] = (float("nan"), float("nan"))
    residual_after: tuple[float, float] = (float("nan"), float("nan"))
    num_points: int = 0
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))

    def summary(self) -> dict:
        """A JSON-ready digest (the fit's report carries it)."""
        return {"applied": self.applied, "reason": self.reason,
                "moved_views": [int(i) for i in np.flatnonzero(self.moved)],
                "rotation_deg": [float(x) for x in self.rotation_deg],
                "centre_shift": [float(x) for x in self.centre_shift],
                "residual_px_before": {"median": self.residual_before[0],
                                       "p90": self.residual_before[1]},
                "residual_px_after": {"median": self.residual_after[0],
                                      "p90": self.residual_after[1]},
                "num_points": self.num_points}


def keypoint_array(keypoints: Sequence[np.ndarray | None], num_keypoints: int) -> np.ndarray:
    """[C, K, 3] from per-view [K, 3] keypoints, views without any (None) as unseen rows."""
    rows = []
    for i, k in enumerate(keypoints):
        a = np.full((num_keypoints, 3), np.nan) if k is None else np.asarray(k, np.float64)
        if a.shape != (num_keypoints, 3):
            raise SplatsynthError(f"keypoints of view {i}: expected [{num_keypoints}, 3] "
                                  f"(x, y, confidence), got {list(a.shape)}")
        rows.append(a)
    return np.stack(rows) if rows else np.zeros((0, num_keypoints, 3))


def align_to_keypoints(cameras: Sequence[Camera], keypoints: np.ndarray, *, gauge: int = 0,
                       views: Sequence[int] | None = None, noise_px: float = 3.0,
                       centre_sigma: float | None = None,
                       rotation_sigma_deg: float | None = 0.5, min_points: int = 4,
                       significance: float = 0.01,
                       max_rotation_deg: float = MAX_ROTATION_DEG) -> KeypointAlignment:
    """Refine the poses of ``views`` (but ``gauge``) so they agree with the keypoints.

    Robust bundle adjustment: the views' rotations (and centres, near their calibrated places)
    and the keypoints' 3D positions minimise the soft-L1 reprojection error (scale
    ``noise_px``), from points triangulated at the given cameras. The result is accepted only
    when that error drops below its value at the given cameras (the points refitted to them)
    by more than fitting label noise with the views' extra unknowns would (an F-test at
    ``significance``: a few keypoints fit their own noise with a turn of a camera, and exact
    cameras should stay), and no view turns by more than ``max_rotation_deg``.

    Args:
        cameras: C cameras (undistorted pinholes, any world frame).
        keypoints: [C, K, 3] (x, y, conf) per view; NaN coordinates, conf <= 0 or labels
            more than an image's size outside the image are unseen.
            Several frames of a rig can be given as more keypoints ([C, F * K, 3]).
        gauge: the view that stays fixed.
        views: the views to use (default all; the others are left out and unchanged).
        noise_px: expected label error in pixels: the robust loss's scale, and the price of
            moving a centre by ``centre_sigma``.
        centre_sigma: how far a centre may plausibly be off, as a fraction of its distance to
            the keypoints' centroid; None (the default) keeps the centres fixed and turns the
            cameras only: one frame of a few noisy keypoints cannot tell a centre's error from
            a turn (docs/fit.md, "Pose refinement"), and the turn moves the subject the same.
        rotation_sigma_deg: how far a view may plausibly be turned (degrees): a prior that
            keeps each turn small, at the price of one label error of ``noise_px`` per
            ``rotation_sigma_deg``; None for no prior. Needed with fixed centres: moving the
            subject along the gauge view's rays while the other views turn to follow it
            changes their images only by perspective, which a far rig barely shows, so few
            noisy keypoints let the turns wander by degrees (bench/RESULTS.md).
        significance: the F-test's level (smaller: surer before moving anything).
        min_points: fewest usable keypoints (seen by >= 2 used views) a view needs to move;
            the gauge needs as many, or nothing moves.
        max_rotation_deg: largest correction believed.
    Returns:
        :class:`KeypointAlignment`; the given cameras with a ``reason`` when it refused.
    Raises:
        SplatsynthError: malformed keypoints or arguments.
    """
    cams = list(cameras)
    C = len(cams)
    kp = _checked_keypoints(keypoints, C)
    use = list(range(C)) if views is None else sorted({int(v) for v in views})
    if any(not 0 <= v < C for v in use):
        raise SplatsynthError(f"keypoint alignment: views {use} out of range for {C} cameras")
    if gauge not in use:
        raise SplatsynthError(f"keypoint alignment: the gauge view {gauge} is not among the "
                              f"views used {use}")
    if not (noise_px > 0 and min_points >= 2 and max_rotation_deg > 0 and 0 < significance < 1
            and (centre_sigma is None or centre_sigma > 0)
            and (rotation_sigma_deg is None or rotation_sigma_deg > 0)):
        raise SplatsynthError("keypoint alignment: noise_px, centre_sigma, rotation_sigma_deg "
                              "and max_rotation_deg must be > 0, significance in (0, 1) and "
                              "min_points >= 2")

    zeros = np.zeros(C)
    idle = KeypointAlignment(cams, False, "", np.zeros(C, bool), zeros, zeros.copy())

    # Observations: finite, confident, in a used view, of a keypoint two used views see.
    seen = np.isfinite(kp).all(-1) & (kp[..., 2] > 0)
    # A label more than an image's size outside its image is junk, not a far-off keypoint.
    wh = np.array([[c.w, c.h] for c in cams], np.float64)[:, None, :]
    with np.errstate(invalid="ignore"):
        seen &= np.all((kp[..., :2] > -wh) & (kp[..., :2] < 2 * wh), axis=-1)
    seen[[i for i in range(C) if i not in use]] = False
    seen &= seen.sum(0, keepdims=True) >= 2
    per_view = seen.sum(1)
    if per_view[gauge] < min_points:
        return _refused(idle, f"the gauge view {gauge} sees {per_view[gauge]} keypoints that "
                              f"another view sees too, fewer than {min_points}")
    free = np.array([i in use and i != gauge and per_view[i] >= min_points for i in range(C)])
    if not free.any():
        return _refused(idle, f"no view but the gauge sees {min_points} or more keypoints "
                              f"that another view sees too")

    # Points from the given cameras. The inlier bound is wide: a perturbed camera's labels
    # are off by tens of pixels, and dropping them here would hide the error being fixed.
    wide = 0.1 * max(max(c.w, c.h) for c in cams)
    pts, keep = [], []
    for k in np.flatnonzero(seen.any(0)):
        vs = np.flatnonzero(seen[:, k])
        X, _, _ = triangulate_robust([cams[v] for v in vs], kp[vs, k, :2], kp[vs, k, 2],
                                     outlier_px=wide)
        if np.all(np.isfinite(X)):
            pts.append(X)
            keep.append(k)
    if not keep:
        return _refused(idle, "no keypoint could be triangulated")
    problem = _Problem(cams, kp, seen, np.array(keep), np.array(pts), free, noise_px,
                       centre_sigma, rotation_sigma_deg)

    # "Before": the points refitted to the given cameras, so the comparison is fair.
    before = problem.solve(cameras_move=False)
    after = problem.solve(cameras_move=True, start=before.x)
    res_before, res_after = problem.residual_stats(before.x), problem.residual_stats(after.x)
    aligned = problem.cameras(after.x)
    rot = rotation_angle_deg(np.stack([a.R @ b.R.T for a, b in zip(aligned, cams)]))
    shift = np.array([np.linalg.norm(a.center - b.center) for a, b in zip(aligned, cams)])
    stats = dict(moved=free, residual_before=res_before, num_points=len(keep))
    if not after.cost < before.cost:
        return _refused(idle, "the alignment did not lower the robust reprojection error "
                              f"({after.cost:.4g} vs {before.cost:.4g})", **stats,
                        residual_after=res_before)
    # F-test on the robust costs (~ half the squared errors for inliers): does the drop
    # exceed what the views' k extra unknowns would win from label noise alone?
    k, dof = problem.n_cam, len(problem.residuals(after.x)) - len(after.x)
    if dof < 1:
        return _refused(idle, f"{len(problem.obs_v)} labels are too few to check "
                              f"{len(after.x)} unknowns", **stats, residual_after=res_before)
    from scipy.stats import f as f_dist

    F = ((before.cost - after.cost) / k) / max(after.cost / dof, 1e-300)
    p = float(f_dist.sf(F, k, dof))
    if not p < significance:
        return _refused(idle, f"the keypoints do not show the calibration to be off beyond "
                              f"their noise (F-test p = {p:.2g}, needs < {significance:g})",
                        **stats, residual_after=res_before)
    if rot.max() > max_rotation_deg:
        v = int(rot.argmax())
        return _refused(idle, f"it would turn view {v} by {rot[v]:.1f} deg, more than "
                              f"{max_rotation_deg:g}: check the keypoints", **stats,
                        residual_after=res_before)
    points = np.full((kp.shape[1], 3), np.nan)
    points[problem.keep] = problem.points(after.x)
    return KeypointAlignment(aligned, True, "", free, rot, shift, res_before, res_after,
                             len(keep), points)


def _refused(idle: KeypointAlignment, reason: str, **stats) -> KeypointAlignment:
    from dataclasses import replace

    return replace(idle, reason=reason, **stats)


def _checked_keypoints(keypoints: np.ndarray, num_cameras: int) -> np.ndarray:
    """[C, K, 3] float64, or a SplatsynthError that says what is wrong."""
    try:
        kp = np.array(keypoints, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise SplatsynthError(f"keypoint alignment: keypoints are not numeric ({e})") from e
    if kp.ndim != 3 or kp.shape[0] != num_cameras or kp.shape[2] != 3:
        raise SplatsynthError(f"keypoint alignment: keypoints must be [C={num_cameras}, K, 3] "
                              f"(x, y, confidence), got {list(kp.shape)}")
    return kp


class _Problem:
    """The bundle adjustment's unknowns and residuals.

    Unknowns, in order: per free view the rotation increment phi [3] (radians, camera side)
    and, with a centre prior, the centre shift in units of its prior width [3]; then the used
    keypoints' 3D points [P, 3]. Residuals: per observation the pixel error (u, v) times
    sqrt(conf), then the priors on the turns and on the centre shifts, ``noise_px`` per
    prior width.
    """

    def __init__(self, cams: list[Camera], kp: np.ndarray, seen: np.ndarray, keep: np.ndarray,
                 points: np.ndarray, free: np.ndarray, noise_px: float,
                 centre_sigma: float | None, rotation_sigma_deg: float | None):
        self.cams, self.keep, self.points0 = cams, keep, points
        self.free_idx = np.flatnonzero(free)
        self.noise_px = noise_px
        self.with_centres = centre_sigma is not None
        self.rot_sigma = None if rotation_sigma_deg is None else np.radians(rotation_sigma_deg)
        self.per_view = 6 if self.with_centres else 3
        obs_v, obs_p = np.nonzero(seen[:, keep])  # view and point (index into keep) per label
        self.obs_v, self.obs_p = obs_v, obs_p
        self.uv = kp[obs_v, keep[obs_p], :2]
        self.sw = np.sqrt(np.minimum(kp[obs_v, keep[obs_p], 2], 1.0))
        self.R0 = np.stack([c.R for c in cams])
        self.c0 = np.stack([c.center for c in cams])
        self.f = np.array([[c.fx, c.fy, c.cx, c.cy] for c in cams])
        centroid = points.mean(0)
        dist = np.linalg.norm(self.c0 - centroid, axis=1)
        self.sigma = (centre_sigma or 0.0) * np.maximum(dist, 1e-12)  # [C] world units
        self.slot = np.full(len(cams), -1)  # camera -> its block among the free views
        self.slot[self.free_idx] = np.arange(len(self.free_idx))
        self.n_cam = len(self.free_idx) * self.per_view

    # --- unknowns <-> cameras and points ---------------------------------------------------
    def _poses(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[C, 3, 3] rotations and [C, 3] centres at ``x``."""
        from scipy.spatial.transform import Rotation

        R, c = self.R0.copy(), self.c0.copy()
        blocks = x[:self.n_cam].reshape(len(self.free_idx), self.per_view)
        if len(self.free_idx):
            R[self.free_idx] = Rotation.from_rotvec(blocks[:, :3]).as_matrix() @ R[self.free_idx]
            if self.with_centres:
                c[self.free_idx] += blocks[:, 3:] * self.sigma[self.free_idx, None]
        return R, c

    def points(self, x: np.ndarray) -> np.ndarray:
        return x[self.n_cam:].reshape(-1, 3)

    def cameras(self, x: np.ndarray) -> list[Camera]:
        R, c = self._poses(x)
        out = []
        for i, cam in enumerate(self.cams):
            if self.slot[i] < 0:
                out.append(cam)
                continue
            w2c = np.eye(4)
            w2c[:3, :3], w2c[:3, 3] = R[i], -R[i] @ c[i]
            out.append(cam.with_w2c(w2c))
        return out

    # --- residuals -----------------------------------------------------------------------
    def _pixel_errors(self, x: np.ndarray) -> np.ndarray:
        """[N, 2] reprojection errors (pixels, unweighted)."""
        R, c = self._poses(x)
        X = self.points(x)[self.obs_p]
        v = self.obs_v
        pc = np.einsum("nij,nj->ni", R[v], X - c[v])
        # A point behind a camera is a wild error, not a reason to stop: clamp its depth.
        z = np.maximum(pc[:, 2], 1e-6 * np.linalg.norm(pc, axis=1) + 1e-12)
        f = self.f[v]
        return np.stack([f[:, 0] * pc[:, 0] / z + f[:, 2], f[:, 1] * pc[:, 1] / z + f[:, 3]],
                        -1) - self.uv

    def residuals(self, x: np.ndarray) -> np.ndarray:
        r = [(self._pixel_errors(x) * self.sw[:, None]).reshape(-1)]
        blocks = x[:self.n_cam].reshape(-1, self.per_view)
        if self.rot_sigma is not None:
            r.append(blocks[:, :3].reshape(-1) * (self.noise_px / self.rot_sigma))
        if self.with_centres:
            r.append(blocks[:, 3:].reshape(-1) * self.noise_px)
        return np.concatenate(r)

    def residual_stats(self, x: np.ndarray) -> tuple[float, float]:
        e = np.linalg.norm(self._pixel_errors(x), axis=1)
        return float(np.median(e)), float(np.percentile(e, 90))

    def _sparsity(self, cameras_move: bool):
        from scipy.sparse import lil_matrix

        n_obs, n_pts = len(self.obs_v), len(self.keep)
        # Prior rows, in the order residuals() appends them: (block column offset) per row.
        prior_cols = []
        if self.rot_sigma is not None:
            prior_cols += [0, 1, 2]
        if self.with_centres:
            prior_cols += [3, 4, 5]
        n_prior = len(self.free_idx) * len(prior_cols)
        cols = (self.n_cam if cameras_move else 0) + 3 * n_pts
        off = self.n_cam if cameras_move else 0
        S = lil_matrix((2 * n_obs + n_prior, cols), dtype=np.int8)
        rows = np.arange(n_obs)
        for d in range(3):
            S[2 * rows, off + 3 * self.obs_p + d] = 1
            S[2 * rows + 1, off + 3 * self.obs_p + d] = 1
        if cameras_move:
            mine = self.slot[self.obs_v] >= 0
            for d in range(self.per_view):
                col = self.slot[self.obs_v[mine]] * self.per_view + d
                S[2 * rows[mine], col] = 1
                S[2 * rows[mine] + 1, col] = 1
            row = 2 * n_obs
            for group in range(len(prior_cols) // 3):
                for b in range(len(self.free_idx)):
                    for d in range(3):
                        S[row, b * self.per_view + prior_cols[3 * group + d]] = 1
                        row += 1
        return S

    def solve(self, *, cameras_move: bool, start: np.ndarray | None = None):
        """scipy's least_squares over the points (and the free views when ``cameras_move``);
        returns its result with ``x`` the full unknown vector and ``cost`` the robust cost
        (the centre prior included, at zero when the cameras stay)."""
        from scipy.optimize import least_squares

        x0 = np.concatenate([np.zeros(self.n_cam), self.points0.reshape(-1)]) \
            if start is None else start.copy()
        if cameras_move:
            def fun(x):
                return self.residuals(x)
            y0 = x0
        else:
            cam_part = x0[:self.n_cam]

            def fun(y):
                return self.residuals(np.concatenate([cam_part, y]))
            y0 = x0[self.n_cam:]
        res = least_squares(fun, y0, jac_sparsity=self._sparsity(cameras_move), loss="soft_l1",
                            f_scale=self.noise_px, x_scale="jac", method="trf",
                            max_nfev=200, xtol=1e-10, ftol=1e-10)
        if not cameras_move:
            res.x = np.concatenate([x0[:self.n_cam], res.x])
        return res

