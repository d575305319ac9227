"""Light regularizers (3DGS-MCMC): they keep unneeded Gaussians relocatable and small."""

from __future__ import annotations

import torch


def opacity_regularizer(opacities: torch.Tensor) -> torch.Tensor:
    """Mean opacity of [N] activated opacities: drives unused Gaussians towards transparency."""
    return opacities.mean() if opacities.numel() else opacities.sum()


def scale_regularizer(scales: torch.Tensor) -> torch.Tensor:
    """Mean activated scale of [N, 3] scales: discourages large blurry Gaussians."""
    return scales.mean() if scales.numel() else scales.sum()
