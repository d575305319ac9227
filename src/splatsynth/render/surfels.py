"""Fast 2DGS surfels: projection and tile compositing, numba forward and backward.

Twins of :func:`splatsynth.render.reference.surfels.project_surfels` and
:func:`~splatsynth.render.reference.surfels.rasterize_surfels_to_pixels` (same signatures and
maths); :func:`splatsynth.render.rasterize_surfels` checks inputs and calls one pair or the
other. A surfel is a flat Gaussian disc: centre, rotation (wxyz) and two tangent scales along
the rotation's first two axes; its normal is the third axis. Every pixel's ray is intersected
with each splat exactly (Huang et al. 2024, "2D Gaussian Splatting for Geometrically Accurate
Radiance Fields"), with the screen-space low-pass fallback for splats seen edge-on.
"""

from __future__ import annotations

import torch

from ._autograd import SurfelProjectFn, SurfelRasterFn
from .types import SurfelProjected


def project_surfels(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    viewmats: torch.Tensor,
    Ks: torch.Tensor,
    width: int,
    height: int,
    *,
    sh_degree: int | None = None,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
) -> SurfelProjected:
    """Project N surfels into C pinhole cameras (numba; CPU tensors, one float dtype).

    Arguments and result as :func:`splatsynth.render.reference.surfels.project_surfels`;
    scales are [N, 2]; inputs are assumed validated. Differentiable w.r.t. means, quats,
    scales, colors and viewmats.
    """
    sh = colors[:, None, :] if sh_degree is None else colors
    deg = -1 if sh_degree is None else int(sh_degree)
    m2d, M, nrm, cols, radii, boxes = SurfelProjectFn.apply(
        means, quats, scales, opacities, sh, viewmats, Ks, deg, int(width), int(height),
        float(near_plane), float(far_plane),
    )
    return SurfelProjected(m2d, M, nrm, cols, radii, boxes)


def rasterize_surfels_to_pixels(
    means2d: torch.Tensor,
    ray_transforms: torch.Tensor,
    colors: torch.Tensor,
    normals: torch.Tensor,
    opacities: torch.Tensor,
    radii: torch.Tensor,
    boxes: torch.Tensor,
    width: int,
    height: int,
    *,
    backgrounds: torch.Tensor | None = None,
) -> tuple[torch.Tensor, ...]:
    """Composite projected surfels front to back into C images (numba, CPU).

    Arguments and results as the reference
    :func:`splatsynth.render.reference.surfels.rasterize_surfels_to_pixels`. Gradients flow
    to means2d, ray_transforms, colors, normals, opacities and backgrounds and are
    bit-identical from run to run.
    """
    C = means2d.shape[0]
    bg = backgrounds
    if bg is None:
        bg = torch.zeros((C, 3), dtype=means2d.dtype)
    return SurfelRasterFn.apply(means2d, ray_transforms, colors, normals, opacities, bg,
                                radii.to(torch.int32), boxes, int(width), int(height))
