"""The fused SSIM kernel against kornia's SSIM (the kept library, our reference)."""

import pytest
import torch
from kornia.metrics import ssim as kornia_ssim

from splatsynth.losses import fused_ssim, l1_ssim_loss


def reference(a, b):
    return kornia_ssim(a.permute(2, 0, 1)[None], b.permute(2, 0, 1)[None], 11,
                       padding="valid").mean()


@pytest.mark.parametrize("seed", range(4))
def test_matches_kornia_values_and_gradients(seed):
    g = torch.Generator().manual_seed(seed)
    h, w = 20 + 7 * seed, 33 - 3 * seed
    base = torch.rand(h, w, 3, generator=g, dtype=torch.float64)
    a = (base + 0.1 * torch.randn(h, w, 3, generator=g, dtype=torch.float64)).requires_grad_()
    b = base.clone()
    ref = reference(a, b)
    ours = fused_ssim(a, b)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    up = torch.rand((), generator=g, dtype=torch.float64)
    g_ref, = torch.autograd.grad(ref * up, a)
    g_ours, = torch.autograd.grad(fused_ssim(a, b) * up, a)
    rel = (g_ours - g_ref).norm() / g_ref.norm()
    assert rel < 1e-10, f"seed {seed}: relative gradient error {rel:.2e}"


def test_float32_close_to_kornia():
    g = torch.Generator().manual_seed(7)
    a = torch.rand(64, 48, 3, generator=g, requires_grad=True)
    b = torch.rand(64, 48, 3, generator=g)
    torch.testing.assert_close(fused_ssim(a, b), reference(a, b), rtol=1e-5, atol=1e-5)
    g1, = torch.autograd.grad(fused_ssim(a, b), a)
    g2, = torch.autograd.grad(reference(a, b), a)
    assert torch.nn.functional.cosine_similarity(g1.flatten(), g2.flatten(), 0) > 0.9999


def test_gradcheck():
    g = torch.Generator().manual_seed(3)
    a = torch.rand(13, 14, 2, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.rand(13, 14, 2, generator=g, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: fused_ssim(x, b), (a,))


def test_identical_images_score_one_and_bad_shapes_raise():
    a = torch.rand(16, 16, 3)
    assert float(fused_ssim(a, a)) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError, match="smaller than"):
        fused_ssim(torch.rand(8, 30, 3), torch.rand(8, 30, 3))
    with pytest.raises(ValueError, match=r"\[H, W, C\]"):
        fused_ssim(torch.rand(16, 16, 3), torch.rand(16, 16, 4))


def test_loss_uses_the_same_ssim_as_the_reference():
    g = torch.Generator().manual_seed(1)
    a = torch.rand(32, 32, 3, generator=g, dtype=torch.float64)
    b = torch.rand(32, 32, 3, generator=g, dtype=torch.float64)
    expected = 0.8 * (a - b).abs().mean() + 0.2 * (1 - reference(a, b))
    torch.testing.assert_close(l1_ssim_loss(a, b, 0.2), expected)
