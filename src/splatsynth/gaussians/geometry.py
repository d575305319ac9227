"""Rotation and covariance of Gaussians from their parameters (torch, differentiable)."""

from __future__ import annotations

import torch


def rotation_from_quat(quats_wxyz: torch.Tensor) -> torch.Tensor:
    """[..., 4] quaternions (wxyz, normalized here) -> [..., 3, 3] rotation matrices."""
    q = torch.nn.functional.normalize(quats_wxyz, dim=-1)
    w, x, y, z = q.unbind(-1)
    return torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], -1).reshape(*q.shape[:-1], 3, 3)


def covariance_from_quat_scale(quats_wxyz: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """[N, 4] quaternions and [N, 3] activated scales -> [N, 3, 3] covariances R S S R^T."""
    M = rotation_from_quat(quats_wxyz) * scales[..., None, :]
    return M @ M.transpose(-1, -2)
