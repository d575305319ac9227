"""Tile binning, and front-to-back compositing forward and backward, parallel over tiles.

Arrays in, arrays out; float32 or float64. Gaussians are addressed by ``gid = c * N + n``
(camera-major), so several cameras share one pass. The kernels are plain ``nogil`` functions
that each take a slice of the work; the caller runs one per thread with a static split (numba's
dynamic scheduling handed all the work to one thread when another core was busy, and parallel
loops cost minutes of cold compilation). Each (tile, Gaussian) pair writes its gradient to its
own slot and slots are summed per Gaussian in a fixed order: results are identical on every
run and for any thread count.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._common import (
    C_AMAX,
    C_AMIN,
    C_HALF,
    C_ONE,
    C_PMAX,
    C_TMIN,
    C_ZERO,
    TILE,
    TILE_PIX,
    exp_neg,
)

_OPTS = dict(cache=True, error_model="numpy", fastmath=True, nogil=True)
N_PAIR_GRADS = 10
"""Per pair: d/du, d/dv, d/dconic (3), d/dopacity, d/dcolour (3), d/ddepth."""


@njit(cache=True, nogil=True)
def _tile_rect(u, v, rx, ry, tiles_x, tiles_y):
    x0 = max(0, math.floor((u - rx) / TILE))
    x1 = min(tiles_x, math.ceil((u + rx) / TILE))
    y0 = max(0, math.floor((v - ry) / TILE))
    y1 = min(tiles_y, math.ceil((v + ry) / TILE))
    return x0, max(x0, x1), y0, max(y0, y1)


@njit(cache=True, nogil=True)
def bin_tiles(m2d, radii, n_per_cam, num_cams, tiles_x, tiles_y):
    """Assign Gaussians to the tiles their screen extent touches (unsorted, gid order).

    Args:
        m2d: [G, 2] centres; radii: [G, 2] int half-extents (0 = culled); G = C * N.
        n_per_cam, num_cams: N and C; tiles_x, tiles_y: tiles per image.
    Returns:
        pair_off: [G+1] int64; Gaussian g owns pair ids pair_off[g]:pair_off[g+1].
        tile_off: [C*tiles+1] int64; tile t's entries are tile_off[t]:tile_off[t+1].
        tile_gid, tile_pid: [P] int32 gid and pair id of each entry, in gid order per tile.
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
                                        tiles_x, tiles_y)  # fmt: skip
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
    for g in range(G):
        p = pair_off[g]
        if pair_off[g + 1] == p:
            continue
        base = (g // n_per_cam) * ntile
        x0, x1, y0, y1 = _tile_rect(m2d[g, 0], m2d[g, 1], radii[g, 0], radii[g, 1],
                                    tiles_x, tiles_y)  # fmt: skip
        for ty in range(y0, y1):
            for tx in range(x0, x1):
                t = base + ty * tiles_x + tx
                tile_gid[cursor[t]] = g
                tile_pid[cursor[t]] = p
                cursor[t] += 1
                p += 1
    return pair_off, tile_off, tile_gid, tile_pid


@njit(cache=True, nogil=True)
def sort_tiles(depth, tile_off, tile_gid, tile_pid, t0, t1):
    """Sort tiles t0 <= t < t1 front to back, in place (stable merge sort on depth).

    Entries arrive in gid order, so equal depths stay gid-ordered: the order is total and the
    same as the reference's (depth, gid).
    """
    m = 0
    for t in range(t0, t1):
        m = max(m, tile_off[t + 1] - tile_off[t])
    ka = np.empty(m, dtype=depth.dtype)
    kb = np.empty(m, dtype=depth.dtype)
    ia = np.empty(m, dtype=np.int64)
    ib = np.empty(m, dtype=np.int64)
    tg = np.empty(m, dtype=np.int32)
    tp = np.empty(m, dtype=np.int32)
    for t in range(t0, t1):
        a = tile_off[t]
        n = tile_off[t + 1] - a
        if n < 2:
            continue
        srt = True
        for j in range(n):
            ka[j] = depth[tile_gid[a + j]]
            ia[j] = j
            if j > 0 and ka[j] < ka[j - 1]:
                srt = False
        if srt:
            continue
        sk, si, dk, di = ka, ia, kb, ib
        width = 1
        while width < n:
            for lo in range(0, n, 2 * width):
                mid = min(lo + width, n)
                hi = min(lo + 2 * width, n)
                i, j, o = lo, mid, lo
                while i < mid and j < hi:
                    if sk[j] < sk[i]:
                        dk[o] = sk[j]
                        di[o] = si[j]
                        j += 1
                    else:
                        dk[o] = sk[i]
                        di[o] = si[i]
                        i += 1
                    o += 1
                while i < mid:
                    dk[o] = sk[i]
                    di[o] = si[i]
                    i += 1
                    o += 1
                while j < hi:
                    dk[o] = sk[j]
                    di[o] = si[j]
                    j += 1
                    o += 1
            sk, si, dk, di = dk, di, sk, si
            width *= 2
        for j in range(n):
            tg[j] = tile_gid[a + j]
            tp[j] = tile_pid[a + j]
        for j in range(n):
            tile_gid[a + j] = tg[si[j]]
            tile_pid[a + j] = tp[si[j]]


@njit(**_OPTS)
def raster_fwd(
    m2d, conic, color, opac, depth, radii, n_per_cam, tile_off, tile_gid, tiles, tiles_x,
    lx, ly, tox, toy, bg, consts, out_img, out_T, out_last,
):  # fmt: skip
    """Composite the sorted Gaussians of every tile front to back.

    Args:
        m2d [G,2], conic [G,3], color [G,3], depth [G], radii [G,2]: projected Gaussians
            (gid = c * n_per_cam + n); opac: [n_per_cam] opacities.
        tile_off, tile_gid: from :func:`bin_tiles` then :func:`sort_tiles`.
        tiles: the tile ids this call composites (threads get disjoint lists).
        lx, ly: [TILE_PIX] pixel-centre offsets inside a tile; tox, toy: tile origins as floats.
        bg: [C,3] backgrounds; consts: typed constants.
        out_img: [C,H,W,4] colour (background added) and accumulated depth (not normalized).
        out_T: [C,H,W] final transmittance; out_last: [C,H,W] int32 index (within the tile
            list) of the last Gaussian composited, -1 if none.
    """
    H, W = out_T.shape[1], out_T.shape[2]
    ntile = tiles_x * ((H + TILE - 1) // TILE)
    one, zero, half = consts[C_ONE], consts[C_ZERO], consts[C_HALF]
    amax, amin, tmin, pmax = consts[C_AMAX], consts[C_AMIN], consts[C_TMIN], consts[C_PMAX]
    T = np.empty(TILE_PIX, dtype=m2d.dtype)
    R = np.empty(TILE_PIX, dtype=m2d.dtype)
    Gc = np.empty(TILE_PIX, dtype=m2d.dtype)
    B = np.empty(TILE_PIX, dtype=m2d.dtype)
    D = np.empty(TILE_PIX, dtype=m2d.dtype)
    alive = np.empty(TILE_PIX, dtype=m2d.dtype)
    last = np.empty(TILE_PIX, dtype=np.int32)
    for ti in range(tiles.shape[0]):
        tile = tiles[ti]
        c = tile // ntile
        t = tile - c * ntile
        ty = t // tiles_x
        tx = t - ty * tiles_x
        ox, oy = tox[tx], toy[ty]
        for k in range(TILE_PIX):
            T[k] = one
            R[k] = zero
            Gc[k] = zero
            B[k] = zero
            D[k] = zero
            alive[k] = one
            last[k] = -1
        start, end = tile_off[tile], tile_off[tile + 1]
        for i in range(start, end):
            g = tile_gid[i]
            u = m2d[g, 0] - ox
            v = m2d[g, 1] - oy
            ca = conic[g, 0] * half
            cb = conic[g, 1]
            cc = conic[g, 2] * half
            o = opac[g - c * n_per_cam]
            cr, cg, cbl = color[g, 0], color[g, 1], color[g, 2]
            z = depth[g]
            ry = radii[g, 1]
            r0 = max(0, math.floor(v - ry))
            r1 = min(TILE - 1, math.ceil(v + ry))
            if r0 > r1:
                continue
            li = np.int32(i - start)
            for k in range(np.uint64(r0 * TILE), np.uint64((r1 + 1) * TILE)):
                dx = lx[k] - u
                dy = ly[k] - v
                p = ca * dx * dx + cc * dy * dy + cb * dx * dy
                al = min(amax, o * exp_neg(min(max(p, zero), pmax)))
                tk = T[k]
                nt = tk * (one - al)
                valid = (al >= amin) & (p >= zero) & (alive[k] > zero)
                ok = valid & (nt >= tmin)
                w = al * tk if ok else zero
                R[k] += w * cr
                Gc[k] += w * cg
                B[k] += w * cbl
                D[k] += w * z
                T[k] = nt if ok else tk
                last[k] = li if ok else last[k]
                alive[k] = zero if (valid & (nt < tmin)) else alive[k]
            if (i - start) % 16 == 15:
                anyalive = zero
                for k in range(TILE_PIX):
                    anyalive = max(anyalive, alive[k])
                if anyalive == zero:
                    break
        px0 = int(tx * TILE)
        py0 = int(ty * TILE)
        for k in range(TILE_PIX):
            py = py0 + k // TILE
            px = px0 + k % TILE
            if py < H and px < W:
                out_img[c, py, px, 0] = R[k] + T[k] * bg[c, 0]
                out_img[c, py, px, 1] = Gc[k] + T[k] * bg[c, 1]
                out_img[c, py, px, 2] = B[k] + T[k] * bg[c, 2]
                out_img[c, py, px, 3] = D[k]
                out_T[c, py, px] = T[k]
                out_last[c, py, px] = last[k]


@njit(**_OPTS)
def raster_bwd(
    m2d, conic, color, opac, depth, radii, n_per_cam, tile_off, tile_gid, tile_pid, tiles,
    tiles_x, lx, ly, tox, toy, bg, consts, out_T, out_last, g_img, g_alpha, pair_grads,
):  # fmt: skip
    """Backward of :func:`raster_fwd`, back to front, one gradient slot per pair.

    Args:
        m2d .. consts: as for :func:`raster_fwd`; tile_pid: pair id of each tile entry.
        out_T, out_last: saved by the forward.
        g_img: [C,H,W,4] upstream gradient of colour (3) and accumulated depth;
        g_alpha: [C,H,W] upstream gradient of alpha.
        pair_grads: [P, N_PAIR_GRADS] output, one row per pair (rows of pairs that touch no
            pixel stay as given, so pass zeros).
    """
    H, W = out_T.shape[1], out_T.shape[2]
    ntile = tiles_x * ((H + TILE - 1) // TILE)
    one, zero, half = consts[C_ONE], consts[C_ZERO], consts[C_HALF]
    amax, amin, pmax = consts[C_AMAX], consts[C_AMIN], consts[C_PMAX]
    Tc = np.empty(TILE_PIX, dtype=m2d.dtype)
    dR = np.empty(TILE_PIX, dtype=m2d.dtype)
    dG = np.empty(TILE_PIX, dtype=m2d.dtype)
    dB = np.empty(TILE_PIX, dtype=m2d.dtype)
    dD = np.empty(TILE_PIX, dtype=m2d.dtype)
    dAT = np.empty(TILE_PIX, dtype=m2d.dtype)
    SR = np.empty(TILE_PIX, dtype=m2d.dtype)
    SG = np.empty(TILE_PIX, dtype=m2d.dtype)
    SB = np.empty(TILE_PIX, dtype=m2d.dtype)
    SD = np.empty(TILE_PIX, dtype=m2d.dtype)
    last = np.empty(TILE_PIX, dtype=np.int32)
    for ti in range(tiles.shape[0]):
        tile = tiles[ti]
        c = tile // ntile
        t = tile - c * ntile
        ty = t // tiles_x
        tx = t - ty * tiles_x
        ox, oy = tox[tx], toy[ty]
        px0 = int(tx * TILE)
        py0 = int(ty * TILE)
        maxlast = -1
        for k in range(TILE_PIX):
            py = py0 + k // TILE
            px = px0 + k % TILE
            if py < H and px < W:
                tf = out_T[c, py, px]
                Tc[k] = tf
                dR[k] = g_img[c, py, px, 0]
                dG[k] = g_img[c, py, px, 1]
                dB[k] = g_img[c, py, px, 2]
                dD[k] = g_img[c, py, px, 3]
                dAT[k] = g_alpha[c, py, px] * tf
                SR[k] = tf * bg[c, 0]
                SG[k] = tf * bg[c, 1]
                SB[k] = tf * bg[c, 2]
                last[k] = out_last[c, py, px]
                maxlast = max(maxlast, out_last[c, py, px])
            else:
                Tc[k] = one
                dR[k] = zero
                dG[k] = zero
                dB[k] = zero
                dD[k] = zero
                dAT[k] = zero
                SR[k] = zero
                SG[k] = zero
                SB[k] = zero
                last[k] = -1
            SD[k] = zero
        start = tile_off[tile]
        for i in range(start + maxlast, start - 1, -1):
            g = tile_gid[i]
            u = m2d[g, 0] - ox
            v = m2d[g, 1] - oy
            ca = conic[g, 0] * half
            cb = conic[g, 1]
            cc = conic[g, 2] * half
            o = opac[g - c * n_per_cam]
            cr, cg, cbl = color[g, 0], color[g, 1], color[g, 2]
            z = depth[g]
            ry = radii[g, 1]
            r0 = max(0, math.floor(v - ry))
            r1 = min(TILE - 1, math.ceil(v + ry))
            if r0 > r1:
                continue
            li = np.int32(i - start)
            gu = zero
            gv = zero
            gA = zero
            gB = zero
            gC = zero
            go = zero
            gr = zero
            gg = zero
            gb = zero
            gz = zero
            for k in range(np.uint64(r0 * TILE), np.uint64((r1 + 1) * TILE)):
                dx = lx[k] - u
                dy = ly[k] - v
                p = ca * dx * dx + cc * dy * dy + cb * dx * dy
                e = exp_neg(min(max(p, zero), pmax))
                oe = o * e
                al = min(amax, oe)
                valid = (li <= last[k]) & (al >= amin) & (p >= zero)
                om = one - al
                iom = one / om
                tk = Tc[k]
                tb = tk * iom
                w = al * tb if valid else zero
                sr, sg, sb, sd = SR[k], SG[k], SB[k], SD[k]
                dr, dg, db, dd = dR[k], dG[k], dB[k], dD[k]
                dlda = (
                    dr * (tb * cr - sr * iom) + dg * (tb * cg - sg * iom)
                    + db * (tb * cbl - sb * iom) + dd * (tb * z - sd * iom) + dAT[k] * iom
                )  # fmt: skip
                live = valid & (oe <= amax)
                dlda = dlda if live else zero
                dldp = -dlda * al
                go += dlda * e
                gA += dldp * dx * dx
                gB += dldp * dx * dy
                gC += dldp * dy * dy
                gu += dldp * (ca * dx + ca * dx + cb * dy)
                gv += dldp * (cc * dy + cc * dy + cb * dx)
                gr += w * dr
                gg += w * dg
                gb += w * db
                gz += w * dd
                SR[k] = sr + w * cr
                SG[k] = sg + w * cg
                SB[k] = sb + w * cbl
                SD[k] = sd + w * z
                Tc[k] = tb if valid else tk
            row = pair_grads[tile_pid[i]]
            row[0] = -gu
            row[1] = -gv
            row[2] = gA * half
            row[3] = gB
            row[4] = gC * half
            row[5] = go
            row[6] = gr
            row[7] = gg
            row[8] = gb
            row[9] = gz
