"""Scene discovery: folders, parent folders, list files, duplicates."""

from __future__ import annotations

from pathlib import Path

import pytest

from splatsynth.batch import discover_scenes
from splatsynth.errors import SplatsynthError


def _scene(p: Path) -> Path:
    p.mkdir(parents=True)
    (p / "cameras.json").write_text("{}")
    return p


def test_folder_parent_and_list(tmp_path: Path) -> None:
    a = _scene(tmp_path / "lab" / "a")
    b = _scene(tmp_path / "lab" / "b")
    (tmp_path / "lab" / "not_a_scene").mkdir()
    c = _scene(tmp_path / "other" / "c")
    lst = tmp_path / "lists" / "more.txt"
    lst.parent.mkdir()
    # relative to the list file; comments, blanks, a duplicate and a missing folder
    lst.write_text(f"# my scenes\n\n../other/c\n{a}\n  ../missing/d  \n")
    got = discover_scenes([tmp_path / "lab", lst, b])
    assert got == [a.resolve(), b.resolve(), c.resolve(), (tmp_path / "missing" / "d").resolve()]


def test_single_scene_folder(tmp_path: Path) -> None:
    a = _scene(tmp_path / "a")
    assert discover_scenes([str(a)]) == [a.resolve()]


def test_errors_name_the_input(tmp_path: Path) -> None:
    with pytest.raises(SplatsynthError, match="no such scene folder"):
        discover_scenes([tmp_path / "nope"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(SplatsynthError, match="empty: neither a scene folder"):
        discover_scenes([tmp_path / "empty"])


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    # rigA/session1 and rigB/session1 would both write OUT/session1/
    _scene(tmp_path / "rigA" / "session1")
    _scene(tmp_path / "rigB" / "session1")
    with pytest.raises(SplatsynthError, match="session1: .*rigA.*rigB"):
        discover_scenes([tmp_path / "rigA", tmp_path / "rigB"])
