import math

import pytest
import torch

from splatsynth.optim import (
    PoseDeltas,
    active_sh_degree,
    delta_matrices,
    exp_decay,
    fade_out,
    refine_now,
    so3_exp,
)


def test_exp_decay_endpoints():
    assert exp_decay(0, 1000, 1e-3) == pytest.approx(1e-3)
    assert exp_decay(1000, 1000, 1e-3) == pytest.approx(1e-5)
    assert exp_decay(500, 1000, 1e-3) == pytest.approx(1e-4)


def test_sh_degree_rises_exactly_at_its_steps():
    assert [active_sh_degree(s, 3, 250) for s in (0, 249, 250, 499, 500, 750, 5000)] == \
        [0, 0, 1, 1, 2, 3, 3]
    assert active_sh_degree(0, 2, 0) == 2


def test_refine_fires_on_schedule_only():
    fired = [s for s in range(1, 1001) if refine_now(s, 100, 100, 750)]
    assert fired == [100, 200, 300, 400, 500, 600, 700]


def test_so3_exp_matches_rodrigues_and_is_smooth_at_zero():
    phi = torch.tensor([0.0, 0.0, math.pi / 2], dtype=torch.float64)
    R = so3_exp(phi)
    torch.testing.assert_close(R, torch.tensor([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]],
                                               dtype=torch.float64), atol=1e-12, rtol=0)
    z = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(so3_exp, (z,))
    p = torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(so3_exp, (p,))
    Rp = so3_exp(p.detach())
    torch.testing.assert_close(Rp @ Rp.T, torch.eye(3, dtype=torch.float64))


def test_pose_deltas_start_at_identity_and_hold_the_gauge():
    pd = PoseDeltas(3, fixed=0)
    w2c = torch.eye(4).repeat(3, 1, 1)
    torch.testing.assert_close(pd(w2c, torch.arange(3)), w2c)
    with torch.no_grad():
        pd.deltas.fill_(0.1)
    out = pd(w2c, torch.arange(3))
    torch.testing.assert_close(out[0], torch.eye(4))  # the gauge view never moves
    assert not torch.allclose(out[1], torch.eye(4))
    torch.testing.assert_close(out[1], delta_matrices(torch.full((1, 6), 0.1))[0])


def test_fade_out_holds_then_falls_linearly_to_zero():
    w = [fade_out(s, 1000, 0.5) for s in (0, 500, 501, 725, 950, 1000)]
    assert w[:2] == [1.0, 1.0]
    assert w[2] == pytest.approx(1 - 1 / 450)
    assert w[3] == pytest.approx(0.5)
    assert w[4:] == [0.0, 0.0]
    assert fade_out(1000, 1000, 1.0) == 1.0  # 1 means never


# --- measuring poses ------------------------------------------------------------------------


def _ring(n=4):
    from splatsynth.demo import demo_rig_cameras

    return demo_rig_cameras(n, size=128)


def test_perturb_cameras_moves_exactly_the_views_asked_by_the_amounts_asked():
    import numpy as np

    from splatsynth.optim.pose import perturb_cameras, rotation_angle_deg

    cams = _ring()
    out = perturb_cameras(cams, [1, 3], 0.5, 0.01, np.zeros(3), seed=3)
    for i, (a, b) in enumerate(zip(cams, out)):
        if i in (1, 3):
            assert rotation_angle_deg(b.R @ a.R.T) == pytest.approx(0.5, abs=1e-9)
            moved = np.linalg.norm(b.center - a.center)
            assert moved == pytest.approx(0.01 * np.linalg.norm(a.center), rel=1e-9)
        else:
            assert b is a
    # The same seed gives the same directions at every magnitude.
    twice = perturb_cameras(cams, [1, 3], 1.0, 0.02, np.zeros(3), seed=3)
    d1 = out[1].center - cams[1].center
    d2 = twice[1].center - cams[1].center
    np.testing.assert_allclose(d2, 2 * d1, rtol=1e-9)


def test_relative_pose_errors_ignore_the_frame_and_see_the_error():
    import numpy as np

    from splatsynth.optim.pose import perturb_cameras, relative_pose_errors
    from splatsynth.scene_io.normalize import Similarity

    true = _ring()
    est = perturb_cameras(true, [2], 0.7, 0.02, np.zeros(3), seed=1)
    rot, ctr = relative_pose_errors(est, true, 0)
    assert rot[0] == 0 and rot[2] == pytest.approx(0.7, abs=1e-9)
    assert rot[1] == pytest.approx(0, abs=1e-9) and rot[3] == pytest.approx(0, abs=1e-9)
    assert 0 < ctr[2] < 0.05
    # Any similarity of the estimated frame (rotation, translation, scale) changes nothing.
    q = so3_exp(torch.tensor([0.3, -1.0, 0.4], dtype=torch.float64)).numpy()
    sim = Similarity(2.5, q, np.array([1.0, -2.0, 0.5]))
    rot2, ctr2 = relative_pose_errors([sim.camera_to_canonical(c) for c in est], true, 0)
    np.testing.assert_allclose(rot2, rot, atol=1e-7)
    # centre errors: the best scale is fitted, so a pure similarity changes them not at all
    np.testing.assert_allclose(ctr2, ctr, atol=1e-7)


def test_pose_corrections_measure_the_shift_at_the_subject():
    import numpy as np

    from splatsynth.optim.pose import pose_corrections

    cam = _ring(2)[0]
    # Turn the camera by a small angle about its own y axis: the subject moves sideways by
    # about fx * angle pixels.
    angle = np.radians(0.5)
    D = np.eye(4)
    D[:3, :3] = so3_exp(torch.tensor([0.0, angle, 0.0], dtype=torch.float64)).numpy()
    moved = cam.with_w2c(D @ cam.w2c)
    pts = np.random.default_rng(0).normal(0, 0.3, (200, 3))
    (c,) = pose_corrections([cam], [moved], pts)
    assert c["rotation_deg"] == pytest.approx(0.5, abs=1e-9)
    assert c["centre_shift"] == pytest.approx(0, abs=1e-9)
    assert c["shift_px"] == pytest.approx(cam.fx * angle, rel=0.02)
    (same,) = pose_corrections([cam], [cam], pts)
    assert same == {"rotation_deg": 0.0, "centre_shift": 0.0, "shift_px": 0.0}
