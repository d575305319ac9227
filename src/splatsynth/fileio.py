"""The one home of file writing and reading that every room shares.

Atomic files: a reader sees the old content or the new one, never a mix. Data goes to a hidden
temporary sibling in the same folder, is fsynced, and is moved into place with ``os.replace``
(atomic on POSIX and Windows within one file system). Atomic folders: built in a hidden
temporary sibling and renamed into place when complete.

Files get the permissions the umask gives a newly created file (``mkstemp`` alone would leave
them readable by their owner only, which a dataset shared by a lab cannot be).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import SplatsynthError, printable

#: Prefix of folders under construction, and of old folders being replaced.
TMP_PREFIX = ".tmp-"
OLD_PREFIX = ".old-"

PathLike = str | os.PathLike[str]


def _read_umask() -> int:
    # os.umask can only be read by setting it; done once at import, before any thread writes.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_read_umask()


class AlreadyFinished(Exception):
    """Raised by :func:`atomic_directory` when the folder is finished and ``force`` is off.

    Not an error: callers that produce many folders catch it and count the folder as skipped.

    Attributes:
        path: the finished folder.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path.name} is already finished at {path}")
        self.path = path


# --- files ---------------------------------------------------------------------------------


@contextlib.contextmanager
def atomic_path(path: PathLike, *, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary sibling of ``path`` for a library that writes to a file name itself (PLY,
    MP4, ``np.save``); renamed onto ``path`` when the block ends without an exception, deleted
    otherwise. Creates missing parent folders.

    The temporary file exists (empty) when the block starts. ``suffix`` keeps the extension a
    writer may look at (imageio picks its codec by it).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename).

    Creates missing parent folders. Returns the path written.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def atomic_write_text(path: PathLike, text: str) -> Path:
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


def atomic_write_json(path: PathLike, obj: Any, *, indent: int | None = 2) -> Path:
    """Write ``obj`` as strict JSON (NaN/inf -> null, numpy -> lists) to ``path`` atomically."""
    text = json.dumps(to_jsonable(obj), indent=indent, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def write_jsonl(path: PathLike, rows: Iterable[Mapping[str, Any]]) -> Path:
    """Write one strict-JSON object per line, atomically (the whole file is replaced)."""
    text = "".join(json.dumps(to_jsonable(dict(r)), allow_nan=False) + "\n" for r in rows)
    return atomic_write_text(path, text)


def read_jsonl(path: PathLike) -> list[dict]:
    """Objects of a JSON-lines file; a missing file is empty and unparsable lines are dropped
    (the writers of these files rebuild them from what they know)."""
    path = Path(path)
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


# --- list files ----------------------------------------------------------------------------


def read_list_file(list_file: PathLike, *, what: str = "the list") -> list[Path]:
    """The paths a text file lists, in order.

    One path per line; blank lines and lines starting with ``#`` are skipped; ``~`` expands;
    relative paths are taken from the list file's folder so a dataset can move as a whole.

    Raises:
        SplatsynthError: the file cannot be read, or a line holds a control character (a NUL
            would be cut short by the OS); the message names it and says ``what`` it is:
            ``"<file>: cannot read <what> (<reason>)"``.
    """
    list_file = Path(list_file).absolute()
    try:
        text = list_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = getattr(e, "strerror", None) or e
        raise SplatsynthError(f"{list_file}: cannot read {what} ({reason})") from e
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in line):
            raise SplatsynthError(f"{list_file}: line {n} holds a control character "
                                  f"({printable(line[:80])}); one path per line")
        p = Path(line).expanduser()
        out.append(p if p.is_absolute() else list_file.parent / p)
    return out


def write_list_file(path: PathLike, entries: Iterable[PathLike]) -> Path:
    """Write one entry per line, atomically."""
    return atomic_write_text(path, "".join(f"{os.fspath(e)}\n" for e in entries))


# --- output paths --------------------------------------------------------------------------

#: Characters the hidden temporary siblings add to a name (``.tmp-<name>-<8 hex>``, and
#: ``.<name>.<random>.tmp`` for files), which must still fit the file system's name limit.
TEMP_NAME_EXTRA = 16
#: Room left under an output folder for the relative paths written inside it
#: (``images/.cam_000.png.<random>.tmp``, ``mvdiffusion/<scene_id>/...``).
INNER_PATH_ROOM = 64


def check_output_path(path: PathLike, *, kind: str = "folder", what: str = "output folder"
                      ) -> Path:
    """Refuse an output path that cannot be written, before any work starts.

    The path may exist (as a folder, or as a file for ``kind="file"``) or not yet; its nearest
    existing parent must be a folder that this process can create entries in (probed by making
    and removing a hidden folder there, which also catches read-only file systems), and every
    name along it, with the temporary sibling's extra characters, must fit the file system's
    limits. Nothing is left behind.

    Args:
        path: the folder (or file) to be written.
        kind: ``"folder"`` or ``"file"``.
        what: what it is, for the message (``"--out"``, ``"scene folder"`` ...).
    Returns:
        ``path`` as an absolute Path.
    Raises:
        SplatsynthError: naming the path and the reason.
    """
    p = Path(os.path.abspath(os.fspath(path)))
    if "\0" in str(p):
        raise SplatsynthError(f"{what} {printable(str(p))}: the path contains a NUL character")
    if p.exists() or p.is_symlink():
        if kind == "folder" and not p.is_dir():
            raise SplatsynthError(f"{what} {p}: exists and is not a folder")
        if kind == "file" and p.is_dir():
            raise SplatsynthError(f"{what} {p}: is a folder, not a file")
    parent = p if p.is_dir() else p.parent
    while not parent.exists() and not parent.is_symlink() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise SplatsynthError(f"{what} {p}: {parent} is a file, not a folder")
    try:
        name_max = os.pathconf(parent, "PC_NAME_MAX")
        path_max = os.pathconf(parent, "PC_PATH_MAX")
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows) or no answer
        name_max, path_max = 255, 4096
    for part in p.relative_to(parent).parts or (p.name,):
        if len(os.fsencode(part)) + TEMP_NAME_EXTRA > name_max:
            raise SplatsynthError(f"{what} {p}: the name {part[:40]}... is too long for the file "
                                  f"system ({len(os.fsencode(part))} bytes; at most "
                                  f"{name_max - TEMP_NAME_EXTRA} here)")
    if len(os.fsencode(str(p))) + INNER_PATH_ROOM > path_max:
        raise SplatsynthError(f"{what} {str(p)[:60]}...: the path is too long"
                              f" ({len(os.fsencode(str(p)))} bytes; at most "
                              f"{path_max - INNER_PATH_ROOM} here)")
    try:
        probe = tempfile.mkdtemp(prefix=".splatsynth-probe-", dir=parent)
        os.rmdir(probe)
    except OSError as e:
        raise SplatsynthError(f"{what} {p}: cannot write in {parent} "
                              f"({e.strerror or e})") from e
    return p


# --- folders -------------------------------------------------------------------------------


#: A file in every folder under construction, locked (``flock``) by the process building it
#: for as long as it builds: a cleaner tells a live build (locked) from the debris of a killed
#: one (unlocked; the OS releases the lock of a dead process, even after SIGKILL).
BUILD_LOCK = ".building"
_build_locks: dict[str, int] = {}


def new_temp_directory(final: PathLike) -> Path:
    """Create an empty hidden folder beside ``final`` to build it in, ``.tmp-<name>-<random>``
    (parent folders are created), holding its :data:`BUILD_LOCK` until it is committed or
    discarded.

    For builders that commit at a moment of their choosing: fill it, then
    :func:`swap_directory` it onto ``final`` or :func:`discard_temp_directory` it.
    :func:`atomic_directory` does both.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f"{TMP_PREFIX}{final.name}-{secrets.token_hex(4)}"
    tmp.mkdir()
    _hold_build_lock(tmp)
    return tmp


def _hold_build_lock(tmp: Path) -> None:
    try:
        import fcntl
    except ImportError:  # Windows: no lock; cleaners go by age alone
        return
    # Locked under a private name, then renamed: a visible lock file is always a held one.
    private = tmp / f"{BUILD_LOCK}.{secrets.token_hex(4)}"
    fd = os.open(private, os.O_CREAT | os.O_RDWR, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.rename(private, tmp / BUILD_LOCK)
    _build_locks[str(tmp)] = fd


def _release_build_lock(tmp: Path) -> None:
    """Remove ``tmp``'s lock file (before ``tmp`` becomes a finished folder) and let go."""
    fd = _build_locks.pop(str(tmp), None)
    if fd is not None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp / BUILD_LOCK)
        os.close(fd)


def discard_temp_directory(tmp: PathLike) -> None:
    """Delete a folder from :func:`new_temp_directory` that will not be committed."""
    _release_build_lock(Path(tmp))
    shutil.rmtree(tmp, ignore_errors=True)


def is_being_built(folder: PathLike) -> bool | None:
    """Whether a temporary folder is still being built by a live process: True (its lock is
    held), False (its lock file is there but free: the builder died), None (no lock file:
    made by a version without locks, or no locks on this platform; go by its age)."""
    lock = Path(folder) / BUILD_LOCK
    try:
        import fcntl

        fd = os.open(lock, os.O_RDONLY)
    except (ImportError, OSError):
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing also releases the lock if we took it
    return False


@contextlib.contextmanager
def atomic_directory(final: PathLike, *, force: bool = False,
                     is_finished: Callable[[Path], bool] | None = None) -> Iterator[Path]:
    """Build a folder in a hidden temporary sibling and rename it to ``final`` on success.

    Args:
        final: where the finished folder should appear.
        force: replace an existing finished folder (old one renamed aside, new one renamed in,
            old one deleted), instead of raising :class:`AlreadyFinished`.
        is_finished: decides whether an existing ``final`` counts as finished; default: it
            exists. An existing but unfinished folder (not made by us: ours are never half
            written) is replaced as if ``force`` were set.
    Yields:
        The temporary folder ``.tmp-<name>-<random>`` to fill.
    Raises:
        AlreadyFinished: on entry, or at commit if another process finished first.
    """
    final = Path(final)
    finished = is_finished or (lambda p: p.exists())
    if finished(final) and not force:
        raise AlreadyFinished(final)
    tmp = new_temp_directory(final)
    try:
        yield tmp
        swap_directory(tmp, final, force=force, is_finished=finished)
    except BaseException:
        discard_temp_directory(tmp)
        raise


@contextlib.contextmanager
def staged_directory(final: PathLike) -> Iterator[Path]:
    """Build files in a hidden temporary sibling of ``final``, then move them into ``final``.

    Unlike :func:`atomic_directory`, an existing ``final`` is kept and the new files are
    merged into it (replacing files of the same name), as a command writing into a folder the
    user named does; a failure leaves ``final`` as it was and deletes the temporary folder.
    """
    final = Path(final)
    tmp = new_temp_directory(final)
    try:
        yield tmp
        _release_build_lock(tmp)
        if not final.exists():
            os.rename(tmp, final)
            return
        for src in sorted(tmp.rglob("*")):
            if src.is_file():
                dst = final / src.relative_to(tmp)
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
    finally:
        discard_temp_directory(tmp)


def swap_directory(tmp: PathLike, final: PathLike, *, force: bool = True,
                   is_finished: Callable[[Path], bool] | None = None) -> Path:
    """Move the complete folder ``tmp`` to ``final``, replacing what is there.

    A reader sees the old folder or the new one: the old one is renamed aside first and put
    back if the second rename fails. With ``force`` off, a ``final`` that ``is_finished``
    (default: exists) raises :class:`AlreadyFinished` and ``tmp`` is left for the caller.
    """
    tmp, final = Path(tmp), Path(final)
    finished = is_finished or (lambda p: p.exists())
    _release_build_lock(tmp)  # the lock file must not end up in the finished folder
    try:
        os.rename(tmp, final)  # fails with ENOTEMPTY/EEXIST if final exists (POSIX)
        return final
    except OSError:
        if not final.exists():
            raise
    # Someone (another worker, or an earlier run) holds `final`.
    if finished(final) and not force:
        raise AlreadyFinished(final)
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
    return final


# --- images --------------------------------------------------------------------------------


def to_uint8(x: np.ndarray) -> np.ndarray:
    """Float values in [0, 1] (clipped, NaN -> 0) to uint8, rounded to nearest (halves up)."""
    x = np.nan_to_num(np.asarray(x, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def rgba_uint8(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Straight (un-premultiplied) RGBA for a PNG.

    Args:
        rgb: [H, W, 3] float colour in [0, 1], not multiplied by alpha.
        alpha: [H, W] float opacity in [0, 1].
    Returns:
        [H, W, 4] uint8.
    """
    return np.concatenate([to_uint8(rgb), to_uint8(alpha)[..., None]], axis=-1)


#: zlib level of every PNG written. Level 4 encodes 32 RGBA orbit views at 512 px in about
#: half the time of zlib's default 6 for ~6% larger files (``python bench/png.py``).
PNG_COMPRESS_LEVEL = 4


def png_bytes(img: np.ndarray, *, compress_level: int = PNG_COMPRESS_LEVEL) -> bytes:
    """Encode a uint8 [H, W], [H, W, 3] or [H, W, 4], or a uint16 [H, W] array as PNG.

    Pillow releases the GIL while it deflates, so threads encode several images at once
    (see :func:`write_pngs`).
    """
    from PIL import Image

    img = np.ascontiguousarray(img)
    if img.dtype == np.uint16:
        if img.ndim != 2:
            raise ValueError(f"16-bit PNGs must be single-channel, got shape {img.shape}")
        pil = Image.fromarray(img.astype("<u2"))  # Pillow maps little-endian uint16 to I;16
    elif img.dtype == np.uint8:
        if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (3, 4)):
            raise ValueError(f"PNG images must be [H, W], [H, W, 3] or [H, W, 4], got shape "
                             f"{img.shape}")
        pil = Image.fromarray(img)
    else:
        raise ValueError(f"png_bytes expects uint8 or uint16, got {img.dtype}")
    if img.shape[0] == 0 or img.shape[1] == 0:
        raise ValueError(f"cannot write an empty image as PNG (shape {img.shape})")
    buf = io.BytesIO()
    pil.save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def write_png(path: PathLike, img: np.ndarray, *, compress_level: int = PNG_COMPRESS_LEVEL
              ) -> Path:
    """Write a uint8/uint16 image (see :func:`png_bytes`) atomically."""
    return atomic_write_bytes(path, png_bytes(img, compress_level=compress_level))


def write_pngs(jobs: Sequence[tuple[PathLike, Callable[[], np.ndarray]]],
               threads: int | None = None) -> None:
    """Write PNGs on several threads: each job is (path, a function making the uint8/uint16
    image); the conversion, the encoding (Pillow releases the GIL) and the atomic write of one
    file run together on one thread.

    Args:
        jobs: the files to write.
        threads: at most this many threads (default: the kernels' thread count,
            :func:`splatsynth.threads.get_num_threads`, i.e. this process's share of the cores).
    """
    from .threads import run_parallel

    run_parallel(lambda path, make: write_png(path, make()), list(jobs), threads)
