"""The virtual-view priors: silhouette cores pulled to opacity, faint pixels to transparency,
ridges in the rendered depth rounded off."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from splatsynth.fit import fit_scene
from splatsynth.fit.priors import VirtualViews, clear_loss, curvature_loss, solid_loss
from splatsynth.scene_io import load_scene


@pytest.fixture(scope="module")
def scene(tiny_demo):
    return load_scene(tiny_demo)


def test_solid_loss_pulls_only_the_core_of_the_silhouette():
    yy, xx = np.mgrid[:40, :40]
    disc = torch.as_tensor(((yy - 20) ** 2 + (xx - 20) ** 2 <= 100).astype(np.float32))
    alpha = (0.8 * disc + 0.1 * (1 - disc)).requires_grad_(True)  # a faint halo outside
    loss = solid_loss(alpha, 3)
    assert float(loss.detach()) == pytest.approx(0.2, abs=1e-6)
    loss.backward()
    g = alpha.grad.numpy()
    core = ((yy - 20) ** 2 + (xx - 20) ** 2 <= 5.5**2)  # a 7x7 square fits around these
    assert (g[core] < 0).all()  # gradient descent raises their opacity
    edge = ((yy - 20) ** 2 + (xx - 20) ** 2 > 8**2)
    assert (g[edge] == 0).all()  # the edge band and the halo are left alone
    empty = torch.zeros(16, 16, requires_grad=True)
    out = solid_loss(empty, 3)
    out.backward()
    assert float(out.detach()) == 0.0 and float(empty.grad.abs().sum()) == 0.0


def test_clear_loss_fades_only_faint_pixels():
    alpha = torch.tensor([[0.0, 0.2, 0.49], [0.5, 0.9, 1.0]], requires_grad=True)
    loss = clear_loss(alpha)
    assert float(loss.detach()) == pytest.approx((0.2 + 0.49) / 6)
    loss.backward()
    g = alpha.grad.numpy()
    assert (g[0] > 0).all()  # descent lowers faint pixels' opacity (floaters, fringes)
    assert (g[1] == 0).all()  # the silhouette itself is left alone


FOCAL = 100.0


def _profile_depth(profile: np.ndarray, rows: int = 12) -> torch.Tensor:
    """[rows, W] depth map whose every row is ``profile`` in pixels about a median depth of 2
    (a pixel there is 2 / FOCAL wide)."""
    profile = profile - np.median(profile)
    return torch.as_tensor(2.0 + np.tile(profile, (rows, 1)) * 2.0 / FOCAL, dtype=torch.float32)


def test_curvature_loss_measures_slope_change_per_pixel():
    x = np.arange(41, dtype=np.float64) - 20
    opaque = torch.ones(12, 41)
    # a tilted plane bends nowhere
    assert float(curvature_loss(_profile_depth(0.3 * x), opaque, FOCAL)) < 1e-6
    # a 90-degree ridge (slopes -1 and +1) seen head-on: one column of second difference 2
    # (in slope per pixel), the rest 0; rows contribute nothing
    ridge = curvature_loss(_profile_depth(np.abs(x)), opaque, FOCAL, clamp=10.0)
    # the frame's border is no silhouette edge (nothing eroded): 39 stencils per row
    expected = (2.0**2 / 39 + 0.0) / 2
    assert float(ridge) == pytest.approx(expected, rel=0.05)
    # the same turning spread evenly (a parabola through the same ends) costs far less
    bowl = curvature_loss(_profile_depth(x**2 / 20), opaque, FOCAL, clamp=10.0)
    assert float(bowl) < 0.2 * float(ridge)
    # a step of 5 px in depth is an occlusion, not curvature: the clamp leaves it out
    step = curvature_loss(_profile_depth(5.0 * (x > 0)), opaque, FOCAL)
    assert float(step) == 0.0


def test_curvature_loss_ignores_the_silhouette_edge_and_pulls_a_ridge_back():
    x = np.arange(41, dtype=np.float64) - 20
    alpha = torch.ones(12, 41)
    alpha[:, :10] = 0.5  # not opaque: ignored, however wild the depth there
    depth = _profile_depth(np.where(x < -10, 1e3 * np.sin(x), np.abs(x))).requires_grad_(True)
    loss = curvature_loss(depth, alpha, FOCAL, clamp=10.0)
    loss.backward()
    g = depth.grad.numpy()
    assert (g[:, :10] == 0).all()
    # the ridge points at the camera (least depth at x = 0); descent pushes it back
    assert (g[3:-3, 20] < 0).all()
    assert float(np.abs(g[:, 25:35]).max()) < 1e-4 * abs(float(g[5, 20]))  # planar flanks
    empty = torch.zeros(8, 8, requires_grad=True)
    out = curvature_loss(empty + 2.0, torch.zeros(8, 8), FOCAL)
    out.backward()
    assert float(out.detach()) == 0.0 and float(empty.grad.abs().sum()) == 0.0


def test_virtual_views_circle_the_subject_at_the_rig_distance(scene):
    vv = VirtualViews(scene, list(range(len(scene.views))))
    cam0 = scene.views[0].camera
    assert (vv.w, vv.h) == (64, 64)  # 96 px inputs: shrunk to 64, not below
    gen = torch.Generator().manual_seed(0)
    elevations = []
    for _ in range(50):
        w2c = vv.sample(gen).double().numpy()
        centre = -w2c[:3, :3].T @ w2c[:3, 3]
        assert np.linalg.norm(centre) == pytest.approx(vv.radius, rel=1e-5)
        # the origin is straight ahead: it projects onto the principal point
        p = vv.K.double().numpy() @ w2c[:3, 3]
        np.testing.assert_allclose(p[:2] / p[2], vv.K[:2, 2].double().numpy(), atol=1e-3)
        elevations.append(np.degrees(np.arcsin(centre[2] / np.linalg.norm(centre))))
    assert vv.elev[0] - 1e-6 <= min(elevations) and max(elevations) <= vv.elev[1] + 1e-6
    # the band reaches below the rig, where it sees least
    rig_el = np.degrees(np.arcsin(cam0.center[2] / np.linalg.norm(cam0.center)))
    assert min(elevations) < rig_el - 5


@pytest.mark.parametrize("solid, clear, curvature, masks, expect", [
    (1.0, 1.0, 0.02, True, True), (0.0, 1.0, 0.0, True, True), (1.0, 0.0, 0.0, True, True),
    (0.0, 0.0, 0.02, True, True), (0.0, 0.0, 0.0, True, False), (1.0, 1.0, 0.02, False, False)])
def test_virtual_renders_run_on_schedule(scene, tiny_fit_config, solid, clear, curvature, masks,
                                         expect):
    if not masks:
        scene = replace(scene, views=[replace(v, mask=None) for v in scene.views])
    cfg = replace(tiny_fit_config, iterations=24, refine_start=8, refine_every=1000,
                  solid_weight=solid, clear_weight=clear, curvature_weight=curvature,
                  solid_every=4, prune_unseen=False,
                  relocate_unseen=False)
    steps = []
    fit_scene(scene, cfg, on_step=lambda rec: steps.append(
        (rec.step, [k for k in ("solid", "clear", "curvature") if k in rec.terms])))
    virtual = [(step, names) for step, names in steps if names]
    # steps 12, 16, 20, 24 (after refine_start, every 4th), each with the terms that have weight
    want = [k for k, w in (("solid", solid), ("clear", clear), ("curvature", curvature)) if w]
    assert virtual == ([(s, want) for s in (12, 16, 20, 24)] if expect else [])


@pytest.mark.parametrize("method", ["3dgs", "2dgs"])
@pytest.mark.parametrize("curvature", [0.0, 0.02])
def test_only_the_curvature_prior_moves_means(scene, method, curvature):
    from splatsynth.fit import FitConfig, method_of
    from splatsynth.fit.objective import virtual_terms

    gen = torch.Generator().manual_seed(0)
    n = 400
    params = {
        "means": torch.nn.Parameter(0.3 * torch.randn(n, 3, generator=gen)),
        "quats": torch.nn.Parameter(torch.nn.functional.normalize(
            torch.randn(n, 4, generator=gen), dim=-1)),
        "log_scales": torch.nn.Parameter(torch.full((n, 3), -2.5)),
        "opacity_logits": torch.nn.Parameter(torch.full((n,), 2.0)),
        "sh_dc": torch.nn.Parameter(torch.rand(n, 1, 3, generator=gen)),
    }
    vv = VirtualViews(scene, list(range(len(scene.views))))
    cfg = FitConfig(curvature_weight=curvature, method=method)
    weights = {"solid": cfg.solid_weight, "clear": cfg.clear_weight}
    if curvature:
        weights["curvature"] = curvature
    terms = virtual_terms(params, vv.sample(gen), vv, weights, cfg, method_of(method))
    sum(terms.values()).backward()
    assert float(params["opacity_logits"].grad.abs().sum()) > 0
    for k in ("quats", "log_scales", "sh_dc"):
        assert params[k].grad is None
    if curvature:
        assert float(params["means"].grad.abs().sum()) > 0
    else:
        assert params["means"].grad is None
