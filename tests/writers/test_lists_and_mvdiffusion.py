"""List files (deterministic split, absolute sorted paths) and the MVDiffusion layout."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from splatsynth.cameras import mvdiffusion_cameras
from splatsynth.errors import SplatsynthError
from splatsynth.writers import split_for, update_lists, write_mvdiffusion_views


def test_split_is_deterministic_and_matches_ratio():
    ids = [f"scene_{i:05d}" for i in range(1000)]
    a = [split_for(s, 0.05) for s in ids]
    assert a == [split_for(s, 0.05) for s in ids]
    n_val = a.count("val")
    assert 25 <= n_val <= 80, n_val  # binomial(1000, 0.05): mean 50, sd 6.9
    n30 = [split_for(s, 0.3) for s in ids].count("val")
    assert 230 <= n30 <= 370, n30
    # Monotone in the ratio: growing val_ratio only moves scenes from train to val.
    assert all(split_for(s, 0.3) == "val" for s, x in zip(ids, a) if x == "val")
    assert {split_for(s, 0.0) for s in ids} == {"train"}
    assert {split_for(s, 1.0) for s in ids} == {"val"}
    assert [split_for(s, 0.5, seed=1) for s in ids] != [split_for(s, 0.5) for s in ids]


def test_split_is_stable_across_processes():
    """Another interpreter (a different hash salt) agrees: no use of Python's hash()."""
    ids = [f"s{i}" for i in range(200)]
    code = ("from splatsynth.writers.lists import split_for;"
            f"print(''.join(split_for(s, 0.5)[0] for s in {ids!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONHASHSEED": "123"}, check=True).stdout.strip()
    assert out == "".join(split_for(s, 0.5)[0] for s in ids)


def _scene(root, name, finished=True):
    d = root / name
    d.mkdir(parents=True)
    if finished:
        (d / "report.json").write_text("{}")
    return d


def test_update_lists_writes_finished_scenes_only(tmp_path):
    names = [f"m{i:03d}" for i in range(40)]
    for n in reversed(names):
        _scene(tmp_path, n)
    _scene(tmp_path, "unfinished", finished=False)
    _scene(tmp_path, ".tmp-m999-abcd")
    (tmp_path / "mvdiffusion" / "m000").mkdir(parents=True)
    out = update_lists(tmp_path, val_ratio=0.25, include=lambda p: p.name != "m007")

    train = (tmp_path / "data_gslrm_train.txt").read_text().splitlines()
    val = (tmp_path / "data_gslrm_val.txt").read_text().splitlines()
    assert train == sorted(train) and val == sorted(val)
    assert all(p.startswith("/") for p in train + val)
    listed = {p.rsplit("/", 1)[1] for p in train + val}
    assert listed == set(names) - {"m007"}
    assert {p.rsplit("/", 1)[1] for p in val} == {n for n in names if n != "m007"
                                                   and split_for(n, 0.25) == "val"}
    assert len(val) > 0 and len(train) > len(val)
    assert [str(p) for p in out["train"]] == train

    # Idempotent, and a new finished scene shows up on the next call.
    _scene(tmp_path, "m100")
    update_lists(tmp_path, val_ratio=0.25)
    both = ((tmp_path / "data_gslrm_train.txt").read_text()
            + (tmp_path / "data_gslrm_val.txt").read_text())
    assert str((tmp_path / "m100").resolve()) in both.splitlines()
    assert str((tmp_path / "m007").resolve()) in both.splitlines()


def test_empty_root_gives_empty_lists(tmp_path):
    update_lists(tmp_path / "new")
    assert (tmp_path / "new" / "data_gslrm_train.txt").read_text() == ""


def test_mvdiffusion_layout(tmp_path):
    rgb = np.random.default_rng(0).uniform(size=(6, 32, 32, 3))
    alpha = np.ones((6, 32, 32)) * 0.5
    cams = mvdiffusion_cameras(size=32)
    d = write_mvdiffusion_views(tmp_path / "m1", rgb, alpha, cameras=cams, scene_id="m1")
    assert d == tmp_path / "m1"
    assert sorted(p.name for p in d.iterdir()) == [f"cam_{i:03d}.png" for i in range(6)] + [
        "opencv_cameras.json"]
    im = np.asarray(Image.open(d / "cam_003.png"))
    assert im.shape == (32, 32, 4) and np.all(im[..., 3] == 128)
    np.testing.assert_allclose(im[..., :3] / 255.0, rgb[3], atol=0.5 / 255 + 1e-6)
    doc = json.loads((d / "opencv_cameras.json").read_text())
    assert doc["id"] == "m1" and doc["frames"][0]["file_path"] == "cam_000.png"
    # The front camera (cam_000) sits on -Y.
    assert np.linalg.inv(np.array(doc["frames"][0]["w2c"]))[1, 3] == pytest.approx(-2.7)
    with pytest.raises(SplatsynthError, match=r"\[6, H, W, 3\]"):
        write_mvdiffusion_views(tmp_path / "m2", rgb[:5], alpha[:5])
    assert not (tmp_path / "m2").exists()
