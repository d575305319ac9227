"""Spherical-harmonics bookkeeping of the Gaussians' colour: coefficient counts and the DC term.

Convention (Inria 3DGS, gsplat): colour = max(sum_k SH_k(d) sh[k] + 0.5, 0), so a degree-0
coefficient c renders the view-independent colour ``c * SH_C0 + 0.5``.
"""

from __future__ import annotations

import torch

#: The degree-0 real SH basis function, 1 / (2 sqrt(pi)).
SH_C0 = 0.28209479177387814


def num_sh_coeffs(degree: int) -> int:
    """Number of SH coefficients per channel for ``degree`` (1, 4, 9, 16)."""
    return (degree + 1) ** 2


def sh_degree_from_coeffs(k: int) -> int:
    """Inverse of :func:`num_sh_coeffs`; raises ValueError for a non-square count."""
    d = round(k**0.5) - 1
    if (d + 1) ** 2 != k or d < 0:
        raise ValueError(f"{k} SH coefficients is not (degree + 1)^2")
    return d


def sh_dc_from_rgb(rgb: torch.Tensor) -> torch.Tensor:
    """[..., 3] RGB in [0, 1] -> [..., 3] degree-0 SH coefficient that renders it."""
    return (rgb - 0.5) / SH_C0


def rgb_from_sh_dc(sh_dc: torch.Tensor) -> torch.Tensor:
    """[..., 3] degree-0 SH coefficient -> [..., 3] RGB (view-independent part, before the
    clamp at 0)."""
    return sh_dc * SH_C0 + 0.5
