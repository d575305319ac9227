"""The virtual-view priors: silhouette cores pulled to opacity, faint pixels to transparency."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from splatsynth.fit import fit_scene
from splatsynth.fit.fit import _clear_loss, _solid_loss, _VirtualViews
from splatsynth.scene_io import load_scene


@pytest.fixture(scope="module")
def scene(tiny_demo):
    return load_scene(tiny_demo)


def test_solid_loss_pulls_only_the_core_of_the_silhouette():
    yy, xx = np.mgrid[:40, :40]
    disc = torch.as_tensor(((yy - 20) ** 2 + (xx - 20) ** 2 <= 100).astype(np.float32))
    alpha = (0.8 * disc + 0.1 * (1 - disc)).requires_grad_(True)  # a faint halo outside
    loss = _solid_loss(alpha, 3)
    assert float(loss.detach()) == pytest.approx(0.2, abs=1e-6)
    loss.backward()
    g = alpha.grad.numpy()
    core = ((yy - 20) ** 2 + (xx - 20) ** 2 <= 5.5**2)  # a 7x7 square fits around these
    assert (g[core] < 0).all()  # gradient descent raises their opacity
    edge = ((yy - 20) ** 2 + (xx - 20) ** 2 > 8**2)
    assert (g[edge] == 0).all()  # the edge band and the halo are left alone
    empty = torch.zeros(16, 16, requires_grad=True)
    out = _solid_loss(empty, 3)
    out.backward()
    assert float(out.detach()) == 0.0 and float(empty.grad.abs().sum()) == 0.0


def test_clear_loss_fades_only_faint_pixels():
    alpha = torch.tensor([[0.0, 0.2, 0.49], [0.5, 0.9, 1.0]], requires_grad=True)
    loss = _clear_loss(alpha)
    assert float(loss.detach()) == pytest.approx((0.2 + 0.49) / 6)
    loss.backward()
    g = alpha.grad.numpy()
    assert (g[0] > 0).all()  # descent lowers faint pixels' opacity (floaters, fringes)
    assert (g[1] == 0).all()  # the silhouette itself is left alone


def test_virtual_views_circle_the_subject_at_the_rig_distance(scene):
    vv = _VirtualViews(scene, list(range(len(scene.views))))
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


@pytest.mark.parametrize("solid, clear, masks, expect", [
    (1.0, 1.0, True, True), (0.0, 1.0, True, True), (1.0, 0.0, True, True),
    (0.0, 0.0, True, False), (1.0, 1.0, False, False)])
def test_virtual_renders_run_on_schedule(scene, tiny_fit_config, raster_sizes, solid, clear,
                                         masks, expect):
    if not masks:
        scene = replace(scene, views=[replace(v, mask=None) for v in scene.views])
    cfg = replace(tiny_fit_config, iterations=24, refine_start=8, refine_every=1000,
                  solid_weight=solid, clear_weight=clear, solid_every=4, prune_unseen=False,
                  relocate_unseen=False)
    fit_scene(scene, cfg)
    virtual = [s for s in raster_sizes[:40] if s == (64, 64)]
    # steps 12, 16, 20, 24 (after refine_start, every 4th)
    assert len(virtual) == (4 if expect else 0)
