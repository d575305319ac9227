"""3DGS front-to-back compositing forward and backward, parallel over tiles (binning: tiles.py).

Arrays in, arrays out; float32 or float64. Gaussians are addressed by ``gid = c * N + n``
(camera-major), so several cameras share one pass. The kernels are plain ``nogil`` functions
that each take a slice of the work; the caller runs one per thread with a static split (numba's
dynamic scheduling handed all the work to one thread when another core was busy, and its
parallel loops tripled the cold compile time). Each tile entry's gradient goes to its own row
and rows are summed per Gaussian in a fixed order: results are identical on every run and for
any thread count.

The forward copies the entries it composites, in tile-list order, into one 64-byte record each
(``ent``): its own inner loop and the backward then read consecutive lines instead of gathering
Gaussians from a table that outgrows the L2 cache. Inner loops run over one 16-pixel tile row
with a constant trip count, so LLVM emits exactly one 16-lane vector per row (no scalar
remainder); rows a Gaussian cannot reach are skipped exactly (see ``_row_range``). Indices are
unsigned where it matters: numba's negative-index fix-up on signed ones stops vectorization.
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
from .tiles import tile_origin

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


@njit(inline="always")
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
def reduce_pairs(pair_off, ent_of_pair, ent_grads, out, g0, g1):
    """out[g] = sum of g's pair gradients, in pair order (pairs the forward dropped or never
    reached, ent_of_pair -1, hold none), for g0 <= g < g1 (every row written)."""
    tot = np.empty(N_PAIR_GRADS, dtype=out.dtype)
    for g in range(g0, g1):
        for j in range(N_PAIR_GRADS):
            tot[j] = 0.0
        for p in range(pair_off[g], pair_off[g + 1]):
            e = ent_of_pair[p]
            if e < 0:
                continue
            for j in range(N_PAIR_GRADS):  # a constant trip count: unrolled
                tot[j] += ent_grads[e, j]
        for j in range(N_PAIR_GRADS):
            out[g, j] = tot[j]


# The forward copies every tile-list entry it composites into ``ent`` (one 64-byte line, in list
# order, entries that touch no row dropped): the backward and the forward's own inner loop then
# read consecutive lines instead of gathering the Gaussian's record from a 20k-entry table.
E_U, E_V, E_CA, E_CB, E_CC, E_O, E_R, E_G, E_B, E_Z = range(10)  # E_U, E_V: tile-local
ENT = 16
BATCH = 32
U1, U2, U3 = np.uint64(1), np.uint64(2), np.uint64(3)  # unsigned index arithmetic vectorizes
"""Entries gathered (and checked for a tile that is fully opaque) at a time."""


@njit(**KERNEL_OPTS)
def raster_fwd(
    rec, tile_off, tile_gid, tile_pid, tiles, tiles_x, lx, ly, tox, toy, bg, consts, with_depth,
    out_rgb, out_depth, out_alpha, out_T, out_last, ent, ent_rows, ent_of_pair, tile_n,
):
    """Composite the sorted Gaussians of the given tiles front to back.

    Args:
        rec: [G, REC] projected Gaussians packed by :func:`pack_records`
            (gid = c * N + n).
        tile_off, tile_gid, tile_pid: from ``_autograd._bin``; tiles: the tile ids this
            call composites (threads get disjoint lists that together cover every tile, empty
            ones included).
        lx, ly: [TILE_PIX] pixel-centre offsets inside a tile; tox, toy: tile origins as floats.
        bg: [C,3] backgrounds; consts: typed constants; with_depth: accumulate out_depth (else
            it is not written).
        out_rgb: [C,H,W,3] colour over the background; out_depth: [C,H,W,1] accumulated
            depth (not divided by alpha); out_alpha: [C,H,W,1] 1 - final transmittance.
        out_T: [C,H,W] final transmittance; out_last: [C,H,W] int32 index (within the tile's
            ``ent`` list) of the last entry that may have been composited: the one before the
            stop where T fell below 1e-4, else the tile's last entry (-1: none).
        ent, ent_rows: [P, ENT], [P] outputs: tile t's composited entries at tile_off[t] + j
            for j < tile_n[t], in list order, without those that touch no row (record with
            tile-local centre; rows r0 | r1 << 8), for the backward.
        ent_of_pair: [P] int32 output, the entry of each pair id (-1: dropped, or after the
            tile turned opaque).
        tile_n: [C * tiles] int32 output, entries kept per tile.
    """
    H, W = out_T.shape[1], out_T.shape[2]
    ntile = tiles_x * ((H + TILE - 1) // TILE)
    one, zero = consts[C_ONE], consts[C_ZERO]
    amax, amin, tmin, pmax = consts[C_AMAX], consts[C_AMIN], consts[C_TMIN], consts[C_PMAX]
    xlo = lx[0] - consts[C_XMARGIN]
    xhi = lx[TILE - 1] + consts[C_XMARGIN]
    huge = consts[C_HUGE]
    rgb_f = out_rgb.reshape(-1)
    dep_f = out_depth.reshape(-1)
    alp_f = out_alpha.reshape(-1)
    t_f = out_T.reshape(-1)
    last_f = out_last.reshape(-1)
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
        n = 0  # entries kept
        li = -one  # their index as a float: the state buffer is all one dtype
        i = start
        while i < end:
            # gather a batch: row ranges, records (independent loads, many in flight)
            e0 = start + n
            i1 = min(end, i + BATCH)
            # load the batch's records first, in a loop without branches: their cache misses
            # overlap instead of stalling the row-range code one by one
            touch = zero
            for ii in range(i, i1):
                touch = max(touch, rec[tile_gid[ii], R_XT])
            if touch == huge:  # never: keeps the loads
                tile_n[tile] = -1
            for ii in range(i, i1):
                g = tile_gid[ii]
                r0, r1 = _row_range(rec, g, ox, oy, xlo, xhi)
                if r0 > r1:
                    ent_of_pair[tile_pid[ii]] = -1
                    continue
                e = start + n
                n += 1
                ent[e, E_U] = rec[g, R_U] - ox
                ent[e, E_V] = rec[g, R_V] - oy
                ent[e, E_CA] = rec[g, R_CA]
                ent[e, E_CB] = rec[g, R_CB]
                ent[e, E_CC] = rec[g, R_CC]
                ent[e, E_O] = rec[g, R_O]
                ent[e, E_R] = rec[g, R_R]
                ent[e, E_G] = rec[g, R_G]
                ent[e, E_B] = rec[g, R_B]
                ent[e, E_Z] = rec[g, R_Z]
                ent_rows[e] = r0 | (r1 << 8)
                ent_of_pair[tile_pid[ii]] = e
            i = i1
            for e in range(e0, start + n):
                li += one
                u, v = ent[e, E_U], ent[e, E_V]
                ca, cb, cc = ent[e, E_CA], ent[e, E_CB], ent[e, E_CC]
                o = ent[e, E_O]
                cr, cg, cbl = ent[e, E_R], ent[e, E_G], ent[e, E_B]
                z = ent[e, E_Z]
                rr = ent_rows[e]
                for row in range(rr & 255, (rr >> 8) + 1):
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
                        if with_depth:  # loop-invariant: LLVM keeps a loop without it
                            S[O_D + k] += w * z
                        S[O_T + k] = nt if ok else tk
                        # stopping here: no entry from this one on may contribute
                        S[O_LAST + k] = li - one if (valid & (nt < tmin)) else lk
            alive = 0  # pixels that may still take colour (an integer count: it vectorizes)
            for k in range(np.uint64(_P)):
                alive += S[O_LAST + k] >= huge
            if alive == 0:
                break
        for ii in range(i, end):  # never reached
            ent_of_pair[tile_pid[ii]] = -1
        tile_n[tile] = n
        nlast = np.int32(n - 1)
        px0 = tx * TILE
        py0 = ty * TILE
        nx = min(TILE, W - px0)
        for row in range(min(TILE, H - py0)):
            kb = np.uint64(row * TILE)
            pb = np.uint64((c * H + py0 + row) * W + px0)  # flat pixel index
            b0, b1, b2 = bg[c, 0], bg[c, 1], bg[c, 2]
            if nx == TILE:  # a constant trip count once inlined: vectorized
                _write_row(S, kb, pb, np.uint64(TILE), b0, b1, b2, one, huge, nlast, rgb_f,
                           dep_f, alp_f, t_f, last_f)
            else:
                _write_row(S, kb, pb, np.uint64(nx), b0, b1, b2, one, huge, nlast, rgb_f,
                           dep_f, alp_f, t_f, last_f)


@njit(inline="always")
def _write_row(S, kb, pb, n, b0, b1, b2, one, huge, nlast, rgb_f, dep_f, alp_f, t_f, last_f):
    """One tile row's n pixels from the tile state S (row offset kb) to the flat outputs (first
    pixel pb): colour over the background, depth, alpha, transmittance, last entry."""
    for j in range(n):
        k = kb + j
        q = pb + j
        tk = S[O_T + k]
        rgb_f[U3 * q] = S[O_R + k] + tk * b0
        rgb_f[U3 * q + U1] = S[O_G + k] + tk * b1
        rgb_f[U3 * q + U2] = S[O_B + k] + tk * b2
        dep_f[q] = S[O_D + k]
        alp_f[q] = one - tk
        t_f[q] = tk
        lk = S[O_LAST + k]
        last_f[q] = np.int32(lk) if lk < huge else nlast


@njit(**KERNEL_OPTS)
def raster_bwd(
    ent, ent_rows, tile_off, tile_n, tiles, tiles_x, lx, ly, tox, toy, bg, consts, out_T,
    out_last, g_rgb, g_depth, g_alpha, ent_grads, with_depth,
):
    """Backward of :func:`raster_fwd`, back to front, one gradient row per entry.

    Args:
        ent, ent_rows, tile_n: the entries the forward composited; tile_off .. consts: as for
            :func:`raster_fwd`.
        out_T, out_last: saved by the forward.
        g_rgb [C,H,W,3], g_depth [C,H,W,1], g_alpha [C,H,W,1]: upstream gradients.
        with_depth: False when nothing depends on the depth output (g_depth is then unused).
        ent_grads: [P, N_PAIR_GRADS] output, the gradient of each kept entry (rows of the
            tiles' entries tile_off[t] + j, j < tile_n[t]; the others are not written).
    """
    H, W = out_T.shape[1], out_T.shape[2]
    ntile = tiles_x * ((H + TILE - 1) // TILE)
    one, zero, half = consts[C_ONE], consts[C_ZERO], consts[C_HALF]
    amax, amin, pmax = consts[C_AMAX], consts[C_AMIN], consts[C_PMAX]
    t_f = out_T.reshape(-1)
    last_f = out_last.reshape(-1)
    grgb_f = g_rgb.reshape(-1)
    gdep_f = g_depth.reshape(-1)
    galp_f = g_alpha.reshape(-1)
    S = np.empty(BWD_STATE, dtype=ent.dtype)
    acc = np.empty(N_PAIR_GRADS * LANES, dtype=ent.dtype)
    rowlast = np.empty(TILE, dtype=ent.dtype)
    lst = np.empty(_P, dtype=np.int32)
    AL = np.empty(_P, dtype=ent.dtype)
    for k in range(_P):
        S[O_LX + k] = lx[k]
        S[O_LY + k] = ly[k]
    for ti in range(tiles.shape[0]):
        tile = tiles[ti]
        c, tx, ty, ox, oy = tile_origin(tile, ntile, tiles_x, tox, toy)
        px0 = tx * TILE
        py0 = ty * TILE
        nx = min(TILE, W - px0)
        ny = min(TILE, H - py0)
        b0, b1, b2 = bg[c, 0], bg[c, 1], bg[c, 2]
        if nx < TILE or ny < TILE:  # pixels outside the image: inert
            for k in range(np.uint64(_P)):
                S[O_T + k] = one
                S[O_DR + k] = zero
                S[O_DG + k] = zero
                S[O_DB + k] = zero
                S[O_DD + k] = zero
                S[O_DAT + k] = zero
                S[O_Q + k] = zero
                lst[k] = -1
        for row in range(ny):
            kb = np.uint64(row * TILE)
            pb = np.uint64((c * H + py0 + row) * W + px0)
            for j in range(np.uint64(nx)):
                k = kb + j
                q = pb + j
                tf = t_f[q]
                dr, dg, db = grgb_f[U3 * q], grgb_f[U3 * q + U1], grgb_f[U3 * q + U2]
                S[O_T + k] = tf
                S[O_DR + k] = dr
                S[O_DG + k] = dg
                S[O_DB + k] = db
                S[O_DD + k] = gdep_f[q]
                S[O_DAT + k] = galp_f[q] * tf
                S[O_Q + k] = tf * (dr * b0 + dg * b1 + db * b2)
                lst[k] = last_f[q]
        maxlast = -1
        for row in range(TILE):  # a row whose pixels all stopped before entry i can be skipped
            m = -1
            for j in range(TILE):
                m = max(m, lst[row * TILE + j])
            rowlast[row] = m
            maxlast = max(maxlast, m)
        for k in range(np.uint64(_P)):
            S[B_LAST + k] = lst[k]
        start = tile_off[tile]
        li = one + rowlast[0]  # the list index as a float, like the state buffer
        for row in range(1, TILE):
            li = max(li, one + rowlast[row])
        for e in range(start + maxlast, start - 1, -1):
            li -= one
            rr = ent_rows[e]
            r0 = rr & 255
            r1 = rr >> 8
            u, v = ent[e, E_U], ent[e, E_V]
            ca, cb, cc = ent[e, E_CA], ent[e, E_CB], ent[e, E_CC]
            o = ent[e, E_O]
            cr, cg, cbl = ent[e, E_R], ent[e, E_G], ent[e, E_B]
            z = ent[e, E_Z]
            for j in range(np.uint64(N_PAIR_GRADS * LANES)):
                acc[j] = zero
            # alpha first, then the gradients: two loops of shorter dependency chains keep more
            # rows in flight than one long one (p < 0 stores alpha 0: the pixel is skipped)
            for row in range(r0, r1 + 1):
                if rowlast[row] < li:
                    continue
                kb = np.uint64(row * TILE)
                dy = ly[kb] - v
                bdy = cb * dy
                cdy2 = cc * dy * dy
                for j in range(np.uint64(LANES)):
                    k = kb + j
                    dx = S[O_LX + k] - u
                    p = dx * (ca * dx + bdy) + cdy2
                    oe = o * exp_neg(min(max(p, zero), pmax))
                    AL[k] = oe if p >= zero else zero
            for row in range(r0, r1 + 1):
                if rowlast[row] < li:
                    continue
                kb = np.uint64(row * TILE)
                dy = ly[kb] - v  # constant along the row
                for j in range(np.uint64(LANES)):
                    k = kb + j
                    dx = S[O_LX + k] - u
                    oe = AL[k]
                    al = min(amax, oe)
                    valid = (li <= S[B_LAST + k]) & (al >= amin)
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
            # per-quantity sums over the 16 lanes, each in lane order (ten scalar chains: LLVM
            # gathered across quantities when written as a loop over them)
            s0 = acc[A0]
            s1 = acc[A1]
            s2 = acc[A2]
            s3 = acc[A3]
            s4 = acc[A4]
            s5 = acc[A5]
            s6 = acc[A6]
            s7 = acc[A7]
            s8 = acc[A8]
            s9 = acc[A9]
            for j in range(np.uint64(1), np.uint64(LANES)):
                s0 += acc[A0 + j]
                s1 += acc[A1 + j]
                s2 += acc[A2 + j]
                s3 += acc[A3 + j]
                s4 += acc[A4 + j]
                s5 += acc[A5 + j]
                s6 += acc[A6 + j]
                s7 += acc[A7 + j]
                s8 += acc[A8 + j]
                s9 += acc[A9 + j]
            # power = ca dx^2 + cb dx dy + cc dy^2 with dx = px - u, dy = py - v
            ent_grads[e, 0] = -(ca + ca) * s0 - cb * s1
            ent_grads[e, 1] = -(cc + cc) * s1 - cb * s0
            ent_grads[e, 2] = s2 * half
            ent_grads[e, 3] = s3
            ent_grads[e, 4] = s4 * half
            ent_grads[e, 5] = -s5 / o  # d alpha / d o = alpha / o, unclamped
            ent_grads[e, 6] = s6
            ent_grads[e, 7] = s7
            ent_grads[e, 8] = s8
            ent_grads[e, 9] = s9
        for e in range(start + maxlast + 1, start + tile_n[tile]):  # behind every pixel's stop
            for j in range(N_PAIR_GRADS):
                ent_grads[e, j] = zero
