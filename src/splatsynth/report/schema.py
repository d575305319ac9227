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

from ..errors import SplatsynthError
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
                 pose_keypoints: Mapping[str, Any] | None = None,
                 scene_input: Mapping[str, Any] | None = None,
                 outputs: Mapping[str, Any] | None = None,
                 check: Mapping[str, Any] | None = None,
                 retry: Mapping[str, Any] | None = None,
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
        pose_keypoints: the keypoint alignment's digest when it ran (``applied``, ``reason``,
            ``residual_px_before`` / ``_after``, ...; see ``cameras.KeypointAlignment.summary``).
        scene_input: where the scene came from, e.g. ``{"path": .., "views": 6}``.
        outputs: relative paths of written files (the writers' manifests).
        check: the post-fit check's numbers and verdict (``pipeline.FitCheck.to_json``).
        retry: ``{"setting": {dotted knob: value}, "first_error": str}`` when the first fit
            failed and the scene was fitted again with a safer setting.
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
    if pose_keypoints is not None:
        report["cameras"]["pose_keypoints"] = dict(pose_keypoints)
    if check is not None:
        report["check"] = dict(check)
    if retry is not None:
        report["retry"] = dict(retry)
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
    """Load and check a scene's ``report.json`` (the input contract for reports).

    Checks what readers rely on: a JSON object with an integer ``schema_version`` this
    version can read, a string ``scene_id``, objects where objects belong, and, when present,
    ``config.fit.method`` a string and ``config.fit.background`` three numbers in [0, 1].

    Raises:
        SplatsynthError: naming the file and every problem found.
    """
    path = Path(scene_dir) / REPORT_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise SplatsynthError(f"{path}: missing (not a finished scene folder)") from e
    except (OSError, UnicodeDecodeError) as e:
        raise SplatsynthError(f"{path}: unreadable ({getattr(e, 'strerror', None) or e})") from e
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise SplatsynthError(f"{path}: malformed JSON at line {e.lineno}, column {e.colno}: "
                              f"{e.msg}") from e
    problems = report_problems(doc)
    if problems:
        raise SplatsynthError(f"{path}: not a usable report: " + "; ".join(problems))
    return doc


def report_problems(doc: Any) -> list[str]:
    """Everything wrong with a ``report.json`` document (empty when it is usable)."""
    if not isinstance(doc, dict):
        return [f"expected a JSON object, got {type(doc).__name__}"]
    out = []
    v = doc.get("schema_version")
    if isinstance(v, bool) or not isinstance(v, int):
        out.append(f"schema_version must be an integer, got {v!r}")
    elif not 1 <= v <= SCHEMA_VERSION:
        out.append(f"schema_version {v} is not one this splatsynth reads (1..{SCHEMA_VERSION})")
    if not isinstance(doc.get("scene_id"), str):
        out.append(f"scene_id must be a string, got {doc.get('scene_id')!r}")
    for key in ("metrics", "timings", "config", "normalization", "input", "outputs"):
        if key in doc and not isinstance(doc[key], dict):
            out.append(f"{key} must be an object, got {type(doc[key]).__name__}")
    fit = doc.get("config", {}).get("fit", {}) if isinstance(doc.get("config"), dict) else {}
    if not isinstance(fit, dict):
        out.append("config.fit must be an object")
        fit = {}
    if "method" in fit and not isinstance(fit["method"], str):
        out.append(f"config.fit.method must be a string, got {fit['method']!r}")
    if "background" in fit:
        bg = fit["background"]
        if not (isinstance(bg, list) and len(bg) == 3
                and all(isinstance(x, int | float) and not isinstance(x, bool)
                        and 0 <= x <= 1 for x in bg)):
            out.append(f"config.fit.background must be three numbers in [0, 1], got {bg!r}")
    return out
