"""The fused L1 loss against torch's ``(pred - target).abs().mean()``: same gradient bit for bit,
same value up to the last bits, crops read in place, any thread count."""

import pytest
import torch

from splatsynth.losses import fused_l1
from splatsynth.render import set_num_threads


def _pair(shape, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(shape, generator=g, dtype=dtype)
    b = torch.rand(shape, generator=g, dtype=dtype)
    b.view(-1)[::7] = a.view(-1)[::7]  # some exact ties: sign 0
    return a, b


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(37, 53, 3), (1, 64, 48, 3), (5, 1, 2), (300, 301, 3)])
def test_matches_torch(shape, dtype):
    a, b = _pair(shape, dtype, 0)
    for up in (1.0, 0.8, -0.37):
        x = a.clone().requires_grad_()
        ours = fused_l1(x, b)
        g_ours, = torch.autograd.grad(ours * up, x)
        y = a.clone().requires_grad_()
        ref = (y - b).abs().mean()
        g_ref, = torch.autograd.grad(ref * up, y)
        torch.testing.assert_close(ours, ref, rtol=1e-6, atol=0)
        assert torch.equal(g_ours, g_ref)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_crops_are_read_in_place(dtype):
    a, b = _pair((70, 90, 3), dtype, 1)
    x = a.clone().requires_grad_()
    crop = (slice(5, 61), slice(7, 80))
    ours = fused_l1(x[crop], b[crop])
    ref = (a[crop] - b[crop]).abs().mean()
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=0)
    g_ours, = torch.autograd.grad(ours, x)
    y = a.clone().requires_grad_()
    g_ref, = torch.autograd.grad((y[crop] - b[crop]).abs().mean(), y)
    assert torch.equal(g_ours, g_ref)
    # a permuted (non-packed) image is copied, with the same result
    p = x.permute(1, 0, 2)
    torch.testing.assert_close(fused_l1(p, b.permute(1, 0, 2)), (a - b).abs().mean(),
                               rtol=1e-6, atol=0)


def test_same_bits_for_any_thread_count():
    a, b = _pair((256, 256, 3), torch.float32, 2)
    out = []
    for n in (1, 2, 3):
        set_num_threads(n)
        try:
            x = a.clone().requires_grad_()
            v = fused_l1(x, b)
            g, = torch.autograd.grad(v, x)
            out.append((v, g))
        finally:
            set_num_threads(None)
    for v, g in out[1:]:
        assert torch.equal(v, out[0][0]) and torch.equal(g, out[0][1])


def test_other_shapes_fall_back_and_mismatch_raises():
    a, b = torch.rand(10, requires_grad=True), torch.rand(10)
    torch.testing.assert_close(fused_l1(a, b), (a - b).abs().mean())
    with pytest.raises(ValueError, match="shapes differ"):
        fused_l1(torch.rand(4, 4, 3), torch.rand(4, 4, 1))
