"""Validation of the config dataclasses: one style for every knob, run at construction.

Each frozen config dataclass (``FitConfig``, ``OrbitConfig``, ...) derives from :class:`Knobs`,
names its dotted prefix in ``section`` and checks its ranges in ``__post_init__``. Checking at
construction means YAML files, CLI flags and Python callers all get the same error, naming the
knob as the user writes it (``fit.iterations must be >= 1, got 0``), before any work starts.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import fields
from functools import cache
from typing import Any, ClassVar, Literal

from .errors import SplatsynthError


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class Knobs:
    """Base of the config dataclasses: type checks, then each class's range checks.

    ``__post_init__`` here checks every field against its annotation (``int``, ``float``,
    ``bool``, ``str``, ``Literal[...]``, fixed-length tuples, ``X | None``), turns ints given for
    ``float`` knobs into floats (so a config and its report.json read the same whichever way it
    was written), and refuses non-finite numbers. Subclasses call it first from their own
    ``__post_init__``, then state each knob's range with :meth:`_check` or its shorthands.
    """

    section: ClassVar[str] = ""
    """The knobs' dotted prefix (``fit`` for ``fit.iterations``)."""

    def knob(self, name: str) -> str:
        """The dotted name of field ``name``."""
        return f"{self.section}.{name}" if self.section else name

    def _fail(self, name: str, rule: str, value: Any = None) -> SplatsynthError:
        got = getattr(self, name) if value is None else value
        return SplatsynthError(f"{self.knob(name)} must be {rule}, got {got!r}")

    def __post_init__(self) -> None:
        hints = _hints(type(self))
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            fixed = self._typed(f.name, hints[f.name], value)
            if fixed is not value:
                object.__setattr__(self, f.name, fixed)

    def _typed(self, name: str, tp: Any, value: Any) -> Any:
        """``value`` checked against ``tp`` (ints become floats where a float is due)."""
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin in (typing.Union, types.UnionType):
            if value is None and type(None) in args:
                return None
            (inner,) = [a for a in args if a is not type(None)] or [Any]
            return self._typed(name, inner, value)
        if origin is Literal:
            if value not in args:
                raise self._fail(name, f"one of {list(args)}", value)
            return value
        if origin is tuple and args and args[-1] is not Ellipsis:
            if not isinstance(value, (tuple, list)) or len(value) != len(args):
                raise self._fail(name, f"{len(args)} values", value)
            return tuple(self._typed(name, a, v) for a, v in zip(args, value))
        if tp is bool and not isinstance(value, bool):
            raise self._fail(name, "true or false", value)
        if tp is int and not _is_int(value):
            raise self._fail(name, "an integer", value)
        if tp is float:
            if not _is_number(value):
                raise self._fail(name, "a number", value)
            if not math.isfinite(value):
                raise self._fail(name, "a finite number", value)
            return float(value) if _is_int(value) else value
        if tp is str and not isinstance(value, str):
            raise self._fail(name, "a string", value)
        return value

    def _check(self, name: str, ok: bool, rule: str) -> None:
        """Raise ``<section>.<name> must be <rule>, got <value>`` unless ``ok``."""
        if not ok:
            raise self._fail(name, rule)

    def _at_least(self, name: str, low: float) -> None:
        """``name >= low`` (None passes: it means "not set")."""
        v = getattr(self, name)
        self._check(name, v is None or v >= low, f">= {low}")

    def _positive(self, name: str) -> None:
        """``name > 0`` (None passes)."""
        v = getattr(self, name)
        self._check(name, v is None or v > 0, "> 0")

    def _within(self, name: str, low: float, high: float) -> None:
        """``low <= name <= high`` (None passes)."""
        v = getattr(self, name)
        self._check(name, v is None or low <= v <= high, f"in [{low}, {high}]")
