"""Image losses: L1 + SSIM (the fused kernel of :mod:`.ssim` on the CPU; kornia's SSIM, its
reference, on CUDA and for images smaller than the window) and the alpha-vs-mask loss."""

from __future__ import annotations

import torch
from kornia.metrics import ssim as _kornia_ssim

from .l1 import fused_l1
from .ssim import fused_ssim


def ssim(pred: torch.Tensor, target: torch.Tensor, window_size: int = 11) -> torch.Tensor:
    """Mean SSIM of two images.

    Args:
        pred, target: [H, W, 3] or [B, H, W, 3] in [0, 1].
    Returns:
        scalar mean SSIM (11x11 Gaussian window, sigma 1.5, as 3DGS uses).
    """
    if pred.ndim == 3:
        pred, target = pred[None], target[None]
    a = pred.permute(0, 3, 1, 2)
    b = target.permute(0, 3, 1, 2)
    return _kornia_ssim(a, b, window_size, padding="valid" if min(a.shape[-2:]) > window_size
                        else "same").mean()


def l1_ssim_loss(pred: torch.Tensor, target: torch.Tensor, ssim_lambda: float = 0.2
                 ) -> torch.Tensor:
    """(1 - lambda) L1 + lambda (1 - SSIM) of [H, W, 3] images (SPEC section 5).

    On the CPU both terms are fused numba kernels: the L1's gradient is torch's bit for bit,
    the SSIM's values and gradients are kornia's (the tests hold them to it).
    """
    l1 = fused_l1(pred, target)
    if ssim_lambda <= 0:
        return l1
    small = min(pred.shape[:2]) < 11
    s = ssim(pred, target) if pred.is_cuda or small else fused_ssim(pred, target)
    return (1.0 - ssim_lambda) * l1 + ssim_lambda * (1.0 - s)


def alpha_mask_loss(alpha: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between rendered opacity and the foreground mask.

    Args:
        alpha: [H, W] or [H, W, 1] rendered opacity.
        mask: [H, W] foreground in [0, 1].
    """
    return (alpha.reshape(mask.shape) - mask).abs().mean()
