"""PSNR (full and masked), SSIM and silhouette IoU.

Masked PSNR is computed over the union of the reference and rendered silhouettes, so both a
missing part and a floater outside the subject count, while the empty background (which any
render gets right) does not inflate the score.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..losses.image import ssim as _library_ssim
from ..losses.ssim import fused_ssim


def _mse_to_psnr(mse: float) -> float:
    return float("inf") if mse <= 0 else -10.0 * math.log10(mse)


def psnr(pred: np.ndarray, target: np.ndarray) -> float:
    """PSNR in dB of [H, W, 3] images in [0, 1]."""
    return _mse_to_psnr(float(np.mean((np.asarray(pred, np.float64) - target) ** 2)))


def masked_psnr(pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    """PSNR in dB over the pixels where ``mask`` [H, W] is true (NaN for an empty mask)."""
    m = np.asarray(mask, bool)
    if not m.any():
        return float("nan")
    diff = (np.asarray(pred, np.float64) - target)[m]
    return _mse_to_psnr(float(np.mean(diff**2)))


def ssim_value(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean SSIM of [H, W, 3] images in [0, 1] (11x11 Gaussian window, valid region; the fused
    kernel, which the tests hold to kornia's SSIM)."""
    a = torch.as_tensor(np.ascontiguousarray(pred), dtype=torch.float32)
    b = torch.as_tensor(np.ascontiguousarray(target), dtype=torch.float32)
    with torch.no_grad():
        if min(a.shape[:2]) < 11:  # below the window: kornia's padded form
            return float(_library_ssim(a, b))
        return float(fused_ssim(a, b))


def silhouette_iou(alpha_pred: np.ndarray, mask_true: np.ndarray, threshold: float = 0.5
                   ) -> float:
    """Intersection over union of two [H, W] silhouettes thresholded at ``threshold``
    (1.0 when both are empty)."""
    a = np.asarray(alpha_pred) > threshold
    b = np.asarray(mask_true) > threshold
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


@dataclass(frozen=True)
class ImageScores:
    """Scores of one rendered view against its reference."""

    psnr: float
    psnr_masked: float
    ssim: float
    iou: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def score_view(rgb: np.ndarray, alpha: np.ndarray, gt_rgb: np.ndarray,
               gt_mask: np.ndarray | None, background: tuple[float, float, float] = (1, 1, 1)
               ) -> ImageScores:
    """Score a render against a reference view, both composited over ``background``.

    Args:
        rgb: [H, W, 3] rendered colour already composited over ``background``.
        alpha: [H, W] rendered opacity.
        gt_rgb: [H, W, 3] reference colour (straight, i.e. not premultiplied).
        gt_mask: [H, W] reference foreground, or None (then the whole frame counts).
    """
    bg = np.asarray(background, np.float32)
    if gt_mask is None:
        target = gt_rgb
        union = np.ones(alpha.shape, bool)
        iou = float("nan")
    else:
        m = gt_mask[..., None]
        target = gt_rgb * m + bg * (1 - m)
        union = (gt_mask > 0.5) | (alpha > 0.5)
        iou = silhouette_iou(alpha, gt_mask)
    return ImageScores(psnr=psnr(rgb, target), psnr_masked=masked_psnr(rgb, target, union),
                       ssim=ssim_value(rgb, target), iou=iou)
