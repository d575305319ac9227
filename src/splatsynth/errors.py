"""User-facing errors: each names the file (or view) and what is wrong.

The CLI prints these without a traceback and exits 1; anything else is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def printable(text: str, *, newlines: bool = True) -> str:
    """``text`` with control characters escaped (``\\x00``, ``\\x1b``; also newlines and tabs
    unless ``newlines``), so a file name cannot garble or drive the terminal it is printed on.
    """
    keep = "\n\t" if newlines else ""
    return "".join(ch if (ch in keep or not (ord(ch) < 32 or 127 <= ord(ch) < 160))
                   else repr(ch)[1:-1] for ch in text)


class SplatsynthError(Exception):
    """An error caused by the user's input or environment, with a message fit to print."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (a file or view) and what."""

    where: str
    what: str

    def __str__(self) -> str:
        return f"{printable(self.where, newlines=False)}: {self.what}"


@dataclass
class SceneError(SplatsynthError):
    """A scene failed validation; carries every problem found, not just the first."""

    scene: str
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = [f"scene {self.scene}: {len(self.problems)} problem(s)"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


class FitFailed(SplatsynthError):
    """A fit that cannot be written: it diverged (:class:`FitDiverged`) or failed the post-fit
    check (:class:`FitRejected`). ``run``, ``demo`` and ``batch`` retry such a fit once with a
    safer setting before the scene fails.

    Attributes:
        scene: the scene id.
        retried: whether the safer retry ran (and failed too).
        retry_setting: the retry's changed knobs by dotted name.
        first_error: the first attempt's error, when retried.
    """

    def __init__(self, message: str, *, scene: str = "") -> None:
        super().__init__(message)
        self.scene = scene
        self.retried = False
        self.retry_setting: dict = {}
        self.first_error = ""

    def after_retry(self, setting: dict, first_error: str) -> FitFailed:
        """Record that this is the safer retry's failure (the message says so too)."""
        self.retried, self.retry_setting, self.first_error = True, dict(setting), first_error
        knobs = ", ".join(f"{k}={v:g}" for k, v in setting.items())
        self.args = (f"{self.args[0]}\n  (this was the retry with a safer setting, {knobs}; "
                     f"the first fit: {first_error})",)
        return self


class FitDiverged(FitFailed):
    """A fit left every sane range (NaN/inf, or Gaussians blown up or flown away).

    Attributes:
        scene: the scene id.
        step: the optimisation step where it was noticed.
    """

    def __init__(self, message: str, *, scene: str = "", step: int = 0) -> None:
        super().__init__(message, scene=scene)
        self.step = step


class FitRejected(FitFailed):
    """A fit failed the post-fit check (Gaussians outside the scene, training views below the
    quality floors).

    Attributes:
        check: the check's numbers and reasons (the ``check`` block of ``report.json``).
    """

    def __init__(self, message: str, *, scene: str = "", check: dict | None = None) -> None:
        super().__init__(message, scene=scene)
        self.check = dict(check or {})
