"""Surfel numba kernels against the plain-torch reference: every output and gradient."""

import pytest
import torch

from .surfel_scenes import FIELDS, OUTPUTS, leaves, rel_err, render, surfel_scene, weighted_loss

# (seed, sh_degree, cameras, width, height): sizes that are not multiples of the 16 px tile
CASES = [
    (0, None, 2, 40, 30),
    (1, 0, 1, 33, 47),
    (2, 1, 3, 48, 32),
    (3, 2, 2, 37, 21),
    (4, 3, 2, 40, 40),
    (5, 3, 1, 17, 64),
]


def _run(scene, backend):
    t = leaves(scene)
    out = render(scene, t, backend)
    out.means2d.retain_grad()
    weighted_loss(out).backward()
    grads = {k: t[k].grad for k in FIELDS}
    grads["means2d"] = out.means2d.grad
    return out, grads


@pytest.mark.parametrize("seed,deg,cams,w,h", CASES)
def test_numba_matches_reference_float64(seed, deg, cams, w, h):
    scene = surfel_scene(seed, n=60, width=w, height=h, cams=cams, sh_degree=deg)
    ref, g_ref = _run(scene, "torch")
    out, g_out = _run(scene, "numba")
    where = f"seed {seed} (sh_degree={deg}, C={cams}, {w}x{h})"
    assert torch.equal(out.radii, ref.radii), where
    assert (ref.radii > 0).sum() > 20, where  # the scene is seen
    assert ref.alphas.max() > 0.5 and ref.distortion.abs().max() > 1e-3, where
    for name in OUTPUTS + ("means2d",):
        a, b = getattr(out, name).detach(), getattr(ref, name).detach()
        vis = (ref.radii > 0) if name == "means2d" else slice(None)
        err = rel_err(a[vis], b[vis])
        assert err <= 1e-9, f"{where}: {name} relative error {err:.2e}"
    for name, gr in g_ref.items():
        go = g_out[name]
        assert gr is not None and go is not None, f"{where}: no gradient for {name}"
        assert gr.norm() > 0, f"{where}: reference gradient of {name} is zero"
        err = rel_err(go, gr)
        cos = float(torch.nn.functional.cosine_similarity(go.flatten(), gr.flatten(), dim=0))
        assert err <= 1e-8 and cos > 1 - 1e-12, f"{where}: d/d{name} rel err {err:.2e}, cos {cos}"


@pytest.mark.parametrize("name", OUTPUTS)
def test_each_output_alone_backpropagates_like_the_reference(name):
    """One output at a time, so a wrong backward path cannot hide behind another's gradient."""
    scene = surfel_scene(6, n=50, width=32, height=32, cams=2, sh_degree=1)
    grads = {}
    for be in ("torch", "numba"):
        t = leaves(scene)
        x = getattr(render(scene, t, be), name)
        wt = torch.randn(x.shape, generator=torch.Generator().manual_seed(9), dtype=x.dtype)
        (x * wt).sum().backward()
        grads[be] = t
    # the ray-plane depth does not depend on the tangent scales or opacity, and the median
    # picks one surfel per pixel: only its plane (mean, rotation) moves it
    names = ("means", "quats") if name == "median_depths" else ("means", "quats", "scales",
                                                                 "opacities")
    for k in names:
        gr, go = grads["torch"][k].grad, grads["numba"][k].grad
        assert gr.norm() > 0, f"{name}: d/d{k} is zero"
        assert rel_err(go, gr) <= 1e-8, f"{name}: d/d{k} rel err {rel_err(go, gr):.2e}"


def test_numba_matches_reference_float32():
    scene = surfel_scene(7, n=80, width=48, height=40, cams=2, sh_degree=3, dtype=torch.float32)
    ref, g_ref = _run(scene, "torch")
    out, g_out = _run(scene, "numba")
    assert out.colors.dtype == torch.float32 and g_out["means"].dtype == torch.float32
    assert torch.equal(out.radii, ref.radii)
    # the median depth jumps where T crosses 0.5, so a pixel or two may pick another surfel
    # in float32; everything else is smooth
    for name in ("colors", "alphas", "depths", "normals", "distortion"):
        err = rel_err(getattr(out, name).detach(), getattr(ref, name).detach())
        assert err < 1e-5, f"float32: {name} relative error {err:.2e}"
    same = (out.median_depths - ref.median_depths).abs() < 1e-4
    assert same.double().mean() > 0.99
    for name, gr in g_ref.items():
        err = rel_err(g_out[name], gr)
        assert err < 2e-3, f"float32: d/d{name} relative error {err:.2e}"
