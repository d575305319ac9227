"""EWA projection of 3D Gaussians to screen-space conics, and its hand-written backward.

Arrays in, arrays out; float32 or float64 throughout (the dtype of ``means``). Per camera c and
Gaussian n the forward writes the projected centre, the conic (inverse 2D covariance), the
camera-frame depth, the view-dependent colour and the screen half-extents (0 = culled).
The maths is the one of ``render/reference/projection.py``; the two share no code.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._common import (
    C_AMIN,
    C_CLIP,
    C_EPS2D,
    C_FAR,
    C_HALF,
    C_HF,
    C_LOGINV,
    C_NEAR,
    C_ONE,
    C_TWO,
    C_WF,
    C_ZERO,
    KERNEL_OPTS,
)
from .geometry import quat_rot, quat_rot_vjp, to_camera
from .sh import sh_color_bwd, sh_color_fwd


@njit(inline="always")
def _covariance(r00, r01, r02, r10, r11, r12, r20, r21, r22, s0, s1, s2):
    """M = R diag(s) (row-major) and the upper triangle of Sigma = M M^T."""
    m00, m01, m02 = r00 * s0, r01 * s1, r02 * s2
    m10, m11, m12 = r10 * s0, r11 * s1, r12 * s2
    m20, m21, m22 = r20 * s0, r21 * s1, r22 * s2
    S00 = m00 * m00 + m01 * m01 + m02 * m02
    S01 = m00 * m10 + m01 * m11 + m02 * m12
    S02 = m00 * m20 + m01 * m21 + m02 * m22
    S11 = m10 * m10 + m11 * m11 + m12 * m12
    S12 = m10 * m20 + m11 * m21 + m12 * m22
    S22 = m20 * m20 + m21 * m21 + m22 * m22
    return m00, m01, m02, m10, m11, m12, m20, m21, m22, S00, S01, S02, S11, S12, S22


@njit(inline="always")
def _camera_cov(V, S00, S01, S02, S11, S12, S22):
    """Upper triangle of Sc = W Sigma W^T with W = V[:3, :3]."""
    a0 = V[0, 0] * S00 + V[0, 1] * S01 + V[0, 2] * S02
    a1 = V[0, 0] * S01 + V[0, 1] * S11 + V[0, 2] * S12
    a2 = V[0, 0] * S02 + V[0, 1] * S12 + V[0, 2] * S22
    b0 = V[1, 0] * S00 + V[1, 1] * S01 + V[1, 2] * S02
    b1 = V[1, 0] * S01 + V[1, 1] * S11 + V[1, 2] * S12
    b2 = V[1, 0] * S02 + V[1, 1] * S12 + V[1, 2] * S22
    d0 = V[2, 0] * S00 + V[2, 1] * S01 + V[2, 2] * S02
    d1 = V[2, 0] * S01 + V[2, 1] * S11 + V[2, 2] * S12
    d2 = V[2, 0] * S02 + V[2, 1] * S12 + V[2, 2] * S22
    c00 = a0 * V[0, 0] + a1 * V[0, 1] + a2 * V[0, 2]
    c01 = a0 * V[1, 0] + a1 * V[1, 1] + a2 * V[1, 2]
    c02 = a0 * V[2, 0] + a1 * V[2, 1] + a2 * V[2, 2]
    c11 = b0 * V[1, 0] + b1 * V[1, 1] + b2 * V[1, 2]
    c12 = b0 * V[2, 0] + b1 * V[2, 1] + b2 * V[2, 2]
    c22 = d0 * V[2, 0] + d1 * V[2, 1] + d2 * V[2, 2]
    return c00, c01, c02, c11, c12, c22


@njit(inline="always")
def _jacobian(x, y, z, fx, fy, cx, cy, wf, hf, clip, half, one):
    """Perspective Jacobian with the view-frustum clamp of 3DGS / gsplat: returns 1/z, 1/z^2,
    x/z, y/z, the clamp limits (x+, x-, y+, y-), the clamped tx, ty and J's entries j00, j02,
    j11, j12 (J = [[j00, 0, j02], [0, j11, j12]])."""
    rz = one / z
    rz2 = rz * rz
    limxp = (wf - cx) / fx + clip * (half * wf / fx)
    limxn = cx / fx + clip * (half * wf / fx)
    limyp = (hf - cy) / fy + clip * (half * hf / fy)
    limyn = cy / fy + clip * (half * hf / fy)
    xr = x * rz
    yr = y * rz
    tx = z * min(limxp, max(-limxn, xr))
    ty = z * min(limyp, max(-limyn, yr))
    j00 = fx * rz
    j02 = -fx * tx * rz2
    j11 = fy * rz
    j12 = -fy * ty * rz2
    return rz, rz2, xr, yr, limxp, limxn, limyp, limyn, tx, ty, j00, j02, j11, j12


@njit(inline="always")
def _screen_cov(c00, c01, c02, c11, c12, c22, j00, j02, j11, j12, eps2d, two):
    """J Sc J^T + eps2d I as (a, b, c) of [[a, b], [b, c]]."""
    ca = j00 * j00 * c00 + two * j00 * j02 * c02 + j02 * j02 * c22 + eps2d
    cb = j00 * j11 * c01 + j00 * j12 * c02 + j02 * j11 * c12 + j02 * j12 * c22
    cc = j11 * j11 * c11 + two * j11 * j12 * c12 + j12 * j12 * c22 + eps2d
    return ca, cb, cc

@njit(inline="always")
def _view_grad_point(gvc, gx, gy, gz, mx, my, mz):
    """Add the gradient of w2c[:3, :4] (row-major, 12 slots) through p_cam = W m + t, for the
    camera-frame gradient (gx, gy, gz) of the point m."""
    gvc[0] += gx * mx
    gvc[1] += gx * my
    gvc[2] += gx * mz
    gvc[3] += gx
    gvc[4] += gy * mx
    gvc[5] += gy * my
    gvc[6] += gy * mz
    gvc[7] += gy
    gvc[8] += gz * mx
    gvc[9] += gz * my
    gvc[10] += gz * mz
    gvc[11] += gz


@njit(**KERNEL_OPTS)
def project_fwd(
    means, quats, scales, opac, sh, sh_deg, viewmats, Ks, consts, shc,
    out_m2d, out_conic, out_depth, out_color, out_radii, n0, n1,
):
    """Project N Gaussians into C cameras.

    Args:
        means [N,3], quats [N,4] (wxyz, any norm > 0), scales [N,3], opac [N]: Gaussians.
        sh: [N,K,3] SH coefficients, or [N,1,3] plain RGB when ``sh_deg < 0``.
        viewmats [C,4,4] world-to-camera; Ks [C,3,3].
        consts: typed constants (see ``_common.make_consts``); shc: SH constants, same dtype.
        out_m2d [C,N,2], out_conic [C,N,3], out_depth [C,N], out_color [C,N,3]: outputs.
        out_radii: [C,N,2] int32 screen half-extents in x and y; 0 where culled.
        n0, n1: this call handles Gaussians n0 <= n < n1 (threads split N).
    """
    C = viewmats.shape[0]
    half, one, zero, two = consts[C_HALF], consts[C_ONE], consts[C_ZERO], consts[C_TWO]
    near, far, eps2d = consts[C_NEAR], consts[C_FAR], consts[C_EPS2D]
    amin, loginv, clip = consts[C_AMIN], consts[C_LOGINV], consts[C_CLIP]
    wf, hf = consts[C_WF], consts[C_HF]
    nb = (sh_deg + 1) * (sh_deg + 1) if sh_deg >= 0 else 1
    basis = np.zeros(16, dtype=means.dtype)
    for n in range(n0, n1):
        mx, my, mz = means[n, 0], means[n, 1], means[n, 2]
        _, _, _, _, _, r00, r01, r02, r10, r11, r12, r20, r21, r22 = quat_rot(
            quats[n, 0], quats[n, 1], quats[n, 2], quats[n, 3], one, two
        )
        _, _, _, _, _, _, _, _, _, S00, S01, S02, S11, S12, S22 = _covariance(
            r00, r01, r02, r10, r11, r12, r20, r21, r22, scales[n, 0], scales[n, 1], scales[n, 2]
        )
        o = opac[n]
        for c in range(C):
            out_radii[c, n, 0] = 0
            out_radii[c, n, 1] = 0
            V = viewmats[c]
            x, y, z = to_camera(V, mx, my, mz)
            if not (z >= near and z <= far):
                continue
            if not (o > amin):
                continue
            fx, fy, cx, cy = Ks[c, 0, 0], Ks[c, 1, 1], Ks[c, 0, 2], Ks[c, 1, 2]
            c00, c01, c02, c11, c12, c22 = _camera_cov(V, S00, S01, S02, S11, S12, S22)
            rz, _, _, _, _, _, _, _, _, _, j00, j02, j11, j12 = _jacobian(
                x, y, z, fx, fy, cx, cy, wf, hf, clip, half, one
            )
            ca, cb, cc = _screen_cov(c00, c01, c02, c11, c12, c22, j00, j02, j11, j12, eps2d, two)
            det = ca * cc - cb * cb
            if not (det > zero):
                continue
            idet = one / det
            # opacity-aware extent: o * exp(-d^2/2) >= 1/255 inside d = ext sigmas
            ext = math.sqrt(two * (loginv + math.log(o)))
            rx = np.ceil(ext * math.sqrt(ca))
            ry = np.ceil(ext * math.sqrt(cc))
            u = fx * x * rz + cx
            v = fy * y * rz + cy
            if u + rx <= zero or u - rx >= wf or v + ry <= zero or v - ry >= hf:
                continue
            if rx <= zero and ry <= zero:
                continue
            out_radii[c, n, 0] = np.int32(rx)
            out_radii[c, n, 1] = np.int32(ry)
            out_m2d[c, n, 0] = u
            out_m2d[c, n, 1] = v
            out_conic[c, n, 0] = cc * idet
            out_conic[c, n, 1] = -cb * idet
            out_conic[c, n, 2] = ca * idet
            out_depth[c, n] = z
            sh_color_fwd(n, c, V, mx, my, mz, sh, sh_deg, shc, basis, nb, out_color, zero, one,
                         half)


@njit(**KERNEL_OPTS)
def project_bwd(
    means, quats, scales, sh, sh_deg, viewmats, Ks, consts, shc, radii,
    g_m2d, g_conic, g_depth, g_color,
    g_means, g_quats, g_scales, g_sh, g_view_part, with_view, ck0, ck1,
):
    """Backward of :func:`project_fwd` (culled pairs receive no gradient).

    Args:
        means .. shc: as for :func:`project_fwd`; radii: [C,N,2] from the forward.
        g_m2d [C,N,2], g_conic [C,N,3], g_depth [C,N], g_color [C,N,3]: upstream gradients.
        g_means [N,3], g_quats [N,4], g_scales [N,3]: outputs (overwritten).
        g_sh: [N,K,3] output, must be zero on entry.
        g_view_part: [K, C, 12] output, zero on entry; chunk k covers Gaussians
            [k N / K, (k+1) N / K) and gets their gradient w.r.t. viewmats[:, :3, :4]
            (row-major). The caller sums chunks in order, so the split into threads
            (ck0 <= k < ck1 here) does not change the result.
        with_view: compute g_view_part (else left as given: a fit with fixed cameras skips
            about a third of the per-camera arithmetic).
    """
    N = means.shape[0]
    C = viewmats.shape[0]
    half, one, zero, two = consts[C_HALF], consts[C_ONE], consts[C_ZERO], consts[C_TWO]
    clip = consts[C_CLIP]
    wf, hf = consts[C_WF], consts[C_HF]
    nb = (sh_deg + 1) * (sh_deg + 1) if sh_deg >= 0 else 1
    nchunk = g_view_part.shape[0]
    basis = np.zeros(16, dtype=means.dtype)
    vk = np.zeros(16, dtype=means.dtype)
    for ck in range(ck0, ck1):
        gv = g_view_part[ck]
        for n in range(ck * N // nchunk, (ck + 1) * N // nchunk):
            mx, my, mz = means[n, 0], means[n, 1], means[n, 2]
            inv, qw, qx, qy, qz, r00, r01, r02, r10, r11, r12, r20, r21, r22 = quat_rot(
                quats[n, 0], quats[n, 1], quats[n, 2], quats[n, 3], one, two
            )
            s0, s1, s2 = scales[n, 0], scales[n, 1], scales[n, 2]
            (m00, m01, m02, m10, m11, m12, m20, m21, m22, S00, S01, S02, S11, S12,
             S22) = _covariance(r00, r01, r02, r10, r11, r12, r20, r21, r22, s0, s1, s2)
            # gradient w.r.t. Sigma (full-matrix form, symmetric), summed over cameras
            H00 = zero
            H01 = zero
            H02 = zero
            H11 = zero
            H12 = zero
            H22 = zero
            gmx = zero
            gmy = zero
            gmz = zero
            for c in range(C):
                if radii[c, n, 0] == 0 and radii[c, n, 1] == 0:
                    continue
                V = viewmats[c]
                x, y, z = to_camera(V, mx, my, mz)
                fx, fy, cx, cy = Ks[c, 0, 0], Ks[c, 1, 1], Ks[c, 0, 2], Ks[c, 1, 2]
                c00, c01, c02, c11, c12, c22 = _camera_cov(V, S00, S01, S02, S11, S12, S22)
                (rz, rz2, xr, yr, limxp, limxn, limyp, limyn, tx, ty, j00, j02, j11,
                 j12) = _jacobian(x, y, z, fx, fy, cx, cy, wf, hf, clip, half, one)
                ca, cb, cc = _screen_cov(c00, c01, c02, c11, c12, c22, j00, j02, j11, j12,
                                         consts[C_EPS2D], two)
                det = ca * cc - cb * cb
                idet2 = one / (det * det)
                gA, gB, gC = g_conic[c, n, 0], g_conic[c, n, 1], g_conic[c, n, 2]
                # conic = inverse(cov2d): d conic / d cov2d, written out
                ga = (-cc * cc * gA + cb * cc * gB - cb * cb * gC) * idet2
                gb = (two * cb * cc * gA - (ca * cc + cb * cb) * gB + two * ca * cb * gC) * idet2
                gc = (-cb * cb * gA + ca * cb * gB - ca * ca * gC) * idet2
                hb = half * gb
                # d cov2d / d Sc  = J^T Gc J
                G00 = j00 * ga * j00
                G01 = j00 * hb * j11
                G02 = j00 * ga * j02 + j00 * hb * j12
                G11 = j11 * gc * j11
                G12 = j11 * hb * j02 + j11 * gc * j12
                G22 = (j02 * ga + j12 * hb) * j02 + (j02 * hb + j12 * gc) * j12
                # d cov2d / d J = 2 Gc J Sc
                p0, p1, p2 = ga * j00, hb * j11, ga * j02 + hb * j12
                q0, q1, q2 = hb * j00, gc * j11, hb * j02 + gc * j12
                gj00 = two * (p0 * c00 + p1 * c01 + p2 * c02)
                gj02 = two * (p0 * c02 + p1 * c12 + p2 * c22)
                gj11 = two * (q0 * c01 + q1 * c11 + q2 * c12)
                gj12 = two * (q0 * c02 + q1 * c12 + q2 * c22)
                gu, gvv = g_m2d[c, n, 0], g_m2d[c, n, 1]
                gxc = gu * fx * rz
                gyc = gvv * fy * rz
                gzc = g_depth[c, n] - gu * fx * x * rz2 - gvv * fy * y * rz2
                gzc -= gj00 * fx * rz2 + gj11 * fy * rz2
                gzc += two * rz2 * rz * (gj02 * fx * tx + gj12 * fy * ty)
                gtx = -gj02 * fx * rz2
                gty = -gj12 * fy * rz2
                if xr >= -limxn and xr <= limxp:
                    gxc += gtx
                else:
                    gzc += gtx * (tx * rz)
                if yr >= -limyn and yr <= limyp:
                    gyc += gty
                else:
                    gzc += gty * (ty * rz)
                # p_cam = W m + t
                gmx += V[0, 0] * gxc + V[1, 0] * gyc + V[2, 0] * gzc
                gmy += V[0, 1] * gxc + V[1, 1] * gyc + V[2, 1] * gzc
                gmz += V[0, 2] * gxc + V[1, 2] * gyc + V[2, 2] * gzc
                gvc = gv[c]
                if with_view:
                    _view_grad_point(gvc, gxc, gyc, gzc, mx, my, mz)
                # Sc = W Sigma W^T: A = G W, dSigma += W^T A, dW += 2 A Sigma
                A00 = G00 * V[0, 0] + G01 * V[1, 0] + G02 * V[2, 0]
                A01 = G00 * V[0, 1] + G01 * V[1, 1] + G02 * V[2, 1]
                A02 = G00 * V[0, 2] + G01 * V[1, 2] + G02 * V[2, 2]
                A10 = G01 * V[0, 0] + G11 * V[1, 0] + G12 * V[2, 0]
                A11 = G01 * V[0, 1] + G11 * V[1, 1] + G12 * V[2, 1]
                A12 = G01 * V[0, 2] + G11 * V[1, 2] + G12 * V[2, 2]
                A20 = G02 * V[0, 0] + G12 * V[1, 0] + G22 * V[2, 0]
                A21 = G02 * V[0, 1] + G12 * V[1, 1] + G22 * V[2, 1]
                A22 = G02 * V[0, 2] + G12 * V[1, 2] + G22 * V[2, 2]
                H00 += V[0, 0] * A00 + V[1, 0] * A10 + V[2, 0] * A20
                H01 += V[0, 0] * A01 + V[1, 0] * A11 + V[2, 0] * A21
                H02 += V[0, 0] * A02 + V[1, 0] * A12 + V[2, 0] * A22
                H11 += V[0, 1] * A01 + V[1, 1] * A11 + V[2, 1] * A21
                H12 += V[0, 1] * A02 + V[1, 1] * A12 + V[2, 1] * A22
                H22 += V[0, 2] * A02 + V[1, 2] * A12 + V[2, 2] * A22
                if with_view:
                    gvc[0] += two * (A00 * S00 + A01 * S01 + A02 * S02)
                    gvc[1] += two * (A00 * S01 + A01 * S11 + A02 * S12)
                    gvc[2] += two * (A00 * S02 + A01 * S12 + A02 * S22)
                    gvc[4] += two * (A10 * S00 + A11 * S01 + A12 * S02)
                    gvc[5] += two * (A10 * S01 + A11 * S11 + A12 * S12)
                    gvc[6] += two * (A10 * S02 + A11 * S12 + A12 * S22)
                    gvc[8] += two * (A20 * S00 + A21 * S01 + A22 * S02)
                    gvc[9] += two * (A20 * S01 + A21 * S11 + A22 * S12)
                    gvc[10] += two * (A20 * S02 + A21 * S12 + A22 * S22)
                gdx, gdy, gdz = sh_color_bwd(n, c, V, mx, my, mz, sh, sh_deg, shc, basis, vk, nb,
                                             g_color, g_sh, gvc, with_view, zero, one,
                                             half)
                gmx += gdx
                gmy += gdy
                gmz += gdz
            g_means[n, 0] = gmx
            g_means[n, 1] = gmy
            g_means[n, 2] = gmz
            # Sigma = M M^T -> dM = 2 H M ; M = Rq diag(s)
            gM00 = two * (H00 * m00 + H01 * m10 + H02 * m20)
            gM01 = two * (H00 * m01 + H01 * m11 + H02 * m21)
            gM02 = two * (H00 * m02 + H01 * m12 + H02 * m22)
            gM10 = two * (H01 * m00 + H11 * m10 + H12 * m20)
            gM11 = two * (H01 * m01 + H11 * m11 + H12 * m21)
            gM12 = two * (H01 * m02 + H11 * m12 + H12 * m22)
            gM20 = two * (H02 * m00 + H12 * m10 + H22 * m20)
            gM21 = two * (H02 * m01 + H12 * m11 + H22 * m21)
            gM22 = two * (H02 * m02 + H12 * m12 + H22 * m22)
            g_scales[n, 0] = gM00 * r00 + gM10 * r10 + gM20 * r20
            g_scales[n, 1] = gM01 * r01 + gM11 * r11 + gM21 * r21
            g_scales[n, 2] = gM02 * r02 + gM12 * r12 + gM22 * r22
            g00, g01, g02 = gM00 * s0, gM01 * s1, gM02 * s2
            g10, g11, g12 = gM10 * s0, gM11 * s1, gM12 * s2
            g20, g21, g22 = gM20 * s0, gM21 * s1, gM22 * s2
            gq0, gq1, gq2, gq3 = quat_rot_vjp(inv, qw, qx, qy, qz, g00, g01, g02, g10, g11, g12,
                                              g20, g21, g22, two)
            g_quats[n, 0] = gq0
            g_quats[n, 1] = gq1
            g_quats[n, 2] = gq2
            g_quats[n, 3] = gq3
