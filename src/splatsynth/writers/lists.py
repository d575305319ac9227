"""``data_gslrm_train.txt`` / ``data_gslrm_val.txt``: one absolute scene folder per line.

The split of a scene depends only on its id (and a seed), never on which other scenes exist or
the order they finished in, so a scene stays on its side of the split as a dataset grows.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

from ..fileio import OLD_PREFIX, TMP_PREFIX, write_list_file
from .atomic import FINISHED_MARKER

TRAIN_LIST = "data_gslrm_train.txt"
VAL_LIST = "data_gslrm_val.txt"
_LOCK_FILE = ".lists.lock"


def split_for(scene_id: str, val_ratio: float, seed: int = 0) -> Literal["train", "val"]:
    """The split of ``scene_id``: ``"val"`` for about ``val_ratio`` of all ids.

    Uses SHA-256 of ``"<seed>:<scene_id>"`` (Python's ``hash()`` is salted per process), so the
    answer is the same on every run and machine.
    """
    if not 0.0 <= val_ratio <= 1.0:
        raise ValueError(f"val_ratio must be in [0, 1], got {val_ratio}")
    digest = hashlib.sha256(f"{seed}:{scene_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64  # uniform in [0, 1)
    return "val" if u < val_ratio else "train"


def finished_scene_dirs(out_root: str | os.PathLike[str]) -> list[Path]:
    """Absolute paths of finished scene folders directly under ``out_root``, sorted."""
    root = Path(out_root).resolve()
    if not root.is_dir():
        return []
    dirs = [p for p in root.iterdir()
            if not p.name.startswith((TMP_PREFIX, OLD_PREFIX, "."))
            and p.is_dir() and (p / FINISHED_MARKER).is_file()]
    return sorted(dirs, key=lambda p: p.name)


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Serialize list rebuilds of concurrent workers (POSIX advisory lock; no-op elsewhere).

    Without it two workers could scan, then write in the opposite order, and the later write
    would drop the scene the other one had just finished.
    """
    try:
        import fcntl
    except ImportError:  # Windows: the batch-end rebuild still makes the lists complete
        yield
        return
    with open(root / _LOCK_FILE, "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def update_lists(out_root: str | os.PathLike[str], *, val_ratio: float = 0.05, seed: int = 0,
                 include: Callable[[Path], bool] | None = None) -> dict[str, list[Path]]:
    """Rebuild both list files from the finished scene folders under ``out_root``.

    Safe to call after every scene and again at the end of a batch: each call rescans the
    folder and replaces both files atomically.

    Args:
        out_root: the dataset root.
        val_ratio: fraction of scenes for validation (see :func:`split_for`).
        seed: changes the split without renaming scenes.
        include: return False for scene folders to leave out (e.g. quarantined ones).
    Returns:
        ``{"train": [...], "val": [...]}`` absolute scene folders, as written.
    """
    root = Path(out_root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root):
        split: dict[str, list[Path]] = {"train": [], "val": []}
        for d in finished_scene_dirs(root):
            if include is None or include(d):
                split[split_for(d.name, val_ratio, seed)].append(d)
        for name, key in ((TRAIN_LIST, "train"), (VAL_LIST, "val")):
            write_list_file(root / name, split[key])
    return split
