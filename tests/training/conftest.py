"""Fixtures: tiny GS-LRM-layout output folders written on the fly."""

from __future__ import annotations

from pathlib import Path

import pytest
from gslrm_fixtures import write_list, write_scene


@pytest.fixture
def gslrm_out(tmp_path: Path) -> Path:
    """An ``out/`` folder with 4 scenes and ``data_gslrm_train.txt`` listing them (absolute)."""
    out = tmp_path / "out"
    scenes = [write_scene(out, f"scene_{i:02d}", seed=i) for i in range(4)]
    write_list(out / "data_gslrm_train.txt", scenes)
    return out


@pytest.fixture
def two_datasets(tmp_path: Path) -> tuple[Path, Path]:
    """Two GS-LRM outputs, 3 and 5 scenes, each with its own list file."""
    lists = []
    for name, n in (("objaverse", 3), ("mouse", 5)):
        root = tmp_path / name
        scenes = [write_scene(root, f"{name}_{i}", seed=10 * n + i) for i in range(n)]
        lists.append(write_list(root / "data_gslrm_train.txt", scenes))
    return lists[0], lists[1]
