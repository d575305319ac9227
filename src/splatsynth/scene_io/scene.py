"""The in-memory scene: calibrated views with images, masks and optional 2D keypoints."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..cameras import Camera


@dataclass
class View:
    """One calibrated input view.

    Attributes:
        camera: its pinhole camera (``camera.file_path`` is the image path in the scene).
        image: [H, W, 3] float32 RGB in [0, 1].
        mask: [H, W] float32 foreground in [0, 1], or None when the scene has no masks.
        keypoints: [K, 3] float64 (x, y, confidence) in pixels (pixel-corner origin), or None.
    """

    camera: Camera
    image: np.ndarray
    mask: np.ndarray | None = None
    keypoints: np.ndarray | None = None

    @property
    def name(self) -> str:
        return self.camera.file_path or "?"


@dataclass
class Scene:
    """A scene folder loaded into memory (SPEC section 3).

    Attributes:
        scene_id: identifier used for output folders (the folder name by default).
        views: the input views, in ``cameras.json`` order.
        keypoint_names: names of the K keypoints when the scene has ``keypoints.json``.
        root: the folder it was loaded from, if any.
        extras: anything format-specific worth carrying (e.g. ground-truth 3D keypoints).
    """

    scene_id: str
    views: list[View]
    keypoint_names: list[str] | None = None
    root: Path | None = None
    extras: dict = field(default_factory=dict)

    @property
    def cameras(self) -> list[Camera]:
        return [v.camera for v in self.views]

    @property
    def has_masks(self) -> bool:
        return all(v.mask is not None for v in self.views)

    @property
    def has_keypoints(self) -> bool:
        return self.keypoint_names is not None
