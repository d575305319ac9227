"""float64 finite-difference checks of the surfel kernels (8x8 images, < 50 surfels)."""

import numpy as np
import torch
from torch.autograd import gradcheck

from splatsynth.render import rasterize_surfels
from splatsynth.render.surfels import project_surfels, rasterize_surfels_to_pixels  # the fast twins

from .surfel_scenes import OUTPUTS, surfel_scene


def _scene(seed, sh_degree, n=12):
    # large, semi-transparent surfels: no alpha sits near the 0.99 clamp or the 1/255 cut-off
    s = surfel_scene(seed, n=n, width=8, height=8, cams=2, sh_degree=sh_degree,
                     scale=(0.4, 0.9))
    s["opacities"] = s["opacities"] * 0.6 + 0.2
    return s


def _outputs(out):
    return tuple(getattr(out, k) for k in OUTPUTS)


def test_gradcheck_full_pipeline():
    s = _scene(0, sh_degree=2)
    names = ("means", "quats", "scales", "opacities", "colors", "backgrounds")
    inputs = tuple(s[k].clone().requires_grad_(True) for k in names)

    def f(means, quats, scales, opac, colors, bgs):
        return _outputs(rasterize_surfels(means, quats, scales, opac, colors, s["viewmats"],
                                          s["Ks"], 8, 8, sh_degree=2, backgrounds=bgs,
                                          backend="numba"))

    out = f(*inputs)
    assert (out[1] > 0.01).double().mean() > 0.8  # most pixels are covered
    assert out[5].abs().max() > 1e-2  # and the distortion is exercised
    assert gradcheck(f, inputs, eps=1e-6, atol=1e-6, rtol=1e-4)


def test_gradcheck_viewmats():
    s = _scene(1, sh_degree=1)
    vm = s["viewmats"].clone().requires_grad_(True)

    def f(viewmats):
        return _outputs(rasterize_surfels(s["means"], s["quats"], s["scales"], s["opacities"],
                                          s["colors"], viewmats, s["Ks"], 8, 8, sh_degree=1,
                                          backgrounds=s["backgrounds"],
                                          backend="numba"))

    assert gradcheck(f, (vm,), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_gradcheck_each_kernel():
    """Projection and compositing separately, so a failure points at one kernel."""
    s = _scene(2, sh_degree=3, n=20)
    p_in = tuple(s[k].clone().requires_grad_(True)
                 for k in ("means", "quats", "scales", "colors", "viewmats"))

    def proj(means, quats, scales, colors, viewmats):
        p = project_surfels(means, quats, scales, s["opacities"], colors, viewmats, s["Ks"],
                            8, 8, sh_degree=3)
        vis = (p.radii > 0).any(-1, keepdim=True)
        return (p.means2d * vis, p.ray_transforms * vis[..., None], p.normals * vis,
                p.colors * vis)

    assert gradcheck(proj, p_in, eps=1e-6, atol=1e-6, rtol=1e-4)

    with torch.no_grad():
        p = project_surfels(s["means"], s["quats"], s["scales"], s["opacities"], s["colors"],
                            s["viewmats"], s["Ks"], 8, 8, sh_degree=3)
    assert (p.radii > 0).any(-1).sum() > 20
    r_in = tuple(x.clone().requires_grad_(True)
                 for x in (p.means2d, p.ray_transforms, p.colors, p.normals, s["opacities"],
                           s["backgrounds"]))

    def raster(m2d, M, colors, normals, opac, bgs):
        return rasterize_surfels_to_pixels(m2d, M, colors, normals, opac, p.radii, p.boxes,
                                           8, 8, backgrounds=bgs)

    assert gradcheck(raster, r_in, eps=1e-6, atol=1e-6, rtol=1e-4)


def test_fallback_branch_gradient():
    """Tiny surfels are drawn by the screen-space fallback: alpha depends on means2d there."""
    s = _scene(3, sh_degree=None, n=10)
    s["scales"] = s["scales"] * 0.01  # far below a pixel
    with torch.no_grad():
        p = project_surfels(s["means"], s["quats"], s["scales"], s["opacities"], s["colors"],
                            s["viewmats"], s["Ks"], 8, 8)
    m2d = p.means2d.clone().requires_grad_(True)

    def raster(m2d):
        return rasterize_surfels_to_pixels(m2d, p.ray_transforms, p.colors, p.normals,
                                           s["opacities"], p.radii, p.boxes, 8, 8)[:2]

    assert raster(m2d)[1].max() > 0.05
    assert gradcheck(raster, (m2d,), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_pose_gradient_moves_render_as_predicted():
    """First-order check of a rigid pose update (how pose refinement uses viewmats)."""
    s = surfel_scene(3, n=40, width=32, height=32, cams=1, sh_degree=3)
    vm = s["viewmats"].clone().requires_grad_(True)
    target = torch.rand(1, 32, 32, 3, generator=torch.Generator().manual_seed(0),
                        dtype=torch.float64)

    def loss(viewmats):
        out = rasterize_surfels(s["means"], s["quats"], s["scales"], s["opacities"],
                                s["colors"], viewmats, s["Ks"], 32, 32, sh_degree=3,
                                backend="numba")
        return ((out.colors - target) ** 2).sum() + out.distortion.sum()

    loss(vm).backward()
    a = 1e-7  # the render is strongly curved in the pose: the linear error is ~1e2 a
    delta = torch.eye(4, dtype=torch.float64)
    delta[:3, :3] = torch.tensor([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    delta[:3, 3] = torch.tensor([2.0, -1.0, 3.0]) * a
    moved = delta @ s["viewmats"][0]
    with torch.no_grad():
        fd = loss(moved[None]) - loss(s["viewmats"])
    predicted = (vm.grad[0] * (moved - s["viewmats"][0])).sum()
    assert vm.grad.abs().max() > 0
    assert abs(float(fd - predicted)) < 1e-3 * abs(float(fd))
