"""3DGS front-to-back compositing forward and backward, parallel over tiles (binning: tiles.py).

Arrays in, arrays out; float32 or float64. Gaussians are addressed by ``gid = c * N + n``
(camera-major), so several cameras share one pass. The kernels are plain ``nogil`` functions
that each take a slice of the work; the caller runs one per thread with a static split (numba's
dynamic scheduling handed all the work to one thread when another core was busy, and its
parallel loops tripled the cold compile time). Each (tile, Gaussian) pair writes its gradient
to its own slot and slots are summed per Gaussian in a fixed order: results are identical on
every run and for any thread count.

Inner loops run over one 16-pixel tile row with a constant trip count, so LLVM emits exactly
one 16-lane vector per row (no scalar remainder); rows a Gaussian cannot reach are skipped
exactly (see ``_row_range``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._common import (
    C_AMAX,
    C_AMIN,
    C_HALF,
    C_HUGE,
    C_ONE,
    C_PMAX,
    C_RMARGIN,
    C_TMIN,
    C_XMARGIN,
    C_ZERO,
    KERNEL_OPTS,
    TILE,
    TILE_PIX,
    exp_neg,
)
from .tiles import lane_sums, tile_origin

N_PAIR_GRADS = 10
"""Per pair: d/du, d/dv, d/dconic (3), d/dopacity, d/dcolour (3), d/ddepth."""

# One flat buffer holds a tile's whole pixel state: with separate arrays LLVM guards every
# vectorized row with runtime alias checks (and keeps a scalar copy); offsets are unsigned so
# indexing needs no negative-index fix-up.
_P = TILE_PIX
O_LX, O_LY, O_T, O_R, O_G, O_B, O_D, O_LAST = (np.uint64(m * _P) for m in range(8))
FWD_STATE = 8 * _P
# backward: O_LX, O_LY, O_T as above, B_LAST, then the upstream gradients and Q
B_LAST = np.uint64(3 * _P)
# Q: the upstream gradients dotted with the colour (and depth) of everything behind, so
# d out / d alpha needs one running sum per pixel instead of four.
O_DR, O_DG, O_DB, O_DD, O_DAT, O_Q = (np.uint64(m * _P) for m in range(4, 10))
BWD_STATE = 10 * _P
# Per-lane gradient accumulators (a horizontal sum per row would cost more than the row) live in
# their own small array: in the state buffer LLVM could not prove lane j (accumulators) and
# pixel row*16 + j (state) apart and stayed scalar.
LANES = TILE
A0, A1, A2, A3, A4, A5, A6, A7, A8, A9 = (np.uint64(m * LANES) for m in range(10))


@njit(inline="always")
def _band_y(rec, g, xe, ye, bx0, bx1, side):
    """y of the ellipse's top (side -1) or bottom (side 1) point (xe, ye) when it lies in the
    column band bx0 <= x <= bx1, else of the ellipse's crossing of the band edge nearest to it.
    Returns (y, False) when that edge misses the ellipse."""
    if xe >= bx0 and xe <= bx1:
        return ye, True
    u, ca, cb, cc = 1.0 * rec[g, R_U], 1.0 * rec[g, R_CA], 1.0 * rec[g, R_CB], rec[g, R_CC]
    dx = min(max(xe, bx0), bx1) - u
    disc = cb * cb * dx * dx - 4.0 * cc * (ca * dx * dx - rec[g, R_THR])
    if disc < 0.0:
        return ye, False
    return rec[g, R_V] + (-cb * dx + side * math.sqrt(disc)) * rec[g, R_ICC], True


@njit(cache=True, nogil=True)
def _row_range(rec, g, ox, oy, xlo, xhi):
    """Rows of tile (ox, oy) whose pixel centres can reach alpha >= 1/255 for Gaussian g.

    The ellipse power <= thr (power = ca dx^2 + cb dx dy + cc dy^2) cut by the tile's column
    band xlo <= x - ox <= xhi is convex, so its y-range is set by the ellipse's top and bottom
    points when they lie in the band (precomputed: the common case), else by the chord on the
    band edge nearest to them (float64: near tangency float32 would cancel). Conservative: thr
    and the band carry margins. Returns (r0, r1); r0 > r1 when no row is touched.
    """
    bx0 = 1.0 * ox + xlo
    bx1 = 1.0 * ox + xhi
    ymin, ok = _band_y(rec, g, 1.0 * rec[g, R_XT], 1.0 * rec[g, R_YT], bx0, bx1, -1.0)
    if not ok:
        return 1, 0
    ymax, ok = _band_y(rec, g, 1.0 * rec[g, R_XB], 1.0 * rec[g, R_YB], bx0, bx1, 1.0)
    if not ok:
        return 1, 0
    r0 = max(0, math.ceil(ymin - oy - 0.5 - 1e-3))
    r1 = min(TILE - 1, math.floor(ymax - oy - 0.5 + 1e-3))
    return r0, r1


# Per-Gaussian record read by the raster kernels: one or two cache lines per tile entry instead
# of a gather from eight arrays (their total outgrows L2 at 20k Gaussians).
R_U, R_V, R_CA, R_CB, R_CC, R_O, R_R, R_G, R_B, R_Z, R_THR = range(11)
R_XT, R_YT, R_XB, R_YB, R_ICC = range(11, 16)  # ellipse top/bottom points, 1 / (2 cc)
REC = 16


@njit(cache=True, nogil=True)
def pack_records(m2d, conic, color, opac, depth, n_per_cam, consts, rec, g0, g1):
    """Fill rec[g0:g1] (see R_*): centre, half conic diagonal and b, opacity, colour, depth,
    ln(255 o) + margin, the top and bottom points of the alpha >= 1/255 ellipse, 1 / (2 cc)."""
    half = consts[C_HALF]
    for g in range(g0, g1):
        o = opac[g % n_per_cam]
        ca = conic[g, 0] * half
        cb = conic[g, 1]
        cc = conic[g, 2] * half
        thr = math.log(max(1.0 * o, 1e-30)) + math.log(255.0) + consts[C_RMARGIN]
        u, v = m2d[g, 0], m2d[g, 1]
        rec[g, R_U] = u
        rec[g, R_V] = v
        rec[g, R_CA] = ca
        rec[g, R_CB] = cb
        rec[g, R_CC] = cc
        rec[g, R_O] = o
        rec[g, R_R] = color[g, 0]
        rec[g, R_G] = color[g, 1]
        rec[g, R_B] = color[g, 2]
        rec[g, R_Z] = depth[g]
        rec[g, R_THR] = thr
        det = 1.0 * ca * cc - 0.25 * cb * cb
        if det > 0.0 and thr > 0.0 and ca > 0.0 and cc > 0.0:
            # power = ca dx^2 + cb dx dy + cc dy^2 reaches thr at dy = +-dy_ext, where the
            # ellipse's tangent is horizontal, at dx = -+cb dy_ext / (2 ca)
            dy = math.sqrt(thr * ca / det)
            shift = cb * dy / (2.0 * ca)
            rec[g, R_XT] = u + shift
            rec[g, R_YT] = v - dy
            rec[g, R_XB] = u - shift
            rec[g, R_YB] = v + dy
            rec[g, R_ICC] = 0.5 / cc
        else:
            rec[g, R_THR] = -1.0
            rec[g, R_XT] = rec[g, R_YT] = rec[g, R_XB] = rec[g, R_YB] = 0.0
            rec[g, R_ICC] = 0.0


@njit(cache=True, nogil=True)
def reduce_pairs(pair_off, pair_grads, out, g0, g1):
    """out[g] = sum of g's pair-gradient rows (contiguous, in pair order), for g0 <= g < g1."""
    for g in range(g0, g1):
        for p in range(pair_off[g], pair_off[g + 1]):
            for j in range(N_PAIR_GRADS):  # a constant trip count: unrolled
                out[g, j] += pair_grads[p, j]


@njit(**KERNEL_OPTS)
def raster_fwd(
    rec, tile_off, tile_gid, tiles, tiles_x, lx, ly, tox, toy, bg, consts, out_rgb, out_depth,
    out_alpha, out_T, out_last, entry_rows,
):
    """Composite the sorted Gaussians of the given tiles front to back.

    Args:
        rec: [G, REC] projected Gaussians packed by :func:`pack_records`
            (gid = c * N + n).
        tile_off, tile_gid: from :func:`tiles.bin_tiles`; tiles: the tile ids this call composites
            (threads get disjoint lists that together cover every tile, empty ones included).
        lx, ly: [TILE_PIX] pixel-centre offsets inside a tile; tox, toy: tile origins as floats.
        bg: [C,3] backgrounds; consts: typed constants.
        out_rgb: [C,H,W,3] colour over the background; out_depth: [C,H,W,1] accumulated
            depth (not divided by alpha); out_alpha: [C,H,W,1] 1 - final transmittance.
        out_T: [C,H,W] final transmittance; out_last: [C,H,W] int32 index (within the tile
            list) of the last entry that may have been composited: the one before the stop
            where T fell below 1e-4, else the tile's last entry (-1: empty tile).
        entry_rows: [P] int32 output, the rows each entry touched (r0 | r1 << 8; -1 = none),
            for the backward.
    """
    H, W = out_T.shape[1], out_T.shape[2]
    ntile = tiles_x * ((H + TILE - 1) // TILE)
    one, zero = consts[C_ONE], consts[C_ZERO]
    amax, amin, tmin, pmax = consts[C_AMAX], consts[C_AMIN], consts[C_TMIN], consts[C_PMAX]
    xlo = lx[0] - consts[C_XMARGIN]
    xhi = lx[TILE - 1] + consts[C_XMARGIN]
    huge = consts[C_HUGE]
    S = np.empty(FWD_STATE, dtype=rec.dtype)
    for k in range(_P):
        S[O_LX + k] = lx[k]
        S[O_LY + k] = ly[k]
    for ti in range(tiles.shape[0]):
        tile = tiles[ti]
        c, tx, ty, ox, oy = tile_origin(tile, ntile, tiles_x, tox, toy)
        for k in range(np.uint64(_P)):
            S[O_T + k] = one
            S[O_R + k] = zero
            S[O_G + k] = zero
            S[O_B + k] = zero
            S[O_D + k] = zero
            S[O_LAST + k] = huge  # "may still composite anything"; the stop index once T < 1e-4
        start, end = tile_off[tile], tile_off[tile + 1]
        nlast = np.int32(end - start - 1)
        li = -one  # list index as a float: the state buffer is all one dtype
        for i in range(start, end):
            li += one
            g = tile_gid[i]
            u = rec[g, R_U] - ox
            v = rec[g, R_V] - oy
            ca, cb, cc = rec[g, R_CA], rec[g, R_CB], rec[g, R_CC]
            r0, r1 = _row_range(rec, g, ox, oy, xlo, xhi)
            if r0 > r1:
                entry_rows[i] = -1
                continue
            entry_rows[i] = r0 | (r1 << 8)
            o = rec[g, R_O]
            cr, cg, cbl = rec[g, R_R], rec[g, R_G], rec[g, R_B]
            z = rec[g, R_Z]
            for row in range(r0, r1 + 1):
                # a fixed 16-lane trip count: one vector per row, no scalar remainder
                kb = np.uint64(row * TILE)
                dy = ly[kb] - v  # constant along the row
                bdy = cb * dy
                cdy2 = cc * dy * dy
                for j in range(np.uint64(TILE)):
                    k = kb + j
                    dx = S[O_LX + k] - u
                    p = dx * (ca * dx + bdy) + cdy2
                    al = min(amax, o * exp_neg(min(max(p, zero), pmax)))
                    tk = S[O_T + k]
                    nt = tk * (one - al)
                    lk = S[O_LAST + k]
                    valid = (al >= amin) & (p >= zero) & (li <= lk)
                    ok = valid & (nt >= tmin)
                    w = al * tk if ok else zero
                    S[O_R + k] += w * cr
                    S[O_G + k] += w * cg
                    S[O_B + k] += w * cbl
                    S[O_D + k] += w * z
                    S[O_T + k] = nt if ok else tk
                    # stopping here: no entry from this one on may contribute
                    S[O_LAST + k] = li - one if (valid & (nt < tmin)) else lk
            if (i - start) % 32 == 31:
                alive = zero
                for k in range(np.uint64(_P)):
                    alive = max(alive, S[O_LAST + k])
                if alive < huge:
                    break
        px0 = int(tx * TILE)
        py0 = int(ty * TILE)
        for kk in range(_P):
            k = np.uint64(kk)
            py = py0 + kk // TILE
            px = px0 + kk % TILE
            if py < H and px < W:
                tk = S[O_T + k]
                out_rgb[c, py, px, 0] = S[O_R + k] + tk * bg[c, 0]
                out_rgb[c, py, px, 1] = S[O_G + k] + tk * bg[c, 1]
                out_rgb[c, py, px, 2] = S[O_B + k] + tk * bg[c, 2]
                out_depth[c, py, px, 0] = S[O_D + k]
                out_alpha[c, py, px, 0] = one - tk
                out_T[c, py, px] = tk
                lk = S[O_LAST + k]
                out_last[c, py, px] = np.int32(lk) if lk < huge else nlast


@njit(**KERNEL_OPTS)
def raster_bwd(
    rec, tile_off, tile_gid, tile_pid, tiles, tiles_x, lx, ly, tox, toy, bg, consts, out_T,
    out_last, entry_rows, g_rgb, g_depth, g_alpha, pair_grads, with_depth,
):
    """Backward of :func:`raster_fwd`, back to front, one gradient slot per pair.

    Args:
        rec .. consts: as for :func:`raster_fwd`; tile_pid: pair id of each tile entry.
        out_T, out_last, entry_rows: saved by the forward.
        g_rgb [C,H,W,3], g_depth [C,H,W,1], g_alpha [C,H,W,1]: upstream gradients.
        with_depth: False when nothing depends on the depth output (g_depth is then unused).
        pair_grads: [P, N_PAIR_GRADS] output, one row per pair (rows of pairs that touch no
            pixel stay as given, so pass zeros).
    """
    H, W = out_T.shape[1], out_T.shape[2]
    ntile = tiles_x * ((H + TILE - 1) // TILE)
    one, zero, half = consts[C_ONE], consts[C_ZERO], consts[C_HALF]
    amax, amin, pmax = consts[C_AMAX], consts[C_AMIN], consts[C_PMAX]
    S = np.empty(BWD_STATE, dtype=rec.dtype)
    acc = np.empty(N_PAIR_GRADS * LANES, dtype=rec.dtype)
    rowlast = np.empty(TILE, dtype=rec.dtype)
    for k in range(_P):
        S[O_LX + k] = lx[k]
        S[O_LY + k] = ly[k]
    for ti in range(tiles.shape[0]):
        tile = tiles[ti]
        c, tx, ty, ox, oy = tile_origin(tile, ntile, tiles_x, tox, toy)
        px0 = int(tx * TILE)
        py0 = int(ty * TILE)
        maxlast = -1
        lastf = -one
        for kk in range(_P):
            k = np.uint64(kk)
            py = py0 + kk // TILE
            px = px0 + kk % TILE
            if py < H and px < W:
                tf = out_T[c, py, px]
                S[O_T + k] = tf
                S[O_DR + k] = g_rgb[c, py, px, 0]
                S[O_DG + k] = g_rgb[c, py, px, 1]
                S[O_DB + k] = g_rgb[c, py, px, 2]
                S[O_DD + k] = g_depth[c, py, px, 0]
                S[O_DAT + k] = g_alpha[c, py, px, 0] * tf
                S[O_Q + k] = tf * (S[O_DR + k] * bg[c, 0] + S[O_DG + k] * bg[c, 1]
                                   + S[O_DB + k] * bg[c, 2])
                lst = out_last[c, py, px]
                maxlast = max(maxlast, lst)
            else:
                S[O_T + k] = one
                S[O_DR + k] = zero
                S[O_DG + k] = zero
                S[O_DB + k] = zero
                S[O_DD + k] = zero
                S[O_DAT + k] = zero
                S[O_Q + k] = zero
                lst = -1
            S[B_LAST + k] = lst
            lastf = max(lastf, S[B_LAST + k])
        for row in range(TILE):  # a row whose pixels all stopped before entry i can be skipped
            m = -one
            for j in range(TILE):
                m = max(m, S[B_LAST + np.uint64(row * TILE + j)])
            rowlast[row] = m
        start = tile_off[tile]
        li = lastf + one  # the list index as a float, like the state buffer
        for i in range(start + maxlast, start - 1, -1):
            li -= one
            rr = entry_rows[i]
            if rr < 0:
                continue
            r0 = rr & 255
            r1 = rr >> 8
            g = tile_gid[i]
            u = rec[g, R_U] - ox
            v = rec[g, R_V] - oy
            ca, cb, cc = rec[g, R_CA], rec[g, R_CB], rec[g, R_CC]
            o = rec[g, R_O]
            cr, cg, cbl = rec[g, R_R], rec[g, R_G], rec[g, R_B]
            z = rec[g, R_Z]
            for j in range(np.uint64(N_PAIR_GRADS * LANES)):
                acc[j] = zero
            for row in range(r0, r1 + 1):
                if rowlast[row] < li:
                    continue
                kb = np.uint64(row * TILE)
                dy = ly[kb] - v  # constant along the row
                bdy = cb * dy
                cdy2 = cc * dy * dy
                for j in range(np.uint64(LANES)):
                    k = kb + j
                    dx = S[O_LX + k] - u
                    p = dx * (ca * dx + bdy) + cdy2
                    oe = o * exp_neg(min(max(p, zero), pmax))
                    al = min(amax, oe)
                    valid = (li <= S[B_LAST + k]) & (al >= amin) & (p >= zero)
                    iom = one / (one - al)
                    tk = S[O_T + k]
                    tb = tk * iom  # transmittance in front of this Gaussian
                    w = al * tb if valid else zero
                    dr, dg, db, dd = S[O_DR + k], S[O_DG + k], S[O_DB + k], S[O_DD + k]
                    gdot = dr * cr + dg * cg + db * cbl
                    if with_depth:  # loop-invariant: LLVM keeps a loop without it
                        gdot += dd * z
                    q = S[O_Q + k]
                    # d out / d alpha = (T_after * colour - everything behind) / (1 - alpha)
                    dlda = iom * (tk * gdot - q + S[O_DAT + k])
                    # d loss / d power where alpha = o exp(-power) is not clamped
                    dldp = -dlda * al if (valid & (oe <= amax)) else zero
                    # moments of dldp: the conic, centre and opacity gradients follow from them
                    acc[A0 + j] += dldp * dx
                    acc[A1 + j] += dldp * dy
                    acc[A2 + j] += dldp * dx * dx
                    acc[A3 + j] += dldp * dx * dy
                    acc[A4 + j] += dldp * dy * dy
                    acc[A5 + j] += dldp
                    acc[A6 + j] += w * dr
                    acc[A7 + j] += w * dg
                    acc[A8 + j] += w * db
                    if with_depth:
                        acc[A9 + j] += w * dd
                    S[O_Q + k] = q + w * gdot
                    S[O_T + k] = tb if valid else tk
            pid = tile_pid[i]
            lane_sums(acc, pair_grads[pid], zero)
            mx, my = pair_grads[pid, 0], pair_grads[pid, 1]
            # power = ca dx^2 + cb dx dy + cc dy^2 with dx = px - u, dy = py - v
            pair_grads[pid, 0] = -(ca + ca) * mx - cb * my
            pair_grads[pid, 1] = -(cc + cc) * my - cb * mx
            pair_grads[pid, 2] *= half
            pair_grads[pid, 4] *= half
            pair_grads[pid, 5] = -pair_grads[pid, 5] / o  # d alpha / d o = alpha / o, unclamped
