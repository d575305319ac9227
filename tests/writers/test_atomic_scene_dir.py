"""Scene folders appear complete or not at all; finished scenes are skipped unless forced."""

from __future__ import annotations

import json
import os
import time

import pytest

from splatsynth.errors import SplatsynthError
from splatsynth.fileio import AlreadyFinished, atomic_write_json, atomic_write_text
from splatsynth.writers import clean_stale_temps, is_scene_finished, scene_dir_transaction


def _finish(d, tag):
    (d / "images").mkdir()
    (d / "images" / "cam_000.png").write_text(tag)
    (d / "report.json").write_text(json.dumps({"tag": tag}))


def test_exception_leaves_no_scene_and_no_litter(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        with scene_dir_transaction(tmp_path, "s1") as tmp:
            assert tmp.parent == tmp_path and tmp.name.startswith(".tmp-s1-")
            _finish(tmp, "half")
            assert not (tmp_path / "s1").exists()  # nothing visible while building
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    assert not is_scene_finished(tmp_path, "s1")


def test_success_renames_into_place(tmp_path):
    with scene_dir_transaction(tmp_path, "s1") as tmp:
        _finish(tmp, "v1")
    assert is_scene_finished(tmp_path, "s1")
    assert (tmp_path / "s1" / "images" / "cam_000.png").read_text() == "v1"
    assert [p.name for p in tmp_path.iterdir()] == ["s1"]


def test_finished_scene_is_skipped_and_force_replaces(tmp_path):
    with scene_dir_transaction(tmp_path, "s1") as tmp:
        _finish(tmp, "v1")
    ran = False
    with pytest.raises(AlreadyFinished) as ei:
        with scene_dir_transaction(tmp_path, "s1"):
            ran = True
    assert not ran and ei.value.path == tmp_path / "s1"
    assert (tmp_path / "s1" / "images" / "cam_000.png").read_text() == "v1"

    with scene_dir_transaction(tmp_path, "s1", force=True) as tmp:
        _finish(tmp, "v2")
        # The old scene stays readable until the new one is complete.
        assert (tmp_path / "s1" / "images" / "cam_000.png").read_text() == "v1"
    assert (tmp_path / "s1" / "images" / "cam_000.png").read_text() == "v2"
    assert [p.name for p in tmp_path.iterdir()] == ["s1"]  # old copy deleted, no temp left


def test_failed_forced_rerun_keeps_the_old_scene(tmp_path):
    with scene_dir_transaction(tmp_path, "s1") as tmp:
        _finish(tmp, "v1")
    with pytest.raises(ValueError):
        with scene_dir_transaction(tmp_path, "s1", force=True) as tmp:
            _finish(tmp, "v2")
            raise ValueError
    assert (tmp_path / "s1" / "images" / "cam_000.png").read_text() == "v1"
    assert [p.name for p in tmp_path.iterdir()] == ["s1"]


def test_unfinished_folder_is_replaced_without_force(tmp_path):
    (tmp_path / "s1").mkdir()
    (tmp_path / "s1" / "junk").write_text("x")
    with scene_dir_transaction(tmp_path, "s1") as tmp:
        _finish(tmp, "v1")
    assert not (tmp_path / "s1" / "junk").exists() and is_scene_finished(tmp_path, "s1")


def test_another_worker_finishing_first_wins(tmp_path):
    with pytest.raises(AlreadyFinished):
        with scene_dir_transaction(tmp_path, "s1") as tmp:
            _finish(tmp, "mine")
            (tmp_path / "s1").mkdir()  # a concurrent worker commits first
            _finish(tmp_path / "s1", "theirs")
    assert (tmp_path / "s1" / "images" / "cam_000.png").read_text() == "theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["s1"]


@pytest.mark.parametrize("bad", ["", "../x", "a/b", ".hidden", "-x", "mvdiffusion", "a\nb",
                                 "<script>"])
def test_unsafe_scene_ids_are_refused(tmp_path, bad):
    with pytest.raises(SplatsynthError, match="scene id"):
        with scene_dir_transaction(tmp_path, bad):
            pass
    assert list(tmp_path.iterdir()) == []


def test_atomic_file_writes(tmp_path):
    p = atomic_write_json(tmp_path / "sub" / "a.json", {"x": float("nan"), "y": [1.5]})
    assert json.loads(p.read_text()) == {"x": None, "y": [1.5]}
    atomic_write_text(p, "replaced")
    assert p.read_text() == "replaced"
    assert [q.name for q in p.parent.iterdir()] == ["a.json"]


def test_clean_stale_temps(tmp_path):
    stale, fresh = tmp_path / ".tmp-a-1234", tmp_path / ".tmp-b-5678"
    stale.mkdir()
    fresh.mkdir()
    (tmp_path / "scene").mkdir()
    old = time.time() - 7200
    os.utime(stale, (old, old))
    assert clean_stale_temps(tmp_path) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".tmp-b-5678", "scene"]
