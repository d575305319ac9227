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
