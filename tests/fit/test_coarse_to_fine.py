"""Coarse-to-fine: the first steps train on half-resolution copies of the views."""

from dataclasses import replace

import numpy as np
import pytest
import torch

import splatsynth.render as render
from splatsynth.fit import fit_scene
from splatsynth.fit.views import view_tensors
from splatsynth.scene_io import load_scene


@pytest.fixture(scope="module")
def scene(tiny_demo):
    return load_scene(tiny_demo)


def test_half_resolution_views_keep_the_geometry(scene):
    full, half = view_tensors(scene, 16, 1), view_tensors(scene, 16, 2)
    pts = np.random.default_rng(0).normal(0, 0.3, (50, 3))
    for k, v in enumerate(scene.views):
        w, h = half.sizes[k]
        assert (w, h) == (v.camera.w // 2, v.camera.h // 2)
        # A 3D point lands at half the pixel coordinates (pixel-corner origin).
        uv_full, _ = v.camera.project(pts)
        Kh = half.Ks[k].double().numpy()
        cam_pts = pts @ v.camera.w2c[:3, :3].T + v.camera.w2c[:3, 3]
        uvh = cam_pts @ Kh.T
        uvh = uvh[:, :2] / uvh[:, 2:]
        np.testing.assert_allclose(uvh, uv_full / 2, atol=1e-4)
        # Area averaging keeps the mean colour and the mask's coverage.
        assert torch.allclose(half.images[k].mean((0, 1)), full.images[k].mean((0, 1)),
                              atol=1e-5)
        assert abs(float(half.masks[k].mean()) - float(full.masks[k].mean())) < 1e-5
        # The colour-loss crop still holds the whole subject.
        x0, y0, x1, y1 = half.boxes[k]
        m = half.masks[k].numpy() > 0.5
        assert m[:, :x0].sum() == m[:, x1:].sum() == m[:y0].sum() == m[y1:].sum() == 0


@pytest.mark.parametrize("fraction, min_size, coarse", [(0.0, 16, False), (0.5, 16, True),
                                                         (0.5, 128, False)])
def test_coarse_steps_render_at_half_size(scene, tiny_fit_config, fraction, min_size, coarse):
    cfg = replace(tiny_fit_config, iterations=20, coarse_fraction=fraction, refine_start=1000,
                  prune_unseen=False, coarse_min_size=min_size)
    training = []
    fit_scene(scene, cfg, on_step=lambda rec: training.append(rec.size))
    w, h = scene.views[0].camera.w, scene.views[0].camera.h
    assert len(training) == 20
    n_coarse = int(fraction * 20) if coarse else 0  # 48-px copies are under 128
    assert training[:n_coarse] == [(w // 2, h // 2)] * n_coarse
    assert training[n_coarse:] == [(w, h)] * (20 - n_coarse)


def test_visibility_at_half_size_matches_full_size(scene, tiny_fit_config):
    from splatsynth.fit.visibility import unseen_mask, view_contributions

    g = fit_scene(scene, replace(tiny_fit_config, iterations=60, prune_unseen=False)).gaussians
    params = {"means": g.means, "quats": g.quats_wxyz, "log_scales": g.log_scales,
              "opacity_logits": g.opacity_logits, "sh_dc": g.sh[:, :1], "sh_rest": g.sh[:, 1:]}
    w2cs = [torch.tensor(v.camera.w2c, dtype=torch.float32) for v in scene.views]
    full, half = view_tensors(scene, 16, 1), view_tensors(scene, 16, 2)
    c_full = view_contributions(render.rasterize, params, w2cs, full.Ks, full.sizes, g.sh, 1)
    c_half = view_contributions(render.rasterize, params, w2cs, half.Ks, half.sizes, g.sh, 1)
    # a quarter of the pixels: contributions in full-size pixels are 4x the half-size ones
    seen = c_full > 1.0
    ratio = (4 * c_half[seen] / c_full[seen]).median()
    assert 0.8 < float(ratio) < 1.25
    # so a Gaussian adding 0.004 half-size pixels (0.016 full-size ones) counts as seen
    flags = unseen_mask(torch.tensor([0.001, 0.004, 0.02]), factor=2.0)
    assert flags.tolist() == [True, False, False]
