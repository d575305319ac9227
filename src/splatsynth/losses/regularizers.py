"""Light regularizers (3DGS-MCMC): they keep unneeded Gaussians relocatable and small."""

from __future__ import annotations

import torch


def opacity_regularizer(opacities: torch.Tensor) -> torch.Tensor:
    """Mean opacity of [N] activated opacities: drives unused Gaussians towards transparency."""
    return opacities.mean() if opacities.numel() else opacities.sum()


def scale_regularizer(scales: torch.Tensor) -> torch.Tensor:
    """Mean activated scale of [N, 3] scales: discourages large blurry Gaussians."""
    return scales.mean() if scales.numel() else scales.sum()


def anisotropy_regularizer(scales: torch.Tensor, max_ratio: float = 10.0) -> torch.Tensor:
    """Mean excess of each Gaussian's longest-to-shortest axis ratio over ``max_ratio``.

    Sparse views leave needle-shaped Gaussians unpunished when every training view sees them
    end-on; from a novel view they become spikes on the silhouette.

    Args:
        scales: [N, 3] activated scales.
    """
    if not scales.numel():
        return scales.sum()
    ratio = scales.max(-1).values / scales.min(-1).values.clamp_min(1e-8)
    return torch.relu(ratio - max_ratio).mean()


def needle_regularizer(scales: torch.Tensor, max_ratio: float = 3.0) -> torch.Tensor:
    """Mean excess of each Gaussian's longest-to-middle axis ratio over ``max_ratio``.

    A surface is tiled by discs (two long axes, one short); a needle (one long axis) is what
    sparse views leave where every view that sees it sees it end-on or along a fur stroke, and
    between the cameras it renders as a streak across the outline. Discs and balls cost
    nothing here, unlike :func:`anisotropy_regularizer`, which also flattens discs.

    Args:
        scales: [N, 3] activated scales.
    Returns:
        Scalar: mean of relu(longest / middle - max_ratio).
    """
    if not scales.numel():
        return scales.sum()
    s = scales.sort(-1).values
    return torch.relu(s[:, 2] / s[:, 1].clamp_min(1e-8) - max_ratio).mean()
