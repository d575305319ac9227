"""Pose refinement recovers known camera perturbations on a synthetic rig."""

from dataclasses import replace

import numpy as np
import pytest

from splatsynth.demo import TOY_MOUSE_KEYPOINTS, make_demo_scene
from splatsynth.fit import FitConfig, fit_scene, render_cameras
from splatsynth.fit.fit import pose_stage_factors
from splatsynth.optim.pose import perturb_cameras, relative_pose_errors
from splatsynth.pipeline import load_ground_truth, score_renders
from splatsynth.scene_io import load_scene

BASE = FitConfig(iterations=300, num_gaussians=3000, refine_start=50, refine_every=50,
                 sh_increase_every=50, progress=False)


def reprojection_px(cams, true_cams):
    """Mean pixel distance between where two sets of cameras see the mouse's keypoints."""
    pts = TOY_MOUSE_KEYPOINTS.points
    return float(np.mean([np.linalg.norm(a.project(pts)[0] - b.project(pts)[0], axis=1).mean()
                          for a, b in zip(cams, true_cams)]))


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    """The demo at 128 px, cameras 1-5 off by 1.5 degrees and 0.5% of their distance (~3 px,
    a few times an ordinary calibration's error at this size); fitted with the true
    cameras, the perturbed ones, and the perturbed ones refined."""
    root = make_demo_scene(tmp_path_factory.mktemp("pose"), size=128)
    scene = load_scene(root)
    true = list(scene.cameras)
    given = perturb_cameras(true, range(1, 6), 1.5, 0.005, np.zeros(3), seed=0)
    perturbed = replace(scene, views=[replace(v, camera=c)
                                      for v, c in zip(scene.views, given)])
    fits = {"exact": fit_scene(scene, BASE), "perturbed": fit_scene(perturbed, BASE),
            "refined": fit_scene(perturbed, replace(BASE, optimize_pose=True,
                                                    pose_stage=100))}
    gt = load_ground_truth(root / "gt" / "orbit")
    held = {k: score_renders(render_cameras(r.gaussians, gt.cameras), gt,
                             (1, 1, 1)).mean.psnr_masked for k, r in fits.items()}
    return true, perturbed, fits, held


def test_refinement_recovers_most_of_the_pose_error(rig):
    true, perturbed, fits, _ = rig
    refined = fits["refined"]
    before = reprojection_px(perturbed.cameras, true)
    after = reprojection_px(refined.cameras, true)
    print(f"reprojection error of the keypoints: {before:.2f} px -> {after:.2f} px")
    assert before > 2.0
    assert after < 0.35 * before
    rot_before = relative_pose_errors(perturbed.cameras, true, 0)[0][1:].mean()
    rot_after = relative_pose_errors(refined.cameras, true, 0)[0][1:].mean()
    assert rot_after < 0.6 * rot_before
    # The gauge view never moves.
    np.testing.assert_allclose(refined.cameras[0].w2c, perturbed.cameras[0].w2c, atol=1e-9)
    assert refined.pose_deltas[0]["rotation_deg"] == 0.0
    assert refined.pose_deltas[0]["shift_px"] == 0.0


def test_refinement_recovers_most_of_the_held_out_quality(rig):
    _, _, _, held = rig
    won = (held["refined"] - held["perturbed"]) / (held["exact"] - held["perturbed"])
    print(f"held-out masked PSNR: exact {held['exact']:.2f}, perturbed "
          f"{held['perturbed']:.2f}, refined {held['refined']:.2f} dB ({won:.0%} won back)")
    assert held["exact"] - held["perturbed"] > 4.0  # the error costs a lot ...
    assert won > 0.6  # ... and refinement wins most of it back


def test_corrections_measure_what_was_done_to_each_camera(rig):
    true, perturbed, fits, _ = rig
    deltas = fits["refined"].pose_deltas
    assert len(deltas) == 6
    for k, d in enumerate(deltas):
        assert {"rotation_deg", "shift_px", "centre_shift", "suspect", "translation"} <= set(d)
        done = reprojection_px([perturbed.cameras[k]], [true[k]])
        # The correction undoes the perturbation: about as many pixels as it moved the view.
        assert abs(d["shift_px"] - done) < 0.5 * done + 0.5, (k, d["shift_px"], done)
        assert d["suspect"] == (d["shift_px"] > BASE.pose_warn_px)
    assert not fits["exact"].pose_deltas and not fits["exact"].warnings


def test_pose_stage_rounds_skip_views_too_small():
    class V:
        def __init__(self, s):
            self.camera = type("C", (), {"w": s, "h": s})()

    scene = type("S", (), {"views": [V(512), V(256)]})()
    assert pose_stage_factors(scene, FitConfig()) == [8, 4, 2]  # 32, 64, 128 px
    scene.views = [V(128)]
    assert pose_stage_factors(scene, FitConfig()) == [4, 2]
    assert pose_stage_factors(scene, FitConfig(pose_stage_levels=0)) == []
