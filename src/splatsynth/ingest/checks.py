"""Per-frame checks of the masks; each failure names the view and why.

A view is bad when its mask is empty, the animal touches the image border (more than
``checks.max_border_fraction`` of the silhouette's outline lies on it), its area jumps against
the same camera's earlier frames, or the other views do not support it (cross-view). A frame
with more bad views than ``checks.max_bad_views``, or with fewer than 2 good ones, is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..scene_io.validate import border_cut_fraction
from .config import CheckConfig
from .masks import ViewMask


@dataclass
class ViewCheck:
    """What the checks found in one view of one frame (written to ``source.json``).

    Attributes:
        view: the camera name.
        area: mask pixels (full frame).
        border: fraction of the outline on the image border.
        support: fraction of the mask the other views' hull covers (NaN: not measured).
        area_ratio: area over the median of the camera's previous frames (None: too few).
        dropped_blobs: blobs removed as unsupported by the other views.
        problems: why the view is bad (empty when it is good).
    """

    view: str
    area: int
    border: float
    support: float
    area_ratio: float | None = None
    dropped_blobs: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {"view": self.view, "area": self.area, "border": round(self.border, 4),
                "support": None if not np.isfinite(self.support) else round(self.support, 4),
                "area_ratio": None if self.area_ratio is None else round(self.area_ratio, 4),
                "dropped_blobs": self.dropped_blobs, "ok": self.ok, "problems": self.problems}


def check_view(view: str, vm: ViewMask, cfg: CheckConfig, cross_view: bool) -> ViewCheck:
    """The checks that need only this frame."""
    area = int(vm.mask.sum())
    c = ViewCheck(view, area, border_cut_fraction(vm.mask) if area else 0.0, vm.support,
                  dropped_blobs=vm.dropped)
    if area < cfg.min_area:
        c.problems.append(f"empty mask ({area} px < checks.min_area {cfg.min_area})")
        return c
    if c.border > cfg.max_border_fraction:
        c.problems.append(f"animal touches the image border ({c.border:.0%} of its outline, "
                          f"more than checks.max_border_fraction {cfg.max_border_fraction:.0%})")
    if cross_view:
        if not np.isfinite(vm.support):
            c.problems.append("inconsistent across views (the other views' hull is empty)")
        elif vm.lost_largest:
            c.problems.append("inconsistent across views (its largest blob is outside the "
                              "other views' hull)")
        elif vm.support < cfg.min_support:
            c.problems.append(f"inconsistent across views (the other views' hull covers "
                              f"{vm.support:.0%} of the mask, less than checks.min_support "
                              f"{cfg.min_support:.0%})")
    return c


def check_area_jump(c: ViewCheck, area: float, neighbours: list[float],
                    cfg: CheckConfig) -> None:
    """Add the area-jump problem to ``c`` when ``area`` (this frame's raw area) is far from the
    mean of ``neighbours`` (the same camera's raw areas in the adjacent frames)."""
    ref = float(np.mean(neighbours)) if neighbours else 0.0
    if ref <= 0 or area <= 0:
        return
    c.area_ratio = area / ref
    if not 1 / cfg.max_area_ratio <= c.area_ratio <= cfg.max_area_ratio:
        c.problems.append(f"mask area jumps ({c.area_ratio:.2f} x the mean of the adjacent "
                          f"frames; checks.max_area_ratio {cfg.max_area_ratio})")
