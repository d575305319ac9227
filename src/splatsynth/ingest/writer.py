"""The output of an ingest: one scene folder per good frame, ``scenes.txt``, ``ingest.jsonl``.

    SCENES/<recording>_f<frame, 6 digits>/
      cameras.json      # SPEC section 3; file_path images/<camera>.png
      images/<camera>.png   # RGBA, alpha = mask
      keypoints.json    # when the recording has keypoint tracks
      source.json       # recording, frame, time, mask method, crop, per-view checks, config
    SCENES/scenes.txt   # every finished scene folder here, one name per line (for batch)
    SCENES/ingest.jsonl # one line per frame skipped: recording, frame, reason, view problems
    SCENES/rig_<recording>.json  # the rig refinement (written by :mod:`.rig`)

A scene folder is built in a hidden temporary sibling and renamed into place when complete
(:func:`splatsynth.fileio.atomic_directory`), so an interrupted run leaves nothing half
written and a re-run skips the folders that exist.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..cameras import Camera
from ..errors import Problem, SceneError
from ..fileio import (
    TMP_PREFIX,
    AlreadyFinished,
    atomic_directory,
    atomic_write_bytes,
    atomic_write_json,
    read_jsonl,
    write_jsonl,
    write_list_file,
)
from ..scene_io.validate import CAMERAS_FILE, KEYPOINTS_FILE, SOURCE_FILE, inspect_scene

SCENES_LIST = "scenes.txt"
INGEST_LOG = "ingest.jsonl"


def scene_id(recording: str, frame: int) -> str:
    """``<recording>_f<frame, 6 digits>``, e.g. ``mouse1_f000005``."""
    return f"{recording}_f{frame:06d}"


def is_finished(folder: Path) -> bool:
    """A scene folder this writer finished (its last file, ``source.json``, is there)."""
    return (folder / SOURCE_FILE).is_file() and (folder / CAMERAS_FILE).is_file()


@dataclass
class SceneView:
    """One view ready to write.

    Attributes:
        name: camera name; the image is ``images/<name>.png``.
        camera: the camera of the written image.
        png: the encoded RGBA PNG.
        keypoints: [K, 3] (x, y, confidence) in the written image, or None.
    """

    name: str
    camera: Camera
    png: bytes
    keypoints: np.ndarray | None = None


def write_scene(final: Path, views: list[SceneView], keypoint_names: list[str] | None,
                source: dict[str, Any], *, force: bool = False) -> Path:
    """Write one scene folder atomically and validate it before it appears.

    Raises:
        AlreadyFinished: the folder exists and ``force`` is off.
        SceneError: the scene failed validation (nothing is written).
    """
    with atomic_directory(final, force=force, is_finished=is_finished) as tmp:
        frames = []
        for v in views:
            fp = f"images/{v.name}.png"
            atomic_write_bytes(tmp / fp, v.png)
            frames.append({**v.camera.to_frame(), "file_path": fp})
        atomic_write_json(tmp / CAMERAS_FILE, {"id": final.name, "frames": frames}, indent=1)
        if keypoint_names is not None and all(v.keypoints is not None for v in views):
            atomic_write_json(tmp / KEYPOINTS_FILE, {
                "names": list(keypoint_names),
                "views": {f"images/{v.name}.png": np.round(v.keypoints, 4).tolist()
                          for v in views}}, indent=None)
        # The images are ours and were checked as arrays; read back cameras and keypoints only.
        problems = inspect_scene(tmp, read_images=False).problems
        if problems:
            raise SceneError(final.name, problems)
        atomic_write_json(tmp / SOURCE_FILE, source, indent=1)
    return final


def remove_stale(out: Path, recording: str) -> int:
    """Delete temporary folders a killed run of ``recording`` left in ``out``; return how many.

    Only one ingest of a recording may run into one folder at a time.
    """
    n = 0
    for p in out.glob(f"{TMP_PREFIX}{recording}_f*"):
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
            n += 1
    return n


def finished_scenes(out: Path) -> list[Path]:
    """Every finished scene folder in ``out``, sorted by name."""
    if not out.is_dir():
        return []
    return sorted(p for p in out.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and is_finished(p))


def write_lists(out: Path, recording: str, skipped: dict[int, dict]) -> tuple[Path, Path]:
    """Rewrite ``scenes.txt`` (every finished scene here) and ``ingest.jsonl`` (this run's
    skipped frames of ``recording`` replace its earlier rows for the same frames; rows of other
    recordings are kept; frames now finished are dropped)."""
    scenes = finished_scenes(out)
    lst = write_list_file(out / SCENES_LIST, [p.name for p in scenes])
    done = {p.name for p in scenes}
    rows = [r for r in read_jsonl(out / INGEST_LOG)
            if not (r.get("recording") == recording and r.get("frame") in skipped)
            and r.get("scene") not in done]
    rows += [skipped[f] for f in sorted(skipped)]
    rows.sort(key=lambda r: (str(r.get("recording")), int(r.get("frame", 0))))
    log = write_jsonl(out / INGEST_LOG, rows)
    return lst, log


def scene_problems(e: SceneError) -> list[str]:
    """The problems of a failed scene as short strings."""
    return [str(p) if isinstance(p, Problem) else repr(p) for p in e.problems]


__all__ = ["AlreadyFinished", "SceneView", "write_scene", "write_lists", "scene_id",
           "is_finished", "finished_scenes", "remove_stale", "SOURCE_FILE", "SCENES_LIST",
           "INGEST_LOG"]
