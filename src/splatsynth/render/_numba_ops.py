"""The kernel seam: ``torch.autograd.Function``s whose forward and backward call the numba kernels.

Tensors cross as zero-copy numpy views (CPU, contiguous); kernels compile on first use. Work is
split into static per-thread slices (see ``splatsynth.threads``); every reduction runs in a
fixed order, so outputs and gradients are bit-identical across runs and thread counts.
"""

from __future__ import annotations

import numpy as np
import torch

from ..threads import get_num_threads, run_parallel

_VIEW_CHUNKS = 64  # fixed chunks for the viewmat-gradient reduction over Gaussians
_MIN_PARALLEL = 4096  # below this many Gaussians (or tile pairs) waking a thread costs more


def _threads_for(work: int) -> int:
    return get_num_threads() if work >= _MIN_PARALLEL else 1


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().contiguous().numpy()


def _grad_or_zeros(g: torch.Tensor | None, shape: tuple, dt: np.dtype) -> np.ndarray:
    if g is None:
        return np.zeros(shape, dtype=dt)
    return np.ascontiguousarray(g.detach().numpy(), dtype=dt)


def _split(n: int, work: int) -> list[tuple[int, int]]:
    """[0, n) in ranges for :func:`run_parallel`'s queue: 4 per thread, or 1 for small work."""
    t = _threads_for(work)
    return _ranges(n, 4 * t if t > 1 else 1)


def _ranges(n: int, parts: int) -> list[tuple[int, int]]:
    parts = max(1, min(parts, n))
    return [(k * n // parts, (k + 1) * n // parts) for k in range(parts)]


def _chunks(tile_off: np.ndarray, nth: int, per_thread: int = 4) -> list[np.ndarray]:
    """All tiles in chunks of about equal cost, most expensive tiles first, for a shared queue
    (:func:`run_parallel`); one chunk when a single thread runs."""
    cost = np.diff(tile_off) + 8  # + fixed per-tile work (state set-up, write-out)
    tiles = np.argsort(-cost, kind="stable")
    if nth <= 1 or tiles.size < 2:
        return [tiles]
    k = min(tiles.size, nth * per_thread)
    cum = np.cumsum(cost[tiles])
    cuts = np.searchsorted(cum, cum[-1] * np.arange(1, k) / k)
    return [c for c in np.split(tiles, cuts) if c.size]


def _deal(tile_off: np.ndarray, nth: int) -> list[np.ndarray]:
    """All tiles dealt to threads, most expensive first, in snake order (0 1 1 0 0 1 ..)."""
    cost = np.diff(tile_off)
    tiles = np.argsort(-cost, kind="stable")
    if nth == 1 or tiles.size < 2:
        return [tiles]
    k = np.arange(tiles.size) % (2 * nth)
    owner = np.where(k < nth, k, 2 * nth - 1 - k)
    return [tiles[owner == t] for t in range(nth) if np.any(owner == t)]


class ProjectFn(torch.autograd.Function):
    """3D Gaussians -> per-camera screen-space Gaussians (numba forward and backward)."""

    @staticmethod
    def forward(ctx, means, quats, scales, opacities, sh, viewmats, Ks, sh_degree, width, height,
                near_plane, far_plane, eps2d):  # fmt: skip
        from .kernels._common import make_consts
        from .kernels.projection import SH_CONSTS, project_fwd

        dt = _np(means).dtype
        C, N = viewmats.shape[0], means.shape[0]
        consts = make_consts(dt, near_plane, far_plane, eps2d, width, height)
        shc = SH_CONSTS.astype(dt)
        m2d = np.zeros((C, N, 2), dt)
        conic = np.zeros((C, N, 3), dt)
        depth = np.zeros((C, N), dt)
        color = np.zeros((C, N, 3), dt)
        radii = np.zeros((C, N, 2), np.int32)
        if N > 0:
            args = (_np(means), _np(quats), _np(scales), _np(opacities), _np(sh), sh_degree,
                    _np(viewmats), _np(Ks), consts, shc, m2d, conic, depth, color,
                    radii)  # fmt: skip
            run_parallel(project_fwd, [args + r for r in _split(N, N)])
        radii_t = torch.from_numpy(radii)
        ctx.mark_non_differentiable(radii_t)
        ctx.save_for_backward(means, quats, scales, sh, viewmats, Ks, radii_t)
        ctx.cfg = (sh_degree, consts, shc)
        return (torch.from_numpy(m2d), torch.from_numpy(conic), torch.from_numpy(depth),
                torch.from_numpy(color), radii_t)  # fmt: skip

    @staticmethod
    def backward(ctx, g_m2d, g_conic, g_depth, g_color, _g_radii):
        from .kernels.projection import project_bwd

        means, quats, scales, sh, viewmats, Ks, radii = ctx.saved_tensors
        sh_degree, consts, shc = ctx.cfg
        dt = consts.dtype
        C, N = viewmats.shape[0], means.shape[0]
        g_means = np.zeros((N, 3), dt)
        g_quats = np.zeros((N, 4), dt)
        g_scales = np.zeros((N, 3), dt)
        g_sh = np.zeros(tuple(sh.shape), dt)
        nchunk = max(1, min(_VIEW_CHUNKS, N))
        g_view_part = np.zeros((nchunk, C, 12), dt)
        if N > 0:
            args = (_np(means), _np(quats), _np(scales), _np(sh), sh_degree, _np(viewmats),
                    _np(Ks), consts, shc, radii.numpy(),
                    _grad_or_zeros(g_m2d, (C, N, 2), dt), _grad_or_zeros(g_conic, (C, N, 3), dt),
                    _grad_or_zeros(g_depth, (C, N), dt), _grad_or_zeros(g_color, (C, N, 3), dt),
                    g_means, g_quats, g_scales, g_sh, g_view_part)  # fmt: skip
            run_parallel(project_bwd, [args + r for r in _split(nchunk, N)])
        g_view = None
        if ctx.needs_input_grad[5]:
            part = g_view_part[0].copy()
            for k in range(1, nchunk):  # fixed order: deterministic
                part += g_view_part[k]
            g_view = torch.zeros((C, 4, 4), dtype=means.dtype)
            g_view[:, :3, :] = torch.from_numpy(part.reshape(C, 3, 4))
        return (torch.from_numpy(g_means), torch.from_numpy(g_quats),
                torch.from_numpy(g_scales), None, torch.from_numpy(g_sh), g_view,
                None, None, None, None, None, None, None)  # fmt: skip


class RasterFn(torch.autograd.Function):
    """Screen-space Gaussians -> images (numba tile forward and backward)."""

    @staticmethod
    def forward(ctx, m2d, conic, color, opac, depth, bg, radii, width, height):
        from .kernels._common import TILE, TILE_PIX, make_consts
        from .kernels.raster import REC, bin_tiles, depth_order, pack_records, raster_fwd

        C, N = m2d.shape[0], m2d.shape[1]
        dt = _np(m2d).dtype
        consts = make_consts(dt, 0.0, 0.0, 0.0, width, height)
        tiles_x = (width + TILE - 1) // TILE
        tiles_y = (height + TILE - 1) // TILE
        nth = get_num_threads()  # results do not depend on it (pair slots, fixed sums)
        lx = (np.arange(TILE_PIX) % TILE + 0.5).astype(dt)
        ly = (np.arange(TILE_PIX) // TILE + 0.5).astype(dt)
        tox = (np.arange(tiles_x) * TILE).astype(dt)
        toy = (np.arange(tiles_y) * TILE).astype(dt)
        a_m2d, a_con, a_col = (_np(x).reshape(C * N, x.shape[-1]) for x in (m2d, conic, color))
        a_dep = _np(depth).reshape(C * N)
        a_rad = _np(radii).reshape(C * N, 2)
        a_op, a_bg = _np(opac), _np(bg)
        rgb = np.empty((C, height, width, 3), dt)  # the kernel writes every pixel
        dacc = np.empty((C, height, width, 1), dt)
        alpha = np.empty((C, height, width, 1), dt)
        T = np.empty((C, height, width), dt)
        last = np.empty((C, height, width), np.int32)
        G = C * N
        rec = np.empty((G, REC), dt)
        run_parallel(pack_records, [(a_m2d, a_con, a_col, a_op, a_dep, max(N, 1), consts, rec)
                                    + r for r in _ranges(G, _threads_for(G))] or
                     [(a_m2d, a_con, a_col, a_op, a_dep, 1, consts, rec, 0, 0)])  # fmt: skip
        bits = a_dep.view(np.uint32 if dt == np.float32 else np.uint64)
        order = depth_order(bits, N, C)  # (camera, depth, gid)
        pair_off, tile_off, tile_gid, tile_pid = bin_tiles(a_m2d, a_rad, order, N, C, tiles_x,
                                                           tiles_y)  # fmt: skip
        P = tile_gid.shape[0]
        dealt = _chunks(tile_off, nth if P >= _MIN_PARALLEL else 1)
        entry_rows = np.full(P, -1, np.int32)
        rest = (tiles_x, lx, ly, tox, toy, a_bg, consts, rgb, dacc, alpha, T, last, entry_rows)
        run_parallel(raster_fwd, [(rec, tile_off, tile_gid, tl) + rest for tl in dealt])
        ctx.set_materialize_grads(False)  # None for an unused output: skip its work
        ctx.save_for_backward(m2d, bg)
        ctx.state = (pair_off, tile_off, tile_gid, tile_pid, dealt, (lx, ly, tox, toy),
                     consts, tiles_x, T, last, entry_rows, rec)  # fmt: skip
        return torch.from_numpy(rgb), torch.from_numpy(dacc), torch.from_numpy(alpha)

    @staticmethod
    def backward(ctx, g_rgb, g_dacc, g_alpha):
        from .kernels.raster import N_PAIR_GRADS, raster_bwd, reduce_pairs

        m2d, bg = ctx.saved_tensors
        st = ctx.state
        pair_off, tile_off, tile_gid, tile_pid, dealt, offs, consts, tiles_x, T, last = st[:10]
        entry_rows, rec = st[10], st[11]
        C, N = m2d.shape[0], m2d.shape[1]
        H, W = T.shape[1], T.shape[2]
        dt = consts.dtype
        g_c = _grad_or_zeros(g_rgb, (C, H, W, 3), dt)
        g_d = _grad_or_zeros(g_dacc, (C, H, W, 1), dt)
        g_a = _grad_or_zeros(g_alpha, (C, H, W, 1), dt)
        P = tile_gid.shape[0]
        g2d = np.zeros((C * N, N_PAIR_GRADS), dt)
        if P > 0:
            pair_grads = np.zeros((P, N_PAIR_GRADS), dt)
            rest = (tiles_x, *offs, _np(bg), consts, T, last, entry_rows, g_c, g_d, g_a,
                    pair_grads, g_dacc is not None)  # fmt: skip
            run_parallel(raster_bwd, [(rec, tile_off, tile_gid, tile_pid, tl) + rest
                                      for tl in dealt])  # fmt: skip
            # per-Gaussian sums over its contiguous pair slots, in slot order
            run_parallel(reduce_pairs, [(pair_off, pair_grads, g2d) + r
                                        for r in _split(C * N, P)])  # fmt: skip
        g2d_t = torch.from_numpy(g2d).reshape(C, N, N_PAIR_GRADS)
        g_bg = None
        if ctx.needs_input_grad[5] and g_rgb is not None:
            g_bg = (g_rgb * torch.from_numpy(T)[..., None]).sum(dim=(1, 2))
        return (g2d_t[..., 0:2], g2d_t[..., 2:5], g2d_t[..., 6:9], g2d_t[..., 5].sum(0),
                g2d_t[..., 9], g_bg, None, None, None)  # fmt: skip
