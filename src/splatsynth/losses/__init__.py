"""Training losses: colour (L1 + SSIM), alpha-vs-mask, and light regularizers."""

from .image import alpha_mask_loss, l1_ssim_loss, ssim
from .regularizers import anisotropy_regularizer, opacity_regularizer, scale_regularizer
from .ssim import fused_ssim

__all__ = ["fused_ssim", "l1_ssim_loss", "alpha_mask_loss", "ssim", "opacity_regularizer",
           "scale_regularizer", "anisotropy_regularizer"]
