"""Numba twin of :meth:`MCMCStrategy.add_noise`'s maths (the torch version is the reference).

Per step the torch form builds [N, 3, 3] rotations and covariances through a dozen small ops
(~3 ms for 20k Gaussians on one thread); this loop does the rotation arithmetic in one pass.
The exps (variances, gates) come in precomputed by torch: its vectorized exp is several times
quicker than a scalar one per element, and those made up most of this loop's time.
"""

from __future__ import annotations

import math

from numba import njit


@njit(cache=True, nogil=True)
def covariance_noise(means, quats, variances, gates, eps, scale):
    """means[i] += R_i diag(variances[i]) R_i^T eps[i] * gates[i] * scale, in place.

    Args:
        means: [N, 3] (updated); quats: [N, 4] wxyz (normalized here);
        variances: [N, 3] the squared scales exp(2 log_scales);
        gates: [N] sigmoid(-100 (opacity - min_opacity)), strong on transparent Gaussians;
        eps: [N, 3] standard normal draws; scale: noise_lr * current position lr.
    """
    for i in range(means.shape[0]):
        w, x, y, z = quats[i, 0], quats[i, 1], quats[i, 2], quats[i, 3]
        inv = 1.0 / math.sqrt(w * w + x * x + y * y + z * z)
        w, x, y, z = w * inv, x * inv, y * inv, z * inv
        r00, r01, r02 = 1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)
        r10, r11, r12 = 2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)
        r20, r21, r22 = 2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)
        e0, e1, e2 = eps[i, 0], eps[i, 1], eps[i, 2]
        # R^T eps, scaled by s^2 per axis, rotated back.
        a0 = (r00 * e0 + r10 * e1 + r20 * e2) * variances[i, 0]
        a1 = (r01 * e0 + r11 * e1 + r21 * e2) * variances[i, 1]
        a2 = (r02 * e0 + r12 * e1 + r22 * e2) * variances[i, 2]
        k = gates[i] * scale
        means[i, 0] += (r00 * a0 + r01 * a1 + r02 * a2) * k
        means[i, 1] += (r10 * a0 + r11 * a1 + r12 * a2) * k
        means[i, 2] += (r20 * a0 + r21 * a1 + r22 * a2) * k
