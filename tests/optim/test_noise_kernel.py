"""The numba MCMC noise step against its torch reference."""

import numpy as np
import pytest
import torch

from splatsynth.optim import MCMCStrategy
from splatsynth.optim._noise_kernel import covariance_noise
from splatsynth.optim.strategy import covariance_noise_reference, noise_gate


def _params(n, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {
        "means": torch.randn(n, 3, generator=g, dtype=dtype),
        "quats": torch.randn(n, 4, generator=g, dtype=dtype),  # unnormalized on purpose
        "log_scales": torch.randn(n, 3, generator=g, dtype=dtype) - 3.0,
        # transparent, borderline and opaque Gaussians, and logits that overflow exp()
        "opacity_logits": torch.cat([torch.linspace(-12, 6, n - 2, dtype=dtype),
                                     torch.tensor([-800.0, 800.0], dtype=dtype)]),
    }


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_kernel_matches_reference(dtype):
    p = _params(500, dtype)
    eps = torch.randn(500, 3, generator=torch.Generator().manual_seed(1), dtype=dtype)
    want = p["means"] + covariance_noise_reference(p["quats"], p["log_scales"],
                                                   p["opacity_logits"], eps, 0.005, 7.5)
    got = p["means"].clone()
    covariance_noise(got.numpy(), p["quats"].numpy(), torch.exp(2 * p["log_scales"]).numpy(),
                     noise_gate(p["opacity_logits"], 0.005).numpy(), eps.numpy(), 7.5)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=tol, atol=tol)
    assert torch.isfinite(got).all()
    # Opaque Gaussians barely move; transparent ones do.
    moved = (got - p["means"]).norm(dim=-1)
    assert moved[-1] < 1e-12 and moved[0] > 0


def test_strategy_uses_the_kernel_in_place_and_stays_seeded():
    a, b = _params(300, torch.float32), _params(300, torch.float32)
    a = {k: torch.nn.Parameter(v) for k, v in a.items()}
    before = a["means"].detach().clone()
    MCMCStrategy(seed=3).add_noise(a, 1e-5)
    # same draws through the reference
    eps = torch.randn(300, 3, generator=torch.Generator().manual_seed(3))
    want = before + covariance_noise_reference(b["quats"], b["log_scales"],
                                               b["opacity_logits"], eps, 0.005, 5e5 * 1e-5)
    np.testing.assert_allclose(a["means"].detach().numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    assert not torch.equal(a["means"].detach(), before)
