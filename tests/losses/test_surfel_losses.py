"""2DGS regularizers: normals of depth maps, depth distortion, normal consistency."""

import math

import torch

from splatsynth.losses.surfel import (
    depth_distortion_loss,
    normal_consistency_loss,
    normals_from_depth,
)
from splatsynth.render import rasterize_surfels

DT = torch.float64


def _K(f=20.0, size=24):
    return torch.tensor([[f, 0, size / 2 + 0.3], [0, f * 1.1, size / 2 - 0.2], [0, 0, 1]], dtype=DT)


def _plane_depth(n, d0, K, size=24):
    """Camera-frame depth of the plane n.X = d0 along each pixel-centre ray."""
    r = torch.arange(size, dtype=DT) + 0.5
    y, x = torch.meshgrid(r, r, indexing="ij")
    ray = torch.stack([(x - K[0, 2]) / K[0, 0], (y - K[1, 2]) / K[1, 1], torch.ones_like(x)], -1)
    return (d0 / (ray @ n))[..., None]


def test_normals_of_a_tilted_plane_are_its_normal_facing_the_camera():
    K = _K()
    n = torch.tensor([0.3, -0.4, -1.0], dtype=DT)
    n = n / n.norm()  # faces the camera (n . view direction < 0)
    depth = _plane_depth(n, float(n @ torch.tensor([0.0, 0.0, 3.0], dtype=DT)), K)
    for d in (depth, depth[..., 0]):  # [H, W, 1] and [H, W]
        N = normals_from_depth(d, K)
        assert N.shape == (24, 24, 3)
        assert (N[1:-1, 1:-1] - n).abs().max() < 1e-10
        assert N[0].abs().max() == 0 and N[:, -1].abs().max() == 0  # border: undefined
    # the same plane seen from the other side: depth is symmetric, normal flips with it
    wall = torch.full((1, 24, 24, 1), 2.0, dtype=DT)
    assert torch.allclose(normals_from_depth(wall, K[None])[0, 5, 5],
                          torch.tensor([0.0, 0.0, -1.0], dtype=DT))


def test_normals_next_to_empty_pixels_are_zero():
    K = _K()
    depth = torch.full((24, 24, 1), 2.0, dtype=DT)
    depth[10, 10] = 0.0  # a hole: its four neighbours have no surface across it
    N = normals_from_depth(depth, K)
    assert N[10, 9].abs().max() == 0 and N[9, 10].abs().max() == 0
    assert N[10, 10].abs().max() > 0.99  # its own neighbours are fine
    assert N[5, 5, 2] == -1.0


def test_normals_from_depth_gradient():
    K = _K(size=8)
    z = (2.0 + 0.1 * torch.rand(2, 8, 8, 1, dtype=DT, generator=torch.Generator().manual_seed(0))
         ).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda d: normals_from_depth(d, K.expand(2, 3, 3)), (z,))


def test_depth_distortion_loss_is_the_masked_mean():
    d = torch.rand(2, 5, 6, 1, dtype=DT, generator=torch.Generator().manual_seed(1))
    assert torch.isclose(depth_distortion_loss(d), d.mean())
    mask = torch.zeros(2, 5, 6)
    mask[0, 1:3, 2:4] = 1
    assert torch.isclose(depth_distortion_loss(d, mask), d[0, 1:3, 2:4].mean())
    assert torch.isclose(depth_distortion_loss(d, mask[..., None]), d[0, 1:3, 2:4].mean())
    assert depth_distortion_loss(d[:0]) == 0


def _plane_of_surfels(tilt_noise: float, seed: int = 0):
    """49 surfels tiling a plane tilted 35 degrees, their rotations perturbed by tilt_noise."""
    ang = math.radians(35.0)
    eu = torch.tensor([math.cos(ang), 0.0, math.sin(ang)], dtype=DT)
    ev = torch.tensor([0.0, 1.0, 0.0], dtype=DT)
    g = torch.linspace(-1.2, 1.2, 7, dtype=DT)
    means = (torch.tensor([0.0, 0.0, 3.0], dtype=DT) + g[:, None, None] * eu
             + g[None, :, None] * ev).reshape(-1, 3)
    # rotation about y by -ang maps x to eu: wxyz quaternion
    q = torch.tensor([math.cos(-ang / 2), 0.0, math.sin(-ang / 2), 0.0], dtype=DT).expand(49, 4)
    q = q + tilt_noise * torch.randn(49, 4, dtype=DT, generator=torch.Generator().manual_seed(seed))
    return means, q


def _render(means, quats, size=24):
    K = _K(size=size)
    out = rasterize_surfels(means, quats, torch.full((49, 2), 0.35, dtype=DT),
                            torch.full((49,), 0.95, dtype=DT), torch.ones(49, 3, dtype=DT),
                            torch.eye(4, dtype=DT)[None], K[None], size, size)
    return out, K[None]


def test_normal_consistency_vanishes_on_a_flat_surface_and_grows_with_tilt():
    means, q = _plane_of_surfels(0.0)
    out, Ks = _render(means, q)
    flat = normal_consistency_loss(out.normals, out.median_depths, Ks, out.alphas)
    assert out.alphas.mean() > 0.7 and abs(float(flat)) < 1e-9
    # the rendered normals agree with normals of the rendered depth (what the loss relies on)
    N = normals_from_depth(out.median_depths, Ks)[0]
    inner = (out.alphas[0, ..., 0] > 0.99) & (N.norm(dim=-1) > 0)
    nr = out.normals[0][inner] / out.normals[0][inner].norm(dim=-1, keepdim=True)
    assert inner.sum() > 100 and (nr - N[inner]).abs().max() < 1e-9
    losses = []
    for noise in (0.05, 0.2):
        out, Ks = _render(*_plane_of_surfels(noise))
        losses.append(float(normal_consistency_loss(out.normals, out.median_depths, Ks,
                                                    out.alphas)))
    assert 1e-4 < losses[0] < losses[1]


def test_normal_consistency_descent_flattens_perturbed_surfels():
    """Gradient steps on the rotations alone reduce the loss: the gradient reaches the
    normals through the kernels' backward, and points the right way."""
    means, q0 = _plane_of_surfels(0.15, seed=3)
    quats = q0.clone().requires_grad_(True)
    opt = torch.optim.Adam([quats], lr=0.01)
    hist = []
    for _ in range(15):
        out, Ks = _render(means, quats)
        loss = normal_consistency_loss(out.normals, out.median_depths, Ks, out.alphas)
        hist.append(float(loss.detach()))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert hist[-1] < 0.6 * hist[0], hist


def test_background_and_mask():
    means, q = _plane_of_surfels(0.2)
    out, Ks = _render(means, q)
    args = (out.normals, out.median_depths, Ks, out.alphas)
    full = normal_consistency_loss(*args)
    mask = (out.alphas[..., 0] > 0.5).to(DT)
    masked = normal_consistency_loss(*args, mask=mask)
    assert masked > full > 0  # empty pixels count as zero in the plain mean
    empty = torch.zeros_like(out.alphas)
    zero = normal_consistency_loss(torch.zeros_like(out.normals), empty, Ks, empty)
    assert zero == 0
