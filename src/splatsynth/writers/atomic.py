"""Atomic files and scene folders: a reader sees the old state or the new one, never a mix.

Files are written to a hidden temporary sibling in the same directory and moved into place with
``os.replace`` (atomic on POSIX and Windows within one file system). A scene folder is built in a
hidden temporary sibling ``OUT/.tmp-<scene_id>-<random>/`` and renamed into place when complete,
so ``OUT/<scene_id>/`` is either finished (it holds ``report.json``) or absent.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SplatsynthError

#: The file whose presence marks a scene folder as finished (written last by the pipeline).
FINISHED_MARKER = "report.json"
#: Prefix of scene folders under construction, and of old folders being replaced.
TMP_PREFIX = ".tmp-"
OLD_PREFIX = ".old-"
#: Names under OUT that belong to the layout, so no scene may take them.
RESERVED_NAMES = frozenset({"mvdiffusion", "data_gslrm_train.txt", "data_gslrm_val.txt"})

# A scene id becomes a folder name and a line of a list file: keep it to one safe path part.
_SCENE_ID_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+\-=@,]*$")


class SceneAlreadyFinished(Exception):
    """Raised by :func:`scene_dir_transaction` when the scene is finished and ``force`` is off.

    Not an error: callers that run many scenes catch it (or ask :func:`is_scene_finished`
    first) and count the scene as skipped.

    Attributes:
        path: the finished scene folder.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(f"scene {path.name} is already finished at {path}")
        self.path = path


def check_scene_id(scene_id: str) -> str:
    """Return ``scene_id`` if it is usable as a folder name under OUT, else raise.

    Raises:
        SplatsynthError: empty, too long, a path (``/``, ``..``), hidden (leading ``.``), a
            reserved layout name, or characters outside ``[A-Za-z0-9_.+-=@,]``.
    """
    if not isinstance(scene_id, str) or not _SCENE_ID_RE.match(scene_id) or len(scene_id) > 200:
        raise SplatsynthError(
            f"scene id {scene_id!r} is not a valid folder name: use letters, digits and "
            "_ . + - = @ , (not starting with '.' or '-'), at most 200 characters")
    if scene_id in RESERVED_NAMES:
        raise SplatsynthError(f"scene id {scene_id!r} is reserved by the output layout")
    return scene_id


# --- files ---------------------------------------------------------------------------------


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename).

    Creates missing parent folders. Returns the path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def to_jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars/arrays, paths and tuples made JSON-friendly.

    Non-finite floats become ``null``: strict JSON has no NaN, and FaceLift-style readers use
    ``json.load``, which would accept NaN but other languages' parsers do not.
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj


def atomic_write_json(path: str | os.PathLike[str], obj: Any, *, indent: int | None = 2) -> Path:
    """Write ``obj`` as strict JSON (NaN/inf -> null, numpy -> lists) to ``path`` atomically."""
    text = json.dumps(to_jsonable(obj), indent=indent, allow_nan=False)
    return atomic_write_text(path, text + "\n")


# --- folders -------------------------------------------------------------------------------


def is_scene_finished(out_root: str | os.PathLike[str], scene_id: str) -> bool:
    """True when ``OUT/<scene_id>/`` exists and holds ``report.json``."""
    return (Path(out_root) / scene_id / FINISHED_MARKER).is_file()


@contextlib.contextmanager
def atomic_directory(final: Path, *, force: bool = False,
                     is_finished: Callable[[Path], bool] | None = None) -> Iterator[Path]:
    """Build a folder in a hidden temporary sibling and rename it to ``final`` on success.

    Args:
        final: where the finished folder should appear.
        force: replace an existing finished folder (old one renamed aside, new one renamed in,
            old one deleted), instead of raising :class:`SceneAlreadyFinished`.
        is_finished: decides whether an existing ``final`` counts as finished; default: it
            exists. An existing but unfinished folder (not made by us: ours are never half
            written) is replaced as if ``force`` were set.
    Yields:
        The temporary folder to fill.
    Raises:
        SceneAlreadyFinished: on entry, or at commit if another process finished first.
    """
    finished = is_finished or (lambda p: p.exists())
    if finished(final) and not force:
        raise SceneAlreadyFinished(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f"{TMP_PREFIX}{final.name}-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        yield tmp
        _commit(tmp, final, force=force, finished=finished)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _commit(tmp: Path, final: Path, *, force: bool, finished: Callable[[Path], bool]) -> None:
    try:
        os.rename(tmp, final)  # fails with ENOTEMPTY/EEXIST if final exists (POSIX)
        return
    except OSError:
        if not final.exists():
            raise
    # Someone (another worker, or an earlier run) holds `final`.
    if finished(final) and not force:
        raise SceneAlreadyFinished(final)
    old = final.parent / f"{OLD_PREFIX}{final.name}-{secrets.token_hex(4)}"
    os.rename(final, old)
    try:
        os.rename(tmp, final)
    except BaseException:
        # Put the old folder back so a failed replace loses nothing.
        with contextlib.suppress(OSError):
            os.rename(old, final)
        raise
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def scene_dir_transaction(out_root: str | os.PathLike[str], scene_id: str, *,
                          force: bool = False) -> Iterator[Path]:
    """Fill ``OUT/<scene_id>/`` atomically.

    Usage::

        try:
            with scene_dir_transaction(out, scene_id, force=force) as tmp:
                write_gslrm_views(tmp, scene_id, ...)
                write_report(tmp, report)          # last: marks the scene finished
        except SceneAlreadyFinished:
            ...                                    # skipped

    On success the temporary folder is renamed to ``OUT/<scene_id>/``; on any exception it is
    deleted and the exception propagates (an existing scene folder is left untouched).

    Args:
        out_root: the dataset root (created if missing).
        scene_id: the scene's folder name (see :func:`check_scene_id`).
        force: replace a finished scene instead of raising :class:`SceneAlreadyFinished`.
    Yields:
        The temporary folder ``OUT/.tmp-<scene_id>-<random>/`` to fill.
    Raises:
        SceneAlreadyFinished: the scene holds ``report.json`` and ``force`` is off.
        SplatsynthError: ``scene_id`` is not a valid folder name.
    """
    check_scene_id(scene_id)
    final = Path(out_root) / scene_id
    with atomic_directory(final, force=force,
                          is_finished=lambda p: (p / FINISHED_MARKER).is_file()) as tmp:
        yield tmp


def clean_stale_temps(out_root: str | os.PathLike[str], *, older_than_s: float = 3600.0
                      ) -> list[Path]:
    """Delete temporary/old scene folders left by killed processes; returns what was removed.

    Only folders named ``.tmp-*`` / ``.old-*`` directly under ``out_root`` (and under
    ``out_root/mvdiffusion``) whose modification time is older than ``older_than_s`` are
    removed, so folders of scenes still being written by live workers survive.
    """
    removed = []
    now = time.time()
    for parent in (Path(out_root), Path(out_root) / "mvdiffusion"):
        if not parent.is_dir():
            continue
        for p in parent.iterdir():
            if (p.name.startswith((TMP_PREFIX, OLD_PREFIX)) and p.is_dir()
                    and now - p.stat().st_mtime > older_than_s):
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
    return removed
