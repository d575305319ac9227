"""Numba twin of :meth:`MCMCStrategy.add_noise`'s maths (the torch version is the reference).

Per step the torch form builds [N, 3, 3] rotations and covariances through a dozen small ops
(~3 ms for 20k Gaussians on one thread); this loop does the same arithmetic on a slice of the
Gaussians, so the kernels' threads can share it.
"""

from __future__ import annotations

import math

from numba import njit

#: Gates under this are skipped. The gate is sigmoid(-100 (o - min_opacity)): below 1e-12 from
#: o ~ 0.28 up, where the nudge (gate * scale * sigma eps, scale <= ~500, sigma <= ~1) sits
#: under float32's resolution of any coordinate farther than ~1e-3 from 0, so the opaque
#: majority of the Gaussians costs a comparison instead of five exps.
GATE_FLOOR = 1e-12


@njit(cache=True, nogil=True)
def covariance_noise(means, quats, log_scales, opacity_logits, eps, min_opacity, scale,
                     start=0, stop=-1):
    """means[i] += sigma_i eps[i] * sigmoid(-100 (o_i - min_opacity)) * scale, in place, for
    start <= i < stop (stop -1: to the end).

    Args:
        means: [N, 3] float32 (updated); quats: [N, 4] wxyz (normalized here);
        log_scales: [N, 3]; opacity_logits: [N] or [N, 1]; eps: [N, 3] standard normal draws.
        sigma_i = R S^2 R^T is the Gaussian's covariance.
    """
    n = means.shape[0]
    logits = opacity_logits.reshape(n)
    # gate < GATE_FLOOR  <=>  o > min_opacity - logit(GATE_FLOOR) / 100  <=>  logit > skip:
    # the opaque majority is passed over without an exp (scalar exps dominate this loop)
    o_skip = min_opacity - math.log(GATE_FLOOR / (1.0 - GATE_FLOOR)) / 100.0
    skip = math.log(o_skip / (1.0 - o_skip)) if o_skip < 1.0 else math.inf
    for i in range(start, n if stop < 0 else stop):
        if logits[i] > skip:
            continue
        o = 1.0 / (1.0 + math.exp(-logits[i]))
        t = -100.0 * (o - min_opacity)
        # sigmoid(t), written to stay finite for large |t|
        gate = 1.0 / (1.0 + math.exp(-t)) if t >= 0 else math.exp(t) / (1.0 + math.exp(t))
        k = gate * scale
        w, x, y, z = quats[i, 0], quats[i, 1], quats[i, 2], quats[i, 3]
        inv = 1.0 / math.sqrt(w * w + x * x + y * y + z * z)
        w, x, y, z = w * inv, x * inv, y * inv, z * inv
        r00, r01, r02 = 1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)
        r10, r11, r12 = 2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)
        r20, r21, r22 = 2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)
        e0, e1, e2 = eps[i, 0], eps[i, 1], eps[i, 2]
        # R^T eps, scaled by s^2 per axis, rotated back.
        a0 = (r00 * e0 + r10 * e1 + r20 * e2) * math.exp(2.0 * log_scales[i, 0])
        a1 = (r01 * e0 + r11 * e1 + r21 * e2) * math.exp(2.0 * log_scales[i, 1])
        a2 = (r02 * e0 + r12 * e1 + r22 * e2) * math.exp(2.0 * log_scales[i, 2])
        means[i, 0] += (r00 * a0 + r01 * a1 + r02 * a2) * k
        means[i, 1] += (r10 * a0 + r11 * a1 + r12 * a2) * k
        means[i, 2] += (r20 * a0 + r21 * a1 + r22 * a2) * k
