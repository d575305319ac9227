"""Torch datasets over GS-LRM scene folders, shaped like FaceLift's ``RandomViewDataset`` items.

An item is a dict:

- ``image``: [V, 3 or 4, H, W] float32 in [0, 1]; RGB composited on the background, then
  alpha when ``with_alpha``.
- ``c2w``: [V, 4, 4] float32 camera-to-world (OpenCV axes), the inverse of the file's ``w2c``.
- ``fxfycxcy``: [V, 4] float32 intrinsics in pixels of the returned (resized) image.
- ``index``: [V, 2] int64, per view (frame index in ``opencv_cameras.json``, scene index).
- ``bg_color``: [3] float32, the background the RGB was composited on.
- ``dataset``: str, the name of the dataset the scene came from.

The first ``num_input_views`` views are the inputs. Randomness: each dataset draws from its own
``numpy`` generator, re-seeded inside every DataLoader worker from ``(seed, worker seed)``; see
``docs/training.md``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, get_worker_info

from ..cameras import image_size_problem
from ..errors import Problem, SceneError, SplatsynthError
from .scenes import CAMERAS_FILE, load_view, read_list_file, read_scene_cameras
from .views import SELECTIONS, Selection, ViewSelectionError, select_views

log = logging.getLogger("splatsynth.training")

_NAMED_BACKGROUNDS = {"white": (1.0, 1.0, 1.0), "black": (0.0, 0.0, 0.0), "gray": (0.5, 0.5, 0.5),
                      "grey": (0.5, 0.5, 0.5)}
Background = str | float | Sequence[float]


def parse_background(background: Background) -> np.ndarray | None:
    """[3] float32 RGB for a fixed background, or None for ``"random"`` (drawn per item).

    Accepts an RGB triple or a grey level in [0, 1], or ``white``, ``black``, ``gray``,
    ``random`` (FaceLift's ``background_color`` names).

    Raises:
        SplatsynthError: anything else.
    """
    if isinstance(background, str):
        if background == "random":
            return None
        if background in _NAMED_BACKGROUNDS:
            return np.asarray(_NAMED_BACKGROUNDS[background], dtype=np.float32)
    elif isinstance(background, int | float) and not isinstance(background, bool):
        background = (background,) * 3
    try:
        rgb = np.asarray(background, dtype=np.float64)
    except (TypeError, ValueError):
        rgb = np.empty(0)
    if rgb.shape != (3,) or not np.isfinite(rgb).all() or rgb.min() < 0 or rgb.max() > 1:
        raise SplatsynthError(
            f"background {background!r} is not an RGB triple or grey level in [0, 1], nor one "
            f"of {', '.join([*_NAMED_BACKGROUNDS, 'random'])}")
    return rgb.astype(np.float32)


def _image_hw(image_size: int | Sequence[int]) -> tuple[int, int]:
    hw = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if len(hw) != 2 or not all(isinstance(x, int) and not isinstance(x, bool) and x > 0
                               for x in hw):
        raise SplatsynthError(f"image_size {image_size!r} is not a positive int or (H, W) pair")
    too_big = image_size_problem(hw[1], hw[0])
    if too_big:
        raise SplatsynthError(f"image_size {image_size!r}: {too_big}")
    return hw  # type: ignore[return-value]


def view_settings_problems(*, num_views: object, num_input_views: object, image_size: object,
                           background: object, selection: object,
                           overlap_angle_deg: object) -> list[str]:
    """Everything wrong with a dataset's item settings (empty when they are usable): the one
    check :class:`MultiViewDataset` and a mix file (``splatsynth mix``) share, so a mix that
    checks out also loads."""
    out = []
    if isinstance(num_views, bool) or not isinstance(num_views, int) or num_views < 1:
        out.append(f"num_views must be a positive int, got {num_views!r}")
    elif isinstance(num_input_views, bool) or not isinstance(num_input_views, int) or \
            not 1 <= num_input_views <= num_views:
        out.append(f"num_input_views must be in [1, num_views = {num_views}], got "
                   f"{num_input_views!r}")
    if selection not in SELECTIONS:
        out.append(f"selection {selection!r} is not one of {', '.join(SELECTIONS)}")
    if isinstance(overlap_angle_deg, bool) or not isinstance(overlap_angle_deg, int | float) \
            or not 0 < overlap_angle_deg <= 180:
        out.append(f"overlap_angle_deg must be in (0, 180], got {overlap_angle_deg!r}")
    for check, value in ((_image_hw, image_size), (parse_background, background)):
        try:
            check(value)  # type: ignore[operator]
        except (SplatsynthError, TypeError) as e:
            out.append(str(e) if isinstance(e, SplatsynthError)
                       else f"image_size {value!r} is not a positive int or (H, W) pair")
    return out


class MultiViewDataset(Dataset):
    """Multi-view items from one list file of GS-LRM scene folders (SPEC section 4).

    Args:
        list_file: text file with one scene folder per line (relative paths are resolved against
            the list file's folder).
        num_views: V, views per item.
        num_input_views: how many of them, first in the item, are inputs.
        image_size: output size, an int (square) or (H, W); views are Lanczos-resampled and
            intrinsics scaled to match.
        background: RGB triple or grey level in [0, 1], ``white`` / ``black`` / ``gray``, or
            ``random`` (a new colour per item, returned in ``bg_color``).
        with_alpha: append alpha as a fourth image channel.
        selection: ``random``, ``overlap`` or ``sorted``, see :mod:`splatsynth.training.views`.
        overlap_angle_deg: the ``overlap`` threshold between a supervision view and its nearest
            input view.
        strict: raise on a scene that fails to load; otherwise log a warning naming the scene
            and file and serve another scene of this dataset instead.
        seed: seeds view selection (and ``random`` backgrounds and replacement scenes).
        name: the dataset's name in items and messages (default: the list file's stem).
        max_replacements: lenient mode gives up after this many failing scenes in a row.
    Raises:
        SplatsynthError: unreadable or empty list file, or invalid settings.
    """

    def __init__(self, list_file: str | Path, *, num_views: int = 8, num_input_views: int = 4,
                 image_size: int | Sequence[int] = 512, background: Background = (1.0, 1.0, 1.0),
                 with_alpha: bool = False, selection: Selection = "random",
                 overlap_angle_deg: float = 45.0, strict: bool = True, seed: int = 0,
                 name: str | None = None, max_replacements: int = 16) -> None:
        super().__init__()
        self.list_file = Path(list_file).absolute()
        self.name = name if name is not None else self.list_file.stem
        problems = view_settings_problems(num_views=num_views, num_input_views=num_input_views,
                                          image_size=image_size, background=background,
                                          selection=selection,
                                          overlap_angle_deg=overlap_angle_deg)
        if problems:
            raise SplatsynthError(f"{self.name}: " + "; ".join(problems))
        self.num_views = num_views
        self.num_input_views = num_input_views
        self.image_hw = _image_hw(image_size)
        self.background = background
        self._bg = parse_background(background)
        self.with_alpha = bool(with_alpha)
        self.selection: Selection = selection
        self.overlap_angle_deg = float(overlap_angle_deg)
        self.strict = bool(strict)
        self.seed = int(seed)
        self.max_replacements = int(max_replacements)
        self.scene_dirs = read_list_file(self.list_file)
        if not self.scene_dirs:
            raise SplatsynthError(f"{self.list_file}: lists no scenes")
        #: Scenes that failed in lenient mode in this process: (scene index, message).
        self.failures: list[tuple[int, str]] = []
        self._bad: set[int] = set()
        self._rng: np.random.Generator | None = None
        self._rng_owner: tuple[int, int] | None = None

    def __len__(self) -> int:
        return len(self.scene_dirs)

    def __repr__(self) -> str:
        return (f"MultiViewDataset({self.name!r}, {len(self)} scenes, num_views="
                f"{self.num_views}, num_input_views={self.num_input_views}, image_hw="
                f"{self.image_hw}, selection={self.selection!r}, strict={self.strict})")

    # --- randomness ------------------------------------------------------------------------
    def _stream(self) -> np.random.Generator:
        """The generator for ``random`` / ``overlap`` draws, distinct in every worker.

        A forked or spawned DataLoader worker gets a copy of this object; re-seeding it from
        the worker's seed (which torch derives afresh per worker and per epoch) keeps workers
        from serving identical view choices.
        """
        info = get_worker_info()
        owner = (-1, 0) if info is None else (info.id, info.seed)
        if self._rng is None or self._rng_owner != owner:
            entropy = [self.seed] if info is None else [self.seed, info.id, info.seed % 2**63]
            self._rng = np.random.default_rng(entropy)
            self._rng_owner = owner
        return self._rng

    def _item_rng(self, scene: int, attempt: int) -> np.random.Generator:
        if self.selection == "sorted":
            # Evaluation: the same scene gives the same views in any worker, epoch or order.
            return np.random.default_rng([self.seed, scene, attempt])
        return self._stream()

    # --- loading ---------------------------------------------------------------------------
    def load(self, scene: int, rng: np.random.Generator) -> dict[str, Any]:
        """Load scene ``scene`` with views drawn from ``rng``; strict, whatever ``self.strict``.

        Raises:
            SceneError: the scene cannot be loaded (names the scene folder and the file).
        """
        cams = read_scene_cameras(self.scene_dirs[scene])
        forward = np.stack([c.forward for c in cams.cameras])
        try:
            chosen = select_views(forward, self.num_views, self.num_input_views, self.selection,
                                  rng, overlap_angle_deg=self.overlap_angle_deg)
        except ViewSelectionError as e:
            raise SceneError(str(cams.scene_dir),
                             [Problem(str(cams.scene_dir / CAMERAS_FILE), str(e))]) from e
        bg = rng.random(3).astype(np.float32) if self._bg is None else self._bg
        images, c2ws, intrinsics = [], [], []
        for v in chosen:
            rgba, cam = load_view(cams, int(v), self.image_hw, bg)
            images.append(rgba if self.with_alpha else rgba[:3])
            c2ws.append(cam.c2w)
            intrinsics.append((cam.fx, cam.fy, cam.cx, cam.cy))
        index = np.stack([chosen, np.full_like(chosen, scene)], axis=-1)
        return {
            "image": torch.from_numpy(np.stack(images)),
            "c2w": torch.from_numpy(np.stack(c2ws).astype(np.float32)),
            "fxfycxcy": torch.tensor(intrinsics, dtype=torch.float32),
            "index": torch.from_numpy(index.astype(np.int64)),
            "bg_color": torch.from_numpy(bg.copy()),
            "dataset": self.name,
        }

    def __getitem__(self, idx: int) -> dict[str, Any]:
        """Item for scene ``idx`` (another scene of this dataset if it fails in lenient mode).

        Raises:
            SceneError: strict mode, the scene fails to load.
            SplatsynthError: lenient mode, ``max_replacements`` scenes in a row failed.
        """
        n = len(self)
        if not -n <= idx < n:
            raise IndexError(f"{self.name}: scene index {idx} out of range for {n} scenes")
        scene = idx % n
        last = ""
        for attempt in range(self.max_replacements + 1):
            rng = self._item_rng(scene, attempt)
            try:
                return self.load(scene, rng)
            except SceneError as e:
                if self.strict:
                    raise
                last = str(e)
                self._bad.add(scene)
                self.failures.append((scene, last))
                log.warning("%s: skipping scene %d, serving another one instead: %s",
                            self.name, scene, last)
            good = [i for i in range(n) if i not in self._bad]
            if not good:
                break
            scene = int(good[rng.integers(len(good))])
        raise SplatsynthError(f"{self.name}: gave up after {len(self._bad)} scene(s) failed to "
                              f"load; last failure:\n{last}")


class MixedMultiViewDataset(Dataset):
    """Scenes drawn from several :class:`MultiViewDataset` by weight (FaceLift's MixedDataset).

    Item ``i`` of epoch ``e`` is a fixed function of ``(seed, e, i)``: the dataset is drawn with
    probability proportional to its weight, then a scene uniformly within it. So every worker
    agrees on the plan, and :meth:`set_epoch` moves to a fresh one. ``index[:, 1]`` is made
    unique across the mix by offsetting each dataset's scene indices by the scene counts of the
    datasets before it (see :attr:`offsets`); ``dataset`` names the source.

    Args:
        datasets: (name, dataset, weight) triples; weights are non-negative and normalized.
        epoch_length: items per epoch (default: the total number of scenes).
        seed: seeds the plan.
    Raises:
        SplatsynthError: duplicate names, bad weights, an empty weighted dataset, or datasets
            whose items could not be batched together (different views, size or channels).
    """

    def __init__(self, datasets: Sequence[tuple[str, MultiViewDataset, float]], *,
                 epoch_length: int | None = None, seed: int = 0) -> None:
        super().__init__()
        if not datasets:
            raise SplatsynthError("a mix needs at least one dataset")
        self.names = [str(n) for n, _, _ in datasets]
        dupes = sorted({n for n in self.names if self.names.count(n) > 1})
        if dupes:
            raise SplatsynthError(f"dataset name(s) used twice in the mix: {', '.join(dupes)}")
        self.datasets = [d for _, d, _ in datasets]
        weights = []
        for name, _, w in datasets:
            if isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) \
                    or w < 0:
                raise SplatsynthError(f"dataset {name}: weight {w!r} is not a finite number >= 0")
            weights.append(float(w))
        total = sum(weights)
        if total <= 0:
            raise SplatsynthError("the mix's weights sum to 0: nothing can be drawn")
        self.weights = weights
        #: [K] normalized draw probabilities.
        self.probabilities = np.asarray(weights) / total
        ref = self.datasets[0]
        for name, d in zip(self.names, self.datasets):
            for attr in ("num_views", "num_input_views", "image_hw", "with_alpha"):
                if getattr(d, attr) != getattr(ref, attr):
                    raise SplatsynthError(
                        f"dataset {name}: {attr} = {getattr(d, attr)!r} differs from "
                        f"{self.names[0]}'s {getattr(ref, attr)!r}; items must batch together")
        #: [K] first global scene index of each dataset (cumulative scene counts).
        self.offsets = np.concatenate([[0], np.cumsum([len(d) for d in self.datasets])[:-1]])
        self.epoch_length = int(sum(len(d) for d in self.datasets) if epoch_length is None
                                else epoch_length)
        if self.epoch_length < 1:
            raise SplatsynthError(f"epoch_length must be positive, got {epoch_length!r}")
        self.seed = int(seed)
        self.epoch = 0
        self._plan: tuple[int, np.ndarray] | None = None

    def __len__(self) -> int:
        return self.epoch_length

    def __repr__(self) -> str:
        mix = ", ".join(f"{n}: {p:.3f}" for n, p in zip(self.names, self.probabilities))
        return f"MixedMultiViewDataset({{{mix}}}, epoch_length={self.epoch_length})"

    @property
    def num_views(self) -> int:
        return self.datasets[0].num_views

    @property
    def num_input_views(self) -> int:
        return self.datasets[0].num_input_views

    def set_epoch(self, epoch: int) -> None:
        """Use the plan of ``epoch`` (call before each epoch, like DistributedSampler's)."""
        self.epoch = int(epoch)

    def draws(self, epoch: int | None = None) -> np.ndarray:
        """The plan of an epoch (the current one by default).

        Returns:
            [epoch_length, 2] int64: (dataset position in the mix, scene index within it).
        """
        epoch = self.epoch if epoch is None else int(epoch)
        if self._plan is not None and self._plan[0] == epoch:
            return self._plan[1]
        rng = np.random.default_rng([self.seed, epoch])
        which = rng.choice(len(self.datasets), size=self.epoch_length, p=self.probabilities)
        sizes = np.asarray([len(d) for d in self.datasets])
        scene = np.floor(rng.random(self.epoch_length) * sizes[which]).astype(np.int64)
        plan = np.stack([which, np.minimum(scene, sizes[which] - 1)], axis=-1).astype(np.int64)
        self._plan = (epoch, plan)
        return plan

    def __getitem__(self, idx: int) -> dict[str, Any]:
        """Item ``idx`` of the current epoch's plan (see the class docstring)."""
        if not -self.epoch_length <= idx < self.epoch_length:
            raise IndexError(f"mix index {idx} out of range for epoch_length "
                             f"{self.epoch_length}")
        k, scene = self.draws()[idx]
        item = self.datasets[k][int(scene)]
        item["index"][:, 1] += int(self.offsets[k])
        item["dataset"] = self.names[k]
        return item
