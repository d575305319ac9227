"""Rotations and camera transforms shared by the projection kernels of both methods.

They take the typed constants ``one`` and ``two`` (see ``_common``) and are inlined into their
callers (``inline="always"``), so each kernel compiles them with its own options.
"""

from __future__ import annotations

import math

from numba import njit


@njit(inline="always")
def quat_rot(q0, q1, q2, q3, one, two):
    """wxyz quaternion (any norm > 0) -> (1 / |q|, the normalized w, x, y, z, and the row-major
    rotation entries r00 .. r22)."""
    inv = one / math.sqrt(q0 * q0 + q1 * q1 + q2 * q2 + q3 * q3)
    w, x, y, z = q0 * inv, q1 * inv, q2 * inv, q3 * inv
    r00 = one - two * (y * y + z * z)
    r01 = two * (x * y - w * z)
    r02 = two * (x * z + w * y)
    r10 = two * (x * y + w * z)
    r11 = one - two * (x * x + z * z)
    r12 = two * (y * z - w * x)
    r20 = two * (x * z - w * y)
    r21 = two * (y * z + w * x)
    r22 = one - two * (x * x + y * y)
    return inv, w, x, y, z, r00, r01, r02, r10, r11, r12, r20, r21, r22


@njit(inline="always")
def quat_rot_vjp(inv, qw, qx, qy, qz, g00, g01, g02, g10, g11, g12, g20, g21, g22, two):
    """Backward of :func:`quat_rot`: the gradients g_ij of the rotation entries -> the gradient
    of the raw quaternion (through the normalization). inv, qw .. qz: from the forward."""
    gw = two * (-qz * g01 + qy * g02 + qz * g10 - qx * g12 - qy * g20 + qx * g21)
    gx = two * (qy * g01 + qz * g02 + qy * g10 - two * qx * g11 - qw * g12 + qz * g20
                + qw * g21 - two * qx * g22)
    gy = two * (-two * qy * g00 + qx * g01 + qw * g02 + qx * g10 + qz * g12 - qw * g20
                + qz * g21 - two * qy * g22)
    gz = two * (-two * qz * g00 - qw * g01 + qx * g02 + qw * g10 - two * qz * g11 + qy * g12
                + qx * g20 + qy * g21)
    dot = qw * gw + qx * gx + qy * gy + qz * gz
    return ((gw - qw * dot) * inv, (gx - qx * dot) * inv, (gy - qy * dot) * inv,
            (gz - qz * dot) * inv)


@njit(inline="always")
def to_camera(V, mx, my, mz):
    """World point -> camera frame, with V the [4, 4] world-to-camera matrix."""
    x = V[0, 0] * mx + V[0, 1] * my + V[0, 2] * mz + V[0, 3]
    y = V[1, 0] * mx + V[1, 1] * my + V[1, 2] * mz + V[1, 3]
    z = V[2, 0] * mx + V[2, 1] * my + V[2, 2] * mz + V[2, 3]
    return x, y, z
