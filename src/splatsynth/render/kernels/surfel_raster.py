"""2DGS compositing forward and backward, parallel over tiles (arrays in, arrays out).

Per pixel centre (x, y) and surfel with ray transform rows T0, T1, T2 (see
``surfel_projection``), the pixel's ray meets the splat plane at splat coordinates

    (u, v) = (zeta_0 / zeta_2, zeta_1 / zeta_2),   zeta = (T0 - x T2) x (T1 - y T2),

at camera depth z = T2 . (u, v, 1). The Gaussian's power is 0.5 min(u^2 + v^2, 2 |d|^2) with
d the offset from the projected centre: the second term is 2DGS's object-space low-pass
fallback, which keeps splats seen edge-on (or smaller than a pixel) at least a pixel wide.
Where the fallback wins the ray misses the splat proper, so its depth is the centre depth
T2[2] (gsplat keeps the ray-plane depth there, which for an edge-on splat lies far off it).
Front to back, with w_i = alpha_i T_i, each pixel accumulates colour, depth sum w_i z_i,
normal sum w_i n_i, the depth distortion sum_i 2 w_i sum_{j<i} w_j (z_i - z_j) (gsplat's
L1 form), and the median depth: z of the last surfel composited while T_i > 0.5.

Like ``raster.py``: gid = c * N + n addresses (camera, surfel); each call composites a
static list of tiles; each (tile, surfel) pair writes its gradient to its own slot, summed
per surfel in a fixed order, so results are identical on every run and for any thread count.
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
    C_TWO,
    C_XMARGIN,
    C_ZERO,
    KERNEL_OPTS,
    TILE,
    TILE_PIX,
    exp_neg,
)
from .tiles import lane_sums, tile_origin

N_OUT = 9
"""Image channels: r, g, b (over the background), depth sum, normal sum (3), distortion,
median depth."""
N_PAIR_GRADS = 18
"""Per pair: d/dM (9, row-major), d/dm2d (2), d/dopacity, d/dcolour (3), d/dnormal (3)."""

# One flat buffer per tile keeps LLVM from guarding every vector row with alias checks (see
# raster.py); offsets are unsigned so indexing needs no negative-index fix-up.
_P = TILE_PIX
(F_LX, F_LY, F_T, F_R, F_G, F_B, F_D, F_N0, F_N1, F_N2, F_DI, F_MD, F_MI, F_LAST,
 F_ALIVE) = (np.uint64(m * _P) for m in range(15))
FWD_STATE = 15 * _P
# backward: pixel constants, upstream gradients, suffix sums
(B_LX, B_LY, B_T, B_LAST, B_MI, B_TF, B_DT, B_GR, B_GG, B_GB, B_GD, B_GN0, B_GN1, B_GN2,
 B_GDI, B_GMD, B_GAT, B_SR, B_SG, B_SB, B_SD, B_SN0, B_SN1, B_SN2,
 B_SQ) = (np.uint64(m * _P) for m in range(25))
BWD_STATE = 25 * _P
_A = tuple(np.uint64(m * TILE) for m in range(N_PAIR_GRADS))
(A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11, A12, A13, A14, A15, A16, A17) = _A


@njit(cache=True, nogil=True)
def _rows(box, g, ox, oy, xm):
    """Tile rows (r0, r1) whose pixel centres lie in surfel g's footprint; r0 > r1: none."""
    x0 = 1.0 * ox + 0.5
    if box[g, 1] < x0 - xm or box[g, 0] > x0 + (TILE - 1) + xm:
        return 1, 0
    r0 = max(0, math.ceil(box[g, 2] - oy - 0.5 - xm))
    r1 = min(TILE - 1, math.floor(box[g, 3] - oy - 0.5 + xm))
    return r0, r1



@njit(inline="always")
def _tile_rows(Mt, m2d, g, ox, oy):
    """Surfel g's ray-transform rows in tile-local pixels (x' = x - ox shifts T0 by -ox T2, and
    y' = y - oy shifts T1 by -oy T2), and its centre: (a0, a1, a2, b0, b1, b2, w0, w1, w2,
    mx, my) with T0' = a, T1' = b, T2 = w."""
    w0, w1, w2 = Mt[g, 6], Mt[g, 7], Mt[g, 8]
    a0, a1, a2 = Mt[g, 0] - ox * w0, Mt[g, 1] - ox * w1, Mt[g, 2] - ox * w2
    b0, b1, b2 = Mt[g, 3] - oy * w0, Mt[g, 4] - oy * w1, Mt[g, 5] - oy * w2
    return a0, a1, a2, b0, b1, b2, w0, w1, w2, m2d[g, 0] - ox, m2d[g, 1] - oy


@njit(inline="always")
def _intersect(x, y, a0, a1, a2, b0, b1, b2, w0, w1, w2, mx, my, one, zero, two):
    """Ray through pixel centre (x, y) against the splat (see the module docstring).

    Returns the planes through the pixel's column and row (hu, hv), the offset (dx, dy) from
    the centre, whether the 3D branch wins (use3, else the low-pass fallback), 1 / zeta_2
    (iz), the splat coordinates (uu, vv), the power before the 1/2 (p) and the depth (zd).
    """
    hu0, hu1, hu2 = a0 - x * w0, a1 - x * w1, a2 - x * w2
    hv0, hv1, hv2 = b0 - y * w0, b1 - y * w1, b2 - y * w2
    z0 = hu1 * hv2 - hu2 * hv1
    z1 = hu2 * hv0 - hu0 * hv2
    z2 = hu0 * hv1 - hu1 * hv0
    dx = x - mx
    dy = y - my
    p2 = two * (dx * dx + dy * dy)
    den = z2 * z2
    use3 = (z0 * z0 + z1 * z1 <= p2 * den) & (den > zero)
    iz = one / (z2 if use3 else one)
    uu = z0 * iz
    vv = z1 * iz
    p = (uu * uu + vv * vv) if use3 else p2
    zd = (w0 * uu + w1 * vv + w2) if use3 else w2
    return hu0, hu1, hu2, hv0, hv1, hv2, dx, dy, use3, iz, uu, vv, p, zd


@njit(**KERNEL_OPTS)
def surfel_raster_fwd(
    m2d, Mt, color, nrm, opac, box, n_per_cam, tile_off, tile_gid, tiles, tiles_x,
    lx, ly, tox, toy, bg, consts, out_img, out_T, out_last, out_med, entry_rows,
):
    """Composite the depth-sorted surfels of the given tiles front to back.

    Args:
        m2d [G,2], Mt [G,9], color [G,3], nrm [G,3], box [G,4]: projected surfels
            (gid = c * n_per_cam + n); opac: [n_per_cam].
        tile_off, tile_gid: from ``_autograd._bin``; tiles: the tile ids of this call.
        lx, ly: [TILE_PIX] pixel-centre offsets inside a tile; tox, toy: tile origins.
        bg: [C,3]; consts: typed constants.
        out_img: [C,H,W,N_OUT] (see ``N_OUT``); out_T: [C,H,W] final transmittance;
        out_last, out_med: [C,H,W] int32 list index of the last composited surfel and of
            the median-depth one (-1 if none); entry_rows: [P] int32 rows touched per entry
            (r0 | r1 << 8, -1 = none), for the backward.
    """
    H, W = out_T.shape[1], out_T.shape[2]
    ntile = tiles_x * ((H + TILE - 1) // TILE)
    one, zero, half, two = consts[C_ONE], consts[C_ZERO], consts[C_HALF], consts[C_TWO]
    amax, amin, tmin, pmax = consts[C_AMAX], consts[C_AMIN], consts[C_TMIN], consts[C_PMAX]
    xm = 1.0 * consts[C_XMARGIN]
    S = np.empty(FWD_STATE, dtype=m2d.dtype)
    for k in range(_P):
        S[F_LX + k] = lx[k]
        S[F_LY + k] = ly[k]
    for ti in range(tiles.shape[0]):
        tile = tiles[ti]
        c, tx, ty, ox, oy = tile_origin(tile, ntile, tiles_x, tox, toy)
        for k in range(np.uint64(_P)):
            S[F_T + k] = one
            S[F_R + k] = zero
            S[F_G + k] = zero
            S[F_B + k] = zero
            S[F_D + k] = zero
            S[F_N0 + k] = zero
            S[F_N1 + k] = zero
            S[F_N2 + k] = zero
            S[F_DI + k] = zero
            S[F_MD + k] = zero
            S[F_MI + k] = -one
            S[F_LAST + k] = -one
            S[F_ALIVE + k] = one
        start, end = tile_off[tile], tile_off[tile + 1]
        li = -one  # list index as a float: the state buffer is all one dtype
        for i in range(start, end):
            li += one
            g = tile_gid[i]
            r0, r1 = _rows(box, g, ox, oy, xm)
            if r0 > r1:
                entry_rows[i] = -1
                continue
            entry_rows[i] = r0 | (r1 << 8)
            o = opac[g - c * n_per_cam]
            a0, a1, a2, b0, b1, b2, w0, w1, w2, mx, my = _tile_rows(Mt, m2d, g, ox, oy)
            cr, cg, cbl = color[g, 0], color[g, 1], color[g, 2]
            n0, n1, n2 = nrm[g, 0], nrm[g, 1], nrm[g, 2]
            for row in range(r0, r1 + 1):
                kb = np.uint64(row * TILE)
                for j in range(np.uint64(TILE)):
                    k = kb + j
                    x = S[F_LX + k]
                    y = S[F_LY + k]
                    hit = _intersect(x, y, a0, a1, a2, b0, b1, b2, w0, w1, w2, mx, my, one, zero,
                                     two)
                    p, zd = hit[12], hit[13]
                    al = min(amax, o * exp_neg(min(half * p, pmax)))
                    tk = S[F_T + k]
                    nt = tk * (one - al)
                    valid = (al >= amin) & (S[F_ALIVE + k] > zero)
                    ok = valid & (nt >= tmin)
                    w = al * tk if ok else zero
                    dsum = S[F_D + k]
                    S[F_DI + k] += two * w * (zd * (one - tk) - dsum)
                    S[F_R + k] += w * cr
                    S[F_G + k] += w * cg
                    S[F_B + k] += w * cbl
                    S[F_D + k] = dsum + w * zd
                    S[F_N0 + k] += w * n0
                    S[F_N1 + k] += w * n1
                    S[F_N2 + k] += w * n2
                    med = ok & (tk > half)
                    S[F_MD + k] = zd if med else S[F_MD + k]
                    S[F_MI + k] = li if med else S[F_MI + k]
                    S[F_T + k] = nt if ok else tk
                    S[F_LAST + k] = li if ok else S[F_LAST + k]
                    S[F_ALIVE + k] = zero if (valid & (nt < tmin)) else S[F_ALIVE + k]
            if (i - start) % 32 == 31:
                anyalive = zero
                for k in range(np.uint64(_P)):
                    anyalive = max(anyalive, S[F_ALIVE + k])
                if anyalive == zero:
                    break
        px0 = int(tx * TILE)
        py0 = int(ty * TILE)
        for kk in range(_P):
            k = np.uint64(kk)
            py = py0 + kk // TILE
            px = px0 + kk % TILE
            if py < H and px < W:
                tk = S[F_T + k]
                out = out_img[c, py, px]
                out[0] = S[F_R + k] + tk * bg[c, 0]
                out[1] = S[F_G + k] + tk * bg[c, 1]
                out[2] = S[F_B + k] + tk * bg[c, 2]
                out[3] = S[F_D + k]
                out[4] = S[F_N0 + k]
                out[5] = S[F_N1 + k]
                out[6] = S[F_N2 + k]
                out[7] = S[F_DI + k]
                out[8] = S[F_MD + k]
                out_T[c, py, px] = tk
                out_last[c, py, px] = np.int32(S[F_LAST + k])
                out_med[c, py, px] = np.int32(S[F_MI + k])


@njit(**KERNEL_OPTS)
def surfel_raster_bwd(
    m2d, Mt, color, nrm, opac, n_per_cam, tile_off, tile_gid, tile_pid, tiles, tiles_x,
    lx, ly, tox, toy, bg, consts, out_img, out_T, out_last, out_med, entry_rows, g_img,
    g_alpha, pair_grads,
):
    """Backward of :func:`surfel_raster_fwd`, back to front, one gradient slot per pair.

    Args:
        m2d .. consts: as for the forward; tile_pid: pair id of each tile entry.
        out_img, out_T, out_last, out_med, entry_rows: saved by the forward.
        g_img: [C,H,W,N_OUT] upstream gradient of the image channels; g_alpha: [C,H,W].
        pair_grads: [P, N_PAIR_GRADS] output, zero on entry.
    """
    H, W = out_T.shape[1], out_T.shape[2]
    ntile = tiles_x * ((H + TILE - 1) // TILE)
    one, zero, half, two = consts[C_ONE], consts[C_ZERO], consts[C_HALF], consts[C_TWO]
    amax, amin, pmax = consts[C_AMAX], consts[C_AMIN], consts[C_PMAX]
    S = np.empty(BWD_STATE, dtype=m2d.dtype)
    acc = np.empty(N_PAIR_GRADS * TILE, dtype=m2d.dtype)
    for k in range(_P):
        S[B_LX + k] = lx[k]
        S[B_LY + k] = ly[k]
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
                gi = g_img[c, py, px]
                S[B_T + k] = tf
                S[B_TF + k] = tf
                S[B_DT + k] = out_img[c, py, px, 3]
                S[B_GR + k] = gi[0]
                S[B_GG + k] = gi[1]
                S[B_GB + k] = gi[2]
                S[B_GD + k] = gi[3]
                S[B_GN0 + k] = gi[4]
                S[B_GN1 + k] = gi[5]
                S[B_GN2 + k] = gi[6]
                S[B_GDI + k] = gi[7]
                S[B_GMD + k] = gi[8]
                S[B_GAT + k] = g_alpha[c, py, px] * tf
                S[B_SR + k] = tf * bg[c, 0]
                S[B_SG + k] = tf * bg[c, 1]
                S[B_SB + k] = tf * bg[c, 2]
                S[B_MI + k] = out_med[c, py, px]
                lst = out_last[c, py, px]
                maxlast = max(maxlast, lst)
            else:
                S[B_T + k] = one
                S[B_TF + k] = one
                S[B_DT + k] = zero
                S[B_GR + k] = zero
                S[B_GG + k] = zero
                S[B_GB + k] = zero
                S[B_GD + k] = zero
                S[B_GN0 + k] = zero
                S[B_GN1 + k] = zero
                S[B_GN2 + k] = zero
                S[B_GDI + k] = zero
                S[B_GMD + k] = zero
                S[B_GAT + k] = zero
                S[B_SR + k] = zero
                S[B_SG + k] = zero
                S[B_SB + k] = zero
                S[B_MI + k] = -one
                lst = -1
            S[B_LAST + k] = lst
            lastf = max(lastf, S[B_LAST + k])
            S[B_SD + k] = zero
            S[B_SN0 + k] = zero
            S[B_SN1 + k] = zero
            S[B_SN2 + k] = zero
            S[B_SQ + k] = zero
        start = tile_off[tile]
        li = lastf + one
        for i in range(start + maxlast, start - 1, -1):
            li -= one
            rr = entry_rows[i]
            if rr < 0:
                continue
            r0 = rr & 255
            r1 = rr >> 8
            g = tile_gid[i]
            o = opac[g - c * n_per_cam]
            a0, a1, a2, b0, b1, b2, w0, w1, w2, mx, my = _tile_rows(Mt, m2d, g, ox, oy)
            cr, cg, cbl = color[g, 0], color[g, 1], color[g, 2]
            n0, n1, n2 = nrm[g, 0], nrm[g, 1], nrm[g, 2]
            for j in range(np.uint64(N_PAIR_GRADS * TILE)):
                acc[j] = zero
            for row in range(r0, r1 + 1):
                kb = np.uint64(row * TILE)
                for j in range(np.uint64(TILE)):
                    k = kb + j
                    x = S[B_LX + k]
                    y = S[B_LY + k]
                    (hu0, hu1, hu2, hv0, hv1, hv2, dx, dy, use3, iz, uu, vv, p,
                     zd) = _intersect(x, y, a0, a1, a2, b0, b1, b2, w0, w1, w2, mx, my, one, zero,
                                      two)
                    e = exp_neg(min(half * p, pmax))
                    oe = o * e
                    al = min(amax, oe)
                    valid = (li <= S[B_LAST + k]) & (al >= amin)
                    iom = one / (one - al)
                    tk = S[B_T + k]
                    tb = tk * iom  # transmittance in front of this surfel
                    w = al * tb if valid else zero
                    sd = S[B_SD + k]
                    ai = one - tb  # weight in front
                    bi = tk - S[B_TF + k]  # weight behind
                    # d distortion / d w_i, and d distortion / d z_i
                    f = two * (zd * (ai - bi) - (S[B_DT + k] - sd - w * zd) + sd)
                    sq = S[B_SQ + k]
                    gdi = S[B_GDI + k]
                    gd = S[B_GD + k]
                    gr, gg, gb = S[B_GR + k], S[B_GG + k], S[B_GB + k]
                    gn0, gn1, gn2 = S[B_GN0 + k], S[B_GN1 + k], S[B_GN2 + k]
                    dlda = (
                        gr * (tb * cr - S[B_SR + k] * iom) + gg * (tb * cg - S[B_SG + k] * iom)
                        + gb * (tb * cbl - S[B_SB + k] * iom) + gd * (tb * zd - sd * iom)
                        + gn0 * (tb * n0 - S[B_SN0 + k] * iom)
                        + gn1 * (tb * n1 - S[B_SN1 + k] * iom)
                        + gn2 * (tb * n2 - S[B_SN2 + k] * iom)
                        + gdi * (tb * f - sq * iom) + S[B_GAT + k] * iom
                    )
                    live = valid & (oe <= amax)
                    dlda = dlda if live else zero
                    gmd = S[B_GMD + k] if li == S[B_MI + k] else zero
                    gz = (w * gd + gdi * two * w * (ai - bi) + gmd) if valid else zero
                    dldp = -dlda * al * half  # d/d(p), power = p / 2
                    # 3D branch: p = u^2 + v^2 and z = T2 . (u, v, 1)
                    gu = (dldp * (uu + uu) + gz * w0) if use3 else zero
                    gv = (dldp * (vv + vv) + gz * w1) if use3 else zero
                    gz0 = gu * iz
                    gz1 = gv * iz
                    gz2 = -(gu * uu + gv * vv) * iz
                    ghu0 = hv1 * gz2 - hv2 * gz1
                    ghu1 = hv2 * gz0 - hv0 * gz2
                    ghu2 = hv0 * gz1 - hv1 * gz0
                    ghv0 = gz1 * hu2 - gz2 * hu1
                    ghv1 = gz2 * hu0 - gz0 * hu2
                    ghv2 = gz0 * hu1 - gz1 * hu0
                    acc[A0 + j] += ghu0
                    acc[A1 + j] += ghu1
                    acc[A2 + j] += ghu2
                    acc[A3 + j] += ghv0
                    acc[A4 + j] += ghv1
                    acc[A5 + j] += ghv2
                    acc[A6 + j] += -(x * ghu0 + y * ghv0) + (gz * uu if use3 else zero)
                    acc[A7 + j] += -(x * ghu1 + y * ghv1) + (gz * vv if use3 else zero)
                    acc[A8 + j] += -(x * ghu2 + y * ghv2) + gz
                    # fallback branch: p = 2 |pixel - m2d|^2
                    g2 = zero if use3 else -(dldp + dldp + dldp + dldp)
                    acc[A9 + j] += g2 * dx
                    acc[A10 + j] += g2 * dy
                    acc[A11 + j] += dlda * e
                    acc[A12 + j] += w * gr
                    acc[A13 + j] += w * gg
                    acc[A14 + j] += w * gb
                    acc[A15 + j] += w * gn0
                    acc[A16 + j] += w * gn1
                    acc[A17 + j] += w * gn2
                    S[B_SR + k] += w * cr
                    S[B_SG + k] += w * cg
                    S[B_SB + k] += w * cbl
                    S[B_SD + k] = sd + w * zd
                    S[B_SN0 + k] += w * n0
                    S[B_SN1 + k] += w * n1
                    S[B_SN2 + k] += w * n2
                    S[B_SQ + k] = sq + w * f
                    S[B_T + k] = tb if valid else tk
            out = pair_grads[tile_pid[i]]
            lane_sums(acc, out, zero)
            # back from tile-local rows: T0' = T0 - ox T2, T1' = T1 - oy T2
            out[6] -= ox * out[0] + oy * out[3]
            out[7] -= ox * out[1] + oy * out[4]
            out[8] -= ox * out[2] + oy * out[5]
