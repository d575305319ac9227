"""The kernel seam: ``torch.autograd.Function``s whose forward and backward call the numba kernels.

One pair per method: projection (3D Gaussians or surfels -> per-camera screen-space records)
and tile compositing (records -> images). Tensors cross as zero-copy numpy views (CPU,
contiguous); kernels compile on first use, so this module imports them inside the functions.
Every reduction runs in a fixed order (see ``_work``): outputs and gradients are bit-identical
across runs and thread counts.
"""

from __future__ import annotations

import numpy as np
import torch

from ..threads import (
    MIN_PARALLEL,
    get_num_threads,
    pooled,
    ranges,
    run_parallel,
    split,
    threads_for,
)
from ._work import (
    VIEW_CHUNKS,
    as_array,
    background_grad,
    chunks,
    deal,
    grad_or_zeros,
    view_grad,
)


def _project_forward(ctx, kernel, means, quats, scales, opacities, sh, viewmats, Ks, sh_degree,
                     consts, outputs):
    """Run a projection kernel over all Gaussians into the preallocated ``outputs`` arrays
    (radii [C, N, 2] int32 among them) and save what the backward needs."""
    from .kernels.sh import SH_CONSTS

    N = means.shape[0]
    shc = SH_CONSTS.astype(consts.dtype)
    if N > 0:
        args = (as_array(means), as_array(quats), as_array(scales), as_array(opacities),
                as_array(sh), sh_degree, as_array(viewmats), as_array(Ks), consts, shc, *outputs)
        run_parallel(kernel, [args + r for r in split(N, viewmats.shape[0] * N)])
    ctx.cfg = (sh_degree, consts, shc)


def _project_backward(ctx, kernel, grads, dims):
    """Run a projection backward kernel on the output gradients ``grads`` (tensors or None,
    in the kernel's order; ``dims[i]`` is the trailing shape of grads[i] after [C, N]).
    Returns the gradients of means, quats, scales, sh and viewmats."""
    means, quats, scales, sh, viewmats, Ks, radii = ctx.saved_tensors
    sh_degree, consts, shc = ctx.cfg
    dt = consts.dtype
    C, N = viewmats.shape[0], means.shape[0]
    upstream = tuple(grad_or_zeros(g, (C, N, *d), dt) for g, d in zip(grads, dims))
    g_means = np.zeros((N, 3), dt)
    g_quats = np.zeros((N, 4), dt)
    g_scales = np.zeros(tuple(scales.shape), dt)
    g_sh = np.zeros(tuple(sh.shape), dt)
    nchunk = max(1, min(VIEW_CHUNKS, N))
    g_view_part = np.zeros((nchunk, C, 12), dt)
    if N > 0:
        args = (as_array(means), as_array(quats), as_array(scales), as_array(sh), sh_degree,
                as_array(viewmats), as_array(Ks), consts, shc, radii.numpy(), *upstream,
                g_means, g_quats, g_scales, g_sh, g_view_part, bool(ctx.needs_input_grad[5]))
        run_parallel(kernel, [args + r for r in split(nchunk, C * N)])
    g_view = view_grad(g_view_part, means.dtype) if ctx.needs_input_grad[5] else None
    return (torch.from_numpy(g_means), torch.from_numpy(g_quats), torch.from_numpy(g_scales),
            None, torch.from_numpy(g_sh), g_view)


def _tiles(width: int, height: int, dt: np.dtype):
    """(tiles_x, tiles_y, (lx, ly, tox, toy)): tiles per row and column, pixel-centre offsets
    inside a tile [TILE_PIX] and tile origins [tiles_x], [tiles_y] in the working dtype."""
    from .kernels._common import TILE, TILE_PIX

    tiles_x = (width + TILE - 1) // TILE
    tiles_y = (height + TILE - 1) // TILE
    lx = (np.arange(TILE_PIX) % TILE + 0.5).astype(dt)
    ly = (np.arange(TILE_PIX) // TILE + 0.5).astype(dt)
    tox = (np.arange(tiles_x) * TILE).astype(dt)
    toy = (np.arange(tiles_y) * TILE).astype(dt)
    return tiles_x, tiles_y, (lx, ly, tox, toy)


def _bin(m2d: np.ndarray, radii: np.ndarray, depth: np.ndarray, N: int, C: int, tiles_x: int,
         tiles_y: int):
    """Tile lists, front to back: (pair_off, tile_off, tile_gid, tile_pid); m2d [G, 2],
    radii [G, 2], depth [G] with G = C * N.

    pair_off [G+1]: Gaussian g owns pair ids pair_off[g]:pair_off[g+1]; tile_off [C*tiles+1]:
    tile t's entries are tile_off[t]:tile_off[t+1]; tile_gid, tile_pid [P] int32: gid and pair
    id of each entry, front first. The depth-sorted Gaussians are cut into parts binned on the
    kernels' threads; each part's entries land after the earlier parts' in every tile, so the
    lists are the same for any number of parts.
    """
    from .kernels.tiles import bin_count, bin_offsets, bin_scatter, depth_order

    bits = depth.view(np.uint32 if depth.dtype == np.float32 else np.uint64)
    order = depth_order(bits, N, C)  # (camera, depth, gid)
    G = order.shape[0]
    parts = ranges(G, threads_for(G))
    rect = pooled("bin_rect", (G, 4), np.int32)  # rows of binned Gaussians are written
    cnt = pooled("bin_cnt", (G,), np.int64)  # every row written
    part_counts = np.zeros((len(parts), C * tiles_x * tiles_y), np.int64)
    run_parallel(bin_count, [(m2d, radii, order, N, tiles_x, tiles_y, rect, cnt, part_counts, k,
                              i0, i1) for k, (i0, i1) in enumerate(parts)])
    pair_off, tile_off, cursor = bin_offsets(cnt, part_counts)
    P = int(tile_off[-1])
    tile_gid = np.empty(P, np.int32)
    tile_pid = np.empty(P, np.int32)
    run_parallel(bin_scatter, [(order, N, tiles_x, tiles_y, rect, pair_off, cursor, tile_gid,
                                tile_pid, k, i0, i1) for k, (i0, i1) in enumerate(parts)])
    return pair_off, tile_off, tile_gid, tile_pid


class ProjectFn(torch.autograd.Function):
    """3D Gaussians -> per-camera screen-space Gaussians (numba forward and backward)."""

    @staticmethod
    def forward(ctx, means, quats, scales, opacities, sh, viewmats, Ks, sh_degree, width, height,
                near_plane, far_plane, eps2d):
        from .kernels._common import make_consts
        from .kernels.projection import project_fwd

        dt = as_array(means).dtype
        C, N = viewmats.shape[0], means.shape[0]
        consts = make_consts(dt, near_plane, far_plane, eps2d, width, height)
        m2d = np.zeros((C, N, 2), dt)
        conic = np.zeros((C, N, 3), dt)
        depth = np.zeros((C, N), dt)
        color = np.zeros((C, N, 3), dt)
        radii = np.zeros((C, N, 2), np.int32)
        _project_forward(ctx, project_fwd, means, quats, scales, opacities, sh, viewmats, Ks,
                         sh_degree, consts, (m2d, conic, depth, color, radii))
        radii_t = torch.from_numpy(radii)
        ctx.mark_non_differentiable(radii_t)
        ctx.save_for_backward(means, quats, scales, sh, viewmats, Ks, radii_t)
        return (torch.from_numpy(m2d), torch.from_numpy(conic), torch.from_numpy(depth),
                torch.from_numpy(color), radii_t)

    @staticmethod
    def backward(ctx, g_m2d, g_conic, g_depth, g_color, _g_radii):
        from .kernels.projection import project_bwd

        grads = _project_backward(ctx, project_bwd, (g_m2d, g_conic, g_depth, g_color),
                                  ((2,), (3,), (), (3,)))
        return grads + (None,) * 7


class RasterFn(torch.autograd.Function):
    """Screen-space Gaussians -> images (numba tile forward and backward)."""

    @staticmethod
    def forward(ctx, m2d, conic, color, opac, depth, bg, radii, width, height, with_depth):
        from .kernels._common import make_consts
        from .kernels.raster import ENT, REC, pack_records, raster_fwd

        C, N = m2d.shape[0], m2d.shape[1]
        dt = as_array(m2d).dtype
        consts = make_consts(dt, 0.0, 0.0, 0.0, width, height)
        tiles_x, tiles_y, offs = _tiles(width, height, dt)
        nth = get_num_threads()  # results do not depend on it (pair slots, fixed sums)
        a_m2d, a_con, a_col = (as_array(x).reshape(C * N, x.shape[-1]) for x in (m2d, conic,
                                                                                   color))
        a_dep = as_array(depth).reshape(C * N)
        a_op, a_bg = as_array(opac), as_array(bg)
        rgb = pooled("rgb", (C, height, width, 3), dt)  # the kernel writes every pixel
        dacc = pooled("dacc", (C, height, width, 1), dt)
        alpha = pooled("alpha", (C, height, width, 1), dt)
        T = pooled("T", (C, height, width), dt)
        last = pooled("last", (C, height, width), np.int32)
        G = C * N
        rec = pooled("rec", (G, REC), dt)
        pack = (a_m2d, a_con, a_col, a_op, a_dep, max(N, 1), consts, rec)
        run_parallel(pack_records, [pack + r for r in ranges(G, threads_for(G))])
        bins = _bin(a_m2d, as_array(radii).reshape(G, 2), a_dep, N, C, tiles_x, tiles_y)
        pair_off, tile_off, tile_gid, tile_pid = bins
        P = tile_gid.shape[0]
        dealt = chunks(tile_off, nth if P >= MIN_PARALLEL else 1)
        ent = pooled("ent", (P, ENT), dt)  # the composited entries, written by the kernel
        ent_rows = pooled("ent_rows", (P,), np.int32)
        ent_of_pair = pooled("ent_of_pair", (P,), np.int32)
        tile_n = pooled("tile_n", (tile_off.shape[0] - 1,), np.int32)
        rest = (tiles_x, *offs, a_bg, consts, bool(with_depth), rgb, dacc, alpha, T, last, ent,
                ent_rows, ent_of_pair, tile_n)
        run_parallel(raster_fwd, [(rec, tile_off, tile_gid, tile_pid, tl) + rest
                                  for tl in dealt])
        ctx.set_materialize_grads(False)  # None for an unused output: skip its work
        ctx.save_for_backward(m2d, bg)
        ctx.state = (pair_off, tile_off, tile_n, dealt, offs, consts, tiles_x, T, last, ent,
                     ent_rows, ent_of_pair)
        return torch.from_numpy(rgb), torch.from_numpy(dacc), torch.from_numpy(alpha)

    @staticmethod
    def backward(ctx, g_rgb, g_dacc, g_alpha):
        from .kernels.raster import N_PAIR_GRADS, raster_bwd, reduce_pairs

        m2d, bg = ctx.saved_tensors
        (pair_off, tile_off, tile_n, dealt, offs, consts, tiles_x, T, last, ent, ent_rows,
         ent_of_pair) = ctx.state
        C, N = m2d.shape[0], m2d.shape[1]
        H, W = T.shape[1], T.shape[2]
        dt = consts.dtype
        g_c = grad_or_zeros(g_rgb, (C, H, W, 3), dt)
        g_d = grad_or_zeros(g_dacc, (C, H, W, 1), dt)
        g_a = grad_or_zeros(g_alpha, (C, H, W, 1), dt)
        P = ent.shape[0]
        ent_grads = pooled("ent_grads", (P, N_PAIR_GRADS), dt)  # rows read below are written
        if P > 0:
            rest = (tiles_x, *offs, as_array(bg), consts, T, last, g_c, g_d, g_a, ent_grads,
                    g_dacc is not None)
            run_parallel(raster_bwd, [(ent, ent_rows, tile_off, tile_n, tl) + rest
                                      for tl in dealt])
        g2d = pooled("g2d", (C * N, N_PAIR_GRADS), dt)  # every row written
        # per-Gaussian sums over its pairs, in pair order
        run_parallel(reduce_pairs, [(pair_off, ent_of_pair, ent_grads, g2d) + r
                                    for r in split(C * N, max(P, 1))])
        g2d = torch.from_numpy(g2d).reshape(C, N, N_PAIR_GRADS)
        g_bg = None
        if ctx.needs_input_grad[5] and g_rgb is not None:
            g_bg = background_grad(g_rgb, T)
        return (g2d[..., 0:2], g2d[..., 2:5], g2d[..., 6:9], g2d[..., 5].sum(0), g2d[..., 9],
                g_bg, None, None, None, None)


class SurfelProjectFn(torch.autograd.Function):
    """Surfels -> per-camera ray transforms (numba forward and backward)."""

    @staticmethod
    def forward(ctx, means, quats, scales, opacities, sh, viewmats, Ks, sh_degree, width,
                height, near_plane, far_plane):
        from .kernels._common import make_consts
        from .kernels.surfel_projection import surfel_project_fwd

        dt = as_array(means).dtype
        C, N = viewmats.shape[0], means.shape[0]
        consts = make_consts(dt, near_plane, far_plane, 0.0, width, height)
        m2d = np.zeros((C, N, 2), dt)
        M = np.zeros((C, N, 9), dt)
        nrm = np.zeros((C, N, 3), dt)
        color = np.zeros((C, N, 3), dt)
        radii = np.zeros((C, N, 2), np.int32)
        boxes = np.zeros((C, N, 4), dt)
        _project_forward(ctx, surfel_project_fwd, means, quats, scales, opacities, sh,
                         viewmats, Ks, sh_degree, consts, (m2d, M, nrm, color, radii, boxes))
        radii_t, boxes_t = torch.from_numpy(radii), torch.from_numpy(boxes)
        ctx.mark_non_differentiable(radii_t, boxes_t)
        ctx.save_for_backward(means, quats, scales, sh, viewmats, Ks, radii_t)
        return (torch.from_numpy(m2d), torch.from_numpy(M).reshape(C, N, 3, 3),
                torch.from_numpy(nrm), torch.from_numpy(color), radii_t, boxes_t)

    @staticmethod
    def backward(ctx, g_m2d, g_M, g_nrm, g_color, _g_radii, _g_boxes):
        from .kernels.surfel_projection import surfel_project_bwd

        g_M = None if g_M is None else g_M.flatten(-2)  # [C, N, 3, 3] -> [C, N, 9]
        grads = _project_backward(ctx, surfel_project_bwd, (g_m2d, g_M, g_nrm, g_color),
                                  ((2,), (9,), (3,), (3,)))
        return grads + (None,) * 6


class SurfelRasterFn(torch.autograd.Function):
    """Projected surfels -> images (numba tile forward and backward)."""

    @staticmethod
    def forward(ctx, m2d, M, color, nrm, opac, bg, radii, boxes, width, height):
        from .kernels._common import make_consts
        from .kernels.surfel_raster import N_OUT, surfel_raster_fwd

        C, N = m2d.shape[0], m2d.shape[1]
        dt = as_array(m2d).dtype
        consts = make_consts(dt, 0.0, 0.0, 0.0, width, height)
        tiles_x, tiles_y, offs = _tiles(width, height, dt)
        a_m2d = as_array(m2d).reshape(C * N, 2)
        a_M = as_array(M).reshape(C * N, 9)
        a_op, a_bg = as_array(opac), as_array(bg)
        img = np.zeros((C, height, width, N_OUT), dt)
        img[..., :3] = a_bg[:, None, None, :]
        T = np.ones((C, height, width), dt)
        last = np.full((C, height, width), -1, np.int32)
        med = np.full((C, height, width), -1, np.int32)
        # sorted by centre depth M[2, 2]
        bins = _bin(a_m2d, as_array(radii).reshape(C * N, 2), np.ascontiguousarray(a_M[:, 8]),
                    N, C, tiles_x, tiles_y)
        pair_off, tile_off, tile_gid, tile_pid = bins
        P = tile_gid.shape[0]
        dealt = deal(tile_off, threads_for(P))  # results do not depend on the split
        entry_rows = np.full(P, -1, np.int32)
        if P > 0:
            args = (a_m2d, a_M, as_array(color).reshape(C * N, 3),
                    as_array(nrm).reshape(C * N, 3), a_op, as_array(boxes).reshape(C * N, 4), N,
                    tile_off, tile_gid)
            rest = (tiles_x, *offs, a_bg, consts, img, T, last, med, entry_rows)
            run_parallel(surfel_raster_fwd, [args + (tl,) + rest for tl in dealt])
        ctx.save_for_backward(m2d, M, color, nrm, opac, bg)
        ctx.state = (bins, dealt, offs, consts, tiles_x, img, T, last, med, entry_rows)
        out = torch.from_numpy(img)
        alpha = torch.from_numpy((1 - T)[..., None])
        return (out[..., 0:3], alpha, out[..., 3:4], out[..., 4:7], out[..., 7:8], out[..., 8:9])

    @staticmethod
    def backward(ctx, g_rgb, g_alpha, g_depth, g_nrm, g_dist, g_med):
        from .kernels.surfel_raster import N_OUT, N_PAIR_GRADS, surfel_raster_bwd

        m2d, M, color, nrm, opac, bg = ctx.saved_tensors
        bins, dealt, offs, consts, tiles_x, img, T, last, med, entry_rows = ctx.state
        pair_off, tile_off, tile_gid, tile_pid = bins
        C, N = m2d.shape[0], m2d.shape[1]
        H, W = T.shape[1], T.shape[2]
        dt = consts.dtype
        g_img = np.zeros((C, H, W, N_OUT), dt)
        channels = ((0, 3, g_rgb), (3, 4, g_depth), (4, 7, g_nrm), (7, 8, g_dist), (8, 9, g_med))
        for lo, hi, g in channels:
            if g is not None:
                g_img[..., lo:hi] = g.detach().numpy()
        g_a = grad_or_zeros(None if g_alpha is None else g_alpha[..., 0], (C, H, W), dt)
        pair_grads = np.zeros((tile_gid.shape[0], N_PAIR_GRADS), dt)
        if pair_grads.shape[0] > 0:
            args = (as_array(m2d).reshape(C * N, 2), as_array(M).reshape(C * N, 9),
                    as_array(color).reshape(C * N, 3), as_array(nrm).reshape(C * N, 3),
                    as_array(opac), N, tile_off, tile_gid, tile_pid)
            rest = (tiles_x, *offs, as_array(bg), consts, img, T, last, med, entry_rows, g_img,
                    g_a, pair_grads)
            run_parallel(surfel_raster_bwd, [args + (tl,) + rest for tl in dealt])
        # per-surfel sums over its (contiguous) pair slots; numpy's blocked order, which
        # differs from _pair_sums' running sum in the last bits
        g2d = np.zeros((C * N, N_PAIR_GRADS), dt)
        has = np.flatnonzero(np.diff(pair_off))
        if has.size:
            g2d[has] = np.add.reduceat(pair_grads, pair_off[has], axis=0)
        g2d = torch.from_numpy(g2d).reshape(C, N, N_PAIR_GRADS)
        g_bg = None
        if ctx.needs_input_grad[5] and g_rgb is not None:
            g_bg = background_grad(g_rgb, T)
        return (g2d[..., 9:11], g2d[..., 0:9].reshape(C, N, 3, 3), g2d[..., 12:15],
                g2d[..., 15:18], g2d[..., 11].sum(0), g_bg, None, None, None, None)
