"""Scene folders under OUT: valid ids, the finished marker, atomic commits, stale temporaries.

A scene folder is built in a hidden temporary sibling ``OUT/.tmp-<scene_id>-<random>/`` and
renamed into place when complete (:func:`splatsynth.fileio.atomic_directory`), so
``OUT/<scene_id>/`` is either finished (it holds ``report.json``) or absent.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from ..errors import SplatsynthError
from ..fileio import OLD_PREFIX, TMP_PREFIX, atomic_directory, is_being_built

#: The file whose presence marks a scene folder as finished (written last by the pipeline).
FINISHED_MARKER = "report.json"
#: Names under OUT that belong to the layout, so no scene may take them.
RESERVED_NAMES = frozenset({"mvdiffusion", "data_gslrm_train.txt", "data_gslrm_val.txt"})

# A scene id becomes a folder name and a line of a list file: keep it to one safe path part.
_SCENE_ID_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+\-=@,]*$")


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


# --- folders -------------------------------------------------------------------------------


def is_scene_finished(out_root: str | os.PathLike[str], scene_id: str) -> bool:
    """True when ``OUT/<scene_id>/`` exists and holds ``report.json``."""
    return (Path(out_root) / scene_id / FINISHED_MARKER).is_file()


@contextlib.contextmanager
def scene_dir_transaction(out_root: str | os.PathLike[str], scene_id: str, *,
                          force: bool = False) -> Iterator[Path]:
    """Fill ``OUT/<scene_id>/`` atomically.

    Usage::

        try:
            with scene_dir_transaction(out, scene_id, force=force) as tmp:
                write_gslrm_views(tmp, scene_id, ...)
                write_report(tmp, report)          # last: marks the scene finished
        except AlreadyFinished:
            ...                                    # skipped

    On success the temporary folder is renamed to ``OUT/<scene_id>/``; on any exception it is
    deleted and the exception propagates (an existing scene folder is left untouched).

    Args:
        out_root: the dataset root (created if missing).
        scene_id: the scene's folder name (see :func:`check_scene_id`).
        force: replace a finished scene instead of raising
            :class:`~splatsynth.fileio.AlreadyFinished`.
    Yields:
        The temporary folder ``OUT/.tmp-<scene_id>-<random>/`` to fill.
    Raises:
        AlreadyFinished: the scene holds ``report.json`` and ``force`` is off.
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

    Looks at folders named ``.tmp-*`` / ``.old-*`` directly under ``out_root`` (and under
    ``out_root/mvdiffusion``). One whose builder holds its lock (a live ``run`` or batch
    worker writing it) is never touched; one whose lock is free was left by a process that
    died, and is removed at once; one without a lock file (an ``.old-*`` folder, or one made
    where there are no locks) is removed when its modification time is older than
    ``older_than_s``.
    """
    removed = []
    now = time.time()
    for parent in (Path(out_root), Path(out_root) / "mvdiffusion"):
        if not parent.is_dir():
            continue
        for p in parent.iterdir():
            if not (p.name.startswith((TMP_PREFIX, OLD_PREFIX)) and p.is_dir()):
                continue
            live = is_being_built(p)
            if live or (live is None and now - p.stat().st_mtime <= older_than_s):
                continue
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed
