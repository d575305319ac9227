"""User-facing errors: each names the file (or view) and what is wrong.

The CLI prints these without a traceback and exits 1; anything else is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class SplatsynthError(Exception):
    """An error caused by the user's input or environment, with a message fit to print."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (a file or view) and what."""

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


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


class FitDiverged(SplatsynthError):
    """A fit left every sane range (NaN/inf, or Gaussians blown up or flown away).

    Callers that run many scenes retry once with safer settings (smaller steps, another seed).

    Attributes:
        scene: the scene id.
        step: the optimisation step where it was noticed.
    """

    def __init__(self, message: str, *, scene: str = "", step: int = 0) -> None:
        super().__init__(message)
        self.scene = scene
        self.step = step
