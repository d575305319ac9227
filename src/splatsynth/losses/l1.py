"""Fused L1 loss: mean |pred - target| in two numba passes over the pixels (torch's version
runs five elementwise ops over the image, on one thread inside a fit), with the same gradient
bit for bit.

The images may be crops of larger ones (a row stride above the row's length): the kernels read
them in place.
"""

from __future__ import annotations

import numpy as np
import torch

from ..threads import get_num_threads, pooled, run_parallel

ROW_CHUNKS = 16
"""Fixed row chunks of the work: the sum runs in the same order for any thread count."""


def _rows(t: torch.Tensor) -> tuple[np.ndarray, int, int, int] | None:
    """(flat array, row stride, rows, cols) reading the [..., H, W, C] image ``t`` (leading
    dims of size 1) as H rows of W * C values, without a copy when its pixels are packed;
    None for other shapes."""
    if t.dim() < 3 or any(s != 1 for s in t.shape[:-3]):
        return None
    t = t.detach().reshape(t.shape[-3:]) if t.dim() > 3 else t.detach()
    h, w, c = t.shape
    if h == 0 or w * c == 0:
        return None
    if t.stride(2) != 1 or (w > 1 and t.stride(1) != c) or t.stride(0) < w * c:
        t = t.contiguous()
    stride = t.stride(0) if h > 1 else w * c
    flat = torch.as_strided(t, ((h - 1) * stride + w * c,), (1,), t.storage_offset())
    return flat.numpy(), stride, h, w * c


def _split(rows: int) -> list[tuple[int, int]]:
    parts = min(rows, ROW_CHUNKS)
    return [(k * rows // parts, (k + 1) * rows // parts) for k in range(parts)]


class _FusedL1(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pred, target, xr, yr):
        from . import _l1_kernels as K

        x, xs, rows, cols = xr
        y, ys = yr[0], yr[1]
        part = np.zeros(rows, dtype=np.float64)
        threads = get_num_threads() if rows * cols >= 65536 else 1
        run_parallel(K.l1_sum, [(x, xs, y, ys, cols, part, r0, r1) for r0, r1 in _split(rows)],
                     threads)
        ctx.rows = (xr, yr, threads)
        ctx.shape = pred.shape
        return torch.tensor(part.sum() / (rows * cols), dtype=pred.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        from . import _l1_kernels as K

        (x, xs, rows, cols), (y, ys, _, _), threads = ctx.rows
        g = pooled("l1_grad", (rows, cols), x.dtype)  # every element written
        n = rows * cols
        c = np.array([float(grad_out), 1.0, -1.0, 0.0], dtype=x.dtype)
        c[0] = c[0] / x.dtype.type(n)  # in the images' dtype, as torch's mean backward
        run_parallel(K.l1_grad, [(x, xs, y, ys, cols, c, g, r0, r1)
                                 for r0, r1 in _split(rows)], threads)
        return torch.from_numpy(g).view(ctx.shape), None, None, None


def fused_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of two CPU images, differentiable with respect to ``pred``.

    Args:
        pred, target: [..., H, W, C] (leading dims of size 1), same shape and dtype; crops of
            larger images are read in place. Other shapes fall back to torch's ops.
    Returns:
        scalar tensor; its gradient equals the one of ``(pred - target).abs().mean()`` bit for
        bit (the value itself is summed in float64, so it may differ in the last bit).
    """
    if pred.shape != target.shape:
        raise ValueError(f"fused_l1: shapes differ: {tuple(pred.shape)} vs "
                         f"{tuple(target.shape)}")
    target = target.to(pred.dtype)
    xr = _rows(pred) if pred.device.type == "cpu" and target.device.type == "cpu" else None
    yr = _rows(target) if xr is not None else None
    if xr is None or yr is None or pred.dtype not in (torch.float32, torch.float64):
        return (pred - target).abs().mean()
    return _FusedL1.apply(pred, target, xr, yr)
