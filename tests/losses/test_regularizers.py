"""The shape regularizers: what they charge for, and which way their gradients push."""

import math

import pytest
import torch

from splatsynth.losses import anisotropy_regularizer, needle_regularizer


def test_needle_regularizer_charges_needles_only():
    ball = [0.01, 0.01, 0.01]
    disc = [0.05, 0.05, 0.001]  # a surface element: free however flat
    needle = [0.08, 0.01, 0.01]  # longest / middle = 8
    s = torch.tensor([ball, disc, needle])
    assert float(needle_regularizer(s[:2], 3.0)) == 0.0
    assert float(needle_regularizer(s, 3.0)) == pytest.approx((8.0 - 3.0) / 3)
    # axis order does not matter
    assert float(needle_regularizer(s[:, [2, 0, 1]], 3.0)) == pytest.approx((8.0 - 3.0) / 3)
    # the anisotropy penalty, by contrast, charges the disc (ratio 50) as well
    assert float(anisotropy_regularizer(s[1:2], 10.0)) == pytest.approx(40.0)


def test_needle_regularizer_gradient_shortens_the_long_axis_and_widens_the_middle():
    log_s = torch.tensor([[math.log(0.08), math.log(0.02), math.log(0.005)]], requires_grad=True)
    needle_regularizer(torch.exp(log_s), 3.0).backward()
    g = log_s.grad[0]
    assert g[0] > 0 and g[1] < 0 and g[2] == 0


def test_needle_regularizer_of_nothing_is_a_zero_with_a_gradient():
    s = torch.zeros(0, 3, requires_grad=True)
    out = needle_regularizer(s)
    out.backward()
    assert float(out.detach()) == 0.0 and s.grad is not None


def _raw(n, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    log_s = torch.log(torch.rand(n, 3, generator=g, dtype=dtype) * 0.1 + 1e-3)
    # needles among discs and balls
    log_s[::5, 0] = log_s[::5, 1] + math.log(6.0)
    logits = torch.randn(n, generator=g, dtype=dtype) * 4
    logits[:2] = torch.tensor([-900.0, 900.0], dtype=dtype)  # exp() overflows in a naive form
    return log_s, logits


def _reference(log_s, logits, needle_max, aniso_max):
    from splatsynth.losses import opacity_regularizer, scale_regularizer

    s = torch.exp(log_s)
    return {"opacity": opacity_regularizer(torch.sigmoid(logits)),
            "scale": scale_regularizer(s), "needle": needle_regularizer(s, needle_max),
            "aniso": anisotropy_regularizer(s, aniso_max)}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fused_shape_regularizers_match_the_reference_values_and_gradients(dtype):
    from splatsynth.losses import SHAPE_TERMS, shape_regularizers

    log_s, logits = _raw(400, dtype)
    weights = {"opacity": 0.2, "scale": 0.1, "needle": 0.3, "aniso": 0.05}
    got_p = [log_s.clone().requires_grad_(), logits[:, None].clone().requires_grad_()]
    want_p = [log_s.clone().requires_grad_(), logits[:, None].clone().requires_grad_()]
    got = shape_regularizers(*got_p, 2.5, 4.0)
    want = _reference(*want_p, 2.5, 4.0)
    assert list(got) == list(SHAPE_TERMS)
    tol = 1e-12 if dtype == torch.float64 else 2e-6
    for k in SHAPE_TERMS:
        assert float(got[k].detach()) == pytest.approx(float(want[k].detach()), rel=tol, abs=tol)
        assert float(want[k].detach()) > 0  # every term is exercised
    sum(weights[k] * got[k] for k in SHAPE_TERMS).backward()
    sum(weights[k] * want[k] for k in SHAPE_TERMS).backward()
    for a, b in zip(got_p, want_p):
        assert a.grad.shape == b.grad.shape
        torch.testing.assert_close(a.grad, b.grad, rtol=tol * 10, atol=tol * 1e-3)
        assert torch.isfinite(a.grad).all()


def test_fused_shape_regularizers_pass_gradcheck():
    from splatsynth.losses import SHAPE_TERMS, shape_regularizers

    log_s, logits = _raw(30, torch.float64, seed=1)
    log_s[:, 0] += 0.01 * torch.arange(30, dtype=torch.float64)  # no ties: a smooth point
    logits = logits.clamp(-8, 8)

    def f(ls, lo):
        t = shape_regularizers(ls, lo, 2.5, 4.0)
        return torch.stack([t[k] for k in SHAPE_TERMS])

    assert torch.autograd.gradcheck(f, (log_s.requires_grad_(), logits.requires_grad_()),
                                    eps=1e-7, atol=1e-6)


def test_shape_regularizers_fall_back_to_the_reference_off_the_fused_path():
    from splatsynth.losses import shape_regularizers

    log_s, logits = _raw(20, torch.float32)
    got = shape_regularizers(log_s.half().float()[:0], logits[:0])  # nothing: no kernel
    assert all(float(v) == 0.0 for v in got.values())
    mixed = shape_regularizers(log_s, logits.double())  # dtypes differ: torch's ops
    want = _reference(log_s, logits.double(), 3.0, 10.0)
    for k, v in want.items():
        assert float(mixed[k]) == pytest.approx(float(v), rel=1e-6)


def test_fused_shape_regularizers_with_tied_axes():
    """Where two axes tie, either one may carry the penalty's gradient (sort order is not
    defined between equals); the value and the tied pair's summed gradient are."""
    from splatsynth.losses import shape_regularizers

    log_s = torch.log(torch.tensor([[0.08, 0.01, 0.01], [0.02, 0.02, 0.001]],
                                   dtype=torch.float64))
    a, b = log_s.clone().requires_grad_(), log_s.clone().requires_grad_()
    got = shape_regularizers(a, torch.zeros(2, dtype=torch.float64), 3.0, 4.0)
    want = _reference(b, torch.zeros(2, dtype=torch.float64), 3.0, 4.0)
    (got["needle"] + got["aniso"]).backward()
    (want["needle"] + want["aniso"]).backward()
    assert float(got["needle"].detach()) == pytest.approx(float(want["needle"].detach()))
    assert float(got["aniso"].detach()) == pytest.approx(float(want["aniso"].detach()))
    torch.testing.assert_close(a.grad[0, 0], b.grad[0, 0])  # the needle's long axis
    torch.testing.assert_close(a.grad[0, 1:].sum(), b.grad[0, 1:].sum())
    torch.testing.assert_close(a.grad[1, 2], b.grad[1, 2])  # the disc's short axis
    torch.testing.assert_close(a.grad[1, :2].sum(), b.grad[1, :2].sum())
    assert float(a.grad[1, 2]) < 0  # the disc is charged by the anisotropy term only
