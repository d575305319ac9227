"""Learnable per-view pose deltas for camera refinement.

Convention: refined w2c = delta(rho, phi) @ w2c, where delta rotates by the axis-angle ``phi``
(Rodrigues) and then translates by ``rho``, both in the camera frame. A zero vector is the
identity, so refinement starts at the given calibration.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..cameras import Camera, image_shift_px, rotation_angle_deg


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
            w2c: [C, 4, 4] the given world-to-camera matrices of views ``index`` (float32, or
                float64 for results computed in float64).
            index: [C] view indices (or an int).
        Returns:
            [C, 4, 4] refined world-to-camera matrices, ``w2c``'s dtype.
        """
        idx = torch.as_tensor(index).reshape(-1)
        d = (self.deltas * self.gauge)[idx]
        return delta_matrices(d.to(w2c.dtype)) @ w2c

    @torch.no_grad()
    def start_at(self, given_w2c: np.ndarray, start_w2c: np.ndarray) -> None:
        """Set the deltas so the refined cameras begin at ``start_w2c`` rather than at the
        given ones (e.g. after a keypoint alignment), every correction still measured from
        ``given_w2c``. The gauge view's delta stays zero.

        Args:
            given_w2c: [C, 4, 4] the calibrated world-to-camera matrices.
            start_w2c: [C, 4, 4] where refinement should start (rigid, same world frame).
        """
        from scipy.spatial.transform import Rotation

        given = np.asarray(given_w2c, np.float64)
        start = np.asarray(start_w2c, np.float64)
        delta = start @ np.linalg.inv(given)  # refined = delta @ given
        phi = Rotation.from_matrix(delta[:, :3, :3]).as_rotvec()
        d = torch.as_tensor(np.concatenate([delta[:, :3, 3], phi], 1), dtype=self.deltas.dtype)
        self.deltas.copy_(d * self.gauge)

    def report(self) -> list[dict]:
        """Per-view delta as rotation (degrees) and translation (world units) magnitudes."""
        d = (self.deltas * self.gauge).detach().double()
        out = []
        for row in d:
            out.append({"translation": row[:3].tolist(), "rotation_axis_angle": row[3:].tolist(),
                        "translation_norm": float(row[:3].norm()),
                        "rotation_deg": float(row[3:].norm() * 180.0 / torch.pi)})
        return out


# --- measuring poses (numpy; the benchmark, the tests and the report use these) -------------


def perturb_cameras(cameras: Sequence[Camera], views: Sequence[int], rotation_deg: float,
                    translation: float, centre: np.ndarray, seed: int = 0) -> list[Camera]:
    """Cameras with a calibration error: each of ``views`` turned by ``rotation_deg`` about a
    random axis through its centre and its centre moved by ``translation`` times its distance
    to ``centre`` in a random direction; the others as given.

    The directions come from ``seed`` alone, so a sweep over magnitudes with one seed scales
    the same errors.

    Args:
        cameras: C cameras.
        views: indices to perturb.
        rotation_deg: rotation error, degrees.
        translation: centre error, a fraction of the distance to ``centre`` (0.005 = 0.5 %).
        centre: [3] the subject's centre (world).
        seed: seed of the directions.
    """
    rng = np.random.default_rng(seed)
    out = list(cameras)
    for i in range(len(cameras)):
        axis, direction = rng.normal(size=3), rng.normal(size=3)
        if i not in views:
            continue
        cam = cameras[i]
        phi = np.radians(rotation_deg) * axis / np.linalg.norm(axis)
        R = so3_exp(torch.as_tensor(phi, dtype=torch.float64)).numpy() @ cam.R
        c = cam.center + (translation * np.linalg.norm(cam.center - np.asarray(centre))
                          * direction / np.linalg.norm(direction))
        w2c = np.eye(4)
        w2c[:3, :3], w2c[:3, 3] = R, -R @ c
        out[i] = cam.with_w2c(w2c)
    return out


def relative_pose_errors(estimated: Sequence[Camera], true: Sequence[Camera], reference: int
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Pose errors that no choice of world frame (rotation, translation, scale) can change.

    Each camera is compared with the ``reference`` camera: its rotation relative to the
    reference's, and its centre in the reference's camera frame, the estimated centres scaled
    by the one factor that fits the true ones best (least squares).

    Returns:
        rotation: [C] degrees between estimated and true relative rotations (0 at reference).
        centre: [C] centre error as a fraction of the true distance to the reference camera
            (0 at the reference).
    """
    def relative(cams):
        R0, c0 = cams[reference].R, cams[reference].center
        rot = np.stack([c.R @ R0.T for c in cams])
        pos = np.stack([R0 @ (c.center - c0) for c in cams])
        return rot, pos

    r_est, p_est = relative(estimated)
    r_true, p_true = relative(true)
    rotation = rotation_angle_deg(r_est @ np.swapaxes(r_true, -1, -2))
    scale = float((p_est * p_true).sum() / max((p_est * p_est).sum(), 1e-300))
    dist = np.linalg.norm(p_true, axis=1)
    centre = np.linalg.norm(scale * p_est - p_true, axis=1) / np.where(dist > 0, dist, 1.0)
    return rotation, np.where(dist > 0, centre, 0.0)


def pose_corrections(given: Sequence[Camera], refined: Sequence[Camera], points: np.ndarray
                     ) -> list[dict]:
    """How far refinement moved each camera, in terms a user can check.

    Args:
        given: C cameras as calibrated.
        refined: the same C cameras after refinement (same frame).
        points: [N, 3] points on the subject (e.g. the fitted Gaussians' centres).
    Returns:
        Per view ``{"rotation_deg", "centre_shift", "shift_px"}``: the angle between the two
        orientations, the distance between the two centres (the cameras' world units), and the
        median distance in pixels (at the view's resolution) between where the two cameras see
        the points in front of both (0 when there are none).
    """
    return [{"rotation_deg": float(rotation_angle_deg(b.R @ a.R.T)),
             "centre_shift": float(np.linalg.norm(b.center - a.center)),
             "shift_px": image_shift_px(a, b, points)} for a, b in zip(given, refined)]

