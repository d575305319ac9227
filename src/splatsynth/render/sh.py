"""Real spherical harmonics of the 3DGS convention (degrees 0-3), in plain torch.

Convention: a Gaussian's colour seen along the unit direction d (from the camera centre to the
Gaussian) is ``max(sum_k SH_k(d) * sh[k] + 0.5, 0)``, as in Inria's 3DGS and gsplat.
"""

from __future__ import annotations

import torch

SH_C0 = 0.28209479177387814
SH_C1 = 0.4886025119029199
SH_C2 = (
    1.0925484305920792,
    -1.0925484305920792,
    0.31539156525252005,
    -1.0925484305920792,
    0.5462742152960396,
)
SH_C3 = (
    -0.5900435899266435,
    2.890611442640554,
    -0.4570457994644658,
    0.3731763325901154,
    -0.4570457994644658,
    1.445305721320277,
    -0.5900435899266435,
)


def num_sh_bases(degree: int) -> int:
    """Number of SH coefficients per channel for ``degree`` (0-3): (degree + 1)^2."""
    if degree not in (0, 1, 2, 3):
        raise ValueError(f"sh_degree must be 0, 1, 2 or 3, got {degree}")
    return (degree + 1) ** 2


def eval_sh(degree: int, sh: torch.Tensor, dirs: torch.Tensor) -> torch.Tensor:
    """Evaluate SH colour coefficients along unit directions (no +0.5 offset, no clamp).

    Args:
        degree: 0..3; only the first (degree + 1)^2 coefficients are used.
        sh: [..., K, 3] coefficients, K >= (degree + 1)^2.
        dirs: [..., 3] unit directions, broadcastable against ``sh[..., 0, :]``.
    Returns:
        [..., 3] the SH sum per channel.
    """
    out = SH_C0 * sh[..., 0, :]
    if degree < 1:
        return out
    x, y, z = dirs[..., 0:1], dirs[..., 1:2], dirs[..., 2:3]
    out = out - SH_C1 * y * sh[..., 1, :] + SH_C1 * z * sh[..., 2, :] - SH_C1 * x * sh[..., 3, :]
    if degree < 2:
        return out
    xx, yy, zz = x * x, y * y, z * z
    out = (
        out
        + SH_C2[0] * x * y * sh[..., 4, :]
        + SH_C2[1] * y * z * sh[..., 5, :]
        + SH_C2[2] * (2 * zz - xx - yy) * sh[..., 6, :]
        + SH_C2[3] * x * z * sh[..., 7, :]
        + SH_C2[4] * (xx - yy) * sh[..., 8, :]
    )
    if degree < 3:
        return out
    return (
        out
        + SH_C3[0] * y * (3 * xx - yy) * sh[..., 9, :]
        + SH_C3[1] * x * y * z * sh[..., 10, :]
        + SH_C3[2] * y * (4 * zz - xx - yy) * sh[..., 11, :]
        + SH_C3[3] * z * (2 * zz - 3 * xx - 3 * yy) * sh[..., 12, :]
        + SH_C3[4] * x * (4 * zz - xx - yy) * sh[..., 13, :]
        + SH_C3[5] * z * (xx - yy) * sh[..., 14, :]
        + SH_C3[6] * x * (xx - 3 * yy) * sh[..., 15, :]
    )


def colors_at_cameras(
    sh_degree: int | None, colors: torch.Tensor, means: torch.Tensor, viewmats: torch.Tensor
) -> torch.Tensor:
    """Each Gaussian's colour seen from each camera, ``max(SH(d) + 0.5, 0)``.

    Args:
        sh_degree: None when ``colors`` are plain RGB (returned as they are), else 0..3.
        colors: [N, 3] RGB, or [N, K, 3] SH coefficients.
        means: [N, 3] world positions; viewmats: [C, 4, 4] world-to-camera.
    Returns:
        [C, N, 3]; d is the unit direction from the camera centre -R^T t to the mean.
    """
    if sh_degree is None:
        return colors[None].expand(viewmats.shape[0], -1, -1)
    R, t = viewmats[:, :3, :3], viewmats[:, :3, 3]
    campos = -torch.einsum("cji,cj->ci", R, t)
    dirs = means[None] - campos[:, None, :]
    dirs = dirs / dirs.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return torch.clamp(eval_sh(sh_degree, colors[None], dirs) + 0.5, min=0.0)


def sh_from_rgb(rgb: torch.Tensor) -> torch.Tensor:
    """[..., 3] RGB -> [..., 3] degree-0 coefficient that renders that colour."""
    return (rgb - 0.5) / SH_C0


def rgb_from_sh(sh0: torch.Tensor) -> torch.Tensor:
    """[..., 3] degree-0 coefficient -> [..., 3] RGB (before the clamp at 0)."""
    return sh0 * SH_C0 + 0.5
