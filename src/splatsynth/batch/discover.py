"""Which scenes a batch runs: scene folders, parent folders of scenes, or text files listing them.

A scene folder is recognised by its ``cameras.json`` (SPEC section 3). A scene's id, and so its
output folder ``OUT/<scene_id>/``, is its folder name; two inputs with the same name are a
usage error, since they would write the same output.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..errors import SplatsynthError
from ..fileio import read_list_file

#: The file that marks a folder as a scene.
SCENE_MARKER = "cameras.json"


def is_scene_folder(path: Path) -> bool:
    """True when ``path`` is a folder holding ``cameras.json``."""
    return (path / SCENE_MARKER).is_file()


def discover_scenes(inputs: Sequence[str | Path]) -> list[Path]:
    """Expand batch inputs into scene folders, in input order, without duplicates.

    Args:
        inputs: each one of
            - a scene folder (holds ``cameras.json``);
            - a parent folder: its direct sub-folders holding ``cameras.json``, sorted by name;
            - a text file listing scene folders, one per line (see
              :func:`splatsynth.fileio.read_list_file`). Listed folders are not checked here:
              one that is missing or broken fails validation like any bad scene and is
              recorded in ``failures.jsonl``, without stopping the batch.
    Returns:
        Absolute scene folder paths.
    Raises:
        SplatsynthError: an input does not exist, a folder holds no scenes, a list file cannot
            be read, or two scenes share a folder name (they would share ``OUT/<name>/``).
    """
    found: list[Path] = []
    for raw in inputs:
        p = Path(raw).expanduser()
        if p.is_dir():
            if is_scene_folder(p):
                found.append(p)
                continue
            subs = sorted(d for d in p.iterdir() if d.is_dir() and is_scene_folder(d))
            if not subs:
                raise SplatsynthError(f"{p}: neither a scene folder (no {SCENE_MARKER}) nor a "
                                      f"folder of scene folders")
            found += subs
        elif p.is_file():
            found += read_list_file(p, what="the scene list")
        else:
            raise SplatsynthError(f"{p}: no such scene folder or scene list")
    seen: set[Path] = set()
    scenes: list[Path] = []
    for s in found:
        r = s.resolve()
        if r not in seen:
            seen.add(r)
            scenes.append(r)
    check_unique_ids(scenes)
    return scenes


def scene_id_of(scene: Path) -> str:
    """The id (output folder name) of a scene folder: its name."""
    return Path(scene).resolve().name


def check_unique_ids(scenes: Sequence[Path]) -> None:
    """Raise :class:`SplatsynthError` listing scenes whose ids collide."""
    by_id: dict[str, list[Path]] = {}
    for s in scenes:
        by_id.setdefault(scene_id_of(s), []).append(s)
    clashes = {k: v for k, v in by_id.items() if len(v) > 1}
    if clashes:
        lines = [f"  {k}: " + ", ".join(str(p) for p in v) for k, v in sorted(clashes.items())]
        raise SplatsynthError(
            f"{len(clashes)} scene id(s) used by more than one folder (a scene's id is its "
            "folder name and names its output folder); rename them:\n" + "\n".join(lines[:20])
            + ("\n  ..." if len(lines) > 20 else ""))
