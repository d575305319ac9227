"""Numba twin of the four shape regularizers of :mod:`.regularizers` (those are the reference).

Inside a fit they are ~15 small torch ops on [N, 3] tensors per step, with their autograd
(~1 ms for 20k Gaussians on one thread); this is one pass over the activated parameters that
leaves each term's value and its gradient with respect to the raw ones. The activations
themselves are left to torch: its vectorized exp is several times quicker than a scalar one
per element here.
"""

from __future__ import annotations

from numba import njit


@njit(inline="always")
def _order3(s0, s1, s2):
    """Indices (longest, middle, shortest) of three values; ties keep the lower index last,
    as a stable ascending sort would."""
    # ascending stable order of (s0, s1, s2), then read it backwards
    a, b, c = 0, 1, 2
    va, vb, vc = s0, s1, s2
    if vb < va:
        a, b, va, vb = b, a, vb, va
    if vc < vb:
        b, c, vb, vc = c, b, vc, vb
        if vb < va:
            a, b, va, vb = b, a, vb, va
    return c, b, a


@njit(inline="always")
def _ratio_excess(scales, i, top, other, max_ratio, inv_n, grad):
    """relu(scales[i, top] / max(scales[i, other], 1e-8) - max_ratio), with its gradient (over
    N, d/d log s = s d/ds) written into grad[i] (zero elsewhere in the row)."""
    for k in range(3):
        grad[i, k] = 0.0
    r = scales[i, top] / max(scales[i, other], 1e-8)
    if r <= max_ratio:
        return 0.0
    grad[i, top] = r * inv_n
    if scales[i, other] > 1e-8:  # the clamp passes no gradient
        grad[i, other] = -r * inv_n
    return r - max_ratio


@njit(cache=True, nogil=True)
def shape_terms(scales, opacities, needle_max, aniso_max, out, g_opacity, g_scale, g_needle,
                g_aniso):
    """Values and gradients of the mean-opacity, mean-scale, needle and anisotropy terms.

    Args:
        scales: [N, 3] exp(log_scales); opacities: [N] sigmoid(logits).
        needle_max, aniso_max: the ratios at which the needle and anisotropy penalties start.
        out: [4] float64 output: the four terms, unweighted means.
        g_opacity: [N] output, d(opacity term) / d logits.
        g_scale, g_needle, g_aniso: [N, 3] outputs, d(term) / d log_scales.
    """
    n = scales.shape[0]
    inv_n = 1.0 / n
    third = inv_n / 3.0
    acc_o = 0.0
    acc_s = 0.0
    acc_n = 0.0
    acc_a = 0.0
    for i in range(n):
        sig = opacities[i]
        acc_o += sig
        g_opacity[i] = sig * (1.0 - sig) * inv_n
        s0, s1, s2 = scales[i, 0], scales[i, 1], scales[i, 2]
        acc_s += s0 + s1 + s2
        # d exp(x) / dx = exp(x): the scale's own value
        g_scale[i, 0] = s0 * third
        g_scale[i, 1] = s1 * third
        g_scale[i, 2] = s2 * third
        hi, mid, lo = _order3(s0, s1, s2)
        acc_n += _ratio_excess(scales, i, hi, mid, needle_max, inv_n, g_needle)
        acc_a += _ratio_excess(scales, i, hi, lo, aniso_max, inv_n, g_aniso)
    out[0] = acc_o * inv_n
    out[1] = acc_s * third
    out[2] = acc_n * inv_n
    out[3] = acc_a * inv_n


@njit(cache=True, nogil=True)
def combine_scale_grads(g_scale, g_needle, g_aniso, a, b, c, out):
    """out = a g_scale + b g_needle + c g_aniso ([N, 3] each): the backward of the three scale
    terms for upstream gradients a, b, c."""
    for i in range(g_scale.shape[0]):
        for k in range(3):
            out[i, k] = a * g_scale[i, k] + b * g_needle[i, k] + c * g_aniso[i, k]
