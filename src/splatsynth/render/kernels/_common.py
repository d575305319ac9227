"""Pieces shared by the numba kernels: tile size, the typed-constant table, a vectorizable exp.

Numba promotes ``float32 op float64-literal`` to float64, which would silently turn the float32
kernels into float64 ones (and stop them vectorizing at 16 lanes). Kernels therefore read every
floating constant from a small array of the working dtype (``consts``) instead of literals.
"""

from __future__ import annotations

import math

import numpy as np
from numba import types
from numba.extending import overload

TILE = 16
"""Tile edge in pixels; one tile row is one AVX-512 float32 vector."""

TILE_PIX = TILE * TILE

ALPHA_MAX = 0.99
ALPHA_MIN = 1.0 / 255.0
T_MIN = 1e-4
POWER_MAX = 6.0
"""exp(-6) < 1/255, so clamping the Gaussian's power at 6 never changes a kept alpha; it keeps
the polynomial exp in range and avoids denormals."""

# Slots of the consts table.
C_HALF, C_ONE, C_ZERO, C_AMAX, C_AMIN, C_TMIN, C_PMAX, C_NEAR, C_FAR, C_EPS2D, C_TWO = range(11)
C_LOGINV = 11  # ln(1 / ALPHA_MIN) = ln 255
C_CLIP, C_WF, C_HF = 12, 13, 14  # frustum clip margin (x tan(fov/2)), image size as floats
C_RMARGIN, C_XMARGIN = 15, 16  # slack of the row-range test, in power units and in pixels
C_HUGE = 17  # a float above any tile-list index
N_CONSTS = 18

# fastmath: only 'contract' (a * b + c as one fused multiply-add). It changes results by
# rounding only, the same way on every run and thread count of an FMA-capable CPU, and the
# 2DGS forward is 10-20% slower without it (thread CPU time, 20k-50k Gaussians at 512x512).
# Left off: 'reassoc' lets LLVM reorder sums by vector width, CPU model and code layout (results
# then differ across CPUs); 'nnan'/'ninf' would let it fold away the NaN-safe culling tests.
KERNEL_OPTS = dict(cache=True, error_model="numpy", fastmath={"contract"}, nogil=True)
"""numba.njit options of the top-level kernels (helpers are inlined into them)."""

NUM_CHUNKS = 64
"""Fixed work split for reductions over Gaussians: independent of the thread count, so every
run sums in the same order and gradients are bit-identical."""


def make_consts(
    dtype: np.dtype, near: float, far: float, eps2d: float, width: int, height: int
) -> np.ndarray:
    """[N_CONSTS] table of the kernel constants in ``dtype``."""
    c = np.zeros(N_CONSTS, dtype=dtype)
    c[C_HALF], c[C_ONE], c[C_ZERO], c[C_TWO] = 0.5, 1.0, 0.0, 2.0
    c[C_AMAX], c[C_AMIN], c[C_TMIN], c[C_PMAX] = ALPHA_MAX, ALPHA_MIN, T_MIN, POWER_MAX
    c[C_NEAR], c[C_FAR], c[C_EPS2D] = near, far, eps2d
    c[C_LOGINV] = math.log(255.0)
    c[C_CLIP], c[C_WF], c[C_HF] = 0.3, width, height
    c[C_RMARGIN], c[C_XMARGIN] = 1e-3, 0.05
    c[C_HUGE] = 1e30
    return c


def exp_neg(p):  # pragma: no cover - replaced by the overload inside jitted code
    """exp(-p) for p in [0, POWER_MAX] (jitted code only)."""
    return math.exp(-p)


def _exp_coeffs(degree: int) -> list[float]:
    """Monomial coefficients of the Chebyshev interpolant of exp(-x) on [0, 0.375]."""
    from numpy.polynomial import chebyshev, polynomial

    c = chebyshev.Chebyshev.interpolate(lambda x: np.exp(-x), degree, domain=[0.0, 0.375])
    return [float(v) for v in c.convert(kind=polynomial.Polynomial).coef]


# exp(-p) = exp(-p/16)^16: a short polynomial on [0, 0.375] then four squarings. Pure
# arithmetic, so LLVM vectorizes it (numba has no SVML here). Relative error over p in [0, 6]:
# 1.6e-6 in float32 (its rounding, amplified 16x by the squarings), 2e-14 in float64.
_EXP32 = _exp_coeffs(5)
_EXP64 = _exp_coeffs(9)


@overload(exp_neg, inline="always")
def _exp_neg_impl(p):
    if isinstance(p, types.Float) and p.bitwidth == 32:
        c0, c1, c2, c3, c4, c5 = (np.float32(v) for v in _EXP32)
        s = np.float32(1.0 / 16.0)

        def impl32(p):
            x = p * s
            y = c0 + x * (c1 + x * (c2 + x * (c3 + x * (c4 + x * c5))))
            y = y * y
            y = y * y
            y = y * y
            return y * y

        return impl32

    e0, e1, e2, e3, e4, e5, e6, e7, e8, e9 = _EXP64

    def impl64(p):
        x = p * 0.0625
        y = e8 + x * e9  # Horner, innermost first
        y = e7 + x * y
        y = e6 + x * y
        y = e5 + x * y
        y = e4 + x * y
        y = e3 + x * y
        y = e2 + x * y
        y = e1 + x * y
        y = e0 + x * y
        y = y * y
        y = y * y
        y = y * y
        return y * y

    return impl64
