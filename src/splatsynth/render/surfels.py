"""2DGS surfels: ``rasterize_surfels`` (numba CPU kernels or the plain-torch reference).

A surfel is a flat Gaussian disc: centre, rotation (wxyz) and two tangent scales along the
rotation's first two axes; its normal is the third axis. Every pixel's ray is intersected with
each splat exactly (Huang et al. 2024, "2D Gaussian Splatting for Geometrically Accurate
Radiance Fields"), not through the affine approximation of 3DGS, with the screen-space
low-pass fallback for splats seen edge-on. Same parameters, SH convention and PLY layout as
3DGS (the third scale is ignored).

The seam follows ``render/api.py``: the public function checks inputs, then calls
``torch.autograd.Function``s whose forward and backward run the numba kernels in
``kernels/surfel_projection.py`` and ``kernels/surfel_raster.py``. The reference twins of
:func:`project_surfels` and :func:`rasterize_surfels_to_pixels` live in
``render/reference/surfels.py`` with the same names and signatures.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
import torch

from ..threads import run_parallel
from ._numba_ops import _deal, _grad_or_zeros, _np, _ranges, _threads_for

SurfelBackend = Literal["auto", "numba", "torch"]
_VIEW_CHUNKS = 64  # fixed chunks for the viewmat-gradient reduction over surfels


class SurfelProjected(NamedTuple):
    """Surfels projected into C cameras (entries with ``radii == 0`` are culled).

    Attributes:
        means2d: [C, N, 2] projected centres in pixels (top-left image corner at (0, 0)).
        ray_transforms: [C, N, 3, 3] M = K [Rc[:, 0] s_u | Rc[:, 1] s_v | p_cam]: maps splat
            coordinates (u, v, 1) to homogeneous pixels; M[..., 2, 2] is the centre's depth.
        normals: [C, N, 3] unit normals in the camera frame, turned towards the camera.
        colors: [C, N, 3] view-dependent colour.
        radii: [C, N, 2] int32 half-extents of the footprint around means2d (0 = culled).
        boxes: [C, N, 4] exact footprint (x_lo, x_hi, y_lo, y_hi) of alpha >= 1/255.
    """

    means2d: torch.Tensor
    ray_transforms: torch.Tensor
    normals: torch.Tensor
    colors: torch.Tensor
    radii: torch.Tensor
    boxes: torch.Tensor


class SurfelRenderOut(NamedTuple):
    """What :func:`rasterize_surfels` returns (all [C, H, W, K] images are camera-major).

    Attributes:
        colors: [C, H, W, 3] RGB over the background.
        alphas: [C, H, W, 1] accumulated opacity (1 - final transmittance).
        depths: [C, H, W, 1] ACCUMULATED depth sum_i w_i z_i (w_i = alpha_i T_i; z_i the
            camera-frame z of the ray-splat intersection). The expected depth is
            ``depths / alphas.clamp_min(1e-10)`` (gsplat's "D" vs "ED").
        median_depths: [C, H, W, 1] z of the last surfel composited while the transmittance
            in front of it was > 0.5 (0 where none); a surface depth for bounded subjects.
        normals: [C, H, W, 3] accumulated normals sum_i w_i n_i in the CAMERA frame (OpenCV:
            x right, y down, z forward), each n_i turned towards the camera; not normalized
            (length ~alpha). World: ``normals @ c2w[:3, :3].T``.
        distortion: [C, H, W, 1] depth distortion sum_i 2 w_i sum_{j<i} w_j (z_i - z_j) in
            compositing order (gsplat's L1 form of 2DGS eq. 13; = sum_{i,j} w_i w_j |z_i -
            z_j| when intersections are in depth order, which the centre-depth sort gives
            for all but interpenetrating surfels).
        radii: [C, N] int32 screen radius in pixels (0 = culled: behind/outside near-far,
            off-screen, opacity <= 1/255, or so large it reaches behind the camera plane).
        means2d: [C, N, 2] projected centres; part of the graph, so
            ``out.means2d.retain_grad()`` gives the screen-space gradient for densification.
    """

    colors: torch.Tensor
    alphas: torch.Tensor
    depths: torch.Tensor
    median_depths: torch.Tensor
    normals: torch.Tensor
    distortion: torch.Tensor
    radii: torch.Tensor
    means2d: torch.Tensor


def rasterize_surfels(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    viewmats: torch.Tensor,
    Ks: torch.Tensor,
    width: int,
    height: int,
    *,
    sh_degree: int | None = None,
    backgrounds: torch.Tensor | None = None,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    backend: SurfelBackend = "auto",
) -> SurfelRenderOut:
    """Render N surfels (2DGS) into C cameras with exact ray-splat intersection.

    Convention: OpenCV cameras (x right, y down, z forward); ``viewmats`` are world-to-camera;
    quaternions are wxyz; pixel (i, j) has its centre at (i + 0.5, j + 0.5). Colour from SH is
    ``max(SH(d) + 0.5, 0)`` with d the unit direction from the camera centre to the surfel.
    A surfel's points are ``mean + s_u u R[:, 0] + s_v v R[:, 1]`` with weight
    ``exp(-(u^2 + v^2) / 2)``; its normal is ``R[:, 2]``.

    Args:
        means: [N, 3] world positions.
        quats: [N, 4] rotations (wxyz, any non-zero norm).
        scales: [N, 2] or [N, 3] activated tangent scales (>= 0; a third column is ignored).
        opacities: [N] activated opacities in [0, 1].
        colors: [N, 3] RGB, or [N, K, 3] SH coefficients with ``sh_degree`` set.
        viewmats: [C, 4, 4] world-to-camera matrices.
        Ks: [C, 3, 3] pinhole intrinsics in pixels (no gradient).
        width, height: image size in pixels.
        sh_degree: None for RGB colours, else 0..3.
        backgrounds: [C, 3] colour behind the surfels, default black.
        near_plane, far_plane: camera-frame depth range of the surfel centres kept.
        backend: "numba" (CPU kernels), "torch" (plain reference, any device), or "auto"
            (numba on CPU, torch elsewhere).
    Returns:
        :class:`SurfelRenderOut`. Differentiable w.r.t. means, quats, scales, opacities,
        colors, viewmats and backgrounds (not Ks). The numba kernels split work over
        :func:`splatsynth.render.get_num_threads` threads with static slices (results do
        not depend on the count) and leave torch's thread setting alone (see
        ``splatsynth.threads``).
    Raises:
        ValueError: on a wrong shape, dtype, device, non-finite value or option.
    """
    scales2 = _validate(means, quats, scales, opacities, colors, viewmats, Ks, width, height,
                        sh_degree, backgrounds, near_plane, far_plane, backend)  # fmt: skip
    dtype = means.dtype
    cast = lambda t: t if t is None or t.dtype == dtype else t.to(dtype)
    viewmats, Ks, backgrounds = cast(viewmats), cast(Ks), cast(backgrounds)
    if backend == "auto":
        backend = "numba" if means.device.type == "cpu" else "torch"
    if backend == "numba":
        if means.device.type != "cpu":
            raise ValueError(f"rasterize_surfels: backend 'numba' needs CPU tensors, got "
                             f"device {means.device}")  # fmt: skip
        project, raster = project_surfels, rasterize_surfels_to_pixels
    else:
        from .reference.surfels import project_surfels as project
        from .reference.surfels import rasterize_surfels_to_pixels as raster

    proj = project(means, quats, scales2, opacities, colors, viewmats, Ks, width, height,
                   sh_degree=sh_degree, near_plane=near_plane, far_plane=far_plane)  # fmt: skip
    rgb, alpha, depth, normals, dist, median = raster(
        proj.means2d, proj.ray_transforms, proj.colors, proj.normals, opacities, proj.radii,
        proj.boxes, width, height, backgrounds=backgrounds,
    )  # fmt: skip
    radii = proj.radii.max(dim=-1).values
    return SurfelRenderOut(colors=rgb, alphas=alpha, depths=depth, median_depths=median,
                           normals=normals, distortion=dist, radii=radii,
                           means2d=proj.means2d)  # fmt: skip


def project_surfels(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    viewmats: torch.Tensor,
    Ks: torch.Tensor,
    width: int,
    height: int,
    *,
    sh_degree: int | None = None,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
) -> SurfelProjected:
    """Project N surfels into C pinhole cameras (numba; CPU tensors, one float dtype).

    Arguments and result as :func:`splatsynth.render.reference.surfels.project_surfels`;
    scales are [N, 2]; inputs are assumed validated. Differentiable w.r.t. means, quats,
    scales, colors and viewmats.
    """
    sh = colors[:, None, :] if sh_degree is None else colors
    deg = -1 if sh_degree is None else int(sh_degree)
    m2d, M, nrm, cols, radii, boxes = _SurfelProjectFn.apply(
        means, quats, scales, opacities, sh, viewmats, Ks, deg, int(width), int(height),
        float(near_plane), float(far_plane),
    )  # fmt: skip
    return SurfelProjected(m2d, M, nrm, cols, radii, boxes)


def rasterize_surfels_to_pixels(
    means2d: torch.Tensor,
    ray_transforms: torch.Tensor,
    colors: torch.Tensor,
    normals: torch.Tensor,
    opacities: torch.Tensor,
    radii: torch.Tensor,
    boxes: torch.Tensor,
    width: int,
    height: int,
    *,
    backgrounds: torch.Tensor | None = None,
) -> tuple[torch.Tensor, ...]:
    """Composite projected surfels front to back into C images (numba, CPU).

    Arguments and results as the reference
    :func:`splatsynth.render.reference.surfels.rasterize_surfels_to_pixels`. Gradients flow
    to means2d, ray_transforms, colors, normals, opacities and backgrounds and are
    bit-identical from run to run.
    """
    C = means2d.shape[0]
    bg = backgrounds
    if bg is None:
        bg = torch.zeros((C, 3), dtype=means2d.dtype)
    return _SurfelRasterFn.apply(means2d, ray_transforms, colors, normals, opacities, bg,
                                 radii.to(torch.int32), boxes, int(width),
                                 int(height))  # fmt: skip


class _SurfelProjectFn(torch.autograd.Function):
    """Surfels -> per-camera ray transforms (numba forward and backward)."""

    @staticmethod
    def forward(ctx, means, quats, scales, opacities, sh, viewmats, Ks, sh_degree, width,
                height, near_plane, far_plane):  # fmt: skip
        from .kernels._common import make_consts
        from .kernels.projection import SH_CONSTS
        from .kernels.surfel_projection import surfel_project_fwd

        dt = _np(means).dtype
        C, N = viewmats.shape[0], means.shape[0]
        consts = make_consts(dt, near_plane, far_plane, 0.0, width, height)
        shc = SH_CONSTS.astype(dt)
        m2d = np.zeros((C, N, 2), dt)
        M = np.zeros((C, N, 9), dt)
        nrm = np.zeros((C, N, 3), dt)
        color = np.zeros((C, N, 3), dt)
        radii = np.zeros((C, N, 2), np.int32)
        boxes = np.zeros((C, N, 4), dt)
        if N > 0:
            args = (_np(means), _np(quats), _np(scales), _np(opacities), _np(sh), sh_degree,
                    _np(viewmats), _np(Ks), consts, shc, m2d, M, nrm, color, radii,
                    boxes)  # fmt: skip
            run_parallel(surfel_project_fwd, [args + r for r in _ranges(N, _threads_for(C * N))])
        radii_t, boxes_t = torch.from_numpy(radii), torch.from_numpy(boxes)
        ctx.mark_non_differentiable(radii_t, boxes_t)
        ctx.save_for_backward(means, quats, scales, sh, viewmats, Ks, radii_t)
        ctx.cfg = (sh_degree, consts, shc)
        return (torch.from_numpy(m2d), torch.from_numpy(M).reshape(C, N, 3, 3),
                torch.from_numpy(nrm), torch.from_numpy(color), radii_t, boxes_t)  # fmt: skip

    @staticmethod
    def backward(ctx, g_m2d, g_M, g_nrm, g_color, _g_radii, _g_boxes):
        from .kernels.surfel_projection import surfel_project_bwd

        means, quats, scales, sh, viewmats, Ks, radii = ctx.saved_tensors
        sh_degree, consts, shc = ctx.cfg
        dt = consts.dtype
        C, N = viewmats.shape[0], means.shape[0]
        g_means = np.zeros((N, 3), dt)
        g_quats = np.zeros((N, 4), dt)
        g_scales = np.zeros((N, 2), dt)
        g_sh = np.zeros(tuple(sh.shape), dt)
        nchunk = max(1, min(_VIEW_CHUNKS, N))
        g_view_part = np.zeros((nchunk, C, 12), dt)
        if N > 0:
            gM = _grad_or_zeros(None if g_M is None else g_M.reshape(C, N, 9), (C, N, 9), dt)
            args = (_np(means), _np(quats), _np(scales), _np(sh), sh_degree, _np(viewmats),
                    _np(Ks), consts, shc, radii.numpy(), _grad_or_zeros(g_m2d, (C, N, 2), dt),
                    gM, _grad_or_zeros(g_nrm, (C, N, 3), dt),
                    _grad_or_zeros(g_color, (C, N, 3), dt), g_means, g_quats, g_scales, g_sh,
                    g_view_part)  # fmt: skip
            parts = _ranges(nchunk, _threads_for(C * N))
            run_parallel(surfel_project_bwd, [args + r for r in parts])
        g_view = None
        if ctx.needs_input_grad[5]:
            part = g_view_part[0].copy()
            for k in range(1, nchunk):  # fixed order: deterministic
                part += g_view_part[k]
            g_view = torch.zeros((C, 4, 4), dtype=means.dtype)
            g_view[:, :3, :] = torch.from_numpy(part.reshape(C, 3, 4))
        return (torch.from_numpy(g_means), torch.from_numpy(g_quats),
                torch.from_numpy(g_scales), None, torch.from_numpy(g_sh), g_view,
                None, None, None, None, None, None)  # fmt: skip


class _SurfelRasterFn(torch.autograd.Function):
    """Projected surfels -> images (numba tile forward and backward)."""

    @staticmethod
    def forward(ctx, m2d, M, color, nrm, opac, bg, radii, boxes, width, height):
        from .kernels._common import TILE, TILE_PIX, make_consts
        from .kernels.raster import bin_tiles
        from .kernels.surfel_raster import N_OUT, surfel_raster_fwd

        C, N = m2d.shape[0], m2d.shape[1]
        dt = _np(m2d).dtype
        consts = make_consts(dt, 0.0, 0.0, 0.0, width, height)
        tiles_x = (width + TILE - 1) // TILE
        tiles_y = (height + TILE - 1) // TILE
        lx = (np.arange(TILE_PIX) % TILE + 0.5).astype(dt)
        ly = (np.arange(TILE_PIX) // TILE + 0.5).astype(dt)
        tox = (np.arange(tiles_x) * TILE).astype(dt)
        toy = (np.arange(tiles_y) * TILE).astype(dt)
        a_m2d = _np(m2d).reshape(C * N, 2)
        a_M = _np(M).reshape(C * N, 9)
        a_col = _np(color).reshape(C * N, 3)
        a_nrm = _np(nrm).reshape(C * N, 3)
        a_box = _np(boxes).reshape(C * N, 4)
        a_rad = _np(radii).reshape(C * N, 2)
        a_op, a_bg = _np(opac), _np(bg)
        img = np.zeros((C, height, width, N_OUT), dt)
        img[..., :3] = a_bg[:, None, None, :]
        T = np.ones((C, height, width), dt)
        last = np.full((C, height, width), -1, np.int32)
        med = np.full((C, height, width), -1, np.int32)
        # (camera, centre depth, gid) order; stable, so equal depths keep gid order
        order = np.argsort(a_M[:, 8].reshape(C, N), axis=1, kind="stable")
        order = (order + (np.arange(C) * N)[:, None]).reshape(-1)
        pair_off, tile_off, tile_gid, tile_pid = bin_tiles(a_m2d, a_rad, order, N, C,
                                                           tiles_x, tiles_y)  # fmt: skip
        P = tile_gid.shape[0]
        dealt = _deal(tile_off, _threads_for(P))  # results do not depend on the split
        entry_rows = np.full(P, -1, np.int32)
        if P > 0:
            args = (a_m2d, a_M, a_col, a_nrm, a_op, a_box, N, tile_off, tile_gid)
            rest = (tiles_x, lx, ly, tox, toy, a_bg, consts, img, T, last, med, entry_rows)
            run_parallel(surfel_raster_fwd, [args + (tl,) + rest for tl in dealt])
        ctx.save_for_backward(m2d, M, color, nrm, opac, bg)
        ctx.state = (pair_off, tile_off, tile_gid, tile_pid, dealt, (lx, ly, tox, toy),
                     consts, tiles_x, img, T, last, med, entry_rows)  # fmt: skip
        out = torch.from_numpy(img)
        alpha = torch.from_numpy((1 - T)[..., None])
        return (out[..., 0:3], alpha, out[..., 3:4], out[..., 4:7], out[..., 7:8],
                out[..., 8:9])  # fmt: skip

    @staticmethod
    def backward(ctx, g_rgb, g_alpha, g_depth, g_nrm, g_dist, g_med):
        from .kernels.surfel_raster import N_OUT, N_PAIR_GRADS, surfel_raster_bwd

        m2d, M, color, nrm, opac, bg = ctx.saved_tensors
        (pair_off, tile_off, tile_gid, tile_pid, dealt, offs, consts, tiles_x, img, T, last,
         med, entry_rows) = ctx.state  # fmt: skip
        C, N = m2d.shape[0], m2d.shape[1]
        H, W = T.shape[1], T.shape[2]
        dt = consts.dtype
        g_img = np.zeros((C, H, W, N_OUT), dt)
        for sl, g in ((slice(0, 3), g_rgb), (slice(3, 4), g_depth), (slice(4, 7), g_nrm),
                      (slice(7, 8), g_dist), (slice(8, 9), g_med)):  # fmt: skip
            if g is not None:
                g_img[..., sl] = g.detach().numpy()
        g_a = _grad_or_zeros(None if g_alpha is None else g_alpha[..., 0], (C, H, W), dt)
        P = tile_gid.shape[0]
        g2d = np.zeros((C * N, N_PAIR_GRADS), dt)
        if P > 0:
            pair_grads = np.zeros((P, N_PAIR_GRADS), dt)
            args = (_np(m2d).reshape(C * N, 2), _np(M).reshape(C * N, 9),
                    _np(color).reshape(C * N, 3), _np(nrm).reshape(C * N, 3), _np(opac), N,
                    tile_off, tile_gid, tile_pid)  # fmt: skip
            rest = (tiles_x, *offs, _np(bg), consts, img, T, last, med, entry_rows, g_img,
                    g_a, pair_grads)  # fmt: skip
            run_parallel(surfel_raster_bwd, [args + (tl,) + rest for tl in dealt])
            # per-surfel sums over its (contiguous) pair slots, in slot order
            has = np.flatnonzero(np.diff(pair_off))
            g2d[has] = np.add.reduceat(pair_grads, pair_off[has], axis=0)
        g2d_t = torch.from_numpy(g2d).reshape(C, N, N_PAIR_GRADS)
        g_bg = None
        if ctx.needs_input_grad[5] and g_rgb is not None:
            g_bg = (g_rgb * torch.from_numpy(T)[..., None]).sum(dim=(1, 2))
        return (g2d_t[..., 9:11], g2d_t[..., 0:9].reshape(C, N, 3, 3), g2d_t[..., 12:15],
                g2d_t[..., 15:18], g2d_t[..., 11].sum(0), g_bg, None, None, None,
                None)  # fmt: skip


def _validate(means, quats, scales, opacities, colors, viewmats, Ks, width, height, sh_degree,
              backgrounds, near_plane, far_plane, backend) -> torch.Tensor:  # fmt: skip
    """Check inputs (the 3DGS checks, plus [N, 2] scales); returns the [N, 2] scales."""
    from .api import _validate as validate_3dgs

    def fail(msg: str):
        raise ValueError(f"rasterize_surfels: {msg}")

    if backend not in ("auto", "numba", "torch"):
        fail(f"backend must be one of ('auto', 'numba', 'torch'), got {backend!r}")
    if not isinstance(scales, torch.Tensor) or not isinstance(means, torch.Tensor):
        fail("means and scales must be torch.Tensors")
    n = means.shape[0] if means.dim() >= 1 else -1
    if scales.dim() != 2 or scales.shape[0] != n or scales.shape[1] not in (2, 3):
        fail(f"scales must be [N, 2] or [N, 3] = [{n}, 2|3], got {list(scales.shape)}")
    scales2 = scales[:, :2]
    pad = torch.cat([scales2, scales2[:, :1]], dim=1).detach()  # only for the shared checks
    try:
        validate_3dgs(means, quats, pad, opacities, colors, viewmats, Ks, width, height,
                      sh_degree, backgrounds, near_plane, far_plane, 0.3, "RGB",
                      "numba")  # fmt: skip
    except ValueError as e:
        fail(str(e).removeprefix("rasterize: "))
    return scales2 if scales2.is_contiguous() else scales2.contiguous()
