"""float64 finite-difference checks of the numba kernels (8x8 images, < 50 Gaussians)."""

import numpy as np
import torch
from torch.autograd import gradcheck

from splatsynth.render import rasterize
from splatsynth.render.projection import project_gaussians
from splatsynth.render.rasterization import rasterize_to_pixels

from .scenes import random_scene


def _scene(seed, sh_degree, n=12):
    # large, semi-transparent Gaussians: no alpha sits near the 0.99 clamp or 1/255 cut-off
    s = random_scene(seed, n=n, width=8, height=8, cams=2, sh_degree=sh_degree,
                     scale=(0.4, 0.9))
    s["opacities"] = s["opacities"] * 0.6 + 0.2
    return s


def test_gradcheck_full_pipeline():
    s = _scene(0, sh_degree=1, n=8)
    names = ("means", "quats", "scales", "opacities", "colors", "backgrounds")
    inputs = tuple(s[k].clone().requires_grad_(True) for k in names)

    def f(means, quats, scales, opac, colors, bgs):
        out = rasterize(means, quats, scales, opac, colors, s["viewmats"], s["Ks"], 8, 8,
                        sh_degree=1, backgrounds=bgs, render_mode="RGB+ED", backend="numba")
        return out.colors, out.alphas

    out = f(*inputs)
    assert (out[1] > 0.01).double().mean() > 0.8  # most pixels are covered
    assert gradcheck(f, inputs, eps=1e-6, atol=1e-6, rtol=1e-4)


def test_gradcheck_viewmats():
    s = _scene(1, sh_degree=1)
    vm = s["viewmats"].clone().requires_grad_(True)

    def f(viewmats):
        out = rasterize(s["means"], s["quats"], s["scales"], s["opacities"], s["colors"],
                        viewmats, s["Ks"], 8, 8, sh_degree=1, backgrounds=s["backgrounds"],
                        render_mode="RGB+ED", backend="numba")
        return out.colors, out.alphas

    assert gradcheck(f, (vm,), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_gradcheck_each_kernel():
    """Projection and compositing separately, so a failure points at one kernel."""
    s = _scene(2, sh_degree=3, n=10)
    p_in = tuple(s[k].clone().requires_grad_(True)
                 for k in ("means", "quats", "scales", "colors", "viewmats"))

    def proj(means, quats, scales, colors, viewmats):
        p = project_gaussians(means, quats, scales, s["opacities"], colors, viewmats, s["Ks"],
                              8, 8, sh_degree=3)
        vis = (p.radii > 0).any(-1, keepdim=True)
        return p.means2d * vis, p.conics * vis, p.depths * vis[..., 0], p.colors * vis

    assert gradcheck(proj, p_in, eps=1e-6, atol=1e-6, rtol=1e-4)

    with torch.no_grad():
        p = project_gaussians(s["means"], s["quats"], s["scales"], s["opacities"], s["colors"],
                              s["viewmats"], s["Ks"], 8, 8, sh_degree=3)
    r_in = tuple(x.clone().requires_grad_(True)
                 for x in (p.means2d, p.conics, p.colors, s["opacities"], p.depths,
                           s["backgrounds"]))

    def raster(m2d, conics, colors, opac, depths, bgs):
        return rasterize_to_pixels(m2d, conics, colors, opac, depths, p.radii, 8, 8,
                                   backgrounds=bgs)

    assert gradcheck(raster, r_in, eps=1e-6, atol=1e-6, rtol=1e-4)


def test_pose_gradient_moves_render_as_predicted():
    """First-order check of a rigid pose update (how pose refinement uses viewmats)."""
    s = random_scene(3, n=40, width=32, height=32, cams=1, sh_degree=3)
    vm = s["viewmats"].clone().requires_grad_(True)
    target = torch.rand(1, 32, 32, 3, generator=torch.Generator().manual_seed(0),
                        dtype=torch.float64)

    def loss(viewmats):
        out = rasterize(s["means"], s["quats"], s["scales"], s["opacities"], s["colors"],
                        viewmats, s["Ks"], 32, 32, sh_degree=3, backend="numba")
        return ((out.colors - target) ** 2).sum()

    loss(vm).backward()
    # a small rotation about the camera's y axis plus a shift
    a = 1e-5
    delta = torch.eye(4, dtype=torch.float64)
    delta[:3, :3] = torch.tensor([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    delta[:3, 3] = torch.tensor([2e-5, -1e-5, 3e-5])
    moved = delta @ s["viewmats"][0]
    with torch.no_grad():
        fd = loss(moved[None]) - loss(s["viewmats"])
    predicted = (vm.grad[0] * (moved - s["viewmats"][0])).sum()
    assert vm.grad.abs().max() > 0
    assert abs(float(fd - predicted)) < 1e-3 * abs(float(fd))
