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
