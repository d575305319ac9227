"""Training losses: colour (L1 + SSIM), alpha-vs-mask, and light regularizers."""

from .image import alpha_mask_loss, l1_ssim_loss, ssim
from .regularizers import anisotropy_regularizer, opacity_regularizer, scale_regularizer

__all__ = ["l1_ssim_loss", "alpha_mask_loss", "ssim", "opacity_regularizer",
           "scale_regularizer", "anisotropy_regularizer"]
