"""numba kernels of the fused L1 loss: the sum of |x - y| and its gradient.

Images cross as rows of a flat array: element (i, j) of a [rows, cols] image sits at
``i * stride + j``, so a crop of a larger image (a row stride above cols) needs no copy.
"""

from __future__ import annotations

import numba as nb
import numpy as np

_OPTS = dict(nogil=True, cache=True, error_model="numpy")
LANES = 16
"""The sum runs in this many float64 lanes (lane l takes the columns j with j % 16 == l),
summed in lane order at the end: a fixed order on any CPU, and it vectorizes."""


@nb.njit(**_OPTS)
def l1_sum(x, xs, y, ys, cols, out, r0, r1):
    """out[r] = sum_j |x[r, j] - y[r, j]| in float64 for rows r0 <= r < r1."""
    lanes = np.empty(LANES, dtype=np.float64)
    full = cols - cols % LANES
    for r in range(r0, r1):
        bx = np.uint64(r * xs)  # unsigned indices: no negative-index fix-up, so it vectorizes
        by = np.uint64(r * ys)
        for m in range(LANES):
            lanes[m] = 0.0
        for j0 in range(0, full, LANES):
            jx = bx + np.uint64(j0)
            jy = by + np.uint64(j0)
            for m in range(np.uint64(LANES)):
                lanes[m] += abs(np.float64(x[jx + m]) - np.float64(y[jy + m]))
        for j in range(full, cols):
            jj = np.uint64(j)
            lanes[j - full] += abs(np.float64(x[bx + jj]) - np.float64(y[by + jj]))
        tot = 0.0
        for m in range(LANES):
            tot += lanes[m]
        out[r] = tot


@nb.njit(**_OPTS)
def l1_grad(x, xs, y, ys, cols, c, g, r0, r1):
    """g[r, j] = v * sign(x[r, j] - y[r, j]) for r0 <= r < r1, with c = [v, 1, -1, 0] in the
    images' dtype: the gradient of mean |x - y| times the upstream gradient (v = upstream /
    count), bit for bit what torch's autograd of ``(x - y).abs().mean()`` gives."""
    v, one, zero = c[0], c[1], c[3]
    gf = g.reshape(-1)
    for r in range(r0, r1):
        bx = np.uint64(r * xs)
        by = np.uint64(r * ys)
        bg = np.uint64(r * cols)
        for j in range(np.uint64(cols)):
            d = x[bx + j] - y[by + j]
            pos = one if d > zero else zero
            neg = one if d < zero else zero
            gf[bg + j] = v * (pos - neg)  # v * sign(d), as torch's abs backward
