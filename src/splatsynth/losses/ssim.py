"""Fused SSIM: the loss's forward and analytic backward in numba (about 10x kornia's grouped
convolutions on one CPU thread), with kornia's ``ssim`` as its reference in the tests.

Same definition as kornia / MATLAB: 11-tap Gaussian window (sigma 1.5), C1 = 0.01^2,
C2 = 0.03^2, the map over the "valid" region (no padding), averaged.
"""

from __future__ import annotations

import numpy as np
import torch

from ..threads import run_parallel

_WINDOWS: dict[tuple[int, float, np.dtype], np.ndarray] = {}


def _window(size: int, sigma: float, dtype) -> np.ndarray:
    key = (size, sigma, np.dtype(dtype))
    if key not in _WINDOWS:
        x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
        w = np.exp(-(x**2) / (2.0 * sigma**2))
        _WINDOWS[key] = (w / w.sum()).astype(dtype)
    return _WINDOWS[key]


class _FusedSSIM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pred, target, window_size, c1, c2, eps):
        from . import _ssim_kernels as K

        x = pred.detach().permute(2, 0, 1).contiguous().numpy()
        y = target.detach().permute(2, 0, 1).contiguous().numpy()
        w = _window(window_size, 1.5, x.dtype)
        C, H, W = x.shape
        shape = (C, H - window_size + 1, W - window_size + 1)
        maps = [np.empty(shape, dtype=x.dtype) for _ in range(6)]
        consts = (x.dtype.type(c1), x.dtype.type(c2), x.dtype.type(eps))
        # channels are independent: one per task, on the kernels' thread pool
        run_parallel(K.ssim_forward, [(x[c:c + 1], y[c:c + 1], w, *consts,
                                       *(m[c:c + 1] for m in maps)) for c in range(C)])
        ctx.saved = (x, y, w, c1, c2, eps, maps[1:])
        ctx.n = maps[0].size
        return torch.as_tensor(maps[0].mean(dtype=np.float64), dtype=pred.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        from . import _ssim_kernels as K

        x, y, w, c1, c2, eps, moments = ctx.saved
        g = np.full(moments[0].shape, float(grad_out) / ctx.n, dtype=x.dtype)
        grad = np.empty_like(x)
        consts = (x.dtype.type(c1), x.dtype.type(c2), x.dtype.type(eps))
        run_parallel(K.ssim_backward, [(x[c:c + 1], y[c:c + 1], w, *consts, g[c:c + 1],
                                        *(m[c:c + 1] for m in moments), grad[c:c + 1])
                                       for c in range(x.shape[0])])
        return torch.from_numpy(grad).permute(1, 2, 0), None, None, None, None, None


def fused_ssim(pred: torch.Tensor, target: torch.Tensor, window_size: int = 11,
               eps: float = 1e-12) -> torch.Tensor:
    """Mean SSIM of two CPU images, differentiable with respect to ``pred`` only.

    Args:
        pred: [H, W, C] float32 or float64 (H, W >= window_size).
        target: [H, W, C], same dtype; treated as a constant.
    Returns:
        scalar tensor, the mean of the valid-region SSIM map.
    """
    if pred.shape != target.shape or pred.ndim != 3:
        raise ValueError(f"fused_ssim: expected two [H, W, C] images, got {tuple(pred.shape)} "
                         f"and {tuple(target.shape)}")
    if min(pred.shape[:2]) < window_size:
        raise ValueError(f"fused_ssim: images of {tuple(pred.shape[:2])} are smaller than the "
                         f"{window_size}-pixel window")
    return _FusedSSIM.apply(pred, target.to(pred.dtype), window_size, 0.01**2, 0.03**2, eps)
