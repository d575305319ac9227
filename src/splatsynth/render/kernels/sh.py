"""View-dependent colour from spherical harmonics (3DGS convention, degrees 0..3) and its
backward, for the projection kernels of both methods.

Helpers are inlined into their callers (``inline="always"``), so each kernel compiles them with
its own options. The maths is the one of ``render/sh.py``; the two share no code.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Real spherical-harmonic constants of the 3DGS convention (degree 0..3).
SH_CONSTS = np.array(
    [
        0.28209479177387814,
        0.4886025119029199,
        1.0925484305920792,
        -1.0925484305920792,
        0.31539156525252005,
        -1.0925484305920792,
        0.5462742152960396,
        -0.5900435899266435,
        2.890611442640554,
        -0.4570457994644658,
        0.3731763325901154,
        -0.4570457994644658,
        1.445305721320277,
        -0.5900435899266435,
        0.0,  # 14..18: small integers, typed like the kernel (see _common)
        3.0,
        4.0,
        6.0,
        8.0,
    ]
)


@njit(inline="always")
def _sh_basis(x, y, z, deg, s, b):
    """Fill b[0 : (deg+1)^2] with the SH basis at the unit direction (x, y, z)."""
    b[0] = s[0]
    if deg >= 1:
        b[1] = -s[1] * y
        b[2] = s[1] * z
        b[3] = -s[1] * x
    if deg >= 2:
        xx, yy, zz = x * x, y * y, z * z
        b[4] = s[2] * x * y
        b[5] = s[3] * y * z
        b[6] = s[4] * (zz + zz - xx - yy)
        b[7] = s[5] * x * z
        b[8] = s[6] * (xx - yy)
        if deg >= 3:
            b[9] = s[7] * y * (xx + xx + xx - yy)
            b[10] = s[8] * x * y * z
            b[11] = s[9] * y * (zz + zz + zz + zz - xx - yy)
            b[12] = s[10] * z * (zz + zz - xx - xx - xx - yy - yy - yy)
            b[13] = s[11] * x * (zz + zz + zz + zz - xx - yy)
            b[14] = s[12] * z * (xx - yy)
            b[15] = s[13] * x * (xx - yy - yy - yy)


@njit(inline="always")
def _sh_basis_vjp(x, y, z, deg, s, v):
    """sum_k v[k] * grad(b_k) at (x, y, z): the gradient of sum_k v_k b_k(x, y, z)."""
    gx = s[14]
    gy = s[14]
    gz = s[14]
    if deg >= 1:
        gx -= s[1] * v[3]
        gy -= s[1] * v[1]
        gz += s[1] * v[2]
    if deg >= 2:
        xx, yy, zz = x * x, y * y, z * z
        gx += s[2] * y * v[4]
        gy += s[2] * x * v[4]
        gy += s[3] * z * v[5]
        gz += s[3] * y * v[5]
        gx -= (s[4] + s[4]) * x * v[6]
        gy -= (s[4] + s[4]) * y * v[6]
        gz += (s[4] + s[4] + s[4] + s[4]) * z * v[6]
        gx += s[5] * z * v[7]
        gz += s[5] * x * v[7]
        gx += (s[6] + s[6]) * x * v[8]
        gy -= (s[6] + s[6]) * y * v[8]
        if deg >= 3:
            three, four, six, eight = s[15], s[16], s[17], s[18]
            gx += s[7] * six * x * y * v[9]
            gy += s[7] * three * (xx - yy) * v[9]
            gx += s[8] * y * z * v[10]
            gy += s[8] * x * z * v[10]
            gz += s[8] * x * y * v[10]
            gx -= s[9] * (x + x) * y * v[11]
            gy += s[9] * (four * zz - xx - three * yy) * v[11]
            gz += s[9] * eight * y * z * v[11]
            gx -= s[10] * six * x * z * v[12]
            gy -= s[10] * six * y * z * v[12]
            gz += s[10] * (six * zz - three * xx - three * yy) * v[12]
            gx += s[11] * (four * zz - three * xx - yy) * v[13]
            gy -= s[11] * (x + x) * y * v[13]
            gz += s[11] * eight * x * z * v[13]
            gx += s[12] * (z + z) * x * v[14]
            gy -= s[12] * (z + z) * y * v[14]
            gz += s[12] * (xx - yy) * v[14]
            gx += s[13] * three * (xx - yy) * v[15]
            gy -= s[13] * six * x * y * v[15]
    return gx, gy, gz


@njit(inline="always")
def sh_color_fwd(n, c, V, mx, my, mz, sh, sh_deg, shc, basis, nb, out_color, zero, one, half):
    """out_color[c, n] = max(SH(view direction) + 0.5, 0), or the raw colour when sh_deg < 0.

    The view direction runs from the camera centre -R^T t (V is the [4, 4] w2c) to the mean.
    """
    if sh_deg < 0:
        for ch in range(3):
            out_color[c, n, ch] = sh[n, 0, ch]
        return
    px = -(V[0, 0] * V[0, 3] + V[1, 0] * V[1, 3] + V[2, 0] * V[2, 3])
    py = -(V[0, 1] * V[0, 3] + V[1, 1] * V[1, 3] + V[2, 1] * V[2, 3])
    pz = -(V[0, 2] * V[0, 3] + V[1, 2] * V[1, 3] + V[2, 2] * V[2, 3])
    dx, dy, dz = mx - px, my - py, mz - pz
    inrm = one / math.sqrt(dx * dx + dy * dy + dz * dz)
    _sh_basis(dx * inrm, dy * inrm, dz * inrm, sh_deg, shc, basis)
    for ch in range(3):
        acc = half
        for k in range(nb):
            acc += basis[k] * sh[n, k, ch]
        out_color[c, n, ch] = max(acc, zero)


@njit(inline="always")
def sh_color_bwd(n, c, V, mx, my, mz, sh, sh_deg, shc, basis, vk, nb, g_color, g_sh, gvc,
                 with_view, zero, one, half):
    """Backward of :func:`sh_color_fwd`: adds into g_sh[n] and (``with_view``) the camera's
    12 w2c-gradient slots ``gvc``; returns the gradient with respect to the mean (gx, gy,
    gz)."""
    if sh_deg < 0:
        for ch in range(3):
            g_sh[n, 0, ch] += g_color[c, n, ch]
        return zero, zero, zero
    px = -(V[0, 0] * V[0, 3] + V[1, 0] * V[1, 3] + V[2, 0] * V[2, 3])
    py = -(V[0, 1] * V[0, 3] + V[1, 1] * V[1, 3] + V[2, 1] * V[2, 3])
    pz = -(V[0, 2] * V[0, 3] + V[1, 2] * V[1, 3] + V[2, 2] * V[2, 3])
    dx, dy, dz = mx - px, my - py, mz - pz
    inrm = one / math.sqrt(dx * dx + dy * dy + dz * dz)
    ux, uy, uz = dx * inrm, dy * inrm, dz * inrm
    _sh_basis(ux, uy, uz, sh_deg, shc, basis)
    for k in range(nb):
        vk[k] = zero
    for ch in range(3):
        acc = half
        for k in range(nb):
            acc += basis[k] * sh[n, k, ch]
        gch = g_color[c, n, ch] if acc >= zero else zero
        for k in range(nb):
            g_sh[n, k, ch] += basis[k] * gch
            vk[k] += gch * sh[n, k, ch]
    if sh_deg < 1:
        return zero, zero, zero
    gux, guy, guz = _sh_basis_vjp(ux, uy, uz, sh_deg, shc, vk)
    dot = ux * gux + uy * guy + uz * guz
    gdx = (gux - ux * dot) * inrm
    gdy = (guy - uy * dot) * inrm
    gdz = (guz - uz * dot) * inrm
    if not with_view:
        return gdx, gdy, gdz
    for j in range(3):  # through the camera centre -R^T t
        tj = V[j, 3]
        gvc[4 * j + 0] += tj * gdx
        gvc[4 * j + 1] += tj * gdy
        gvc[4 * j + 2] += tj * gdz
        gvc[4 * j + 3] += V[j, 0] * gdx + V[j, 1] * gdy + V[j, 2] * gdz
    return gdx, gdy, gdz
