"""Typed score results: one view, a set of views with its mean, and a scene's metrics.

They stay typed through the pipeline and become JSON only when ``report.json`` is written
(:meth:`SceneMetrics.to_json`), so a misspelt key is an AttributeError, not a silent NaN.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from .image import ImageScores

_KEYS = tuple(f.name for f in fields(ImageScores))


def _nan_mean(values: Iterable[float]) -> float:
    vals = [v for v in values if v == v]  # NaN (an empty mask) does not count
    return float(np.mean(vals)) if vals else float("nan")


@dataclass(frozen=True)
class ViewScores:
    """The scores of one named view."""

    view: str
    scores: ImageScores

    def to_json(self) -> dict[str, Any]:
        return {"view": self.view, **self.scores.as_dict()}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ViewScores:
        return cls(str(d.get("view", "")), ImageScores(
            *(float("nan") if d.get(k) is None else float(d[k]) for k in _KEYS)))


@dataclass(frozen=True)
class ScoreSet:
    """Scores of several views and their mean.

    The mean skips NaN per metric (a view with an empty reference mask has no masked PSNR).
    """

    per_view: tuple[ViewScores, ...]

    @property
    def mean(self) -> ImageScores:
        return ImageScores(*(_nan_mean(getattr(v.scores, k) for v in self.per_view)
                             for k in _KEYS))

    def subset(self, indices: Sequence[int]) -> ScoreSet:
        """The views at ``indices`` (in that order)."""
        return ScoreSet(tuple(self.per_view[i] for i in indices))

    def __len__(self) -> int:
        return len(self.per_view)

    def to_json(self) -> dict[str, Any]:
        return {"mean": self.mean.as_dict(), "per_view": [v.to_json() for v in self.per_view]}


@dataclass(frozen=True)
class SceneMetrics:
    """What a scene's run measured.

    Attributes:
        train: every input view re-rendered at its (refined) camera; ``train_views`` of them
            were trained on.
        train_views: indices into ``train.per_view`` of the views the fit trained on.
        holdout: the left-out view of a leave-one-view-out fit, scored (``output.holdout``).
        ground_truth: novel views the scene ships with (``gt/orbit``), scored.
    """

    train: ScoreSet
    train_views: tuple[int, ...]
    holdout: ViewScores | None = None
    ground_truth: ScoreSet | None = None

    @property
    def train_mean(self) -> ImageScores:
        """Mean over the views the fit trained on."""
        return self.train.subset(self.train_views).mean

    def to_json(self) -> dict[str, Any]:
        """The ``metrics`` block of ``report.json`` (docs/report.md)."""
        out: dict[str, Any] = {"train": self.train_mean.as_dict(),
                               "train_per_view": [v.to_json() for v in self.train.per_view]}
        if self.holdout is not None:
            out["holdout"] = {**self.holdout.to_json(), "protocol": "leave-one-view-out"}
        if self.ground_truth is not None:
            out["ground_truth"] = self.ground_truth.to_json()
        return out
