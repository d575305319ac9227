"""Fast tile compositing: numba forward and backward behind an autograd seam.

Twin of :func:`splatsynth.render.reference.rasterize_to_pixels` (same signature and maths).
"""

from __future__ import annotations

import torch

from ._autograd import RasterFn


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
    with_depth: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Composite projected Gaussians front to back into C images (numba, CPU).

    Arguments and results as :func:`splatsynth.render.reference.rasterize_to_pixels`, and
    ``with_depth=False`` when the accumulated depth is not used (it is then all zeros and costs
    nothing). Gradients flow to means2d, conics, colors, opacities, depths and backgrounds and
    are bit-identical from run to run.
    """
    C = means2d.shape[0]
    bg = backgrounds
    if bg is None:
        bg = torch.zeros((C, 3), dtype=means2d.dtype)
    return RasterFn.apply(
        means2d, conics, colors, opacities, depths, bg, radii.to(torch.int32), int(width),
        int(height), bool(with_depth),
    )
