"""numba kernels against the plain-torch reference: outputs and gradients, several seeds."""

import pytest
import torch

from .scenes import FIELDS, leaves, random_scene, rel_err, render, weighted_loss

# (seed, sh_degree, cameras, width, height): sizes that are not multiples of the 16 px tile
CASES = [
    (0, None, 2, 40, 30),
    (1, 0, 1, 33, 47),
    (2, 1, 3, 48, 32),
    (3, 2, 2, 37, 21),
    (4, 3, 2, 40, 40),
    (5, 3, 1, 17, 64),
    (6, 3, 6, 80, 64),  # the fit's shape: up to 6 cameras per call, non-square
]


def _run(scene, backend):
    t = leaves(scene)
    out = render(scene, t, backend, render_mode="RGB+ED")
    out.means2d.retain_grad()
    weighted_loss(out).backward()
    grads = {k: t[k].grad for k in FIELDS if k != "Ks"}
    grads["means2d"] = out.means2d.grad
    return out, grads


@pytest.mark.parametrize("seed,deg,cams,w,h", CASES)
def test_numba_matches_reference_float64(seed, deg, cams, w, h):
    scene = random_scene(seed, n=60, width=w, height=h, cams=cams, sh_degree=deg)
    ref, g_ref = _run(scene, "torch")
    out, g_out = _run(scene, "numba")
    where = f"seed {seed} (sh_degree={deg}, C={cams}, {w}x{h})"
    assert torch.equal(out.radii, ref.radii), where
    assert (ref.radii > 0).sum() > 20, where  # the scene is seen
    assert ref.alphas.max() > 0.5, where
    for name, a, b in (("colors", out.colors, ref.colors), ("alphas", out.alphas, ref.alphas),
                       ("means2d", out.means2d, ref.means2d)):
        vis = (ref.radii > 0) if name == "means2d" else slice(None)
        err = rel_err(a[vis].detach(), b[vis].detach())
        assert err <= 1e-6, f"{where}: {name} relative error {err:.2e}"
    for name, gr in g_ref.items():
        go = g_out[name]
        assert gr is not None and go is not None, f"{where}: no gradient for {name}"
        assert gr.norm() > 0, f"{where}: reference gradient of {name} is zero"
        err = rel_err(go, gr)
        cos = float(torch.nn.functional.cosine_similarity(go.flatten(), gr.flatten(), dim=0))
        assert err <= 1e-6 and cos > 1 - 1e-9, f"{where}: d/d{name} rel err {err:.2e}, cos {cos}"


def test_numba_matches_reference_float32():
    scene = random_scene(7, n=80, width=48, height=40, cams=2, sh_degree=3, dtype=torch.float32)
    ref, g_ref = _run(scene, "torch")
    out, g_out = _run(scene, "numba")
    assert out.colors.dtype == torch.float32 and g_out["means"].dtype == torch.float32
    assert torch.equal(out.radii, ref.radii)
    assert rel_err(out.colors.detach(), ref.colors.detach()) < 1e-5
    for name, gr in g_ref.items():
        err = rel_err(g_out[name], gr)
        assert err < 1e-3, f"float32: d/d{name} relative error {err:.2e}"


def test_depth_is_expected_depth():
    """RGB+ED's 4th channel is the alpha-normalized depth: a flat Gaussian wall reads its z."""
    scene = random_scene(8, n=30, width=32, height=32, cams=1)
    scene["means"][:, 2] = 0.0  # all on the plane z = 0, seen from ~2.5 units
    out = render(scene, {}, "numba", render_mode="RGB+ED")
    vm = scene["viewmats"][0]
    zc = (scene["means"] @ vm[:3, :3].T + vm[:3, 3])[:, 2]
    covered = out.alphas[0, ..., 0] > 0.05
    d = out.colors[0, ..., 3][covered]
    assert covered.sum() > 20
    assert zc.min() - 1e-9 <= d.min() and d.max() <= zc.max() + 1e-9


def test_rgb_mode_matches_reference():
    """render_mode="RGB": the backward skips the depth terms (nothing depends on depth)."""
    scene = random_scene(9, n=80, width=40, height=32, cams=2, sh_degree=2)
    res = {}
    for be in ("torch", "numba"):
        t = leaves(scene)
        out = render(scene, t, be, render_mode="RGB")
        weighted_loss(out).backward()
        res[be] = (out.colors.detach(), {k: t[k].grad for k in FIELDS if k != "Ks"})
    assert res["numba"][0].shape[-1] == 3
    assert rel_err(res["numba"][0], res["torch"][0]) <= 1e-6
    for k, gr in res["torch"][1].items():
        assert rel_err(res["numba"][1][k], gr) <= 1e-6, k
