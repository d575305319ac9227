"""The canonical frame (SPEC section 2): the subject centred at the origin, +Z up, scaled so
its radius is ``normalize.radius``, found from the masks by voxel carving.

Convention: a :class:`Similarity` maps world points to canonical ones,
``x_canon = scale * R @ x_world + t``; cameras move with it so every projection is unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from scipy import ndimage

from ..cameras import Camera
from ..errors import Problem, SceneError, SplatsynthError
from ..knobs import Knobs
from .scene import Scene, View

#: Half-width the default orbit (distance 2.7, 50 deg field of view) sees at the origin.
ORBIT_HALF_WIDTH = 2.7 * math.tan(math.radians(25.0))
#: Radius of the largest origin-centred ball that every default orbit view sees whole.
ORBIT_FIT_RADIUS = 2.7 * math.sin(math.radians(25.0))


@dataclass(frozen=True)
class NormalizeConfig(Knobs):
    """How a scene is moved into the canonical frame."""

    section = "normalize"

    radius: float = 1.0
    """Subject radius after normalization, in canonical units (the orbit sees 1.26 at the
    origin, so 1.0 leaves a margin)."""
    extent: Literal["robust", "sphere"] = "robust"
    """How the subject's size is measured on its visual hull: "sphere" = the bounding sphere of
    the whole hull; "robust" = the bounding sphere of the hull without its thin parts (see
    ``thin``), so a long tail does not shrink the body to a speck."""
    thin: float = 0.15
    """For "robust": parts that cannot hold a ball of this radius, as a fraction of the hull's
    volume-equivalent sphere radius, are left out (tails, whiskers, stray voxels)."""
    percentile: float = 100.0
    """For "robust": radius = this percentile of the remaining voxels' distances from the
    centre (100 = their bounding sphere; lower values crop the extremities)."""
    thin_room: float = 1.25
    """For "robust": the frame may zoom out by up to this factor so the thin parts stay inside
    the default orbit's views too (within 95 % of the 1.14-radius ball every orbit view sees
    whole); 1 = let them leave the frame."""
    up: Literal["auto", "z", "cameras"] = "auto"
    """Which world direction becomes +Z: "z" keeps world +Z, "cameras" takes the cameras' mean
    up vector (each camera's -y axis), "auto" keeps +Z when that mean is within 45 degrees of
    it and takes the cameras' mean otherwise."""
    grid: int = 96
    """Voxels along the longest side of the visual hull's box."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._positive("radius")
        self._check("thin", 0 <= self.thin < 1, "in [0, 1)")
        self._check("percentile", 0 < self.percentile <= 100, "in (0, 100]")
        self._at_least("thin_room", 1)
        self._at_least("grid", 8)


# --- the similarity transform -------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Similarity:
    """A similarity transform ``x_canon = scale * R @ x_world + t``.

    Attributes:
        scale: positive uniform scale.
        R: [3, 3] rotation (det +1).
        t: [3] translation, in canonical units.
    """

    scale: float
    R: np.ndarray
    t: np.ndarray

    def __post_init__(self) -> None:
        R = np.asarray(self.R, dtype=np.float64).reshape(3, 3).copy()
        t = np.asarray(self.t, dtype=np.float64).reshape(3).copy()
        R.setflags(write=False)
        t.setflags(write=False)
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "scale", float(self.scale))

    @staticmethod
    def identity() -> Similarity:
        return Similarity(1.0, np.eye(3), np.zeros(3))

    @property
    def matrix(self) -> np.ndarray:
        """[4, 4] homogeneous matrix of the transform."""
        m = np.eye(4)
        m[:3, :3] = self.scale * self.R
        m[:3, 3] = self.t
        return m

    def apply_points(self, points: np.ndarray) -> np.ndarray:
        """[N, 3] world points -> [N, 3] canonical points."""
        return self.scale * np.asarray(points, dtype=np.float64) @ self.R.T + self.t

    def inverse(self) -> Similarity:
        """The transform from canonical back to world."""
        return Similarity(1.0 / self.scale, self.R.T, -(self.R.T @ self.t) / self.scale)

    def compose(self, first: Similarity) -> Similarity:
        """The transform that applies ``first``, then ``self``."""
        return Similarity(self.scale * first.scale, self.R @ first.R,
                          self.scale * self.R @ first.t + self.t)

    def camera_to_canonical(self, cam: Camera) -> Camera:
        """The same camera expressed in the canonical frame: it sees canonical points where
        ``cam`` saw the world points they came from, at the same pixels.

        Camera-frame coordinates scale with the world, which leaves the pinhole projection
        unchanged: w2c' = [Rc R^T | s tc - Rc R^T t].
        """
        Rc, tc = cam.R, cam.t
        w2c = np.eye(4)
        w2c[:3, :3] = Rc @ self.R.T
        w2c[:3, 3] = self.scale * tc - Rc @ self.R.T @ self.t
        return cam.with_w2c(w2c)

    def camera_from_canonical(self, cam: Camera) -> Camera:
        """Undo :meth:`camera_to_canonical`: a canonical-frame camera back in the world."""
        return self.inverse().camera_to_canonical(cam)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form, as recorded in ``report.json``."""
        return {"convention": "x_canon = scale * R @ x_world + t", "scale": self.scale,
                "R": self.R.tolist(), "t": self.t.tolist()}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Similarity:
        """Inverse of :meth:`to_dict`; raises SplatsynthError on a malformed record."""
        try:
            scale = float(d["scale"])
            R = np.asarray(d["R"], dtype=np.float64)
            t = np.asarray(d["t"], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as e:
            raise SplatsynthError(f"normalization record: cannot read it ({e!r})") from e
        if R.shape != (3, 3) or t.shape != (3,):
            raise SplatsynthError(f"normalization record: R must be 3x3 and t of length 3, got "
                                  f"{R.shape} and {t.shape}")
        if not (np.isfinite(scale) and scale > 0 and np.isfinite(R).all() and np.isfinite(t).all()):
            raise SplatsynthError("normalization record: scale must be > 0 and all values finite")
        if np.abs(R.T @ R - np.eye(3)).max() > 1e-6 or np.linalg.det(R) < 0:
            raise SplatsynthError("normalization record: R is not a rotation")
        return Similarity(scale, R, t)


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[3, 3] the smallest rotation taking direction ``a`` to direction ``b`` (both [3])."""
    a = np.asarray(a, dtype=np.float64) / np.linalg.norm(a)
    b = np.asarray(b, dtype=np.float64) / np.linalg.norm(b)
    v = np.cross(a, b)
    c = float(a @ b)
    if c < -1 + 1e-12:  # opposite: half a turn about any axis perpendicular to a
        axis = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
        axis /= np.linalg.norm(axis)
        return 2.0 * np.outer(axis, axis) - np.eye(3)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1.0 + c)


# --- visual hull ----------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class VisualHull:
    """Voxels consistent with every mask.

    Attributes:
        points: [M, 3] world centres of the occupied voxels.
        surface: [M] bool, True where a 6-neighbour is free (or outside the grid).
        voxel_size: edge length of a (cubic) voxel, world units.
        bounds: [2, 3] min and max corner of the carved box.
        occupancy: [X, Y, Z] bool grid; voxel (i, j, k) is centred at
            bounds[0] + (i + 0.5, j + 0.5, k + 0.5) * voxel_size.
    """

    points: np.ndarray
    surface: np.ndarray
    voxel_size: float
    bounds: np.ndarray
    occupancy: np.ndarray


def nearest_point_to_axes(cameras: list[Camera]) -> np.ndarray:
    """[3] the point nearest (least squares) to every camera's optical axis."""
    A = np.zeros((3, 3))
    b = np.zeros(3)
    for cam in cameras:
        d = cam.forward / np.linalg.norm(cam.forward)
        P = np.eye(3) - np.outer(d, d)
        A += P
        b += P @ cam.center
    # Parallel axes leave A singular along them; lstsq then picks the least-norm answer.
    return np.linalg.lstsq(A, b, rcond=None)[0]


def _check_masks(cameras: list[Camera], masks: list[np.ndarray]) -> list[np.ndarray]:
    if len(cameras) != len(masks):
        raise SplatsynthError(f"visual hull: {len(cameras)} cameras but {len(masks)} masks")
    if not cameras:
        raise SplatsynthError("visual hull: no views")
    out = []
    for cam, m in zip(cameras, masks):
        m = np.asarray(m)
        if m.shape != (cam.h, cam.w):
            raise SplatsynthError(f"{cam.file_path or 'view'}: mask is {m.shape[::-1]} but the "
                                  f"camera is {cam.w}x{cam.h}")
        out.append(m)
    return out


def estimate_bounds(cameras: list[Camera], masks: list[np.ndarray], threshold: float = 0.5
                    ) -> np.ndarray:
    """[2, 3] a generous box round the subject, from the cameras and masks alone.

    Its centre is the point nearest every optical axis; its half-size is the largest distance,
    over views, from that point's image to a corner of the mask's bounding box, taken back to
    the point's depth, with a 50 % margin.
    """
    masks = _check_masks(cameras, masks)
    p = nearest_point_to_axes(cameras)
    half = 0.0
    for cam, m in zip(cameras, masks):
        uv, z = cam.project(p[None])
        if z[0] <= 0:
            continue
        fg = m >= threshold
        rows, cols = np.any(fg, axis=1), np.any(fg, axis=0)
        if not rows.any():
            continue
        y0, y1 = np.argmax(rows), len(rows) - np.argmax(rows[::-1])
        x0, x1 = np.argmax(cols), len(cols) - np.argmax(cols[::-1])
        corners = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], dtype=np.float64)
        r_px = np.max(np.abs(corners - uv[0]) / [cam.fx, cam.fy], axis=0)
        half = max(half, float(np.linalg.norm(r_px)) * z[0])
    if half <= 0:
        # No mask says anything: fall back on the camera distance.
        half = float(np.mean([np.linalg.norm(c.center - p) for c in cameras])) * 0.5
    half *= 1.5
    return np.stack([p - half, p + half])


def _carve(cameras: list[Camera], fields: list[np.ndarray], origin: np.ndarray, voxel: float,
           dims: tuple[int, int, int], min_views: int, reach: bool,
           init: np.ndarray | None = None) -> np.ndarray:
    """Occupancy [X, Y, Z] bool of the voxels ``origin + (ijk + 0.5) * voxel``.

    Args:
        fields: per view, the foreground mask [H, W] bool (``reach`` False), or the pixel
            distance to the nearest foreground pixel [H, W] (``reach`` True: keep a voxel whose
            footprint, not just its centre, touches the mask, so a coarse carve never loses a
            part thinner than its voxels).
        init: [X, Y, Z] bool voxels still in play (None: all).
    """
    axes = [(origin[k] + (np.arange(dims[k]) + 0.5) * voxel).astype(np.float32)
            for k in range(3)]
    X, Y, Z = (a.ravel() for a in np.meshgrid(*axes, indexing="ij"))
    alive = np.flatnonzero(init) if init is not None else np.arange(X.size)
    x, y, z = X[alive], Y[alive], Z[alive]
    seen = np.zeros(alive.size, dtype=np.int16)
    for cam, field in zip(cameras, fields):
        if not alive.size:
            break
        R = cam.R.astype(np.float32)
        t = cam.t.astype(np.float32)
        pz = R[2, 0] * x + R[2, 1] * y + R[2, 2] * z + t[2]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = (R[0, 0] * x + R[0, 1] * y + R[0, 2] * z + t[0]) * (cam.fx / pz) + cam.cx
            v = (R[1, 0] * x + R[1, 1] * y + R[1, 2] * z + t[1]) * (cam.fy / pz) + cam.cy
        # A voxel projecting outside the image (or behind the camera) is unknown to this
        # view, not empty: only pixels the view saw may carve.
        if reach:
            with np.errstate(divide="ignore", invalid="ignore"):
                radius = (0.5 * math.sqrt(3.0) * voxel * max(cam.fx, cam.fy)) / pz + 1.0
            # A footprint reaching into the image counts as seen, so this carve keeps a
            # superset of what a finer one keeps, also along the image borders.
            inside = ((pz > 0) & (u >= -radius) & (u < cam.w + radius) & (v >= -radius)
                      & (v < cam.h + radius))
            iu = np.clip(u[inside], 0, cam.w - 1).astype(np.int32)
            iv = np.clip(v[inside], 0, cam.h - 1).astype(np.int32)
        else:
            inside = (pz > 0) & (u >= 0) & (u < cam.w) & (v >= 0) & (v < cam.h)
            iu = np.minimum(u[inside].astype(np.int32), cam.w - 1)
            iv = np.minimum(v[inside].astype(np.int32), cam.h - 1)
        keep = np.ones(alive.size, dtype=bool)
        keep[inside] = field[iv, iu] <= radius[inside] if reach else field[iv, iu]
        seen += inside
        alive, x, y, z, seen = alive[keep], x[keep], y[keep], z[keep], seen[keep]
    occ = np.zeros(X.size, dtype=bool)
    occ[alive[seen >= min_views]] = True
    return occ.reshape(dims)


def _grid_for(bounds: np.ndarray, grid: int) -> tuple[float, tuple[int, int, int]]:
    """Cubic voxel size and dims putting ``grid`` voxels along the box's longest side."""
    size = bounds[1] - bounds[0]
    voxel = float(size.max()) / grid
    dims = np.maximum(np.ceil(size / voxel - 1e-9).astype(int), 1)
    return voxel, (int(dims[0]), int(dims[1]), int(dims[2]))


def _surface(occ: np.ndarray) -> np.ndarray:
    """[X, Y, Z] bool: occupied voxels with a free 6-neighbour (outside the grid is free)."""
    pad = np.pad(occ, 1, constant_values=False)
    inner = np.ones_like(occ)
    for axis in range(3):
        for shift in (-1, 1):
            inner &= np.roll(pad, shift, axis=axis)[1:-1, 1:-1, 1:-1]
    return occ & ~inner


def carve_visual_hull(cameras: list[Camera], masks: list[np.ndarray], *, grid: int = 96,
                      bounds: np.ndarray | None = None, threshold: float = 0.5,
                      min_views: int | None = None) -> VisualHull:
    """Carve the visual hull of the masks by voxel projection.

    A voxel is kept when its centre projects inside the mask (value >= ``threshold``) in every
    view that sees it, and at least ``min_views`` views see it; a view whose image the centre
    falls outside of neither keeps nor carves it (a subject cut by one frame is not cut in 3D).
    Without ``bounds``, a box is estimated from the cameras and masks (:func:`estimate_bounds`)
    and carved conservatively at half resolution; the full-resolution carve then runs in that
    coarse hull's box (the box grows once when the coarse hull touches its sides).

    Args:
        cameras: C cameras.
        masks: C foreground masks, each [H, W] for its camera's size.
        grid: voxels along the longest side of the box.
        bounds: [2, 3] min and max corner of the box to carve, or None.
        threshold: mask value at and above which a pixel is foreground.
        min_views: views that must see a voxel; None means half of them (at least 2). Without
            it, the cone behind the subject that only one camera sees would survive.
    Returns:
        The VisualHull (possibly with no points, when the masks and cameras disagree).
    """
    masks = _check_masks(cameras, masks)
    if grid < 2:
        raise SplatsynthError(f"visual hull: grid must be >= 2, got {grid}")
    n = len(cameras)
    if min_views is None:
        min_views = min(n, max(2, math.ceil(n / 2)))
    fg = [m >= threshold for m in masks]
    dist = [ndimage.distance_transform_edt(~f) for f in fg]
    if bounds is None:
        bounds = estimate_bounds(cameras, masks, threshold)
        for attempt in range(2):
            voxel, dims = _grid_for(bounds, max(grid // 2, 8))
            occ = _carve(cameras, dist, bounds[0], voxel, dims, min_views, reach=True)
            if not occ.any():
                break
            idx = np.argwhere(occ)
            lo, hi = idx.min(0), idx.max(0)
            touches = bool(((lo == 0) | (hi == np.array(occ.shape) - 1)).any())
            if touches and attempt == 0:
                centre, half = bounds.mean(0), (bounds[1] - bounds[0]) / 2
                bounds = np.stack([centre - 1.5 * half, centre + 1.5 * half])
                continue
            bounds = np.stack([bounds[0] + (lo - 1) * voxel, bounds[0] + (hi + 2) * voxel])
            break
    bounds = np.asarray(bounds, dtype=np.float64).reshape(2, 3)
    if not np.all(bounds[1] > bounds[0]):
        raise SplatsynthError(f"visual hull: empty bounds {bounds.tolist()}")
    # Coarse to fine: a conservative carve at twice the voxel size says which fine voxels can
    # survive at all, so the fine carve only tests those.
    voxel, dims = _grid_for(bounds, grid)
    cdims = tuple((d + 1) // 2 for d in dims)
    coarse = _carve(cameras, dist, bounds[0], 2 * voxel, cdims, min_views, reach=True)
    init = coarse.repeat(2, 0).repeat(2, 1).repeat(2, 2)[:dims[0], :dims[1], :dims[2]]
    occ = _carve(cameras, fg, bounds[0], voxel, dims, min_views, reach=False, init=init)
    idx = np.argwhere(occ)
    points = bounds[0] + (idx + 0.5) * voxel
    surface = _surface(occ)[occ]
    return VisualHull(points, surface, voxel, bounds, occ)


# --- the canonical frame --------------------------------------------------------------------
def _up_rotation(cameras: list[Camera], mode: str) -> np.ndarray:
    if mode not in ("auto", "z", "cameras"):
        raise SplatsynthError(f"normalize.up must be auto, z or cameras, got {mode!r}")
    if mode == "z":
        return np.eye(3)
    up = np.mean([-c.R[1] for c in cameras], axis=0)
    n = np.linalg.norm(up)
    if n < 1e-6:
        if mode == "cameras":
            raise SplatsynthError("normalize.up=cameras: the cameras' up vectors cancel out")
        return np.eye(3)
    up /= n
    if mode == "auto" and up[2] >= math.cos(math.radians(45.0)):
        return np.eye(3)
    return rotation_between(up, np.array([0.0, 0.0, 1.0]))


def _bounding_sphere(points: np.ndarray, iters: int = 200) -> tuple[np.ndarray, float]:
    """Approximate smallest enclosing sphere (Badoiu-Clarkson: step towards the farthest
    point with a shrinking step), then the exact radius about that centre."""
    c = 0.5 * (points.min(0) + points.max(0))
    for i in range(1, iters + 1):
        far = points[np.argmax(((points - c) ** 2).sum(1))]
        c = c + (far - c) / (i + 1)
    return c, float(np.sqrt(((points - c) ** 2).sum(1).max()))


def thick_part(hull: VisualHull, thin: float = 0.15) -> np.ndarray:
    """[M] bool: the hull's voxels that survive a morphological opening (erode, then dilate)
    by a ball of radius ``thin`` times the hull's volume-equivalent sphere radius.

    The opening keeps every voxel within that radius of a point at least that deep inside
    the hull, so it rounds a body's corners only slightly but removes a tail thinner than it.
    """
    occ = hull.occupancy
    r_eq = (3.0 * len(hull.points) / (4.0 * math.pi)) ** (1.0 / 3.0)  # in voxels
    rho = thin * r_eq
    if rho < 1.0:
        return np.ones(len(hull.points), dtype=bool)
    # Outside the grid counts as free, hence the padding.
    depth = ndimage.distance_transform_edt(np.pad(occ, 1))[1:-1, 1:-1, 1:-1]
    core = depth > rho
    if not core.any():
        return np.ones(len(hull.points), dtype=bool)
    opened = (ndimage.distance_transform_edt(~core) <= rho) & occ
    return opened[occ]


def subject_extent(hull: VisualHull, extent: str, percentile: float = 100.0,
                   thin: float = 0.15, thin_room: float = 1.25, room: float = 1.0
                   ) -> tuple[np.ndarray, float]:
    """Centre [3] and radius of the subject measured on its visual hull.

    "sphere": the bounding sphere of every voxel (including its half-diagonal).
    "robust": the ``percentile`` of :func:`thick_part`'s voxel distances from the centre (100:
    a bounding sphere). Thin parts may reach ``room`` times that radius; where they reach
    further, the radius grows, by at most ``thin_room``, to take them in, and the centre
    slides from the thick part's bounding-sphere centre towards the whole hull's to need the
    least growth.
    """
    if not len(hull.points):
        raise SplatsynthError("visual hull is empty")
    half_diag = 0.5 * math.sqrt(3.0) * hull.voxel_size
    surface = hull.points[hull.surface] if hull.surface.any() else hull.points
    c_all, r_all = _bounding_sphere(surface)
    if extent == "sphere":
        return c_all, r_all + half_diag
    if extent != "robust":
        raise SplatsynthError(f"normalize.extent must be robust or sphere, got {extent!r}")
    keep = thick_part(hull, thin)
    pts = hull.points[keep]
    c_thick, _ = _bounding_sphere(pts[hull.surface[keep]] if hull.surface[keep].any() else pts)
    best: tuple[float, np.ndarray] | None = None
    for lam in np.linspace(0.0, 1.0, 11):
        c = (1 - lam) * c_thick + lam * c_all
        r_thick = float(np.percentile(np.linalg.norm(pts - c, axis=1), percentile))
        r_whole = float(np.sqrt(((surface - c) ** 2).sum(1).max()))
        r = max(r_thick, min(r_whole / room, r_thick * thin_room))
        if best is None or r < best[0] - 1e-12:
            best = (r, c)
    assert best is not None
    return best[1], best[0] + half_diag


def canonical_frame(scene: Scene, cfg: NormalizeConfig = NormalizeConfig()) -> Similarity:
    """The similarity taking ``scene``'s world into the canonical frame.

    With masks, the subject's centre and radius come from its visual hull (``cfg.extent``).
    Without masks, the centre is the point nearest all optical axes and the radius is guessed
    from the camera distance, as if the subject filled each view as much as a radius-1 subject
    fills the default orbit.

    Raises:
        SceneError: when the masks carve everything away (cameras and masks disagree).
    """
    cams = scene.cameras
    if len(cams) < 1:
        raise SceneError(scene.scene_id, [Problem("cameras.json", "no views to normalize")])
    R = _up_rotation(cams, cfg.up)
    if scene.has_masks:
        hull = carve_visual_hull(cams, [v.mask for v in scene.views], grid=cfg.grid)
        if not len(hull.points):
            raise SceneError(scene.scene_id, [Problem(
                "masks", "the visual hull is empty: no point projects inside every mask "
                "(check the cameras against the masks)")])
        # Rotate first, so the bounding sphere is measured in the frame it will be used in.
        rotated = replace(hull, points=hull.points @ R.T)
        # Thin parts may use the orbit's margin: out to 95 % of the ball every view sees whole.
        room = max(1.0, 0.95 * ORBIT_FIT_RADIUS / cfg.radius)
        centre_r, radius = subject_extent(rotated, cfg.extent, cfg.percentile, cfg.thin,
                                          cfg.thin_room, room)
        centre = R.T @ centre_r
    else:
        centre = nearest_point_to_axes(cams)
        dist = float(np.mean([np.linalg.norm(c.center - centre) for c in cams]))
        tan_half = min(min(c.w / (2 * c.fx), c.h / (2 * c.fy)) for c in cams)
        radius = dist * tan_half / ORBIT_HALF_WIDTH
    if not (np.isfinite(radius) and radius > 0):
        raise SceneError(scene.scene_id, [Problem("cameras.json",
                                                  f"cannot measure the subject (radius {radius})")])
    scale = cfg.radius / radius
    return Similarity(scale, R, -scale * R @ centre)


def normalize_scene(scene: Scene, sim: Similarity) -> Scene:
    """``scene`` with its cameras moved into the canonical frame of ``sim``.

    Images, masks and 2D keypoints are unchanged (projections are preserved). 3D points in
    ``extras["keypoints_3d"]`` ([K, 3]) are transformed too, and ``extras["normalization"]``
    records ``sim.to_dict()``.
    """
    views = [View(sim.camera_to_canonical(v.camera), v.image, v.mask, v.keypoints)
             for v in scene.views]
    extras = dict(scene.extras)
    if extras.get("keypoints_3d") is not None:
        extras["keypoints_3d"] = sim.apply_points(np.asarray(extras["keypoints_3d"]))
    extras["normalization"] = sim.to_dict()
    return Scene(scene.scene_id, views, scene.keypoint_names, scene.root, extras)
