"""``report.json``: what a scene's run measured, how long it took and how it was configured.

The schema is documented in ``docs/report.md``; bump :data:`SCHEMA_VERSION` on any change that
renames or removes a key (adding keys is compatible).
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ..fileio import atomic_write_json, to_jsonable
from ..writers.atomic import FINISHED_MARKER

SCHEMA_VERSION = 1
REPORT_FILE = FINISHED_MARKER  # writing the report is what marks a scene finished


def _version(dist: str) -> str | None:
    # Package metadata, not an import: reading torch's or numba's version must not load them.
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def software_versions() -> dict[str, str | None]:
    """Versions of Python, splatsynth and the numeric stack, and the platform string."""
    return {
        "python": platform.python_version(),
        "splatsynth": _version("splatsynth"),
        "torch": _version("torch"),
        "numpy": np.__version__,
        "numba": _version("numba"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "executable": sys.executable,
    }


def _camera_entry(cam: Any) -> Any:
    # Accept Camera objects (anything with to_frame) or ready frame dicts.
    return cam.to_frame() if hasattr(cam, "to_frame") else cam


def build_report(scene_id: str, *, metrics: Mapping[str, Any] | None = None,
                 timings: Mapping[str, float] | None = None,
                 config: Mapping[str, Any] | None = None,
                 normalization: Mapping[str, Any] | None = None,
                 refined_cameras: Sequence[Any] | None = None,
                 pose_deltas: Sequence[Any] | None = None,
                 scene_input: Mapping[str, Any] | None = None,
                 outputs: Mapping[str, Any] | None = None,
                 warnings: Sequence[str] | None = None,
                 extra: Mapping[str, Any] | None = None,
                 created: datetime | None = None) -> dict[str, Any]:
    """Assemble a ``report.json`` document (see ``docs/report.md``).

    Args:
        scene_id: the scene's id (its folder name under OUT).
        metrics: scores, e.g. ``{"psnr": .., "psnr_masked": .., "ssim": .., "iou": ..,
            "per_view": [...], "protocol": "leave-one-view-out"}``.
        timings: seconds per stage, e.g. ``{"load": .., "fit": .., "render": .., "write": ..,
            "total": ..}``.
        config: the effective configuration as dotted knob names or a nested dict
            (``{"fit.method": "3dgs", ...}``).
        normalization: the similarity transform into the canonical frame, e.g.
            ``{"scale": s, "rotation": [[..]], "translation": [..], "matrix": 4x4,
            "radius_mode": "robust"}`` with ``canonical = scale * R @ world + translation``.
        refined_cameras: the input cameras after pose refinement (``Camera`` or frame dicts).
        pose_deltas: per input view, e.g. ``{"file_path", "rotation_deg", "shift_px",
            "centre_shift", "suspect", "translation"}``.
        scene_input: where the scene came from, e.g. ``{"path": .., "views": 6}``.
        outputs: relative paths of written files (the writers' manifests).
        warnings: what a user should look at (e.g. a camera whose calibration is suspect).
        extra: anything else, stored under ``"extra"``.
        created: timestamp; default now (UTC).
    Returns:
        A JSON-ready dict (numpy values converted, NaN -> null).
    """
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "scene_id": scene_id,
        "created": (created or datetime.now(UTC)).isoformat(timespec="seconds"),
        "metrics": dict(metrics or {}),
        "timings": dict(timings or {}),
        "config": dict(config or {}),
        "normalization": dict(normalization or {}),
        "cameras": {
            "refined": [_camera_entry(c) for c in refined_cameras or []],
            "pose_deltas": list(pose_deltas or []),
        },
        "input": dict(scene_input or {}),
        "outputs": dict(outputs or {}),
        "warnings": list(warnings or []),
        "versions": software_versions(),
    }
    if extra:
        report["extra"] = dict(extra)
    return to_jsonable(report)


def write_report(scene_dir: str | os.PathLike[str], report: Mapping[str, Any]) -> Path:
    """Write ``report.json`` atomically. Write it last: its presence marks the scene finished."""
    for key in ("schema_version", "scene_id"):
        if key not in report:
            raise ValueError(f"report lacks {key!r}; build it with build_report()")
    return atomic_write_json(Path(scene_dir) / REPORT_FILE, report)


def read_report(scene_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a scene's ``report.json``."""
    return json.loads((Path(scene_dir) / REPORT_FILE).read_text())
