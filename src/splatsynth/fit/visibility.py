"""Which Gaussians the training views actually see.

A Gaussian's contribution to a view is d(sum of rendered alpha)/d(its opacity): the
transmittance-weighted footprint it covers, in pixels. Autograd through the same rasterizer
gives it exactly, for the cost of one forward and backward pass per view.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch


def view_contributions(raster: Callable, params: dict, viewmats: Sequence[torch.Tensor],
                       Ks: Sequence[torch.Tensor], sizes: Sequence[tuple[int, int]],
                       sh: torch.Tensor, sh_degree: int) -> torch.Tensor:
    """Summed contribution of each Gaussian over the given views.

    Args:
        raster: ``rasterize`` or ``rasterize_surfels``.
        params: the fit's parameter dict (means, quats, log_scales, opacity_logits, ...).
        viewmats: per view [4, 4] w2c; Ks: per view [3, 3]; sizes: per view (w, h).
        sh: [N, K, 3] colour coefficients; sh_degree: their degree.
    Returns:
        [N] pixels' worth of opacity each Gaussian adds over all views (0 = never seen).
    """
    opac = torch.sigmoid(params["opacity_logits"].detach()).requires_grad_(True)
    means = params["means"].detach()
    quats = params["quats"].detach()
    scales = torch.exp(params["log_scales"].detach())
    total = torch.zeros_like(opac)
    for w2c, K, (w, h) in zip(viewmats, Ks, sizes):
        out = raster(means, quats, scales, opac, sh.detach(), w2c[None], K[None], w, h,
                     sh_degree=sh_degree)
        (g,) = torch.autograd.grad(out.alphas.sum(), opac)
        total += g
    return total


#: A Gaussian adding less opacity than this, in full-resolution pixels summed over every
#: training view, counts as unseen.
UNSEEN_PIXELS = 1e-2


def unseen_mask(contributions: torch.Tensor, factor: float = 1.0) -> torch.Tensor:
    """[N] bool: Gaussians whose summed contribution (from :func:`view_contributions`, measured
    on views ``factor`` times smaller than the full-resolution ones) is under
    :data:`UNSEEN_PIXELS` full-resolution pixels."""
    return contributions * factor**2 < UNSEEN_PIXELS
