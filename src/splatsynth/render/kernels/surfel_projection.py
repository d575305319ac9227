"""2DGS projection: surfels -> per-camera ray transforms, footprints, normals and colours.

Arrays in, arrays out; float32 or float64 (the dtype of ``means``). A surfel n has centre m,
rotation R (wxyz quaternion) and tangent scales (s_u, s_v); its points are
``m + s_u u R[:, 0] + s_v v R[:, 1]``. Per camera c the forward writes the 3x3 ray transform

    M = K [Rc[:, 0] s_u | Rc[:, 1] s_v | p],   Rc = W R,  p = W m + t  (camera frame),

which maps splat coordinates (u, v, 1) to homogeneous pixels; the raster stage intersects
each pixel's ray with the splat through it (Huang et al. 2024, eq. 9-10). It also writes the
projected centre, the camera-facing normal, the colour and the screen footprint of the
alpha >= 1/255 region: the projected ellipse u^2 + v^2 <= 2 ln(255 o), found exactly from its
dual conic, joined with the disc of the screen-space low-pass fallback.
The maths is the one of ``render/reference/surfels.py``; the two share no code.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._common import (
    C_AMIN,
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
def _camera_axes(V, r00, r01, r02, r10, r11, r12, r20, r21, r22):
    """The rotation's columns in the camera frame (W R, W = V[:3, :3]): tangent axes a, b and
    normal n, as (ax, ay, az, bx, by, bz, nx, ny, nz)."""
    ax = V[0, 0] * r00 + V[0, 1] * r10 + V[0, 2] * r20
    ay = V[1, 0] * r00 + V[1, 1] * r10 + V[1, 2] * r20
    az = V[2, 0] * r00 + V[2, 1] * r10 + V[2, 2] * r20
    bx = V[0, 0] * r01 + V[0, 1] * r11 + V[0, 2] * r21
    by = V[1, 0] * r01 + V[1, 1] * r11 + V[1, 2] * r21
    bz = V[2, 0] * r01 + V[2, 1] * r11 + V[2, 2] * r21
    nx = V[0, 0] * r02 + V[0, 1] * r12 + V[0, 2] * r22
    ny = V[1, 0] * r02 + V[1, 1] * r12 + V[1, 2] * r22
    nz = V[2, 0] * r02 + V[2, 1] * r12 + V[2, 2] * r22
    return ax, ay, az, bx, by, bz, nx, ny, nz


@njit(**KERNEL_OPTS)
def surfel_project_fwd(
    means, quats, scales, opac, sh, sh_deg, viewmats, Ks, consts, shc,
    out_m2d, out_M, out_nrm, out_color, out_radii, out_box, n0, n1,
):
    """Project surfels n0 <= n < n1 into C cameras.

    Args:
        means [N,3], quats [N,4] (wxyz, any norm > 0), scales [N,2] (s_u, s_v), opac [N].
        sh: [N,K,3] SH coefficients, or [N,1,3] plain RGB when ``sh_deg < 0``.
        viewmats [C,4,4] world-to-camera; Ks [C,3,3]; consts, shc: typed constants.
        out_m2d [C,N,2]: projected centre; out_M [C,N,9]: ray transform, row-major;
        out_nrm [C,N,3]: unit normal in the camera frame, turned towards the camera;
        out_color [C,N,3]; out_radii [C,N,2] int32: half-extents of the footprint around
        out_m2d (0 = culled); out_box [C,N,4]: exact footprint (x_lo, x_hi, y_lo, y_hi).
    """
    C = viewmats.shape[0]
    half, one, zero, two = consts[C_HALF], consts[C_ONE], consts[C_ZERO], consts[C_TWO]
    near, far, amin, loginv = consts[C_NEAR], consts[C_FAR], consts[C_AMIN], consts[C_LOGINV]
    wf, hf = consts[C_WF], consts[C_HF]
    nb = (sh_deg + 1) * (sh_deg + 1) if sh_deg >= 0 else 1
    basis = np.zeros(16, dtype=means.dtype)
    for n in range(n0, n1):
        mx, my, mz = means[n, 0], means[n, 1], means[n, 2]
        _, _, _, _, _, r00, r01, r02, r10, r11, r12, r20, r21, r22 = quat_rot(
            quats[n, 0], quats[n, 1], quats[n, 2], quats[n, 3], one, two
        )
        su, sv = scales[n, 0], scales[n, 1]
        o = opac[n]
        for c in range(C):
            out_radii[c, n, 0] = 0
            out_radii[c, n, 1] = 0
            if not (o > amin):
                continue
            V = viewmats[c]
            px, py, pz = to_camera(V, mx, my, mz)
            if not (pz >= near and pz <= far):
                continue
            ax, ay, az, bx, by, bz, nx, ny, nz = _camera_axes(V, r00, r01, r02, r10, r11, r12,
                                                              r20, r21, r22)
            ax, ay, az = ax * su, ay * su, az * su
            bx, by, bz = bx * sv, by * sv, bz * sv
            fx, fy, cx, cy = Ks[c, 0, 0], Ks[c, 1, 1], Ks[c, 0, 2], Ks[c, 1, 2]
            M00, M01, M02 = fx * ax + cx * az, fx * bx + cx * bz, fx * px + cx * pz
            M10, M11, M12 = fy * ay + cy * az, fy * by + cy * bz, fy * py + cy * pz
            M20, M21, M22 = az, bz, pz
            # footprint: the ellipse u^2 + v^2 = e2 maps to the screen conic whose dual is
            # M diag(1, 1, -1/e2) M^T; its vertical/horizontal tangents bound the splat
            e2 = two * (loginv + math.log(o))
            ie2 = one / e2
            Q22 = M20 * M20 + M21 * M21 - M22 * M22 * ie2
            if not (Q22 < zero):  # the splat reaches behind the camera plane
                continue
            iq = one / Q22
            Q00 = M00 * M00 + M01 * M01 - M02 * M02 * ie2
            Q02 = M00 * M20 + M01 * M21 - M02 * M22 * ie2
            Q11 = M10 * M10 + M11 * M11 - M12 * M12 * ie2
            Q12 = M10 * M20 + M11 * M21 - M12 * M22 * ie2
            xc = Q02 * iq
            yc = Q12 * iq
            hx = math.sqrt(max(xc * xc - Q00 * iq, zero))
            hy = math.sqrt(max(yc * yc - Q11 * iq, zero))
            u = M02 / M22
            v = M12 / M22
            r2d = math.sqrt(half * e2)  # low-pass disc: o exp(-|d|^2) >= 1/255
            xlo = min(xc - hx, u - r2d)
            xhi = max(xc + hx, u + r2d)
            ylo = min(yc - hy, v - r2d)
            yhi = max(yc + hy, v + r2d)
            if xhi <= zero or xlo >= wf or yhi <= zero or ylo >= hf:
                continue
            out_radii[c, n, 0] = np.int32(np.ceil(max(xhi - u, u - xlo)))
            out_radii[c, n, 1] = np.int32(np.ceil(max(yhi - v, v - ylo)))
            out_box[c, n, 0] = xlo
            out_box[c, n, 1] = xhi
            out_box[c, n, 2] = ylo
            out_box[c, n, 3] = yhi
            out_m2d[c, n, 0] = u
            out_m2d[c, n, 1] = v
            Mo = out_M[c, n]
            Mo[0], Mo[1], Mo[2] = M00, M01, M02
            Mo[3], Mo[4], Mo[5] = M10, M11, M12
            Mo[6], Mo[7], Mo[8] = M20, M21, M22
            sg = -one if nx * px + ny * py + nz * pz > zero else one
            out_nrm[c, n, 0] = sg * nx
            out_nrm[c, n, 1] = sg * ny
            out_nrm[c, n, 2] = sg * nz
            sh_color_fwd(n, c, V, mx, my, mz, sh, sh_deg, shc, basis, nb, out_color, zero, one,
                          half)


@njit(**KERNEL_OPTS)
def surfel_project_bwd(
    means, quats, scales, sh, sh_deg, viewmats, Ks, consts, shc, radii,
    g_m2d, g_M, g_nrm, g_color,
    g_means, g_quats, g_scales, g_sh, g_view_part, with_view, ck0, ck1,
):
    """Backward of :func:`surfel_project_fwd` (culled pairs receive no gradient).

    Args:
        means .. shc: as for the forward; radii: [C,N,2] from the forward.
        g_m2d [C,N,2], g_M [C,N,9], g_nrm [C,N,3], g_color [C,N,3]: upstream gradients.
        g_means [N,3], g_quats [N,4], g_scales [N,2]: outputs (overwritten).
        g_sh: [N,K,3] output, zero on entry.
        g_view_part: [K,C,12] output, zero on entry; chunk k covers surfels
            [k N / K, (k+1) N / K) and gets their gradient w.r.t. viewmats[:, :3, :4]
            (row-major); chunks ck0 <= k < ck1 are done here and summed by the caller in
            order, so the thread split does not change the result.
        with_view: compute g_view_part (else left as given).
    """
    N = means.shape[0]
    C = viewmats.shape[0]
    half, one, zero, two = consts[C_HALF], consts[C_ONE], consts[C_ZERO], consts[C_TWO]
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
            su, sv = scales[n, 0], scales[n, 1]
            # gradient w.r.t. the world rotation, summed over cameras
            g00 = zero
            g01 = zero
            g02 = zero
            g10 = zero
            g11 = zero
            g12 = zero
            g20 = zero
            g21 = zero
            g22 = zero
            gsu = zero
            gsv = zero
            gmx = zero
            gmy = zero
            gmz = zero
            for c in range(C):
                if radii[c, n, 0] == 0 and radii[c, n, 1] == 0:
                    continue
                V = viewmats[c]
                px, py, pz = to_camera(V, mx, my, mz)
                ax, ay, az, bx, by, bz, nx, ny, nz = _camera_axes(V, r00, r01, r02, r10, r11,
                                                                  r12, r20, r21, r22)
                sg = -one if nx * px + ny * py + nz * pz > zero else one
                fx, fy, cx, cy = Ks[c, 0, 0], Ks[c, 1, 1], Ks[c, 0, 2], Ks[c, 1, 2]
                G = g_M[c, n]
                # centre u = M02 / M22, v = M12 / M22 (M02 = fx px + cx pz, ...)
                irz = one / pz
                gu, gvv = g_m2d[c, n, 0], g_m2d[c, n, 1]
                u = (fx * px + cx * pz) * irz
                v = (fy * py + cy * pz) * irz
                G02 = G[2] + gu * irz
                G12 = G[5] + gvv * irz
                G22 = G[8] - (gu * u + gvv * v) * irz
                # M = K [a s_u | b s_v | p]: column gradients through K^T
                gax = fx * G[0]
                gay = fy * G[3]
                gaz = cx * G[0] + cy * G[3] + G[6]
                gbx = fx * G[1]
                gby = fy * G[4]
                gbz = cx * G[1] + cy * G[4] + G[7]
                gpx = fx * G02
                gpy = fy * G12
                gpz = cx * G02 + cy * G12 + G22
                gsu += gax * ax + gay * ay + gaz * az
                gsv += gbx * bx + gby * by + gbz * bz
                gax, gay, gaz = gax * su, gay * su, gaz * su
                gbx, gby, gbz = gbx * sv, gby * sv, gbz * sv
                gnx, gny, gnz = sg * g_nrm[c, n, 0], sg * g_nrm[c, n, 1], sg * g_nrm[c, n, 2]
                # camera-frame column j = W R[:, j]: dR[:, j] += W^T g_j, dW += g_j R[:, j]^T
                g00 += V[0, 0] * gax + V[1, 0] * gay + V[2, 0] * gaz
                g10 += V[0, 1] * gax + V[1, 1] * gay + V[2, 1] * gaz
                g20 += V[0, 2] * gax + V[1, 2] * gay + V[2, 2] * gaz
                g01 += V[0, 0] * gbx + V[1, 0] * gby + V[2, 0] * gbz
                g11 += V[0, 1] * gbx + V[1, 1] * gby + V[2, 1] * gbz
                g21 += V[0, 2] * gbx + V[1, 2] * gby + V[2, 2] * gbz
                g02 += V[0, 0] * gnx + V[1, 0] * gny + V[2, 0] * gnz
                g12 += V[0, 1] * gnx + V[1, 1] * gny + V[2, 1] * gnz
                g22 += V[0, 2] * gnx + V[1, 2] * gny + V[2, 2] * gnz
                gvc = gv[c]
                if with_view:
                    gvc[0] += gax * r00 + gbx * r01 + gnx * r02 + gpx * mx
                    gvc[1] += gax * r10 + gbx * r11 + gnx * r12 + gpx * my
                    gvc[2] += gax * r20 + gbx * r21 + gnx * r22 + gpx * mz
                    gvc[3] += gpx
                    gvc[4] += gay * r00 + gby * r01 + gny * r02 + gpy * mx
                    gvc[5] += gay * r10 + gby * r11 + gny * r12 + gpy * my
                    gvc[6] += gay * r20 + gby * r21 + gny * r22 + gpy * mz
                    gvc[7] += gpy
                    gvc[8] += gaz * r00 + gbz * r01 + gnz * r02 + gpz * mx
                    gvc[9] += gaz * r10 + gbz * r11 + gnz * r12 + gpz * my
                    gvc[10] += gaz * r20 + gbz * r21 + gnz * r22 + gpz * mz
                    gvc[11] += gpz
                gmx += V[0, 0] * gpx + V[1, 0] * gpy + V[2, 0] * gpz
                gmy += V[0, 1] * gpx + V[1, 1] * gpy + V[2, 1] * gpz
                gmz += V[0, 2] * gpx + V[1, 2] * gpy + V[2, 2] * gpz
                gdx, gdy, gdz = sh_color_bwd(n, c, V, mx, my, mz, sh, sh_deg, shc, basis, vk, nb,
                                             g_color, g_sh, gvc, with_view, zero, one,
                                             half)
                gmx += gdx
                gmy += gdy
                gmz += gdz
            g_means[n, 0] = gmx
            g_means[n, 1] = gmy
            g_means[n, 2] = gmz
            g_scales[n, 0] = gsu
            g_scales[n, 1] = gsv
            gq0, gq1, gq2, gq3 = quat_rot_vjp(inv, qw, qx, qy, qz, g00, g01, g02, g10, g11, g12,
                                              g20, g21, g22, two)
            g_quats[n, 0] = gq0
            g_quats[n, 1] = gq1
            g_quats[n, 2] = gq2
            g_quats[n, 3] = gq3
