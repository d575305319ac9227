"""SH colour bookkeeping: coefficient counts and the DC term, each a converter pair."""

from __future__ import annotations

import pytest
import torch

from splatsynth.gaussians import (
    SH_C0,
    num_sh_coeffs,
    rgb_from_sh_dc,
    sh_dc_from_rgb,
    sh_degree_from_coeffs,
)


def test_dc_round_trip_both_ways():
    g = torch.Generator().manual_seed(0)
    rgb = torch.rand(100, 3, generator=g, dtype=torch.float64)
    torch.testing.assert_close(rgb_from_sh_dc(sh_dc_from_rgb(rgb)), rgb)
    dc = torch.randn(100, 3, generator=g, dtype=torch.float64)
    torch.testing.assert_close(sh_dc_from_rgb(rgb_from_sh_dc(dc)), dc)
    # Mid grey is the zero coefficient; a coefficient of 1 adds SH_C0.
    assert sh_dc_from_rgb(torch.tensor(0.5)) == 0
    assert rgb_from_sh_dc(torch.tensor(1.0, dtype=torch.float64)) == 0.5 + SH_C0


def test_dc_matches_the_renderer():
    # The renderer evaluates the degree-0 term with its own constant: they must agree.
    from splatsynth.render import sh_from_rgb
    from splatsynth.render.sh import SH_C0 as RENDER_SH_C0

    assert SH_C0 == RENDER_SH_C0
    rgb = torch.rand(10, 3)
    torch.testing.assert_close(sh_dc_from_rgb(rgb), sh_from_rgb(rgb), rtol=0, atol=0)


def test_coefficient_count_round_trip():
    for d in range(5):
        assert sh_degree_from_coeffs(num_sh_coeffs(d)) == d
    assert [num_sh_coeffs(d) for d in range(4)] == [1, 4, 9, 16]
    for k in (0, 2, 15):
        with pytest.raises(ValueError, match="not \\(degree \\+ 1\\)\\^2"):
            sh_degree_from_coeffs(k)
