"""Scenes whose ingest found the rig off get pose refinement without being asked."""

import json
import shutil
from dataclasses import replace

import pytest

from splatsynth.fit import fit_scene
from splatsynth.scene_io import load_scene
from splatsynth.scene_io.normalize import canonical_frame, normalize_scene


def _scene(tiny_demo, tmp_path, source):
    folder = tmp_path / "scene"
    shutil.copytree(tiny_demo, folder)
    if source is not None:
        (folder / "source.json").write_text(source if isinstance(source, str)
                                            else json.dumps(source))
    scene = load_scene(folder)
    return scene, normalize_scene(scene, canonical_frame(scene))


@pytest.mark.parametrize("source, refined", [
    ({"rig": {"refine": "keypoints", "applied": True}}, True),
    ({"rig": {"refine": "keypoints", "applied": False, "reason": "F-test"}}, False),
    ({"rig": {"refine": "off", "applied": False}}, False),
    (None, False),
    ("{not json", False),  # provenance only: never a reason to refuse the scene
])
def test_source_json_marks_the_scene(tiny_demo, tmp_path, source, refined):
    scene, canon = _scene(tiny_demo, tmp_path, source)
    assert bool(scene.extras.get("rig_refined")) is refined
    assert bool(canon.extras.get("rig_refined")) is refined  # normalization keeps it


def test_refined_rig_turns_pose_refinement_on(tiny_demo, tmp_path, tiny_fit_config):
    _, canon = _scene(tiny_demo, tmp_path, {"rig": {"applied": True}})
    cfg = replace(tiny_fit_config, iterations=60, pose_stage=20, pose_stage_warmup=5,
                  pose_warmup=10)
    assert cfg.optimize_pose is False and cfg.pose_if_rig_refined is True
    fit = fit_scene(canon, cfg)
    assert fit.config.optimize_pose is True
    assert len(fit.pose_deltas) == len(canon.views) and "pose_stage" in fit.timings
    off = fit_scene(canon, replace(cfg, pose_if_rig_refined=False))
    assert off.config.optimize_pose is False and off.pose_deltas == []
