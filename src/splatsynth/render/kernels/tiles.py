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
def bin_count(m2d, radii, order, n_per_cam, tiles_x, tiles_y, rect, cnt, part_counts, part,
              i0, i1):
    """First pass of the binning, over the depth-ordered entries order[i0:i1] (part ``part``).

    Writes each of their Gaussians' tile rectangle (rect[g] = x0, x1, y0, y1) and tile count
    (cnt[g]), and adds up how many of them fall in each tile (part_counts[part, t], zero on
    entry), so that the scatter of every part can start at its own place in each tile's list.
    """
    ntile = tiles_x * tiles_y
    counts = part_counts[part]
    for idx in range(i0, i1):
        g = order[idx]
        c = 0
        if radii[g, 0] != 0 or radii[g, 1] != 0:
            x0, x1, y0, y1 = _tile_rect(m2d[g, 0], m2d[g, 1], radii[g, 0], radii[g, 1],
                                        tiles_x, tiles_y)
            rect[g, 0], rect[g, 1], rect[g, 2], rect[g, 3] = x0, x1, y0, y1
            c = (x1 - x0) * (y1 - y0)
            base = (g // n_per_cam) * ntile
            for ty in range(y0, y1):
                row = base + ty * tiles_x
                for tx in range(x0, x1):
                    counts[row + tx] += 1
        cnt[g] = c


@njit(cache=True, nogil=True)
def bin_offsets(cnt, part_counts):
    """The offsets of the binning from :func:`bin_count`'s counts.

    Returns:
        pair_off: [G+1] int64; Gaussian g owns pair ids pair_off[g]:pair_off[g+1].
        tile_off: [T+1] int64; tile t's entries are tile_off[t]:tile_off[t+1].
        cursor: [parts, T] int64, where each part's first entry in each tile goes.
    """
    G = cnt.shape[0]
    parts, T = part_counts.shape
    pair_off = np.zeros(G + 1, dtype=np.int64)
    for g in range(G):
        pair_off[g + 1] = pair_off[g] + cnt[g]
    tile_off = np.zeros(T + 1, dtype=np.int64)
    cursor = np.empty((parts, T), dtype=np.int64)
    for t in range(T):
        at = tile_off[t]
        for k in range(parts):
            cursor[k, t] = at
            at += part_counts[k, t]
        tile_off[t + 1] = at
    return pair_off, tile_off, cursor


@njit(cache=True, nogil=True)
def bin_scatter(order, n_per_cam, tiles_x, tiles_y, rect, pair_off, cursor, tile_gid, tile_pid,
                part, i0, i1):
    """Second pass: entries order[i0:i1] (part ``part``) into the tile lists, front to back,
    from ``cursor[part]`` on (see :func:`bin_offsets`)."""
    ntile = tiles_x * tiles_y
    cur = cursor[part]
    for idx in range(i0, i1):
        g = order[idx]
        p = pair_off[g]
        if pair_off[g + 1] == p:
            continue
        base = (g // n_per_cam) * ntile
        for ty in range(rect[g, 2], rect[g, 3]):
            row = base + ty * tiles_x
            for tx in range(rect[g, 0], rect[g, 1]):
                t = row + tx
                k = cur[t]
                tile_gid[k] = g
                tile_pid[k] = p
                cur[t] = k + 1
                p += 1


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
