"""Light regularizers (3DGS-MCMC): they keep unneeded Gaussians relocatable and small."""

from __future__ import annotations

import numpy as np
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


#: The terms of :func:`shape_regularizers`, in the order it returns them.
SHAPE_TERMS = ("opacity", "scale", "needle", "aniso")


class _ShapeTerms(torch.autograd.Function):
    @staticmethod
    def forward(ctx, log_scales, opacity_logits, needle_max, aniso_max):
        from ._regularizer_kernels import shape_terms

        with torch.no_grad():
            scales = torch.exp(log_scales).numpy()
            opac = torch.sigmoid(opacity_logits.reshape(-1)).numpy()
        n = scales.shape[0]
        out = np.zeros(4, np.float64)
        g_o = np.empty(n, scales.dtype)
        g_s, g_n, g_a = (np.empty((n, 3), scales.dtype) for _ in range(3))
        shape_terms(scales, opac, needle_max, aniso_max, out, g_o, g_s, g_n, g_a)
        ctx.grads = (torch.from_numpy(g_o).view(opacity_logits.shape), g_s, g_n, g_a)
        return torch.from_numpy(out).to(log_scales.dtype)

    @staticmethod
    def backward(ctx, g):
        from ._regularizer_kernels import combine_scale_grads

        g_o, g_s, g_n, g_a = ctx.grads
        g = g.to(g_o.dtype)
        g_ls = np.empty_like(g_s)
        combine_scale_grads(g_s, g_n, g_a, float(g[1]), float(g[2]), float(g[3]), g_ls)
        return torch.from_numpy(g_ls), g_o * g[0], None, None


def shape_regularizers(log_scales: torch.Tensor, opacity_logits: torch.Tensor,
                       needle_max_ratio: float = 3.0, aniso_max_ratio: float = 10.0
                       ) -> dict[str, torch.Tensor]:
    """The four regularizers above from the raw parameters, in one pass.

    Args:
        log_scales: [N, 3]; opacity_logits: [N] or [N, 1] (float32 or float64, CPU).
        needle_max_ratio, aniso_max_ratio: as :func:`needle_regularizer` and
            :func:`anisotropy_regularizer` take them.
    Returns:
        :data:`SHAPE_TERMS` -> scalar: ``opacity_regularizer(sigmoid(opacity_logits))``,
        ``scale_regularizer(exp(log_scales))``, and the needle and anisotropy terms of
        ``exp(log_scales)``; a numba kernel on the CPU, these functions elsewhere (the tests
        hold the two together, values and gradients).
    """
    fused = (log_scales.device.type == "cpu" and opacity_logits.device.type == "cpu"
             and log_scales.dim() == 2 and log_scales.shape[1] == 3 and log_scales.shape[0] > 0
             and log_scales.dtype in (torch.float32, torch.float64)
             and opacity_logits.dtype == log_scales.dtype
             and opacity_logits.numel() == log_scales.shape[0])
    if not fused:
        scales = torch.exp(log_scales)
        return {"opacity": opacity_regularizer(torch.sigmoid(opacity_logits)),
                "scale": scale_regularizer(scales),
                "needle": needle_regularizer(scales, needle_max_ratio),
                "aniso": anisotropy_regularizer(scales, aniso_max_ratio)}
    values = _ShapeTerms.apply(log_scales, opacity_logits, float(needle_max_ratio),
                               float(aniso_max_ratio))
    return dict(zip(SHAPE_TERMS, values.unbind(0)))
