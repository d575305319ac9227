"""Keypoint alignment: recovers a perturbed rig, refuses what it cannot tell, leaves exact
cameras alone, and the fit runs it first."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from splatsynth.cameras import align_to_keypoints, keypoint_array
from splatsynth.demo.scene import demo_cameras, project_keypoints
from splatsynth.errors import SplatsynthError
from splatsynth.fit import FitConfig, fit_scene
from splatsynth.optim import PoseDeltas
from splatsynth.optim.pose import perturb_cameras, relative_pose_errors
from splatsynth.scene_io import load_scene


def projected(cams, points, noise_px, seed):
    """[C, N, 3] the points' projections in every camera, with noise, all seen (conf 1)."""
    rng = np.random.default_rng(seed)
    kp = np.stack([np.concatenate([c.project(points)[0], np.ones((len(points), 1))], 1)
                   for c in cams])
    kp[..., :2] += rng.normal(0.0, noise_px, kp[..., :2].shape)
    return kp


def subject_points(n, seed=0):
    """[n, 3] points spread over the toy mouse's size around the demo world's origin."""
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 0.35, (n, 3)) * np.array([1.5, 0.6, 0.5])


@pytest.mark.parametrize("rig", ["ring", "dannce"])
def test_recovers_a_perturbed_rig_from_noisy_keypoints(rig):
    true = demo_cameras(rig, size=512)
    kp = projected(true, subject_points(40, seed=1), 0.5, seed=1)
    given = perturb_cameras(true, range(1, 6), 1.0, 0.0, np.zeros(3), seed=1)
    a = align_to_keypoints(given, kp, noise_px=0.5)
    before = relative_pose_errors(given, true, 0)[0][1:]
    after = relative_pose_errors(a.cameras, true, 0)[0][1:]
    print(rig, a.reason, before.mean(), "->", after.mean(), a.residual_before, a.residual_after)
    assert a.applied, a.reason
    assert before.min() > 0.99
    assert after.max() < 0.2
    assert a.residual_after[0] < 1.0 < 3.0 < a.residual_before[0]
    np.testing.assert_array_equal(a.cameras[0].w2c, given[0].w2c)  # the gauge
    assert a.rotation_deg[0] == 0.0 and not a.moved[0]
    np.testing.assert_allclose(a.rotation_deg[1:], 1.0, atol=0.2)


def test_leaves_exact_cameras_alone():
    for rig in ("ring", "dannce"):
        true = demo_cameras(rig, size=256)
        for kp in (projected(true, subject_points(30), 0.5, seed=2),
                   np.stack([project_keypoints(c) for c in true])):
            a = align_to_keypoints(true, kp)
            moved = relative_pose_errors(a.cameras, true, 0)[0]
            assert moved.max() < 0.05, (rig, a.reason, moved)


def test_refuses_with_too_few_keypoints():
    true = demo_cameras("ring", size=256)
    given = perturb_cameras(true, range(1, 6), 1.0, 0.0, np.zeros(3), seed=1)
    kp = projected(true, subject_points(3), 0.0, seed=0)
    a = align_to_keypoints(given, kp)
    assert not a.applied and "fewer than 4" in a.reason
    assert all(x is y for x, y in zip(a.cameras, given))
    # Unseen labels (conf 0, NaN) do not count.
    kp = projected(true, subject_points(8), 0.0, seed=0)
    kp[0, 2:, 2] = 0.0
    kp[0, 1, :2] = np.nan
    a = align_to_keypoints(given, kp)
    assert not a.applied and "gauge view 0 sees 1 keypoints" in a.reason


def test_other_views_stay_out_and_unchanged():
    true = demo_cameras("dannce", size=256)
    given = perturb_cameras(true, range(1, 6), 1.0, 0.0, np.zeros(3), seed=3)
    kp = projected(true, subject_points(30), 0.3, seed=3)
    a = align_to_keypoints(given, kp, gauge=1, views=[1, 2, 3, 4])
    assert a.applied
    for v in (0, 1, 5):
        assert a.cameras[v] is given[v]
    assert list(np.flatnonzero(a.moved)) == [2, 3, 4]


def test_malformed_input_is_a_clear_error():
    cams = demo_cameras("ring", size=64)
    with pytest.raises(SplatsynthError, match=r"must be \[C=6, K, 3\]"):
        align_to_keypoints(cams, np.zeros((5, 9, 3)))
    with pytest.raises(SplatsynthError, match="not numeric"):
        align_to_keypoints(cams, [[["a", "b", "c"]]] * 6)
    with pytest.raises(SplatsynthError, match="gauge view 7"):
        align_to_keypoints(cams, np.zeros((6, 9, 3)), gauge=7)
    with pytest.raises(SplatsynthError, match="view 2: expected"):
        keypoint_array([np.zeros((9, 3)), None, np.zeros((8, 3))], 9)
    # Labels far outside every image: unseen, so refused, not a traceback from scipy.
    kp = np.full((6, 9, 3), 1.0)
    kp[..., :2] = 1e308
    assert not align_to_keypoints(cams, kp).applied


def test_pose_deltas_start_at_the_aligned_cameras():
    true = demo_cameras("ring", size=64)
    given = perturb_cameras(true, range(1, 6), 2.0, 0.01, np.zeros(3), seed=0)
    poses = PoseDeltas(6, fixed=0, dtype=torch.float64)
    poses.start_at(np.stack([c.w2c for c in given]), np.stack([c.w2c for c in true]))
    with torch.no_grad():
        out = poses(torch.as_tensor(np.stack([c.w2c for c in given])), torch.arange(6))
    np.testing.assert_allclose(out[1:].numpy(), np.stack([c.w2c for c in true])[1:],
                               atol=1e-9)
    np.testing.assert_array_equal(out[0].numpy(), given[0].w2c)  # the gauge keeps its own


def test_the_fit_aligns_to_the_scenes_keypoints_first(tiny_demo):
    scene = load_scene(tiny_demo)
    given = perturb_cameras(scene.cameras, range(1, 6), 2.0, 0.0, np.zeros(3), seed=0)
    scene = replace(scene, views=[replace(v, camera=c) for v, c in zip(scene.views, given)])
    cfg = FitConfig(iterations=20, num_gaussians=500, pose_stage=0, pose_warmup=100,
                    progress=False, optimize_pose=True, pose_keypoints=True,
                    pose_keypoint_px=0.5)  # the demo's keypoints are exact
    fit = fit_scene(scene, cfg)
    assert fit.pose_keypoints is not None and fit.pose_keypoints["applied"], fit.pose_keypoints
    assert "pose_keypoints" in fit.timings
    # The poses never learned (warm-up), so the whole correction is the alignment's, and
    # it is reported against the given calibration.
    for d in fit.pose_deltas[1:]:
        assert d["rotation_deg"] == pytest.approx(d["keypoint_rotation_deg"], abs=1e-4)
        assert d["rotation_deg"] == pytest.approx(2.0, abs=0.3)
    assert fit.pose_deltas[0]["rotation_deg"] == 0.0
    off = fit_scene(scene, replace(cfg, pose_keypoints=False))
    assert off.pose_keypoints is None and "pose_keypoints" not in off.timings
    assert max(d["rotation_deg"] for d in off.pose_deltas) == 0.0
