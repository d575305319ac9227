"""Training losses: colour (L1 + SSIM), alpha-vs-mask, and light regularizers."""

from .image import alpha_mask_loss, l1_ssim_loss, ssim
from .l1 import fused_l1
from .regularizers import (
    SHAPE_TERMS,
    anisotropy_regularizer,
    needle_regularizer,
    opacity_regularizer,
    scale_regularizer,
    shape_regularizers,
)
from .ssim import fused_ssim
from .surfel import depth_distortion_loss, normal_consistency_loss, normals_from_depth

__all__ = ["SHAPE_TERMS", "fused_l1", "fused_ssim", "l1_ssim_loss", "alpha_mask_loss", "ssim",
           "opacity_regularizer", "scale_regularizer", "anisotropy_regularizer",
           "needle_regularizer", "shape_regularizers", "depth_distortion_loss",
           "normal_consistency_loss", "normals_from_depth"]
