"""2DGS regularizers: depth distortion and normal consistency (Huang et al. 2024, eq. 13-14).

They take the maps :func:`splatsynth.render.rasterize_surfels` returns. The design's
weights are 0.1 (depth distortion) and 0.05 (normal consistency), switched on after a
warm-up once the surfels have settled (2DGS starts them at 10% and 23% of training).
"""

from __future__ import annotations

import torch


def normals_from_depth(depth: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Unit normals of the surface a depth map describes, in the camera frame.

    Each pixel centre is lifted to ``z K^-1 (x + 0.5, y + 0.5, 1)``; the normal is the cross
    product of the central differences down and across, turned towards the camera (a wall
    facing the camera gets (0, 0, -1)). Border pixels, and pixels with a neighbour of depth
    <= 0 (no surface: the renders put 0 there), get a zero normal.

    Convention: OpenCV camera frame (x right, y down, z forward); z is camera-frame depth
    (not ray length); pixel centres at integer + 0.5.

    Args:
        depth: [..., H, W, 1] or [..., H, W] depth map (e.g. a median or expected depth).
        K: [..., 3, 3] pinhole intrinsics matching the leading dims of ``depth`` (or [3, 3]).
    Returns:
        [..., H, W, 3] unit normals (zero where undefined); differentiable w.r.t. depth.
    """
    z = depth[..., 0] if depth.shape[-1] == 1 and depth.dim() >= 3 else depth
    H, W = z.shape[-2:]
    lead = z.shape[:-2]
    K = K.to(z.dtype).expand(*lead, 3, 3)
    fx, fy = K[..., 0, 0, None, None], K[..., 1, 1, None, None]
    cx, cy = K[..., 0, 2, None, None], K[..., 1, 2, None, None]
    xs = torch.arange(W, dtype=z.dtype, device=z.device) + 0.5
    ys = torch.arange(H, dtype=z.dtype, device=z.device)[:, None] + 0.5
    pts = torch.stack([(xs - cx) / fx * z, (ys - cy) / fy * z, z], dim=-1)  # [..., H, W, 3]
    dx = pts[..., 1:-1, 2:, :] - pts[..., 1:-1, :-2, :]
    dy = pts[..., 2:, 1:-1, :] - pts[..., :-2, 1:-1, :]
    n = torch.linalg.cross(dy, dx)  # (down) x (right) points towards the camera
    ok = ((z[..., 1:-1, 2:] > 0) & (z[..., 1:-1, :-2] > 0) & (z[..., 2:, 1:-1] > 0)
          & (z[..., :-2, 1:-1] > 0))
    norm = n.norm(dim=-1, keepdim=True)
    ok = ok & (norm[..., 0] > 0)
    n = torch.where(ok[..., None], n / torch.where(ok[..., None], norm, 1.0), 0.0)
    out = torch.zeros(*lead, H, W, 3, dtype=z.dtype, device=z.device)
    out[..., 1:-1, 1:-1, :] = n
    return out


def _masked_mean(err: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of err [..., H, W] over all pixels, or weighted by mask [..., H, W(, 1)]."""
    if mask is None:
        return err.mean() if err.numel() else err.sum()
    m = mask[..., 0] if mask.dim() == err.dim() + 1 else mask
    m = m.to(err.dtype)
    return (err * m).sum() / m.sum().clamp_min(1.0)


def depth_distortion_loss(distortion: torch.Tensor, mask: torch.Tensor | None = None
                          ) -> torch.Tensor:
    """Mean per-pixel depth distortion: pulls the surfels a ray meets onto one depth.

    Args:
        distortion: [C, H, W, 1] ``SurfelRenderOut.distortion`` (sum_{i>j} 2 w_i w_j
            (z_i - z_j), world units of depth).
        mask: optional [C, H, W] or [C, H, W, 1] pixel weights (e.g. the subject's mask).
    Returns:
        Scalar loss (0 for an empty input).
    """
    return _masked_mean(distortion[..., 0], mask)


def normal_consistency_loss(
    rendered_normals: torch.Tensor,
    depth: torch.Tensor,
    Ks: torch.Tensor,
    alpha: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean per-pixel disagreement of the surfels' normals with the normals of the depth map.

    Per pixel ``sum_i w_i (1 - n_i . N) = alpha - (sum_i w_i n_i) . N`` (2DGS eq. 14), with N
    from :func:`normals_from_depth`; >= 0, zero when every surfel on the ray lies flat on the
    rendered surface. Pixels where N is undefined (image border, next to empty pixels) are
    left out rather than counted as disagreeing. Gradients flow to both the normals (rotating
    surfels) and the depth (moving them).

    Convention: both normal fields in the camera frame, turned towards the camera (as
    :func:`splatsynth.render.rasterize_surfels` renders them).

    Args:
        rendered_normals: [C, H, W, 3] ``SurfelRenderOut.normals`` (accumulated, length ~alpha).
        depth: [C, H, W, 1] surface depth: ``out.median_depths`` (2DGS's choice for bounded
            subjects) or the expected depth ``out.depths / out.alphas.clamp_min(1e-10)``.
        Ks: [C, 3, 3] intrinsics of the render.
        alpha: [C, H, W, 1] ``SurfelRenderOut.alphas``.
        mask: optional [C, H, W] or [C, H, W, 1] pixel weights.
    Returns:
        Scalar loss.
    """
    N = normals_from_depth(depth, Ks)
    defined = (N != 0).any(dim=-1)
    err = alpha[..., 0] - (rendered_normals * N).sum(dim=-1)
    err = torch.where(defined, err, torch.zeros_like(err))
    return _masked_mean(err, mask)
