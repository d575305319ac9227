"""Rotation matrices <-> unit quaternions in numpy, through scipy's ``Rotation``.

Convention: quaternions are (w, x, y, z), scalar first, as COLMAP and the Gaussians' quats_wxyz
store them (scipy's own default is scalar last). The torch twin used on Gaussians is
:func:`splatsynth.gaussians.rotation_from_quat`.
"""

from __future__ import annotations

import numpy as np


def _rotation():
    # Imported on first use: scipy.spatial would add a quarter second to `import splatsynth`.
    from scipy.spatial.transform import Rotation

    return Rotation


def rotation_from_quat_wxyz(quat_wxyz: np.ndarray) -> np.ndarray:
    """[..., 4] quaternions (w, x, y, z; normalized here) -> [..., 3, 3] float64 rotations."""
    q = np.asarray(quat_wxyz, dtype=np.float64)
    R = _rotation().from_quat(q.reshape(-1, 4), scalar_first=True).as_matrix()
    return R.reshape(*q.shape[:-1], 3, 3)


def quat_wxyz_from_rotation(R: np.ndarray) -> np.ndarray:
    """[..., 3, 3] rotation matrices -> [..., 4] unit quaternions (w, x, y, z) with w >= 0."""
    R = np.asarray(R, dtype=np.float64)
    q = _rotation().from_matrix(R.reshape(-1, 3, 3)).as_quat(canonical=True, scalar_first=True)
    return q.reshape(*R.shape[:-2], 4)


def rotation_angle_deg(R: np.ndarray) -> np.ndarray:
    """[..., 3, 3] rotations -> [...] their angles in degrees."""
    R = np.asarray(R, np.float64)
    cos = (np.trace(R, axis1=-2, axis2=-1) - 1.0) / 2.0
    # atan2 of the skew part's size: exact near 0, where arccos of the trace loses ~1e-6 deg.
    skew = np.stack([R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0],
                     R[..., 1, 0] - R[..., 0, 1]], -1)
    return np.degrees(np.arctan2(np.linalg.norm(skew, axis=-1) / 2.0, cos))
