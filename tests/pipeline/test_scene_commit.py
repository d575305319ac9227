"""The scene commit: the scene folder and its MVDiffusion folder appear together or not at all."""

from __future__ import annotations

import pytest

from splatsynth.fileio import AlreadyFinished
from splatsynth.pipeline import scene_commit


def _fill(folders, tag: str, *, report: bool = True) -> None:
    (folders.scene / "images").mkdir()
    (folders.scene / "images" / "cam_000.png").write_text(tag)
    (folders.mvdiffusion / "cam_000.png").write_text(tag)
    if report:
        (folders.scene / "report.json").write_text("{}")


def _debris(out):
    return sorted(p.name for p in [*out.iterdir(), *(out / "mvdiffusion").iterdir()]
                  if p.name.startswith("."))


def test_both_folders_appear_together(tmp_path):
    with scene_commit(tmp_path, "s1") as f:
        _fill(f, "one")
        assert not (tmp_path / "s1").exists() and not (tmp_path / "mvdiffusion" / "s1").exists()
    assert (tmp_path / "s1" / "images" / "cam_000.png").read_text() == "one"
    assert (tmp_path / "mvdiffusion" / "s1" / "cam_000.png").read_text() == "one"
    assert _debris(tmp_path) == []


def test_a_failure_leaves_neither(tmp_path):
    with pytest.raises(RuntimeError), scene_commit(tmp_path, "s1") as f:
        _fill(f, "one")
        raise RuntimeError("a writer failed")
    assert not (tmp_path / "s1").exists()
    assert not (tmp_path / "mvdiffusion" / "s1").exists()
    assert _debris(tmp_path) == []


def test_a_failed_redo_keeps_the_old_views(tmp_path):
    with scene_commit(tmp_path, "s1") as f:
        _fill(f, "old")
    with pytest.raises(RuntimeError), scene_commit(tmp_path, "s1", force=True) as f:
        _fill(f, "new")
        raise RuntimeError("a writer failed")
    assert (tmp_path / "s1" / "images" / "cam_000.png").read_text() == "old"
    assert (tmp_path / "mvdiffusion" / "s1" / "cam_000.png").read_text() == "old"
    with scene_commit(tmp_path, "s1", force=True) as f:
        _fill(f, "new")
    assert (tmp_path / "mvdiffusion" / "s1" / "cam_000.png").read_text() == "new"
    assert _debris(tmp_path) == []


def test_a_finished_scene_is_not_touched_without_force(tmp_path):
    with scene_commit(tmp_path, "s1") as f:
        _fill(f, "old")
    with pytest.raises(AlreadyFinished), scene_commit(tmp_path, "s1") as f:
        _fill(f, "new")
    assert (tmp_path / "mvdiffusion" / "s1" / "cam_000.png").read_text() == "old"
