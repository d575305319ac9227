"""Tiles for both methods: binning (which tiles each splat touches, front to back per tile) and
small helpers of the compositing kernels.

A splat is addressed by ``gid = c * N + n`` (camera-major), so several cameras share one pass.
Binning runs without fastmath: it is integer work and comparisons.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._common import TILE


@njit(cache=True, nogil=True)
def _tile_rect(u, v, rx, ry, tiles_x, tiles_y):
    x0 = max(0, math.floor((u - rx) / TILE))
    x1 = min(tiles_x, math.ceil((u + rx) / TILE))
    y0 = max(0, math.floor((v - ry) / TILE))
    y1 = min(tiles_y, math.ceil((v + ry) / TILE))
    return x0, max(x0, x1), y0, max(y0, y1)


@njit(cache=True, nogil=True)
def depth_order(bits, n_per_cam, num_cams):
    """[G] gids sorted by (camera, depth, gid): a stable LSD radix sort, 8 bits per pass.

    Args:
        bits: [G] the depths' bit patterns (``depth.view(np.uint32 | np.uint64)``). Depths of
            visible Gaussians are positive (z >= near > 0), and for positive floats the bit
            pattern orders like the value; culled ones hold 0 and are never binned. float64
            depths sort on all 64 bits, so close depths are never merged.
    """
    passes = bits.itemsize
    order = np.empty(bits.shape[0], dtype=np.int64)
    tmp = np.empty(n_per_cam, dtype=np.int64)
    cnt = np.empty(257, dtype=np.int64)
    for c in range(num_cams):
        base = c * n_per_cam
        src = order[base:base + n_per_cam]
        for i in range(n_per_cam):
            src[i] = base + i
        dst = tmp
        for ps in range(passes):
            shift = 8 * ps
            cnt[:] = 0
            for i in range(n_per_cam):
                cnt[((bits[src[i]] >> shift) & 255) + 1] += 1
            for b in range(256):
                cnt[b + 1] += cnt[b]
            for i in range(n_per_cam):
                d = (bits[src[i]] >> shift) & 255
                dst[cnt[d]] = src[i]
                cnt[d] += 1
            src, dst = dst, src
        if passes % 2 == 1:  # the result sits in tmp
            order[base:base + n_per_cam] = tmp
    return order


@njit(cache=True, nogil=True)
def bin_tiles(m2d, radii, order, n_per_cam, num_cams, tiles_x, tiles_y):
    """Assign Gaussians to the tiles their screen extent touches, front to back per tile.

    Args:
        m2d: [G, 2] centres; radii: [G, 2] int half-extents (0 = culled); G = C * N.
        order: [G] gids sorted by (camera, depth, gid); filling tiles in this order leaves
            every tile's list sorted, so no per-tile sort is needed.
        n_per_cam, num_cams: N and C; tiles_x, tiles_y: tiles per image.
    Returns:
        pair_off: [G+1] int64; Gaussian g owns pair ids pair_off[g]:pair_off[g+1].
        tile_off: [C*tiles+1] int64; tile t's entries are tile_off[t]:tile_off[t+1].
        tile_gid, tile_pid: [P] int32 gid and pair id of each entry, front first.
    """
    G = m2d.shape[0]
    ntile = tiles_x * tiles_y
    pair_off = np.zeros(G + 1, dtype=np.int64)
    tile_off = np.zeros(num_cams * ntile + 1, dtype=np.int64)
    for g in range(G):
        cnt = 0
        if radii[g, 0] != 0 or radii[g, 1] != 0:
            base = (g // n_per_cam) * ntile + 1
            x0, x1, y0, y1 = _tile_rect(m2d[g, 0], m2d[g, 1], radii[g, 0], radii[g, 1],
                                        tiles_x, tiles_y)
            cnt = (x1 - x0) * (y1 - y0)
            for ty in range(y0, y1):
                for tx in range(x0, x1):
                    tile_off[base + ty * tiles_x + tx] += 1
        pair_off[g + 1] = pair_off[g] + cnt
    for t in range(num_cams * ntile):
        tile_off[t + 1] += tile_off[t]
    P = pair_off[G]
    cursor = tile_off[:-1].copy()
    tile_gid = np.empty(P, dtype=np.int32)
    tile_pid = np.empty(P, dtype=np.int32)
    for idx in range(G):
        g = order[idx]
        p = pair_off[g]
        if pair_off[g + 1] == p:
            continue
        base = (g // n_per_cam) * ntile
        x0, x1, y0, y1 = _tile_rect(m2d[g, 0], m2d[g, 1], radii[g, 0], radii[g, 1],
                                    tiles_x, tiles_y)
        for ty in range(y0, y1):
            for tx in range(x0, x1):
                t = base + ty * tiles_x + tx
                tile_gid[cursor[t]] = g
                tile_pid[cursor[t]] = p
                cursor[t] += 1
                p += 1
    return pair_off, tile_off, tile_gid, tile_pid


@njit(inline="always")
def tile_origin(tile, ntile, tiles_x, tox, toy):
    """Tile id -> (camera, tile column, tile row, origin x, origin y)."""
    c = tile // ntile
    t = tile - c * ntile
    ty = t // tiles_x
    tx = t - ty * tiles_x
    return c, tx, ty, tox[tx], toy[ty]


@njit(inline="always")
def lane_sums(acc, out, zero):
    """out[m] = sum over the TILE lanes of acc[m * TILE : (m + 1) * TILE], for every m of out."""
    for m in range(out.shape[0]):
        tot = zero
        for j in range(TILE):
            tot += acc[m * TILE + j]
        out[m] = tot
