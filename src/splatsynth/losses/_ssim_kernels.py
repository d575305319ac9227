"""numba kernels of the fused SSIM loss: forward moments and the analytic backward.

Arrays in, arrays out (no torch). Layout: images [C, H, W] contiguous; the SSIM map covers the
"valid" region [C, H - k + 1, W - k + 1] of a k-tap separable Gaussian window (MATLAB's SSIM).
"""

from __future__ import annotations

import numba as nb
import numpy as np

# No fastmath: these loops run as fast without it (thread CPU time, 512x512x3 forward +
# backward), and its 'reassoc' made the SSIM gradient depend on the CPU's vector width.
_OPTS = dict(nogil=True, cache=True, error_model="numpy")


@nb.njit(**_OPTS)
def _blur_valid(src, w, out):
    """Separable valid correlation of one channel: src [H, W] -> out [H-k+1, W-k+1]."""
    k = w.shape[0]
    H, W = src.shape
    Ho, Wo = H - k + 1, W - k + 1
    tmp = np.zeros((H, Wo), dtype=src.dtype)
    # Tap-outer, pixel-inner loops: the inner loop is a contiguous axpy that vectorizes.
    for i in range(H):
        for t in range(k):
            wt = w[t]
            for j in range(Wo):
                tmp[i, j] += wt * src[i, j + t]
    for i in range(Ho):
        for j in range(Wo):
            out[i, j] = 0.0
        for t in range(k):
            wt = w[t]
            for j in range(Wo):
                out[i, j] += wt * tmp[i + t, j]


@nb.njit(**_OPTS)
def _blur_full(src, w, out):
    """Adjoint of :func:`_blur_valid`: src [Ho, Wo] -> out [Ho+k-1, Wo+k-1] (scatter)."""
    k = w.shape[0]
    Ho, Wo = src.shape
    H, W = Ho + k - 1, Wo + k - 1
    tmp = np.zeros((H, Wo), dtype=src.dtype)
    for i in range(Ho):
        for t in range(k):
            wt = w[t]
            for j in range(Wo):
                tmp[i + t, j] += wt * src[i, j]
    for i in range(H):
        for j in range(W):
            out[i, j] = 0.0
        for t in range(k):
            wt = w[t]
            for j in range(Wo):
                out[i, j + t] += wt * tmp[i, j]


@nb.njit(**_OPTS)
def ssim_forward(x, y, w, c1, c2, eps, ssim_map, mu_x, mu_y, s_xx, s_yy, s_xy):
    """SSIM map and the moments the backward needs, per channel.

    Args:
        x, y: [C, H, W] prediction and target.
        w: [k] normalized 1-D Gaussian window.
        ssim_map, mu_x, mu_y, s_xx, s_yy, s_xy: [C, Ho, Wo] outputs.
    """
    C = x.shape[0]
    for c in range(C):
        xc, yc = x[c], y[c]
        _blur_valid(xc, w, mu_x[c])
        _blur_valid(yc, w, mu_y[c])
        _blur_valid(xc * xc, w, s_xx[c])
        _blur_valid(yc * yc, w, s_yy[c])
        _blur_valid(xc * yc, w, s_xy[c])
        mx, my, sxx, syy, sxy, out = mu_x[c], mu_y[c], s_xx[c], s_yy[c], s_xy[c], ssim_map[c]
        Ho, Wo = out.shape
        for i in range(Ho):
            for j in range(Wo):
                a, b = mx[i, j], my[i, j]
                vxx = sxx[i, j] - a * a
                vyy = syy[i, j] - b * b
                vxy = sxy[i, j] - a * b
                sxx[i, j], syy[i, j], sxy[i, j] = vxx, vyy, vxy
                num = (2.0 * a * b + c1) * (2.0 * vxy + c2)
                den = (a * a + b * b + c1) * (vxx + vyy + c2)
                out[i, j] = num / (den + eps)


@nb.njit(**_OPTS)
def ssim_backward(x, y, w, c1, c2, eps, grad_map, mu_x, mu_y, v_xx, v_yy, v_xy, grad_x):
    """Gradient of sum(grad_map * ssim_map) with respect to x ([C, H, W] into grad_x)."""
    C, H, W = x.shape
    Ho, Wo = grad_map.shape[1], grad_map.shape[2]
    m1 = np.empty((Ho, Wo), dtype=x.dtype)
    m2 = np.empty((Ho, Wo), dtype=x.dtype)
    m3 = np.empty((Ho, Wo), dtype=x.dtype)
    t1 = np.empty((H, W), dtype=x.dtype)
    t2 = np.empty((H, W), dtype=x.dtype)
    t3 = np.empty((H, W), dtype=x.dtype)
    for c in range(C):
        mx, my, vxx, vyy, vxy, g = mu_x[c], mu_y[c], v_xx[c], v_yy[c], v_xy[c], grad_map[c]
        for i in range(Ho):
            for j in range(Wo):
                a, b = mx[i, j], my[i, j]
                A1 = 2.0 * a * b + c1
                A2 = 2.0 * vxy[i, j] + c2
                B1 = a * a + b * b + c1
                B2 = vxx[i, j] + vyy[i, j] + c2
                D = B1 * B2 + eps
                S = A1 * A2 / D
                gm = g[i, j]
                # dS/dmu_x, dS/dvar_x, dS/dcov at fixed other moments
                d_mu = (2.0 * b * A2 - S * 2.0 * a * B2) / D
                d_vxx = -S * B1 / D
                d_vxy = 2.0 * A1 / D
                # var_x = E[x^2] - mu_x^2 and cov = E[xy] - mu_x mu_y fold into E-terms:
                m1[i, j] = gm * (d_mu - 2.0 * a * d_vxx - b * d_vxy)
                m2[i, j] = gm * d_vxx
                m3[i, j] = gm * d_vxy
        _blur_full(m1, w, t1)
        _blur_full(m2, w, t2)
        _blur_full(m3, w, t3)
        xc, yc, gx = x[c], y[c], grad_x[c]
        for i in range(H):
            for j in range(W):
                gx[i, j] = t1[i, j] + 2.0 * xc[i, j] * t2[i, j] + yc[i, j] * t3[i, j]
