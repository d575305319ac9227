"""Learnable per-view pose deltas for camera refinement.

Convention: refined w2c = delta(rho, phi) @ w2c, where delta rotates by the axis-angle ``phi``
(Rodrigues) and then translates by ``rho``, both in the camera frame. A zero vector is the
identity, so refinement starts at the given calibration.
"""

from __future__ import annotations

import torch


def so3_exp(phi: torch.Tensor) -> torch.Tensor:
    """[..., 3] axis-angle -> [..., 3, 3] rotation (Rodrigues), smooth at zero."""
    theta2 = (phi * phi).sum(-1, keepdim=True)[..., None]  # [..., 1, 1]
    theta = torch.sqrt(theta2 + 1e-12)
    x, y, z = phi.unbind(-1)
    zero = torch.zeros_like(x)
    K = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(*phi.shape[:-1], 3, 3)
    small = theta2 < 1e-8
    # Taylor forms keep gradients finite at the identity, where the closed forms are 0/0.
    a = torch.where(small, 1.0 - theta2 / 6.0, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24.0, (1.0 - torch.cos(theta)) / (theta2 + 1e-12))
    eye = torch.eye(3, dtype=phi.dtype, device=phi.device).expand_as(K)
    return eye + a * K + b * (K @ K)


def delta_matrices(deltas: torch.Tensor) -> torch.Tensor:
    """[V, 6] (rho, phi) -> [V, 4, 4] rigid transforms applied on the camera side."""
    v = deltas.shape[0]
    out = torch.zeros(v, 4, 4, dtype=deltas.dtype, device=deltas.device)
    out[:, :3, :3] = so3_exp(deltas[:, 3:])
    out[:, :3, 3] = deltas[:, :3]
    out[:, 3, 3] = 1.0
    return out


class PoseDeltas(torch.nn.Module):
    """One learnable 6-dof delta per input view; view ``fixed`` is the gauge and never moves."""

    def __init__(self, num_views: int, fixed: int = 0, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.deltas = torch.nn.Parameter(torch.zeros(num_views, 6, dtype=dtype))
        gauge = torch.ones(num_views, 1, dtype=dtype)
        if 0 <= fixed < num_views:
            gauge[fixed] = 0.0
        self.register_buffer("gauge", gauge)

    def forward(self, w2c: torch.Tensor, index: torch.Tensor | int) -> torch.Tensor:
        """Refine cameras.

        Args:
            w2c: [C, 4, 4] the given world-to-camera matrices of views ``index``.
            index: [C] view indices (or an int).
        Returns:
            [C, 4, 4] refined world-to-camera matrices.
        """
        idx = torch.as_tensor(index).reshape(-1)
        d = (self.deltas * self.gauge)[idx]
        return delta_matrices(d) @ w2c

    def report(self) -> list[dict]:
        """Per-view delta as rotation (degrees) and translation (world units) magnitudes."""
        d = (self.deltas * self.gauge).detach().double()
        out = []
        for row in d:
            out.append({"translation": row[:3].tolist(), "rotation_axis_angle": row[3:].tolist(),
                        "translation_norm": float(row[:3].norm()),
                        "rotation_deg": float(row[3:].norm() * 180.0 / torch.pi)})
        return out
