"""Fast EWA projection: numba forward and hand-written backward behind an autograd seam.

Twin of :func:`splatsynth.render.reference.project_gaussians` (same signature and maths).
"""

from __future__ import annotations

import torch

from ._autograd import ProjectFn
from .types import Projected


def project_gaussians(
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
    eps2d: float = 0.3,
) -> Projected:
    """Project N Gaussians into C pinhole cameras (numba; CPU tensors, one float dtype).

    Arguments and result as :func:`splatsynth.render.reference.project_gaussians`; inputs are
    assumed validated (see :func:`splatsynth.render.rasterize`). Differentiable w.r.t. means,
    quats, scales, colors and viewmats.
    """
    sh = colors[:, None, :] if sh_degree is None else colors
    deg = -1 if sh_degree is None else int(sh_degree)
    m2d, conics, depths, cols, radii = ProjectFn.apply(
        means, quats, scales, opacities, sh, viewmats, Ks, deg, int(width), int(height),
        float(near_plane), float(far_plane), float(eps2d),
    )
    return Projected(m2d, conics, depths, cols, radii)
