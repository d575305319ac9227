"""The stages one by one, as the benchmarks use them: each result feeds the next."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from splatsynth.cameras import OrbitConfig
from splatsynth.config import OutputConfig, RunConfig
from splatsynth.fit import render_cameras
from splatsynth.pipeline import (
    WRITERS,
    SceneProducts,
    evaluate,
    prepare,
    reconstruct,
    render_outputs,
    write_scene,
)


@pytest.fixture(scope="module")
def cfg(tiny_fit_config):
    return RunConfig(fit=replace(tiny_fit_config, iterations=40),
                     orbit=OrbitConfig(views=4, size=96),
                     output=OutputConfig(contact_sheet=False, holdout=True))


def test_stages_compose_into_a_scene_folder(tiny_demo, cfg, tmp_path):
    prepared = prepare(tiny_demo, cfg, scene_id="staged")
    assert prepared.scene_id == "staged" and set(prepared.timings) == {"load", "normalize"}
    # the canonical frame: cameras moved by the similarity, same number of views
    assert len(prepared.canonical.views) == len(prepared.scene.views)
    c0 = prepared.similarity.camera_to_canonical(prepared.scene.views[0].camera)
    np.testing.assert_allclose(c0.w2c, prepared.canonical.views[0].camera.w2c, atol=1e-9)

    recon = reconstruct(prepared, cfg)
    assert recon.holdout is not None  # output.holdout: a second fit scored its left-out view
    assert recon.holdout.view == prepared.scene.views[len(prepared.scene.views) // 2].name

    rendered = render_outputs(prepared, recon, cfg)
    assert rendered.orbit.rgb.shape == (4, 96, 96, 3)
    assert rendered.inputs.rgb.shape[0] == len(prepared.scene.views)
    # the input views are the fit's own final renders, not rendered a second time
    assert rendered.inputs is recon.fit.renders
    again = render_cameras(recon.fit.gaussians, recon.fit.cameras, background=cfg.fit.background)
    np.testing.assert_array_equal(again.rgb, rendered.inputs.rgb)
    assert rendered.mvdiffusion is None  # not asked for
    assert rendered.orbit.depth is not None  # the demo has keypoints: visibility needs depth

    ev = evaluate(prepared, recon, cfg)
    assert len(ev.metrics.ground_truth) == 32  # the demo ships gt/orbit
    assert ev.metrics.holdout == recon.holdout
    assert ev.metrics.train_mean == recon.fit.metrics.train_mean

    products = SceneProducts(prepared, recon, rendered, ev, cfg)
    ran = [key for key, wanted, _ in WRITERS if wanted(products)]
    assert ran == ["views", "gaussians", "keypoints"]
    timings = dict(prepared.timings)
    scene_dir = write_scene(tmp_path, products, timings=timings)
    assert "write" in timings
    report = json.loads((scene_dir / "report.json").read_text())
    assert report["metrics"]["holdout"]["protocol"] == "leave-one-view-out"
    assert report["metrics"]["ground_truth"]["mean"]["iou"] == pytest.approx(
        ev.metrics.ground_truth.mean.iou)
    assert sorted(p.name for p in scene_dir.iterdir()) == [
        "gaussians.ply", "images", "keypoints_2d.json", "opencv_cameras.json", "report.json"]
