"""A triangle mesh of a fitted scene: TSDF fusion of rendered depth maps + marching cubes.

The depth maps of many consistent views (the rendered orbit) are fused into a truncated signed
distance field on a voxel grid over the canonical cube, and its zero level set is extracted
with scikit-image's marching cubes (an optional dependency, imported only here, when asked).

Convention: everything in one world frame (the canonical frame in the pipeline); depth is
camera-frame z (OpenCV), 0 or non-finite where a pixel sees no surface; signed distances are
positive in front of the surface (free space) and negative behind it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..cameras import Camera
from ..errors import SplatsynthError
from ..fileio import atomic_write_bytes


@dataclass
class TSDFVolume:
    """A fused truncated signed distance field.

    Attributes:
        tsdf: [G, G, G] float32 signed distance / truncation in [-1, 1], indexed [x, y, z].
        weight: [G, G, G] float32 number of views that observed each voxel (0 = unknown).
        origin: [3] world position of voxel (0, 0, 0)'s centre.
        voxel: voxel edge length (world units).
    """

    tsdf: np.ndarray
    weight: np.ndarray
    origin: np.ndarray
    voxel: float


def fuse_tsdf(depths: np.ndarray, cameras: list[Camera], alphas: np.ndarray | None = None, *,
              grid: int = 128, bound: float = 1.3, trunc_voxels: float = 3.0,
              alpha_threshold: float = 0.5, carve: bool = True) -> TSDFVolume:
    """Fuse depth maps into a TSDF on a ``grid``^3 lattice over [-bound, bound]^3.

    Per view, each voxel centre is projected to its pixel; the projective signed distance is
    ``depth(pixel) - z(voxel)``. Voxels within ``trunc_voxels`` voxels behind the surface or
    anywhere in front of it get ``clip(sdf / trunc, -1, 1)`` averaged in; voxels further behind
    are occluded and left alone. With ``carve``, a pixel that sees no surface (alpha below the
    threshold) marks every voxel on its ray as free space (+1), which removes what no view
    supports.

    Args:
        depths: [C, H, W] camera-z depth maps (0 / non-finite = no surface).
        cameras: the C cameras, in the frame of the grid.
        alphas: optional [C, H, W] opacity; pixels below ``alpha_threshold`` count as empty.
        grid: voxels per axis.
        bound: half-size of the cube the grid covers (world units).
        trunc_voxels: truncation distance, in voxels.
        alpha_threshold: opacity a pixel needs for its depth to count.
        carve: mark the rays of empty pixels as free space.
    Returns:
        :class:`TSDFVolume`.
    """
    depths = np.asarray(depths, np.float32)
    if depths.ndim != 3 or len(depths) != len(cameras):
        raise SplatsynthError(f"fuse_tsdf: depths must be [C, H, W] for the {len(cameras)} "
                              f"cameras, got shape {depths.shape}")
    voxel = 2.0 * bound / grid
    trunc = trunc_voxels * voxel
    origin = np.full(3, -bound + voxel / 2.0)
    axis = (np.arange(grid, dtype=np.float32) + 0.5) * voxel - bound
    pts = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    tsdf_sum = np.zeros(len(pts), np.float32)
    weight = np.zeros(len(pts), np.float32)
    for c, cam in enumerate(cameras):
        H, W = depths[c].shape
        pc = pts @ cam.R.T.astype(np.float32) + cam.t.astype(np.float32)
        z = pc[:, 2]
        front = z > 1e-6
        zs = np.where(front, z, 1.0)
        u = np.floor(cam.fx * pc[:, 0] / zs + cam.cx).astype(np.int64)
        v = np.floor(cam.fy * pc[:, 1] / zs + cam.cy).astype(np.int64)
        inside = front & (u >= 0) & (u < W) & (v >= 0) & (v < H)
        idx = np.flatnonzero(inside)
        d = depths[c][v[idx], u[idx]]
        seen = np.isfinite(d) & (d > 0)
        if alphas is not None:
            seen &= alphas[c][v[idx], u[idx]] >= alpha_threshold
        sdf = np.where(seen, d - z[idx], np.inf)  # an empty pixel: free all along its ray
        use = sdf >= -trunc
        if not carve:
            use &= seen
        k = idx[use]
        tsdf_sum[k] += np.clip(sdf[use] / trunc, -1.0, 1.0)
        weight[k] += 1.0
    tsdf = np.where(weight > 0, tsdf_sum / np.maximum(weight, 1.0), 1.0).astype(np.float32)
    shape = (grid, grid, grid)
    return TSDFVolume(tsdf.reshape(shape), weight.reshape(shape), origin, voxel)


def require_mesh_support():
    """skimage's ``marching_cubes``; raises SplatsynthError naming the extra when missing (so a
    run can fail before its fit rather than after)."""
    try:
        from skimage.measure import marching_cubes
    except ImportError as e:
        raise SplatsynthError("output.mesh needs scikit-image (pip install "
                              "'splatsynth[mesh]' or pip install scikit-image)") from e
    return marching_cubes


def mesh_from_tsdf(vol: TSDFVolume) -> tuple[np.ndarray, np.ndarray]:
    """The zero level set of a TSDF, over observed voxels only.

    Returns:
        verts: [V, 3] float32 world positions.
        faces: [F, 3] int32 vertex indices, wound counter-clockwise seen from outside
            (normals point into free space).
    Raises:
        SplatsynthError: scikit-image is missing, or the field has no surface.
    """
    marching_cubes = require_mesh_support()
    observed = vol.weight > 0
    if not observed.any() or vol.tsdf[observed].min() >= 0 or vol.tsdf[observed].max() <= 0:
        raise SplatsynthError("mesh: the fused depth maps hold no surface (nothing rendered "
                              "inside the mesh grid?)")
    verts, faces, _, _ = marching_cubes(vol.tsdf, level=0.0)
    # Drop the surface that runs along unknown voxels (deep inside, behind every view's
    # truncation band; they hold the +1 placeholder): each vertex sits on a lattice edge, and
    # both of its ends must have been observed.
    lo = np.floor(verts).astype(np.int64)
    hi = np.minimum(np.ceil(verts).astype(np.int64), np.array(vol.tsdf.shape) - 1)
    good = observed[tuple(lo.T)] & observed[tuple(hi.T)]
    faces = faces[good[faces].all(1)]
    used = np.unique(faces)
    remap = np.full(len(verts), -1, np.int64)
    remap[used] = np.arange(len(used))
    verts, faces = verts[used] * vol.voxel, remap[faces]
    return (verts + vol.origin).astype(np.float32), faces.astype(np.int32)


def vertex_colors(verts: np.ndarray, cameras: list[Camera], depths: np.ndarray,
                  images: np.ndarray, alphas: np.ndarray | None = None, *, tol: float = 0.05,
                  alpha_threshold: float = 0.5) -> np.ndarray:
    """[V, 3] uint8 colour of each vertex from the nearest view that sees it.

    A view sees a vertex when it projects inside the image onto a pixel whose depth is within
    ``tol`` of the vertex's own depth; vertices no view sees are mid grey.

    Args:
        verts: [V, 3] positions.
        cameras: C cameras.
        depths: [C, H, W] their depth maps.
        images: [C, H, W, 3] their colours in [0, 1].
        alphas: optional [C, H, W] opacity.
    """
    best = np.full(len(verts), np.inf)
    out = np.full((len(verts), 3), 0.5, np.float32)
    for c, cam in enumerate(cameras):
        H, W = depths[c].shape
        uv, z = cam.project(verts)
        u, v = np.floor(uv[:, 0]).astype(np.int64), np.floor(uv[:, 1]).astype(np.int64)
        ok = (z > 0) & (u >= 0) & (u < W) & (v >= 0) & (v < H)
        u, v = np.where(ok, u, 0), np.where(ok, v, 0)
        d = depths[c][v, u]
        ok &= np.isfinite(d) & (np.abs(d - z) < tol)
        if alphas is not None:
            ok &= alphas[c][v, u] >= alpha_threshold
        dist = np.linalg.norm(verts - cam.center, axis=1)
        take = ok & (dist < best)
        best[take] = dist[take]
        out[take] = images[c][v[take], u[take]]
    return np.round(np.clip(out, 0.0, 1.0) * 255.0).astype(np.uint8)


def write_mesh_ply(path: Path, verts: np.ndarray, faces: np.ndarray,
                   colors: np.ndarray | None = None) -> None:
    """Write a binary PLY mesh (x, y, z [, red, green, blue]; vertex_indices), atomically.

    Args:
        verts: [V, 3] positions.
        faces: [F, 3] vertex indices.
        colors: optional [V, 3] uint8 vertex colours.
    """
    from plyfile import PlyData, PlyElement

    fields = [("x", "f4"), ("y", "f4"), ("z", "f4")]
    if colors is not None:
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    vert = np.empty(len(verts), dtype=fields)
    for i, k in enumerate("xyz"):
        vert[k] = verts[:, i]
    if colors is not None:
        for i, k in enumerate(("red", "green", "blue")):
            vert[k] = colors[:, i]
    face = np.empty(len(faces), dtype=[("vertex_indices", "i4", (3,))])
    face["vertex_indices"] = faces
    buf = io.BytesIO()
    PlyData([PlyElement.describe(vert, "vertex"), PlyElement.describe(face, "face")]).write(buf)
    atomic_write_bytes(Path(path), buf.getvalue())


def write_tsdf_mesh(path: Path, cameras: list[Camera], depths: np.ndarray, alphas: np.ndarray,
                    images: np.ndarray | None = None, *, grid: int = 128, bound: float = 1.3
                    ) -> str:
    """Fuse rendered views into ``path`` (mesh.ply, vertex colours when ``images`` are given).

    Args:
        cameras: C cameras of the renders.
        depths: [C, H, W] expected (or median) depth.
        alphas: [C, H, W] rendered opacity.
        images: optional [C, H, W, 3] straight colour in [0, 1] for vertex colours.
    Returns:
        The file's name (for the report's outputs).
    """
    vol = fuse_tsdf(depths, cameras, alphas, grid=grid, bound=bound)
    verts, faces = mesh_from_tsdf(vol)
    colors = None
    if images is not None:
        colors = vertex_colors(verts, cameras, depths, images, alphas, tol=2.0 * vol.voxel)
    write_mesh_ply(path, verts, faces, colors)
    return Path(path).name
