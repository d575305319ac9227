"""A procedural toy mouse and the analytic ray caster that draws it.

The mouse is a union of ellipsoids (body, head, snout, nose, ears, eyes, feet) and a chain of
overlapping spheres along a curved tail. Rays are intersected with the quadrics in closed form
with numpy; nothing here shares code with the Gaussian renderer, so the demo's ground truth is
independent of the thing it tests.

Convention: world is right-handed, +Z up, in (nearly) canonical units; the mouse stands on
z = -0.45 facing -Y, so its left side is +X. Cameras are :class:`~splatsynth.cameras.Camera`
(OpenCV axes, pixel centres at i + 0.5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..cameras import Camera

# --- materials ----------------------------------------------------------------------------
FUR, SKIN, NOSE, EAR, EYE, TAIL = range(6)

_FUR_TOP = np.array([0.50, 0.42, 0.35])
_FUR_BELLY = np.array([0.80, 0.74, 0.66])
_SKIN = np.array([0.92, 0.64, 0.62])
_NOSE = np.array([0.86, 0.42, 0.50])
_EAR_INNER = np.array([0.95, 0.60, 0.62])
_EYE = np.array([0.035, 0.03, 0.03])
_TAIL = np.array([0.84, 0.64, 0.60])

# A fixed key light from the front-right above, a weak fill from behind-left, and ambient, so
# every view of the same point agrees on its colour except for the eyes' highlight.
_LIGHTS = (
    (np.array([-0.45, -0.75, 1.0]) / np.linalg.norm([-0.45, -0.75, 1.0]), 0.70),
    (np.array([0.6, 0.7, 0.35]) / np.linalg.norm([0.6, 0.7, 0.35]), 0.25),
)
_AMBIENT = 0.28


def _rot(yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0) -> np.ndarray:
    """[3, 3] Rz(yaw) @ Rx(pitch) @ Ry(roll), angles in degrees; columns are local axes."""
    y, p, r = (math.radians(a) for a in (yaw, pitch, roll))
    rz = np.array([[math.cos(y), -math.sin(y), 0], [math.sin(y), math.cos(y), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    ry = np.array([[math.cos(r), 0, math.sin(r)], [0, 1, 0], [-math.sin(r), 0, math.cos(r)]])
    return rz @ rx @ ry


@dataclass(frozen=True)
class Primitives:
    """A set of P ellipsoids (spheres included).

    Attributes:
        centers: [P, 3] world centres.
        axes: [P, 3, 3] columns are each ellipsoid's local x, y, z axes in world.
        radii: [P, 3] semi-axes along the local axes.
        material: [P] material ids (FUR, SKIN, ...).
        part: [P] part names ("body", "tail", ...).
        param: [P] a per-primitive texture parameter (arc length along the tail, else 0).
        groups: index arrays of primitives tested together (nearby, so one screen box fits).
    """

    centers: np.ndarray
    axes: np.ndarray
    radii: np.ndarray
    material: np.ndarray
    part: tuple[str, ...]
    param: np.ndarray
    groups: tuple[np.ndarray, ...]

    @property
    def to_unit(self) -> np.ndarray:
        """[P, 3, 3] M with M (x - c) in the unit sphere iff x is inside the ellipsoid."""
        return np.swapaxes(self.axes, 1, 2) / self.radii[:, :, None]


def _catmull_rom(points: np.ndarray, n: int) -> np.ndarray:
    """[n, 3] samples of the centripetal-free (uniform) Catmull-Rom curve through ``points``."""
    p = np.concatenate([points[:1] * 2 - points[1:2], points, points[-1:] * 2 - points[-2:-1]])
    segs = len(points) - 1
    s = np.linspace(0.0, segs, n)
    k = np.minimum(s.astype(int), segs - 1)
    u = (s - k)[:, None]
    p0, p1, p2, p3 = p[k], p[k + 1], p[k + 2], p[k + 3]
    return 0.5 * ((2 * p1) + (-p0 + p2) * u + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u**2
                  + (-p0 + 3 * p1 - 3 * p2 + p3) * u**3)


# The tail's centre line: out of the rump, down to the floor, then curling round to the left.
_TAIL_CONTROL = np.array([
    [0.00, 0.74, -0.14],
    [0.03, 0.91, -0.30],
    [0.16, 1.02, -0.40],
    [0.40, 1.01, -0.41],
    [0.60, 0.86, -0.40],
    [0.68, 0.64, -0.37],
    [0.62, 0.46, -0.30],
])
_TAIL_RADIUS = (0.055, 0.018)


def _tail_spheres() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres [T, 3], radii [T] and arc lengths [T] of the overlapping tail spheres."""
    dense = _catmull_rom(_TAIL_CONTROL, 2000)
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(dense, axis=0), axis=1))])
    r0, r1 = _TAIL_RADIUS
    # Spheres 0.45 radii apart leave bumps under a third of a pixel on the silhouette.
    s, out = 0.0, []
    while s < arc[-1]:
        out.append(s)
        s += 0.45 * (r0 + (r1 - r0) * s / arc[-1])
    out.append(arc[-1])
    s = np.array(out)
    centers = np.stack([np.interp(s, arc, dense[:, i]) for i in range(3)], axis=-1)
    radii = r0 + (r1 - r0) * s / arc[-1]
    return centers, radii, s


def _build_mouse() -> Primitives:
    parts: list[tuple[str, int, tuple, tuple, np.ndarray]] = [
        # name, material, centre, radii, axes
        ("body", FUR, (0.0, 0.15, -0.05), (0.40, 0.62, 0.36), _rot(pitch=4)),
        ("head", FUR, (0.0, -0.50, 0.08), (0.27, 0.33, 0.25), _rot(pitch=15)),
        ("head", FUR, (0.0, -0.76, 0.00), (0.15, 0.18, 0.13), _rot(pitch=20)),
        ("nose", NOSE, (0.0, -0.95, -0.03), (0.045, 0.045, 0.04), _rot()),
        ("ear_left", EAR, (0.21, -0.40, 0.37), (0.16, 0.03, 0.15), _rot(yaw=25, roll=20)),
        ("ear_right", EAR, (-0.21, -0.40, 0.37), (0.16, 0.03, 0.15), _rot(yaw=-25, roll=-20)),
        ("eye_left", EYE, (0.145, -0.70, 0.15), (0.05, 0.05, 0.05), _rot()),
        ("eye_right", EYE, (-0.145, -0.70, 0.15), (0.05, 0.05, 0.05), _rot()),
        # Legs and haunches join the paws to the body.
        ("leg", FUR, (0.17, -0.30, -0.30), (0.075, 0.085, 0.12), _rot(roll=8)),
        ("leg", FUR, (-0.17, -0.30, -0.30), (0.075, 0.085, 0.12), _rot(roll=-8)),
        ("leg", FUR, (0.25, 0.36, -0.22), (0.14, 0.22, 0.17), _rot(pitch=-20)),
        ("leg", FUR, (-0.25, 0.36, -0.22), (0.14, 0.22, 0.17), _rot(pitch=-20)),
        ("paw_front_left", SKIN, (0.19, -0.32, -0.40), (0.075, 0.12, 0.05), _rot(yaw=-10)),
        ("paw_front_right", SKIN, (-0.19, -0.32, -0.40), (0.075, 0.12, 0.05), _rot(yaw=10)),
        ("paw_hind_left", SKIN, (0.25, 0.45, -0.40), (0.09, 0.17, 0.055), _rot(yaw=-15)),
        ("paw_hind_right", SKIN, (-0.25, 0.45, -0.40), (0.09, 0.17, 0.055), _rot(yaw=15)),
    ]
    centers = [np.array(p[2], float) for p in parts]
    radii = [np.array(p[3], float) for p in parts]
    axes = [p[4] for p in parts]
    material = [p[1] for p in parts]
    names = [p[0] for p in parts]
    param = [0.0] * len(parts)
    groups = [np.array([i]) for i in range(len(parts))]

    tc, tr, ts = _tail_spheres()
    first = len(parts)
    for c, r, s in zip(tc, tr, ts):
        centers.append(c)
        radii.append(np.full(3, r))
        axes.append(np.eye(3))
        material.append(TAIL)
        names.append("tail")
        param.append(s)
    # Consecutive tail spheres share a screen box; 8 at a time keeps the box small.
    idx = np.arange(first, len(centers))
    groups += [idx[i:i + 8] for i in range(0, len(idx), 8)]
    return Primitives(np.stack(centers), np.stack(axes), np.stack(radii),
                      np.array(material), tuple(names), np.array(param), tuple(groups))


TOY_MOUSE = _build_mouse()


class Keypoints3D(NamedTuple):
    """Named 3D keypoints: ``names`` [K] and ``points`` [K, 3] in the demo's world frame."""

    names: tuple[str, ...]
    points: np.ndarray


def _keypoint_table() -> tuple[Keypoints3D, tuple[frozenset[str], ...], np.ndarray]:
    """The 3D keypoints, the parts each may be seen on, and how far in front of each point the
    first surface may lie and still count as the keypoint itself (its part's size)."""
    prims = TOY_MOUSE
    index = {n: prims.part.index(n) for n in set(prims.part)}
    tail = [i for i, n in enumerate(prims.part) if n == "tail"]
    # The nose keypoint is the tip of the nose, just under the surface.
    nose_tip = prims.centers[index["nose"]] + np.array([0.0, -0.035, 0.0])
    rows = [("nose", nose_tip, {"nose", "head"}, 0.06),
            ("ear_left", prims.centers[index["ear_left"]], {"ear_left"}, 0.17),
            ("ear_right", prims.centers[index["ear_right"]], {"ear_right"}, 0.17),
            ("tail_base", prims.centers[tail[0]], {"tail", "body"}, 2 * _TAIL_RADIUS[0]),
            ("tail_tip", prims.centers[tail[-1]], {"tail"}, 2 * _TAIL_RADIUS[1])]
    for side in ("front_left", "front_right", "hind_left", "hind_right"):
        i = index[f"paw_{side}"]
        # A haunch or leg hides part of its paw; the visible rest still shows where it is.
        rows.append((f"paw_{side}", prims.centers[i], {f"paw_{side}", "leg"},
                     float(prims.radii[i].max())))
    kp = Keypoints3D(tuple(r[0] for r in rows), np.stack([r[1] for r in rows]).astype(np.float64))
    kp.points.setflags(write=False)
    return kp, tuple(frozenset(r[2]) for r in rows), np.array([r[3] for r in rows])


TOY_MOUSE_KEYPOINTS, _KP_PARTS, _KP_TOL = _keypoint_table()


# --- ray casting ---------------------------------------------------------------------------
def first_hit(origins: np.ndarray, dirs: np.ndarray, prims: Primitives = TOY_MOUSE
              ) -> tuple[np.ndarray, np.ndarray]:
    """Cast a few arbitrary rays against every primitive (no screen-space culling).

    Args:
        origins: [N, 3] ray origins.
        dirs: [N, 3] ray directions; t is measured in units of these.
    Returns:
        t: [N] distance to the first surface (inf on a miss).
        prim: [N] index of the primitive hit (-1 on a miss).
    """
    m = prims.to_unit
    oc = origins[:, None, :] - prims.centers[None]  # [N, P, 3]
    o_u = np.einsum("pij,npj->npi", m, oc)
    d_u = np.einsum("pij,nj->npi", m, dirs)
    a = (d_u * d_u).sum(-1)
    b = (d_u * o_u).sum(-1)
    c = (o_u * o_u).sum(-1) - 1.0
    disc = b * b - a * c
    with np.errstate(invalid="ignore"):
        t = (-b - np.sqrt(disc)) / a
    t = np.where((disc > 0) & (t > 0) & (c > 0), t, np.inf)
    prim = np.argmin(t, axis=1)
    tmin = t[np.arange(len(t)), prim]
    return tmin, np.where(np.isfinite(tmin), prim, -1)


def keypoint_visibility(camera: Camera) -> np.ndarray:
    """[K] bool: is each 3D keypoint the first thing its pixel's ray meets in ``camera``?

    A keypoint sits inside its part, so it counts as seen when the ray's first surface belongs
    to that part and lies no further in front of the point than the part's size.
    """
    pts = TOY_MOUSE_KEYPOINTS.points
    o = np.broadcast_to(camera.center, pts.shape)
    d = pts - camera.center  # t = 1 at the keypoint
    t, prim = first_hit(o, d)
    dist = np.linalg.norm(d, axis=1)
    uv, z = camera.project(pts)
    inside = (z > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < camera.w) & (uv[:, 1] >= 0) \
        & (uv[:, 1] < camera.h)
    vis = np.zeros(len(pts), bool)
    for k in range(len(pts)):
        if prim[k] < 0 or not inside[k]:
            continue
        own = TOY_MOUSE.part[prim[k]] in _KP_PARTS[k]
        vis[k] = own and (1.0 - t[k]) * dist[k] <= _KP_TOL[k]
    return vis


def _screen_box(camera: Camera, prims: Primitives, idx: np.ndarray, ss: int
                ) -> tuple[int, int, int, int] | None:
    """Supersampled pixel box [x0, x1) x [y0, y1) covering primitives ``idx``, None if empty."""
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], float)
    # Oriented bounding box corners: c + A @ (s * r).
    corners = prims.centers[idx, None, :] + np.einsum(
        "gij,gkj->gki", prims.axes[idx], signs[None] * prims.radii[idx, None, :])
    _, z = camera.project(corners.reshape(-1, 3))
    W, H = camera.w * ss, camera.h * ss
    if np.any(z <= 1e-6):
        return 0, W, 0, H
    # Wholly in front of the camera: the exact box of each projected ellipse, from its dual
    # conic C* = P H diag(1, 1, 1, -1) H^T P^T (H maps the unit sphere onto the ellipsoid).
    # A vertical tangent line (1, 0, -u) satisfies C00 - 2 u C02 + u^2 C22 = 0.
    P = camera.K @ camera.w2c[:3]
    Hm = np.zeros((len(idx), 4, 4))
    Hm[:, :3, :3] = prims.axes[idx] * prims.radii[idx, None, :]
    Hm[:, :3, 3] = prims.centers[idx]
    Hm[:, 3, 3] = 1.0
    PH = P @ Hm  # [G, 3, 4]
    C = np.einsum("gik,k,gjk->gij", PH, np.array([1.0, 1.0, 1.0, -1.0]), PH)
    lo, hi = [], []
    for a, b in ((0, 2), (1, 2)):
        root = np.sqrt(np.maximum(C[:, a, b] ** 2 - C[:, a, a] * C[:, 2, 2], 0.0))
        ends = np.stack([(C[:, a, b] - root) / C[:, 2, 2], (C[:, a, b] + root) / C[:, 2, 2]])
        lo.append(ends.min())
        hi.append(ends.max())
    x0 = max(int(np.floor(lo[0] * ss)) - 1, 0)
    x1 = min(int(np.ceil(hi[0] * ss)) + 1, W)
    y0 = max(int(np.floor(lo[1] * ss)) - 1, 0)
    y1 = min(int(np.ceil(hi[1] * ss)) + 1, H)
    if x0 >= x1 or y0 >= y1:
        return None
    return x0, x1, y0, y1


def _raycast(camera: Camera, prims: Primitives, ss: int) -> tuple[np.ndarray, np.ndarray]:
    """Depth [H*ss, W*ss] (camera z, inf on a miss) and primitive id (-1 on a miss)."""
    W, H = camera.w * ss, camera.h * ss
    # Rays d = x R[0] + y R[1] + R[2] have camera-frame z = 1, so the ray parameter is the
    # depth, and |M d|^2 and (M d).(M o) are quadratic / linear forms in the pixel's (x, y):
    # a handful of broadcast operations per primitive instead of a [h, w, 3] matrix product.
    xs = ((np.arange(W) + 0.5) / ss - camera.cx) / camera.fx
    ys = ((np.arange(H) + 0.5) / ss - camera.cy) / camera.fy
    depth = np.full((H, W), np.inf)
    prim = np.full((H, W), -1, dtype=np.int32)
    m_all = prims.to_unit
    for idx in prims.groups:
        box = _screen_box(camera, prims, idx, ss)
        if box is None:
            continue
        x0, x1, y0, y1 = box
        m = m_all[idx]
        o_u = np.einsum("gij,gj->gi", m, camera.center[None] - prims.centers[idx])  # [G, 3]
        n = m @ camera.R.T  # [G, 3, 3]: columns are M R[0], M R[1], M R[2]
        A = np.einsum("gki,gkj->gij", n, n)  # [G, 3, 3]
        B = np.einsum("gki,gk->gi", n, o_u)  # [G, 3]
        c = (o_u * o_u).sum(-1) - 1.0  # [G], > 0: camera outside
        x = xs[None, x0:x1, None]
        y = ys[y0:y1, None, None]
        a = ((A[:, 0, 0] * x + 2 * A[:, 0, 1] * y + 2 * A[:, 0, 2]) * x
             + (A[:, 1, 1] * y + 2 * A[:, 1, 2]) * y + A[:, 2, 2])
        b = B[:, 0] * x + B[:, 1] * y + B[:, 2]
        disc = b * b - a * c
        hit = (disc > 0) & (b < 0) & (c > 0)
        t = np.full(disc.shape, np.inf)
        t[hit] = (-b[hit] - np.sqrt(disc[hit])) / a[hit]
        if len(idx) > 1:
            g = np.argmin(t, axis=-1)
            tg = np.take_along_axis(t, g[..., None], -1)[..., 0]
        else:
            g = np.zeros(t.shape[:2], dtype=np.int64)
            tg = t[..., 0]
        blk = depth[y0:y1, x0:x1]
        closer = tg < blk
        blk[closer] = tg[closer]
        prim[y0:y1, x0:x1][closer] = idx[g[closer]]
    return depth, prim


# --- texture and shading -------------------------------------------------------------------
_PERM = np.random.default_rng(12345).permutation(256).astype(np.int64)
_VALUES = np.random.default_rng(54321).random(256)


def _value_noise(p: np.ndarray) -> np.ndarray:
    """[N] smooth value noise in [0, 1] at [N, 3] points (period 256 lattice cells)."""
    f = np.floor(p)
    i = f.astype(np.int64)
    u = p - f
    u = u * u * (3.0 - 2.0 * u)
    out = np.zeros(len(p))
    for dx in (0, 1):
        wx = u[:, 0] if dx else 1.0 - u[:, 0]
        hx = _PERM[(i[:, 0] + dx) & 255]
        for dy in (0, 1):
            wy = u[:, 1] if dy else 1.0 - u[:, 1]
            hy = _PERM[(hx + i[:, 1] + dy) & 255]
            for dz in (0, 1):
                wz = u[:, 2] if dz else 1.0 - u[:, 2]
                out += wx * wy * wz * _VALUES[(hy + i[:, 2] + dz) & 255]
    return out


def _surface(camera: Camera, prims: Primitives, u: np.ndarray, v: np.ndarray, pid: np.ndarray,
             depth: np.ndarray) -> tuple[np.ndarray, ...]:
    """Geometry of N surface samples seen along pixel rays.

    Args:
        u, v: [N] pixel coordinates of the samples' rays.
        pid: [N] primitive hit by each ray.
        depth: [N] camera-frame depth of each hit.
    Returns:
        d: [N, 3] ray directions (camera-frame z = 1, so ``p = centre + depth * d``).
        p: [N, 3] world points.
        q: [N, 3] the points in their primitive's local (metric) axes.
        n_local: [N, 3] unit outward normals in the local axes.
        n: [N, 3] unit outward normals in world.
    """
    d = (((u - camera.cx) / camera.fx)[:, None] * camera.R[0]
         + ((v - camera.cy) / camera.fy)[:, None] * camera.R[1] + camera.R[2])
    p = camera.center + depth[:, None] * d
    A = prims.axes[pid]
    r = prims.radii[pid]
    q = np.einsum("nji,nj->ni", A, p - prims.centers[pid])  # local metric coordinates
    n_local = q / r**2
    n_local /= np.linalg.norm(n_local, axis=1, keepdims=True)
    n = np.einsum("nij,nj->ni", A, n_local)
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    return d, p, q, n_local, n


def _shade(camera: Camera, prims: Primitives, u: np.ndarray, v: np.ndarray, pid: np.ndarray,
           depth: np.ndarray) -> np.ndarray:
    """[N, 3] straight colour of N surface samples.

    Args:
        u, v: [N] pixel coordinates of the samples' rays.
        pid: [N] primitive hit by each ray.
        depth: [N] camera-frame depth of each hit.
    """
    d, p, q, n_local, n = _surface(camera, prims, u, v, pid, depth)
    mat = prims.material[pid]

    albedo = np.empty((len(pid), 3))
    albedo[mat == SKIN] = _SKIN
    albedo[mat == NOSE] = _NOSE
    albedo[mat == EYE] = _EYE
    furry = (mat == FUR) | (mat == EAR)
    # Fur: streaks along each part's long (y) axis, from noise stretched along it, over a
    # darker back and a paler belly.
    qf = q[furry]
    fur = (0.6 * _value_noise(qf * np.array([70.0, 9.0, 70.0]) + 17.0)
           + 0.4 * _value_noise(qf * np.array([14.0, 5.0, 14.0]) + 91.0))
    belly = np.clip(0.5 - 1.6 * n[furry, 2], 0.0, 1.0)[:, None]
    fur_rgb = (_FUR_TOP * (1 - belly) + _FUR_BELLY * belly) * (0.62 + 0.6 * fur[:, None])
    # The ear's front face (local -y) is bare pink skin; its back and rim are fur.
    inner = np.where(mat[furry] == EAR, np.clip(-n_local[furry, 1] * 3.0 - 0.6, 0.0, 1.0), 0.0)
    albedo[furry] = _EAR_INNER * inner[:, None] + fur_rgb * (1 - inner[:, None])
    tail = mat == TAIL
    rings = 0.5 + 0.5 * np.cos(2 * np.pi * prims.param[pid[tail]] / 0.035)
    albedo[tail] = _TAIL[None] * (1.0 - 0.14 * rings[:, None])
    skinlike = (mat == SKIN) | tail
    albedo[skinlike] *= (0.92 + 0.12 * _value_noise(p[skinlike] * 40.0))[:, None]

    light = np.full(len(pid), _AMBIENT)
    for L, intensity in _LIGHTS:
        light += intensity * np.clip(n @ L, 0.0, None)
    rgb = albedo * light[:, None]
    # Glossy eyes and nose: a Blinn-Phong highlight of the key light.
    glossy = (mat == EYE) | (mat == NOSE)
    if glossy.any():
        view = -d[glossy] / np.linalg.norm(d[glossy], axis=1, keepdims=True)
        h = view + _LIGHTS[0][0]
        h /= np.linalg.norm(h, axis=1, keepdims=True)
        power = np.where(mat[glossy] == EYE, 60.0, 25.0)
        k = np.where(mat[glossy] == EYE, 0.9, 0.35)
        rgb[glossy] += (k * np.clip((n[glossy] * h).sum(1), 0, None) ** power)[:, None]
    return np.clip(rgb, 0.0, 1.0)


def render_toy_mouse(cameras: list[Camera], supersample: int = 2
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Ray-cast the toy mouse into each camera.

    Coverage comes from ``supersample`` x ``supersample`` rays per pixel; a pixel whose rays
    all hit the same primitive is shaded once at its centre (the primitive is convex, so the
    centre ray hits it too), the others average their shaded samples.

    Args:
        cameras: C cameras, all of the same size H x W.
        supersample: rays per pixel along each axis (anti-aliasing).
    Returns:
        rgb: [C, H, W, 3] float32 straight (not premultiplied) colour, 0 where alpha is 0.
        alpha: [C, H, W] float32 coverage in [0, 1] (the foreground mask).
    """
    if not cameras:
        raise ValueError("render_toy_mouse needs at least one camera")
    H, W = cameras[0].h, cameras[0].w
    if any((c.h, c.w) != (H, W) for c in cameras):
        raise ValueError("render_toy_mouse: all cameras must share one image size")
    ss = int(supersample)
    if ss < 1:
        raise ValueError(f"supersample must be >= 1, got {supersample}")
    rgb = np.zeros((len(cameras), H, W, 3), np.float32)
    alpha = np.zeros((len(cameras), H, W), np.float32)
    for ci, cam in enumerate(cameras):
        depth, prim = _raycast(cam, TOY_MOUSE, ss)
        rows, cols = np.flatnonzero((prim >= 0).any(1)), np.flatnonzero((prim >= 0).any(0))
        if not len(rows):
            continue
        # Work on the pixels round the subject only.
        y0, y1 = rows[0] // ss, rows[-1] // ss + 1
        x0, x1 = cols[0] // ss, cols[-1] // ss + 1
        h, w = y1 - y0, x1 - x0
        pr = prim[y0 * ss:y1 * ss, x0 * ss:x1 * ss]
        dp = depth[y0 * ss:y1 * ss, x0 * ss:x1 * ss]
        sub = pr.reshape(h, ss, w, ss).transpose(0, 2, 1, 3).reshape(h, w, ss * ss)
        first = sub[..., 0]
        hits = (sub >= 0).sum(-1)
        uniform = (sub == first[..., None]).all(-1) & (first >= 0)
        mixed = ~uniform & (hits > 0)
        premult = np.zeros((h, w, 3))
        jj, ii = np.nonzero(uniform)
        if len(jj):
            # The centre ray's depth, to second order in the sample spacing.
            dsub = dp.reshape(h, ss, w, ss).mean(axis=(1, 3))
            premult[jj, ii] = _shade(cam, TOY_MOUSE, x0 + ii + 0.5, y0 + jj + 0.5,
                                     first[jj, ii], dsub[jj, ii])
        # Every hit sample of an edge pixel, shaded and averaged.
        edge = np.repeat(np.repeat(mixed, ss, 0), ss, 1) & (pr >= 0)
        sj, si = np.nonzero(edge)
        if len(sj):
            col = _shade(cam, TOY_MOUSE, x0 + (si + 0.5) / ss, y0 + (sj + 0.5) / ss, pr[sj, si],
                         dp[sj, si])
            flat = (sj // ss) * w + (si // ss)
            acc = np.stack([np.bincount(flat, col[:, k], minlength=h * w) for k in range(3)], -1)
            premult[mixed] = acc.reshape(h, w, 3)[mixed] / (ss * ss)
        a = hits / (ss * ss)
        with np.errstate(invalid="ignore", divide="ignore"):
            rgb[ci, y0:y1, x0:x1] = np.where(a[..., None] > 0, premult / a[..., None], 0.0)
        alpha[ci, y0:y1, x0:x1] = a
    return rgb, alpha


def render_toy_mouse_geometry(cameras: list[Camera], supersample: int = 2
                              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The toy mouse's true depth and normals in each camera, from the analytic ray caster.

    Depth and normal come from each pixel's centre ray (one exact surface point per pixel, no
    blending across silhouettes); the coverage is the same ``supersample`` x ``supersample``
    coverage :func:`render_toy_mouse` returns as its mask. No Gaussians are involved: this is
    the ground truth to score rendered depth and normals against.

    Convention: depth is camera-frame z (OpenCV, not ray length); normals are outward unit
    normals in the world frame of the cameras, facing the camera at the first hit.

    Args:
        cameras: C cameras, all of the same size H x W.
        supersample: rays per pixel along each axis for the coverage.
    Returns:
        depth: [C, H, W] float64 camera z of the first surface, 0 where the centre ray misses
            (the renders' and :func:`~splatsynth.losses.normals_from_depth`'s "no surface").
        normals: [C, H, W, 3] float64 unit world normals, 0 where the centre ray misses.
        alpha: [C, H, W] float32 coverage in [0, 1] (equal to ``render_toy_mouse``'s alpha).
    """
    if not cameras:
        raise ValueError("render_toy_mouse_geometry needs at least one camera")
    H, W = cameras[0].h, cameras[0].w
    if any((c.h, c.w) != (H, W) for c in cameras):
        raise ValueError("render_toy_mouse_geometry: all cameras must share one image size")
    ss = int(supersample)
    if ss < 1:
        raise ValueError(f"supersample must be >= 1, got {supersample}")
    depth = np.zeros((len(cameras), H, W))
    normals = np.zeros((len(cameras), H, W, 3))
    alpha = np.zeros((len(cameras), H, W), np.float32)
    for ci, cam in enumerate(cameras):
        z, prim = _raycast(cam, TOY_MOUSE, 1)
        jj, ii = np.nonzero(prim >= 0)
        depth[ci, jj, ii] = z[jj, ii]
        normals[ci, jj, ii] = _surface(cam, TOY_MOUSE, ii + 0.5, jj + 0.5, prim[jj, ii],
                                       z[jj, ii])[4]
        if ss == 1:
            alpha[ci] = prim >= 0
        else:
            _, sub = _raycast(cam, TOY_MOUSE, ss)
            hits = (sub >= 0).reshape(H, ss, W, ss).sum(axis=(1, 3))
            alpha[ci] = hits / (ss * ss)
    return depth, normals, alpha
