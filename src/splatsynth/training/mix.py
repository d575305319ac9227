"""The YAML form of a dataset mix: reading it, building the mixed dataset, checking it.

The file (either top-level, or nested as ``dataset: {type: MixedDataset, ...}`` like the original
training config, optionally under ``training:``)::

    datasets:
      - {name: objaverse, path: objaverse/list.txt, weight: 0.7}
      - {name: mouse_synthetic, path: out/data_gslrm_train.txt, weight: 0.3}
    num_views: 8
    num_input_views: 4
    # optional: image_size, background, with_alpha, selection, overlap_angle_deg, strict,
    #           seed, epoch_length

Relative list-file paths are resolved against the YAML file's folder.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from ..errors import Problem, SplatsynthError
from .dataset import (
    Background,
    MixedMultiViewDataset,
    MultiViewDataset,
    view_settings_problems,
)
from .scenes import read_list_file, validate_scene
from .views import Selection


@dataclass(frozen=True)
class MixEntry:
    """One dataset of the mix."""

    name: str
    """Name carried in every item's ``dataset`` field."""
    path: Path
    """List file of scene folders (absolute)."""
    weight: float = 1.0
    """Relative draw weight (normalized over the mix)."""


@dataclass(frozen=True)
class MixConfig:
    """A dataset mix as written in YAML; every knob keeps its YAML name."""

    datasets: tuple[MixEntry, ...]
    """The datasets and their weights."""
    num_views: int = 8
    """Views per item."""
    num_input_views: int = 4
    """How many of them, first in the item, are the reconstructor's inputs."""
    image_size: int | tuple[int, int] = 512
    """Output size: an int (square) or [H, W]; intrinsics are scaled to match."""
    background: Background = "white"
    """RGB triple or grey level in [0, 1], white / black / gray, or random (per item)."""
    with_alpha: bool = False
    """Append alpha as a fourth image channel."""
    selection: Selection = "random"
    """View selection: random | overlap | sorted (deterministic, for evaluation)."""
    overlap_angle_deg: float = 45.0
    """``overlap``: max angle from a supervision view to its nearest input view."""
    strict: bool = True
    """Raise on a broken scene; otherwise log it and serve another scene of its dataset."""
    seed: int = 0
    """Seeds the draw plan and view selection."""
    epoch_length: int | None = None
    """Items per epoch; default: the total number of listed scenes."""
    source: Path | None = field(default=None, compare=False)
    """The YAML file it was read from."""


# FaceLift's dataset-config spellings, mapped onto ours so its blocks can be pasted in.
_ALIASES = {"background_color": "background"}
_KNOBS = tuple(f.name for f in fields(MixConfig) if f.name not in ("datasets", "source"))


def _fail(path: Path, what: str) -> SplatsynthError:
    return SplatsynthError(f"{path}: {what}")


def _section(doc: Any, path: Path) -> dict[str, Any]:
    """The mapping that holds ``datasets``: top level, ``dataset:`` or ``training.dataset:``."""
    if not isinstance(doc, dict):
        raise _fail(path, "expected a mapping with a 'datasets' list")
    if "datasets" in doc:
        if "dataset" in doc:
            raise _fail(path, "has both top-level 'datasets' and a 'dataset' block; keep one")
        return doc
    for holder in (doc, doc.get("training")):
        if isinstance(holder, dict) and isinstance(holder.get("dataset"), dict):
            sec = dict(holder["dataset"])
            kind = sec.pop("type", "MixedDataset")
            if kind != "MixedDataset":
                raise _fail(path, f"dataset type {kind!r} is not MixedDataset")
            return sec
    raise _fail(path, "no 'datasets' list (top level, under 'dataset:' or 'training.dataset:')")


def _entries(raw: Any, path: Path) -> tuple[MixEntry, ...]:
    if not isinstance(raw, list) or not raw:
        raise _fail(path, "'datasets' must be a non-empty list of {name, path, weight}")
    out = []
    for i, d in enumerate(raw):
        where = f"datasets[{i}]"
        if not isinstance(d, dict):
            raise _fail(path, f"{where} is not a mapping with name, path and weight")
        unknown = sorted(set(d) - {"name", "path", "weight"})
        if unknown:
            raise _fail(path, f"{where}: unknown key(s) {', '.join(unknown)} "
                              f"(allowed: name, path, weight)")
        if not isinstance(d.get("name"), str) or not d["name"]:
            raise _fail(path, f"{where}: 'name' must be a non-empty string")
        if not isinstance(d.get("path"), str) or not d["path"]:
            raise _fail(path, f"{where} ({d['name']}): 'path' must be a list file path")
        w = d.get("weight", 1.0)
        if isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) or w < 0:
            raise _fail(path, f"{where} ({d['name']}): weight {w!r} is not a number >= 0")
        p = Path(d["path"]).expanduser()
        out.append(MixEntry(d["name"], p if p.is_absolute() else path.parent / p, float(w)))
    names = [e.name for e in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise _fail(path, f"dataset name(s) used twice: {', '.join(dupes)}")
    if sum(e.weight for e in out) <= 0:
        raise _fail(path, "the weights sum to 0: nothing can be drawn")
    return tuple(out)


def _knob_problems(cfg: MixConfig) -> list[str]:
    """Every problem with the mix's knobs: the dataset's own checks
    (:func:`~splatsynth.training.dataset.view_settings_problems`, so ``splatsynth mix`` refuses
    whatever :func:`load_mix` would), then the mix's."""
    out = view_settings_problems(num_views=cfg.num_views, num_input_views=cfg.num_input_views,
                                 image_size=cfg.image_size, background=cfg.background,
                                 selection=cfg.selection,
                                 overlap_angle_deg=cfg.overlap_angle_deg)
    if isinstance(cfg.seed, bool) or not isinstance(cfg.seed, int):
        out.append(f"seed = {cfg.seed!r} is not an integer")
    if cfg.epoch_length is not None and (isinstance(cfg.epoch_length, bool) or
                                         not isinstance(cfg.epoch_length, int) or
                                         cfg.epoch_length < 1):
        out.append(f"epoch_length = {cfg.epoch_length!r} is not a positive integer")
    for k in ("with_alpha", "strict"):
        if not isinstance(getattr(cfg, k), bool):
            out.append(f"{k} = {getattr(cfg, k)!r} is not true/false")
    return out


def read_mix(path: str | Path, **overrides: Any) -> MixConfig:
    """Parse and validate a mix YAML file.

    Args:
        path: the YAML file.
        **overrides: knobs replacing the file's (e.g. ``strict=False``, ``epoch_length=1000``).
    Raises:
        SplatsynthError: unreadable file, unknown or invalid keys (the message names the file
            and the key).
    """
    path = Path(path).absolute()
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise _fail(path, f"cannot read mix config ({e.strerror or e})") from e
    except yaml.YAMLError as e:
        raise _fail(path, f"invalid YAML ({e})") from e
    sec = _section(doc, path)
    knobs: dict[str, Any] = {}
    for key, value in sec.items():
        if key == "datasets":
            continue
        if key == "maximize_view_overlap":  # FaceLift's switch for our "overlap" selection
            if value:
                knobs.setdefault("selection", "overlap")
            continue
        if key == "remove_alpha":  # FaceLift's inverse of with_alpha
            knobs.setdefault("with_alpha", not value)
            continue
        name = _ALIASES.get(key, key)
        if name not in _KNOBS:
            raise _fail(path, f"unknown key {key!r} (allowed: datasets, {', '.join(_KNOBS)})")
        knobs[name] = value
    if isinstance(knobs.get("image_size"), list):
        knobs["image_size"] = tuple(knobs["image_size"])
    if isinstance(knobs.get("background"), list):
        knobs["background"] = tuple(knobs["background"])
    unknown = sorted(set(overrides) - set(_KNOBS))
    if unknown:
        raise SplatsynthError(f"unknown mix override(s): {', '.join(unknown)}")
    knobs.update(overrides)
    cfg = MixConfig(datasets=_entries(sec.get("datasets"), path), source=path, **knobs)
    problems = _knob_problems(cfg)
    if problems:
        raise _fail(path, "; ".join(problems))
    return cfg


def build_mix(cfg: MixConfig) -> MixedMultiViewDataset:
    """The mixed dataset a :class:`MixConfig` describes (each list file is read now)."""
    parts = []
    for e in cfg.datasets:
        ds = MultiViewDataset(e.path, num_views=cfg.num_views,
                              num_input_views=cfg.num_input_views, image_size=cfg.image_size,
                              background=cfg.background, with_alpha=cfg.with_alpha,
                              selection=cfg.selection, overlap_angle_deg=cfg.overlap_angle_deg,
                              strict=cfg.strict, seed=cfg.seed, name=e.name)
        parts.append((e.name, ds, e.weight))
    return MixedMultiViewDataset(parts, epoch_length=cfg.epoch_length, seed=cfg.seed)


def load_mix(path: str | Path, **overrides: Any) -> MixedMultiViewDataset:
    """Read a mix YAML file into a :class:`MixedMultiViewDataset`.

    Args:
        path: the YAML file (top-level ``datasets``/``num_views``/``num_input_views``, or the
            nested ``dataset: {type: MixedDataset, ...}`` form).
        **overrides: knobs replacing the file's.
    Raises:
        SplatsynthError: invalid config, or a list file that is missing or empty.
    """
    return build_mix(read_mix(path, **overrides))


@dataclass
class _Tally:
    entry: MixEntry
    scenes: int = 0
    duplicates: int = 0
    broken: list[tuple[str, list[Problem]]] = field(default_factory=list)
    list_error: str | None = None


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                      for i, (c, w) in enumerate(zip(r, widths))).rstrip() for r in rows]


def check_mix(path: str | Path, *, progress: bool = False) -> str:
    """Validate every scene a mix lists; report counts and the effective sampling mix.

    Each scene is checked the way the datasets load it: ``opencv_cameras.json`` parses, every
    frame is well formed, there are at least ``num_views`` frames, and every image exists, has
    the frame's size and a readable, uncorrupted file (its pixels are not decoded).

    Args:
        path: the mix YAML file.
        progress: show a progress bar on stderr.
    Returns:
        The report: per dataset the listed / OK / broken scene counts and, per dataset, its
        share of draws (normalized weight) against its share of scenes, and how often each of
        its scenes is drawn per epoch.
    Raises:
        SplatsynthError: the config is invalid, or any list file or scene is broken; the message
            is the report followed by every broken scene with its file and reason.
    """
    cfg = read_mix(path)
    tallies = [_Tally(e) for e in cfg.datasets]
    lists: list[tuple[_Tally, tuple[Path, ...]]] = []
    for t in tallies:
        try:
            dirs = read_list_file(t.entry.path)
        except SplatsynthError as e:
            t.list_error = str(e)
            dirs = ()
        if not dirs and t.list_error is None:
            t.list_error = f"{t.entry.path}: lists no scenes"
        t.scenes = len(dirs)
        t.duplicates = len(dirs) - len({d.resolve() for d in dirs})
        lists.append((t, dirs))
    total_scenes = sum(t.scenes for t in tallies)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=total_scenes, desc="checking scenes", unit="scene")
    for t, dirs in lists:
        for d in dirs:
            problems = validate_scene(d, cfg.num_views)
            if problems:
                t.broken.append((str(d), problems))
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()

    wsum = sum(t.entry.weight for t in tallies)
    epoch = cfg.epoch_length if cfg.epoch_length is not None else total_scenes
    rows = [("dataset", "scenes", "ok", "broken", "weight", "draws", "scenes%", "per scene",
             "draws/epoch")]
    for t in tallies:
        draw = t.entry.weight / wsum
        share = t.scenes / total_scenes if total_scenes else 0.0
        per_scene = f"{draw / share:.2f}x" if share else "-"
        rows.append((t.entry.name, str(t.scenes), str(t.scenes - len(t.broken)),
                     str(len(t.broken)), f"{t.entry.weight:g}", f"{100 * draw:.1f}%",
                     f"{100 * share:.1f}%", per_scene,
                     f"{epoch * draw / t.scenes:.2f}" if t.scenes else "-"))
    src = cfg.source or Path(path)
    lines = [f"mix {src}",
             f"  {len(tallies)} datasets, {total_scenes} scenes; items of {cfg.num_views} views "
             f"({cfg.num_input_views} inputs), image_size {cfg.image_size}, selection "
             f"{cfg.selection}, strict {cfg.strict}, epoch_length {epoch}"]
    lines += ["  " + r for r in _table(rows)]
    lines += ["  draws = normalized weight (share of items); scenes% = share of listed scenes;",
              "  per scene = how much more often than uniform over all scenes each of its scenes",
              "  is drawn; draws/epoch = expected draws of each of its scenes per epoch."]
    for t in tallies:
        lines.append(f"  {t.entry.name}: {t.entry.path}")
        if t.duplicates:
            lines.append(f"    note: {t.duplicates} scene(s) listed more than once "
                         f"(they are drawn that much more often)")
    errors = [f"[{t.entry.name}] {t.list_error}" for t in tallies if t.list_error]
    n_broken = sum(len(t.broken) for t in tallies)
    if not errors and not n_broken:
        lines.append(f"all {total_scenes} scenes OK")
        return "\n".join(lines)
    lines.append(f"{n_broken} broken scene(s)" + (f", {len(errors)} list file problem(s)"
                                                   if errors else "") + ":")
    lines += [f"  {e}" for e in errors]
    for t in tallies:
        for scene, problems in t.broken:
            lines.append(f"  [{t.entry.name}] scene {scene}")
            lines += [f"    - {p}" for p in problems]
    raise SplatsynthError("\n".join(lines))


__all__ = ["MixConfig", "MixEntry", "build_mix", "check_mix", "load_mix", "read_mix"]
