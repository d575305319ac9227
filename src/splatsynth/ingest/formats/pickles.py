"""Reading pickles from other tools without running their code.

A pickle can name any importable callable; these files only ever hold lists, dicts and numpy
arrays, so only numpy's array reconstructors may be loaded.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from ...errors import SplatsynthError

_ALLOWED = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("collections", "OrderedDict"),
}


class _NumpyOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only lists, dicts and "
                                     "numpy arrays are expected)")


def load_pickle(path: str | Path, what: str) -> Any:
    """Load a pickle of plain containers and numpy arrays.

    Raises:
        SplatsynthError: the file is missing, unreadable, or refers to anything else.
    """
    path = Path(path)
    if not path.is_file():
        raise SplatsynthError(f"{path}: {what} not found")
    try:
        with open(path, "rb") as f:
            # latin1 reads numpy arrays pickled by Python 2 as well.
            return _NumpyOnly(f, encoding="latin1").load()
    except Exception as e:  # pickle raises many types for broken files
        raise SplatsynthError(f"{path}: cannot read {what} ({type(e).__name__}: {e})") from e
