"""Result types shared by the fast path and the reference."""

from __future__ import annotations

from typing import NamedTuple

import torch


class Projected(NamedTuple):
    """Gaussians projected into C cameras (entries with ``radii == 0`` are culled).

    Attributes:
        means2d: [C, N, 2] pixel centres (top-left image corner at (0, 0)).
        conics: [C, N, 3] inverse 2D covariance (a, b, c) of [[a, b], [b, c]].
        depths: [C, N] camera-frame z.
        colors: [C, N, 3] view-dependent colour.
        radii: [C, N, 2] int32 screen half-extents in x and y (0 = culled).
    """

    means2d: torch.Tensor
    conics: torch.Tensor
    depths: torch.Tensor
    colors: torch.Tensor
    radii: torch.Tensor


class RenderOut(NamedTuple):
    """What :func:`splatsynth.render.rasterize` returns.

    Attributes:
        colors: [C, H, W, 3] RGB over the background, or [C, H, W, 4] with
            ``render_mode="RGB+ED"`` (last channel: expected depth, i.e. alpha-normalized).
        alphas: [C, H, W, 1] accumulated opacity (1 - final transmittance).
        radii: [C, N] int32 screen radius in pixels (max of the x and y half-extents);
            0 where the Gaussian is culled (behind, outside near/far, off-screen, too faint).
        means2d: [C, N, 2] projected centres. On the numba and torch backends this tensor is
            part of the graph: ``out.means2d.retain_grad()`` before ``backward()`` gives the
            screen-space gradient used for densification (as with gsplat). May be None with
            the gsplat backend's packed modes.
    """

    colors: torch.Tensor
    alphas: torch.Tensor
    radii: torch.Tensor
    means2d: torch.Tensor | None
