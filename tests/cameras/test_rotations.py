"""Quaternion <-> rotation matrix converters (numpy, wxyz) and their torch twin."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from splatsynth.cameras import quat_wxyz_from_rotation, rotation_from_quat_wxyz
from splatsynth.gaussians import rotation_from_quat


def _unit_quats(seed: int, n: int = 50) -> np.ndarray:
    q = np.random.default_rng(seed).normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return q * np.sign(q[:, :1])  # w >= 0: the half of the double cover the converter returns


@pytest.mark.parametrize("seed", range(3))
def test_round_trip_both_ways(seed):
    q = _unit_quats(seed)
    R = rotation_from_quat_wxyz(q)
    assert R.shape == (50, 3, 3)
    np.testing.assert_allclose(R @ R.transpose(0, 2, 1), np.broadcast_to(np.eye(3), R.shape),
                               atol=1e-12)
    assert (np.linalg.det(R) > 0).all()
    np.testing.assert_allclose(quat_wxyz_from_rotation(R), q, atol=1e-12)
    np.testing.assert_allclose(rotation_from_quat_wxyz(quat_wxyz_from_rotation(R)), R,
                               atol=1e-12)


def test_scalar_first_and_axes():
    # 90 degrees about z maps x to y; a scalar-last reading would rotate about another axis.
    q = np.array([math.cos(math.pi / 4), 0, 0, math.sin(math.pi / 4)])
    np.testing.assert_allclose(rotation_from_quat_wxyz(q) @ [1, 0, 0], [0, 1, 0], atol=1e-15)
    np.testing.assert_allclose(rotation_from_quat_wxyz([2.0, 0, 0, 0]), np.eye(3))  # normalized
    assert quat_wxyz_from_rotation(np.diag([1.0, -1.0, -1.0]))[0] >= 0


def test_batch_shapes():
    q = _unit_quats(0, 12).reshape(3, 4, 4)
    R = rotation_from_quat_wxyz(q)
    assert R.shape == (3, 4, 3, 3)
    assert quat_wxyz_from_rotation(R).shape == (3, 4, 4)


def test_torch_twin_agrees():
    q = _unit_quats(1) * 3.0  # both normalize
    np.testing.assert_allclose(rotation_from_quat(torch.from_numpy(q)).numpy(),
                               rotation_from_quat_wxyz(q), atol=1e-12)
