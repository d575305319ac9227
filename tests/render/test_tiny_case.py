"""A hand-written two-Gaussian 8x8 case with expected values, through both backends."""

import math

import numpy as np
import pytest
import torch

from splatsynth.render import rasterize

W = H = 8
F = 8.0
BG = (0.0, 1.0, 0.0)
# (centre, isotropic scale, opacity, colour); the camera sits at the origin looking down +z
GAUSSIANS = [((0.0, 0.0, 2.0), 0.25, 0.8, (1.0, 0.0, 0.0)),
             ((0.25, 0.0, 4.0), 0.5, 0.6, (0.0, 0.0, 1.0))]


def expected():
    """Closed-form screen Gaussians, composited pixel by pixel with the 3DGS rules."""
    screen = []
    for (x, y, z), s, o, col in GAUSSIANS:
        # J = [[f/z, 0, -f x/z^2], [0, f/z, -f y/z^2]] and Sigma = s^2 I
        a = s * s * ((F / z) ** 2 + (F * x / z**2) ** 2) + 0.3
        c = s * s * ((F / z) ** 2 + (F * y / z**2) ** 2) + 0.3
        b = s * s * (F * x / z**2) * (F * y / z**2)
        u, v = F * x / z + W / 2, F * y / z + H / 2
        ext = math.sqrt(2 * math.log(255 * o))
        screen.append((u, v, a, b, c, o, col, z, math.ceil(ext * math.sqrt(max(a, c)))))
    rgb = np.zeros((H, W, 3))
    alpha = np.zeros((H, W))
    depth = np.zeros((H, W))
    for j in range(H):
        for i in range(W):
            T, acc, d = 1.0, np.zeros(3), 0.0
            for u, v, a, b, c, o, col, z, _ in sorted(screen, key=lambda g: g[7]):
                dx, dy = i + 0.5 - u, j + 0.5 - v
                det = a * c - b * b
                power = 0.5 * (c * dx * dx - 2 * b * dx * dy + a * dy * dy) / det
                al = min(0.99, o * math.exp(-power))
                if al < 1 / 255:
                    continue
                if T * (1 - al) < 1e-4:
                    break
                acc += al * T * np.array(col)
                d += al * T * z
                T *= 1 - al
            rgb[j, i] = acc + T * np.array(BG)
            alpha[j, i] = 1 - T
            depth[j, i] = d / (1 - T) if T < 1 else 0.0
    radii = [g[8] for g in screen]
    centres = [(g[0], g[1]) for g in screen]
    return rgb, alpha, depth, radii, centres


@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_two_gaussians_match_closed_form(backend):
    dt = torch.float64
    means = torch.tensor([g[0] for g in GAUSSIANS], dtype=dt)
    quats = torch.tensor([[1.0, 0, 0, 0], [2.0, 0, 0, 0]], dtype=dt)  # norm need not be 1
    scales = torch.tensor([[g[1]] * 3 for g in GAUSSIANS], dtype=dt)
    opac = torch.tensor([g[2] for g in GAUSSIANS], dtype=dt)
    cols = torch.tensor([g[3] for g in GAUSSIANS], dtype=dt)
    K = torch.tensor([[[F, 0, W / 2], [0, F, H / 2], [0, 0, 1]]], dtype=dt)
    out = rasterize(means, quats, scales, opac, cols, torch.eye(4, dtype=dt)[None], K, W, H,
                    backgrounds=torch.tensor([BG], dtype=dt), render_mode="RGB+ED",
                    backend=backend)
    rgb, alpha, depth, radii, centres = expected()
    assert out.colors.shape == (1, H, W, 4) and out.alphas.shape == (1, H, W, 1)
    np.testing.assert_allclose(out.colors[0, ..., :3].numpy(), rgb, atol=1e-12)
    np.testing.assert_allclose(out.alphas[0, ..., 0].numpy(), alpha, atol=1e-12)
    np.testing.assert_allclose(out.colors[0, ..., 3].numpy(), depth, atol=1e-10)
    assert out.radii[0].tolist() == radii
    np.testing.assert_allclose(out.means2d[0].detach().numpy(), centres, atol=1e-12)
    # the case is not trivial: both Gaussians are seen and some corner pixels skip them
    assert 0.5 < out.alphas.max() < 0.99 and out.alphas.min() == 0.0


def test_sh_degree0_renders_like_rgb():
    from splatsynth.render import sh_from_rgb

    dt = torch.float64
    means = torch.tensor([[0.0, 0.0, 2.0]], dtype=dt)
    rgb = torch.tensor([[0.2, 0.5, 0.9]], dtype=dt)
    args = (means, torch.tensor([[1.0, 0, 0, 0]], dtype=dt), torch.full((1, 3), 0.3, dtype=dt),
            torch.tensor([0.7], dtype=dt))
    K = torch.tensor([[[F, 0, W / 2], [0, F, H / 2], [0, 0, 1]]], dtype=dt)
    vm = torch.eye(4, dtype=dt)[None]
    for backend in ("torch", "numba"):
        a = rasterize(*args, rgb, vm, K, W, H, backend=backend)
        b = rasterize(*args, sh_from_rgb(rgb)[:, None, :], vm, K, W, H, sh_degree=0,
                      backend=backend)
        torch.testing.assert_close(a.colors, b.colors, rtol=0, atol=1e-12)
