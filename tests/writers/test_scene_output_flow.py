"""The order run_scene uses: triangulate input keypoints, then write one scene atomically."""

from __future__ import annotations

import json

import numpy as np

from splatsynth.cameras import orbit_cameras, rig_ring
from splatsynth.cameras.triangulation import triangulate_keypoints
from splatsynth.report import build_report, write_report
from splatsynth.writers import (
    is_scene_finished,
    project_keypoints,
    scene_dir_transaction,
    update_lists,
    write_gslrm_views,
    write_keypoints_json,
)


def test_keypoints_from_rig_to_orbit_views(tmp_path):
    rig = rig_ring(6, elevation=30.0, w=96, h=64)
    pts = np.array([[0.0, 0.0, 0.3], [0.2, -0.1, 0.0]])
    kp_in = np.stack([np.concatenate([c.project(pts)[0], np.ones((2, 1))], -1) for c in rig])
    pts3d, info = triangulate_keypoints(rig, kp_in)
    np.testing.assert_allclose(pts3d, pts, atol=1e-9)

    orbit = orbit_cameras(views=4, size=32)
    # A flat "surface" at the orbit's depth of the origin hides points well behind it.
    depth = np.full((4, 32, 32), 2.7, np.float32)
    kp_out = project_keypoints(pts3d, orbit, depth, tol=0.05)
    with scene_dir_transaction(tmp_path, "s1") as tmp:
        write_gslrm_views(tmp, "s1", orbit, np.zeros((4, 32, 32, 3)), np.ones((4, 32, 32)),
                          depth=depth)
        write_keypoints_json(tmp, ["a", "b"], {c.file_path: k for c, k in zip(orbit, kp_out)})
        assert not is_scene_finished(tmp_path, "s1")
        write_report(tmp, build_report("s1", metrics={"psnr": 1.0}))
    assert is_scene_finished(tmp_path, "s1")
    update_lists(tmp_path, val_ratio=0.0)
    assert (tmp_path / "data_gslrm_train.txt").read_text() == f"{(tmp_path / 's1').resolve()}\n"
    doc = json.loads((tmp_path / "s1" / "keypoints_2d.json").read_text())
    vis = np.array([[p[2] for p in doc["views"][f"images/cam_{i:03d}.png"]] for i in range(4)])
    # Point b (off-centre) is visible from cameras it faces (closer than 2.7 - tol), hidden
    # from those where it lies behind the plane; a is above the origin, nearer to every camera.
    z_b = np.array([c.world_to_camera(pts[1:])[0, 2] for c in orbit])
    np.testing.assert_array_equal(vis[:, 1], (z_b <= 2.7 + 0.05).astype(int))
    assert vis[:, 0].all()
    assert 0 < vis[:, 1].sum() < 4
