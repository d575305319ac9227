"""The Ray backend on a local Ray instance: scenes as tasks, failures contained."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from splatsynth.batch import BatchConfig, run_batch

from .conftest import break_scene, copy_scene, tiny_config

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'splatsynth[ray]')")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_backend(local_ray, tmp_path: Path, base_scenes) -> None:
    good = copy_scene(base_scenes[0], tmp_path / "scenes" / "good")
    broken = break_scene(copy_scene(base_scenes[0], tmp_path / "scenes" / "broken"))
    out = tmp_path / "out"
    s = run_batch([good, broken], out, tiny_config(),
                  BatchConfig(ray="auto", threads=1, progress=False))
    assert (s.done, s.failed) == (1, 1)
    assert (out / "good" / "report.json").is_file() and not (out / "broken").exists()
    fails = [json.loads(x) for x in (out / "failures.jsonl").read_text().splitlines()]
    assert [(f["scene_id"], f["stage"]) for f in fails] == [("broken", "validate")]
    assert fails[0]["pid"] not in (0, os.getpid()), "the scene should run in a Ray worker"
    # The Ray task pinned numba and torch to the one CPU it reserved.
    assert fails[0]["threads"] == {"numba": 1, "torch": 1}
    listed = (out / "data_gslrm_train.txt").read_text() + (out / "data_gslrm_val.txt").read_text()
    assert listed.strip() == str((out / "good").resolve())
    rep = json.loads((out / "good" / "report.json").read_text())
    assert rep["metrics"]["holdout"]["protocol"] == "leave-one-view-out"
