"""Choosing which views of a scene make one training item.

An item has ``num_views`` views; the first ``num_input_views`` are the reconstructor's inputs and
the rest supervise it (FaceLift's GS-LRM slices ``[:, :num_input_views]`` as inputs).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

#: ``random``: any distinct views; ``overlap``: random inputs, then supervision views that lie
#: within ``overlap_angle_deg`` of some input view; ``sorted``: random views chosen by a
#: generator seeded per scene, inputs and supervision views each sorted (evaluation).
Selection = Literal["random", "overlap", "sorted"]
SELECTIONS: tuple[str, ...] = ("random", "overlap", "sorted")


class ViewSelectionError(ValueError):
    """No choice of views satisfies the request (too few views, or none close enough)."""


def view_angles_deg(forward: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """Angle from each view to its nearest input view.

    Args:
        forward: [N, 3] viewing directions (camera +z in world), need not be unit length.
        inputs: [I] indices of the input views.
    Returns:
        [N] degrees between each view's direction and the closest input view's direction.
    """
    f = forward / np.linalg.norm(forward, axis=-1, keepdims=True)
    cos = np.clip(f @ f[inputs].T, -1.0, 1.0).max(axis=1)
    return np.degrees(np.arccos(cos))


def select_views(forward: np.ndarray, num_views: int, num_input_views: int, selection: Selection,
                 rng: np.random.Generator, *, overlap_angle_deg: float = 45.0,
                 max_tries: int = 32) -> np.ndarray:
    """Pick the views of one item.

    Convention: the viewing angle between two views is the angle between their optical axes.
    For cameras aimed at the subject at the origin (every GS-LRM orbit) it equals the angle
    between the camera centres seen from the origin, which FaceLift's overlap rule measures.

    Args:
        forward: [N, 3] viewing directions of the scene's N frames.
        num_views: V, views per item (V <= N).
        num_input_views: inputs among them (1 <= I <= V), placed first.
        selection: see :data:`Selection`.
        rng: the generator all choices are drawn from.
        overlap_angle_deg: the ``overlap`` threshold.
        max_tries: ``overlap`` redraws the inputs this often before giving up.
    Returns:
        [V] int64 frame indices, inputs first.
    Raises:
        ViewSelectionError: the scene has fewer than V views, or (``overlap``) no draw of inputs
            in ``max_tries`` left enough views within the threshold.
    """
    n = forward.shape[0]
    if num_views > n:
        raise ViewSelectionError(f"has {n} views, fewer than num_views = {num_views}")
    if selection in ("random", "sorted"):
        chosen = rng.choice(n, size=num_views, replace=False)
        if selection == "sorted":
            chosen = np.concatenate([np.sort(chosen[:num_input_views]),
                                     np.sort(chosen[num_input_views:])])
        return chosen.astype(np.int64)
    if selection != "overlap":
        raise ValueError(f"unknown view selection {selection!r}; expected one of {SELECTIONS}")
    num_targets = num_views - num_input_views
    best = 0
    for _ in range(max_tries):
        inputs = rng.choice(n, size=num_input_views, replace=False)
        # A hair of slack so a view exactly on the threshold counts despite rounding.
        ok = view_angles_deg(forward, inputs) <= overlap_angle_deg + 1e-9
        ok[inputs] = False
        candidates = np.flatnonzero(ok)
        best = max(best, candidates.size)
        if candidates.size >= num_targets:
            targets = rng.choice(candidates, size=num_targets, replace=False)
            return np.concatenate([inputs, targets]).astype(np.int64)
    raise ViewSelectionError(
        f"no draw of {num_input_views} input views in {max_tries} tries left {num_targets} other "
        f"views within {overlap_angle_deg:g} degrees (at most {best}); raise overlap_angle_deg "
        f"or lower num_views")
