"""EWA projection in plain torch (reference for ``render/kernels/projection.py``)."""

from __future__ import annotations

import math

import torch

from ...gaussians.geometry import rotation_from_quat
from ..sh import colors_at_cameras
from ..types import Projected

_ALPHA_MIN = 1.0 / 255.0
_CLIP = 0.3  # frustum margin of the Jacobian clamp, in units of tan(fov / 2) (3DGS, gsplat)


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
    """Project N Gaussians into C pinhole cameras (EWA splatting).

    Convention: OpenCV cameras (x right, y down, z forward), ``viewmats`` world-to-camera,
    quaternions wxyz, pixel centres at integer + 0.5.

    Args:
        means: [N, 3]; quats: [N, 4]; scales: [N, 3] (positive); opacities: [N] in [0, 1].
        colors: [N, 3] RGB, or [N, K, 3] SH coefficients when ``sh_degree`` is set.
        viewmats: [C, 4, 4]; Ks: [C, 3, 3] (not differentiated).
        width, height: image size in pixels.
        sh_degree: SH degree to evaluate (uses the first (d+1)^2 of K), None for RGB.
        near_plane, far_plane: depth range kept; eps2d: added to the 2D covariance diagonal.
    Returns:
        :class:`Projected`; culled entries have radii 0 and unspecified other values.
    """
    C = viewmats.shape[0]
    Ks = Ks.detach()
    R = viewmats[:, :3, :3]  # [C,3,3]
    t = viewmats[:, :3, 3]  # [C,3]
    pc = torch.einsum("cij,nj->cni", R, means) + t[:, None, :]  # [C,N,3]
    x, y, z = pc.unbind(-1)
    in_depth = (z >= near_plane) & (z <= far_plane)
    z_safe = torch.where(in_depth, z, torch.ones_like(z))

    Rq = rotation_from_quat(quats)
    M = Rq * scales[:, None, :]
    cov3 = M @ M.transpose(-1, -2)  # [N,3,3]
    cov_cam = R[:, None] @ cov3[None] @ R.transpose(-1, -2)[:, None]  # [C,N,3,3]

    fx, fy = Ks[:, 0, 0][:, None], Ks[:, 1, 1][:, None]
    cx, cy = Ks[:, 0, 2][:, None], Ks[:, 1, 2][:, None]
    tan_x, tan_y = 0.5 * width / fx, 0.5 * height / fy
    tx = z_safe * torch.clamp(
        x / z_safe, min=-(cx / fx + _CLIP * tan_x), max=(width - cx) / fx + _CLIP * tan_x
    )
    ty = z_safe * torch.clamp(
        y / z_safe, min=-(cy / fy + _CLIP * tan_y), max=(height - cy) / fy + _CLIP * tan_y
    )
    zeros = torch.zeros_like(z_safe)
    J = torch.stack(
        [fx / z_safe, zeros, -fx * tx / z_safe**2, zeros, fy / z_safe, -fy * ty / z_safe**2],
        dim=-1,
    ).reshape(C, -1, 2, 3)
    cov2 = J @ cov_cam @ J.transpose(-1, -2)
    a = cov2[..., 0, 0] + eps2d
    b = cov2[..., 0, 1]
    c = cov2[..., 1, 1] + eps2d
    det = a * c - b * b
    ok = in_depth & (det > 0)
    det_safe = torch.where(ok, det, torch.ones_like(det))
    conics = torch.stack([c / det_safe, -b / det_safe, a / det_safe], dim=-1)
    means2d = torch.stack([fx * x / z_safe + cx, fy * y / z_safe + cy], dim=-1)

    with torch.no_grad():
        op = opacities[None].expand_as(z)
        visible = ok & (op > _ALPHA_MIN)
        # alpha = o exp(-d^2 / 2) stays >= 1/255 for d up to this many standard deviations
        ext = torch.sqrt(2 * (math.log(255.0) + torch.log(op.clamp_min(_ALPHA_MIN))))
        rx = torch.ceil(ext * torch.sqrt(a.clamp_min(0)))
        ry = torch.ceil(ext * torch.sqrt(c.clamp_min(0)))
        u, v = means2d[..., 0], means2d[..., 1]
        on_screen = (u + rx > 0) & (u - rx < width) & (v + ry > 0) & (v - ry < height)
        visible &= on_screen & ((rx > 0) | (ry > 0))
        radii = torch.stack([rx, ry], dim=-1).to(torch.int32)
        radii = torch.where(visible[..., None], radii, torch.zeros_like(radii))

    cols = colors_at_cameras(sh_degree, colors, means, viewmats)
    return Projected(means2d, conics, z, cols, radii)
