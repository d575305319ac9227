"""Where the compiled numba kernels are kept: one cache per user and machine, in a known place.

numba compiles the CPU kernels (rasterizers, fused SSIM, MCMC noise) on their first call and,
with ``cache=True``, stores the machine code on disk. By default numba puts that cache next to
the package's sources, which a read-only or shared install cannot take and a fresh checkout
does not have. splatsynth points numba at ``$XDG_CACHE_HOME/splatsynth/numba`` (usually
``~/.cache/splatsynth/numba``) instead, set when ``splatsynth`` is imported, before numba is;
``splatsynth warmup`` (run by ``make install``) fills it once, so no scene and no batch worker
compiles anything.

The folder's last part is a digest of the kernels' sources (:func:`kernel_digest`). numba
checks a cached kernel only against its own file's time stamp, but the kernels inline ``@njit``
helpers from other files (``render/kernels/geometry.py``, ``sh.py``, ...): an edit there would
otherwise load stale machine code. Any edit to a kernel file gives a fresh folder.

Override: set ``NUMBA_CACHE_DIR`` yourself (it is left alone); numba falls back to its own
locations when the folder cannot be written.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

#: The environment variable numba reads (at its import and before each compilation).
ENV_VAR = "NUMBA_CACHE_DIR"


_PACKAGE = Path(__file__).resolve().parent

#: Files holding numba kernels or the helpers they inline (globs under the package).
KERNEL_SOURCES = ("render/kernels/*.py", "losses/_*_kernels.py", "optim/_noise_kernel.py")


def kernel_digest() -> str:
    """12 hex digits of a hash over every kernel source file's path and bytes."""
    h = hashlib.sha256()
    for pattern in KERNEL_SOURCES:
        for f in sorted(_PACKAGE.glob(pattern)):
            h.update(f.relative_to(_PACKAGE).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:12]


def kernel_modules() -> list[str]:
    """Dotted names of the modules holding the kernels (the files of :data:`KERNEL_SOURCES`)."""
    return [".".join(("splatsynth", *f.relative_to(_PACKAGE).with_suffix("").parts))
            for pattern in KERNEL_SOURCES for f in sorted(_PACKAGE.glob(pattern))
            if f.name != "__init__.py"]


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/splatsynth/numba/<digest>``, or ``~/.cache/splatsynth/numba/<digest>``
    (:func:`kernel_digest`)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "splatsynth" / "numba" / kernel_digest()


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


def configure_kernel_cache() -> str | None:
    """Point numba's cache at :func:`default_cache_dir` unless ``NUMBA_CACHE_DIR`` is set.

    Called once when ``splatsynth`` is imported; cheap (numba is not imported). When numba
    was imported earlier by someone else, its config is updated too, which takes effect for
    kernels not yet imported (all of splatsynth's: they load on first use).

    Returns:
        The cache folder in use, or None when numba decides (the default folder could not be
        written: numba then caches next to the package or in its own user-wide folder).
    """
    current = os.environ.get(ENV_VAR)
    if current:
        return current
    folder = default_cache_dir()
    if not _writable(folder):
        return None
    os.environ[ENV_VAR] = str(folder)
    numba = sys.modules.get("numba")
    if numba is not None:
        numba.config.CACHE_DIR = str(folder)
    return str(folder)


def cache_dir() -> str | None:
    """The folder numba caches splatsynth's kernels in (None: numba's own default)."""
    return os.environ.get(ENV_VAR) or None
