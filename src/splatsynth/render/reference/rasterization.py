"""Tile compositing in plain torch (reference for ``render/kernels/raster.py``).

Front-to-back over each tile's depth-sorted Gaussians, written as one dense [pairs, tile
pixels] problem: transmittance is a per-tile cumulative product, computed as a segmented
cumulative sum of log(1 - alpha) in float64 so it stays exact across tile boundaries. Its tiles
are 8x8 (the kernels use 16x16): a Gaussian's screen box bounds its alpha >= 1/255 pixels
exactly, so the tiling changes the work but not the result.
"""

from __future__ import annotations

import math

import torch

from .tiles import segment_exclusive_cumsum, tile_pairs

_TILE = 8
_ALPHA_MAX = 0.99
_ALPHA_MIN = 1.0 / 255.0
_T_MIN = 1e-4


def rasterize_to_pixels(
    means2d: torch.Tensor,
    conics: torch.Tensor,
    colors: torch.Tensor,
    opacities: torch.Tensor,
    depths: torch.Tensor,
    radii: torch.Tensor,
    width: int,
    height: int,
    *,
    backgrounds: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Composite projected Gaussians front to back into C images.

    alpha = min(0.99, o * exp(-power)); alphas below 1/255 are skipped; a pixel stops before
    the Gaussian that would take its transmittance below 1e-4. Depth order with ties broken by
    Gaussian index.

    Args:
        means2d: [C, N, 2]; conics: [C, N, 3]; colors: [C, N, 3]; opacities: [N];
        depths: [C, N]; radii: [C, N, 2] int (0 = culled); width, height: image size.
        backgrounds: [C, 3] or None (black).
    Returns:
        rgb [C, H, W, 3] (over the background), accumulated depth [C, H, W, 1] (not divided
        by alpha), alpha [C, H, W, 1].
    """
    C = means2d.shape[0]
    dev, dt = means2d.device, means2d.dtype
    npix = C * height * width
    pc, pg, px, py, inside, pix, seg_first = tile_pairs(means2d, radii, depths, width, height,
                                                        _TILE)
    dx = (px.to(dt) + 0.5) - means2d[pc, pg, 0][:, None]
    dy = (py.to(dt) + 0.5) - means2d[pc, pg, 1][:, None]
    con = conics[pc, pg]
    power = 0.5 * (con[:, 0:1] * dx * dx + con[:, 2:3] * dy * dy) + con[:, 1:2] * dx * dy
    alpha = torch.clamp(opacities[pg][:, None] * torch.exp(-power), max=_ALPHA_MAX)
    keep = inside & (power >= 0) & (alpha >= _ALPHA_MIN)
    a = torch.where(keep, alpha, torch.zeros_like(alpha))
    l1m = torch.log1p(-a).double()
    log_t_before = segment_exclusive_cumsum(l1m, seg_first)
    # a pixel stops before the Gaussian that would take T below 1e-4, and T only falls, so the
    # Gaussians kept form a prefix of each tile's list: T before a kept one is log_t_before
    with torch.no_grad():
        alive = (log_t_before + l1m) >= math.log(_T_MIN)
    w = (torch.where(alive, a, torch.zeros_like(a)) * torch.exp(log_t_before).to(dt))
    l1m = torch.where(alive, l1m, torch.zeros_like(l1m))

    flat = pix.reshape(-1)
    rgb = torch.zeros(npix, 3, dtype=dt, device=dev).index_add(
        0, flat, (w[..., None] * colors[pc, pg][:, None, :]).reshape(-1, 3)
    )
    dacc = torch.zeros(npix, dtype=dt, device=dev).index_add(
        0, flat, (w * depths[pc, pg][:, None]).reshape(-1)
    )
    log_t = torch.zeros(npix, dtype=torch.float64, device=dev).index_add(0, flat, l1m.reshape(-1))
    T = torch.exp(log_t).to(dt).reshape(C, height, width, 1)
    rgb = rgb.reshape(C, height, width, 3)
    if backgrounds is not None:
        rgb = rgb + T * backgrounds[:, None, None, :]
    return rgb, dacc.reshape(C, height, width, 1), 1 - T
