"""The run configuration: each room's frozen config composed under one dotted name.

A knob keeps one name everywhere: YAML ``fit: {iterations: 500}``, CLI ``--fit.iterations 500``,
and ``report.json`` ``config.fit.iterations``.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Literal

import dacite
import yaml

from .cameras.orbits import OrbitConfig
from .errors import SplatsynthError
from .fit.config import FitConfig
from .knobs import Knobs
from .scene_io.normalize import NormalizeConfig


@dataclass(frozen=True)
class OutputConfig(Knobs):
    """What is written for each scene besides the GS-LRM views."""

    section = "output"

    val_ratio: float = 0.05
    """Share of scenes listed in data_gslrm_val.txt (deterministic by scene id)."""
    mvdiffusion: bool = False
    """Also write FaceLift's 6-view MVDiffusion layout under OUT/mvdiffusion/<scene_id>/."""
    depth: bool = False
    """Write expected-depth maps of the orbit views (depth/cam_XXX.png, 16-bit, with the scale
    in depth/scale.json)."""
    alpha: bool = False
    """Write the orbit views' opacity as separate PNGs (alpha/cam_XXX.png)."""
    normals: bool = False
    """2dgs fits: write world-frame normal maps of the orbit (normals/cam_XXX.png, RGB =
    (n + 1) / 2)."""
    contact_sheet: bool = True
    """Write contact_sheet.png: inputs, their re-renders, orbit views, ground truth if known."""
    turntable: bool = False
    """Write a turntable video of the orbit (MP4 with imageio-ffmpeg, else GIF)."""
    heatmaps: bool = False
    """Write keypoint heatmaps (keypoints_heatmaps.npz) when the scene has keypoints."""
    heatmap_sigma: float = 2.0
    """Standard deviation, pixels, of each keypoint heatmap's 2-D Gaussian."""
    holdout: bool = False
    """Also run a leave-one-view-out fit and report its held-out scores (costs a second fit)."""
    mesh: bool = False
    """Write mesh.ply: the orbit views' rendered depth fused into a TSDF (128^3 voxels over the
    canonical [-1.3, 1.3]^3 cube) and meshed by marching cubes, vertex colours from the nearest
    view that sees each vertex; canonical frame, like gaussians.ply. Needs scikit-image
    (pip install 'splatsynth[mesh]')."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._within("val_ratio", 0, 1)
        self._positive("heatmap_sigma")


@dataclass(frozen=True)
class CheckConfig(Knobs):
    """The post-fit check: a fit is measured before anything is written, retried once with a
    safer setting when it fails, and the scene fails (nothing written or listed) when the retry
    fails too. Distances and sizes are in subject radii (normalize.radius); limits were set from
    measured good and broken fits (bench/RESULTS.md, "Post-fit check")."""

    section = "check"

    min_train_psnr_masked: float | None = 15.0
    """Floor on the masked PSNR (dB) of every training view: the worst input view, re-rendered,
    must reach it; null disables it. Measured (bench/check_fit.py): good fits' worst view 20.6
    dB and up at 256-512 px and 300-1000 steps (14.6-18.3 dB for 80-150-step test fits at 64-96
    px), broken fits' 10.8 dB and below (--fit.iterations 1, --fit.lr_feature 100, a view fitted
    to another view's mask, images of noise, mirrored masks, exploded fits)."""
    min_train_iou: float | None = 0.8
    """Floor on the silhouette IoU of every training view (scenes with masks); null disables
    it. Measured: good fits' worst view 0.96 and up (0.87-0.95 for 80-150-step test fits),
    broken ones 0.77 and below (--fit.iterations 1, --fit.lr_opacity 100, another view's or a
    mirrored mask, exploded fits)."""
    max_median_distance: float = 2.0
    """Largest median distance of the Gaussians from the subject's centre. Measured: 0.53-0.75
    for good fits, 52-110 for fits whose Gaussians flew away (--fit.lr_position 1 or 20)."""
    explode_distance: float = 10.0
    """A Gaussian whose centre is farther than this from the subject's centre exploded (the
    orbit cameras sit at 2.7)."""
    explode_scale: float = 2.0
    """A Gaussian larger than this exploded (larger than the subject)."""
    max_exploded_fraction: float = 0.01
    """The fit fails when more than this share of its Gaussians exploded (any NaN/inf parameter
    always fails it)."""
    retry: bool = True
    """Retry a fit that diverged or failed the check once with a safer setting:
    fit.lr_position and fit.lr_scaling times check.retry_lr_factor, and fit.seed + 1."""
    retry_lr_factor: float = 0.5
    """Factor applied to fit.lr_position and fit.lr_scaling on the retry."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._within("min_train_iou", 0, 1)
        self._positive("max_median_distance")
        self._positive("explode_distance")
        self._positive("explode_scale")
        self._check("max_exploded_fraction", 0 <= self.max_exploded_fraction < 1, "in [0, 1)")
        self._check("retry_lr_factor", 0 < self.retry_lr_factor <= 1, "in (0, 1]")


@dataclass(frozen=True)
class RunConfig:
    """Everything one scene's run depends on (`splatsynth run`, `demo` and `batch`)."""

    fit: FitConfig = field(default_factory=FitConfig)
    orbit: OrbitConfig = field(default_factory=OrbitConfig)
    normalize: NormalizeConfig = field(default_factory=NormalizeConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    check: CheckConfig = field(default_factory=CheckConfig)


def config_to_dict(cfg: Any) -> dict:
    """A JSON/YAML-friendly nested dict of a config dataclass (tuples become lists)."""
    def conv(x: Any) -> Any:
        if is_dataclass(x):
            return {f.name: conv(getattr(x, f.name)) for f in fields(x)}
        if isinstance(x, (tuple, list)):
            return [conv(v) for v in x]
        return x
    return conv(cfg)


def _expected(tp: Any) -> str:
    """What a value of type ``tp`` looks like in YAML, for error messages."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        kinds = [_expected(a) for a in args if a is not type(None)]
        return " or ".join(kinds + (["null"] if type(None) in args else []))
    if origin is Literal:
        return f"one of {list(args)}"
    if origin is tuple:
        return f"{len(args)} {'numbers' if set(args) == {float} else 'values'}"
    if is_dataclass(tp):
        return "a mapping"
    return {int: "an integer", float: "a number", bool: "true or false",
            str: "a string"}.get(tp, getattr(tp, "__name__", str(tp)))


def _number_from_text(value: Any) -> Any:
    # YAML 1.1 reads 1e-3 (no dot) as a string; as the value of a float knob it means a number.
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    return value


def _tuple_from_list(tp: Any) -> Callable[[Any], tuple]:
    # dacite casts any iterable to a tuple (a string into characters, a number into an
    # error) and pads a short one with None, so tuple knobs take lists of the right length.
    def hook(value: Any) -> tuple:
        if isinstance(value, (list, tuple)) and len(value) == len(typing.get_args(tp)):
            return tuple(value)
        raise dacite.WrongTypeError(field_type=tp, value=value)
    return hook


@functools.cache
def _dacite_config(cls: type) -> dacite.Config:
    """dacite's settings for ``cls``: unknown keys and ill-typed values are errors."""
    hooks: dict[Any, Callable[[Any], Any]] = {float: _number_from_text}

    def add_tuples(c: type) -> None:
        for tp in typing.get_type_hints(c).values():
            if is_dataclass(tp):
                add_tuples(tp)
            elif typing.get_origin(tp) is tuple:
                hooks[tp] = _tuple_from_list(tp)

    add_tuples(cls)
    return dacite.Config(strict=True, type_hooks=hooks)


def _unknown_keys_at(cls: type, data: dict, keys: set, prefix: str = ""
                     ) -> tuple[str, type] | None:
    """Where the unknown ``keys`` sit in ``data``: the dotted section and its config class
    (dacite does not say)."""
    if keys <= set(data) - {f.name for f in fields(cls)}:
        return prefix, cls
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        sub = data.get(f.name)
        if is_dataclass(hints[f.name]) and isinstance(sub, dict):
            found = _unknown_keys_at(hints[f.name], sub, keys, f"{prefix}{f.name}.")
            if found is not None:
                return found
    return None


def config_from_dict(cls: type, data: dict, where: str = "config") -> Any:
    """Build the frozen dataclass ``cls`` from a nested dict (missing keys keep their defaults).

    Raises:
        SplatsynthError: naming ``where`` and the dotted key of any unknown key, ill-typed value
            or value out of its range.
    """
    try:
        return dacite.from_dict(cls, data, _dacite_config(cls))
    except dacite.UnexpectedDataError as e:
        section, owner = _unknown_keys_at(cls, data, set(e.keys)) or ("", cls)
        at = f"{where}: {section.rstrip('.')}: " if section else f"{where}: "
        known = sorted(f.name for f in fields(owner))
        raise SplatsynthError(f"{at}unknown key(s) {sorted(e.keys, key=str)}; "
                              f"known: {known}") from None
    except dacite.WrongTypeError as e:
        raise SplatsynthError(f"{where}: {e.field_path}: expected {_expected(e.field_type)}, "
                              f"got {e.value!r}") from None
    except dacite.DaciteError as e:
        raise SplatsynthError(f"{where}: {e}") from None
    except SplatsynthError as e:  # a value out of its range (the config's __post_init__)
        raise SplatsynthError(f"{where}: {e}") from None


def load_config(path: str | Path, cls: type = RunConfig) -> Any:
    """Read a YAML config file into ``cls``; errors name the file and the dotted key."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as e:
        raise SplatsynthError(f"{path}: config file not found") from e
    except (OSError, UnicodeDecodeError) as e:
        raise SplatsynthError(f"{path}: cannot read the config file ({e})") from e
    except yaml.YAMLError as e:
        raise SplatsynthError(f"{path}: not valid YAML ({e})") from e
    if not isinstance(data, dict):
        raise SplatsynthError(f"{path}: expected a mapping at the top level")
    return config_from_dict(cls, data, where=str(path))


def save_config(cfg: Any, path: str | Path) -> None:
    """Write ``cfg`` as YAML (the resolved configuration of a run)."""
    Path(path).write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
