"""Build a Gaussian set from points: the last step of every initialisation."""

from __future__ import annotations

import math

import numpy as np
import torch

from .model import Gaussians
from .sh import num_sh_coeffs, sh_dc_from_rgb


def gaussians_from_points(points: np.ndarray, colors: np.ndarray, scales: np.ndarray,
                          sh_degree: int, opacity: float = 0.5) -> Gaussians:
    """Isotropic Gaussians at ``points``.

    Args:
        points: [N, 3] centres.
        colors: [N, 3] RGB in [0, 1] (the view-independent colour).
        scales: [N] isotropic scale per point (world units).
        sh_degree: SH degree of the colour coefficients (higher orders start at zero).
        opacity: initial opacity of every Gaussian.
    Returns:
        float32 :class:`Gaussians`.
    """
    n = points.shape[0]
    sh = torch.zeros(n, num_sh_coeffs(sh_degree), 3)
    sh[:, 0] = sh_dc_from_rgb(torch.as_tensor(np.clip(colors, 0.0, 1.0), dtype=torch.float32))
    quats = torch.zeros(n, 4)
    quats[:, 0] = 1.0
    log_s = torch.log(torch.as_tensor(np.maximum(scales, 1e-6), dtype=torch.float32))
    return Gaussians(
        means=torch.as_tensor(points, dtype=torch.float32).clone(),
        quats_wxyz=quats,
        log_scales=log_s[:, None].repeat(1, 3),
        opacity_logits=torch.full((n,), math.log(opacity / (1.0 - opacity))),
        sh=sh,
    )


def random_in_ball(n: int, radius: float, rng: np.random.Generator) -> np.ndarray:
    """[n, 3] points uniform in a ball of ``radius`` about the origin."""
    d = rng.normal(size=(n, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True) + 1e-12
    r = radius * rng.random(n) ** (1.0 / 3.0)
    return d * r[:, None]
