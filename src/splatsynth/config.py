"""The run configuration: each room's frozen config composed under one dotted name.

A knob keeps one name everywhere: YAML ``fit: {iterations: 500}``, CLI ``--fit.iterations 500``,
and ``report.json`` ``config.fit.iterations``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from .cameras.orbits import OrbitConfig
from .errors import SplatsynthError
from .fit.config import FitConfig
from .scene_io.normalize import NormalizeConfig


@dataclass(frozen=True)
class OutputConfig:
    """What is written for each scene besides the GS-LRM views."""

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


@dataclass(frozen=True)
class RunConfig:
    """Everything one scene's run depends on (`splatsynth run`, `demo` and `batch`)."""

    fit: FitConfig = field(default_factory=FitConfig)
    orbit: OrbitConfig = field(default_factory=OrbitConfig)
    normalize: NormalizeConfig = field(default_factory=NormalizeConfig)
    output: OutputConfig = field(default_factory=OutputConfig)


def config_to_dict(cfg: Any) -> dict:
    """A JSON/YAML-friendly nested dict of a config dataclass (tuples become lists)."""
    def conv(x: Any) -> Any:
        if is_dataclass(x):
            return {f.name: conv(getattr(x, f.name)) for f in fields(x)}
        if isinstance(x, (tuple, list)):
            return [conv(v) for v in x]
        return x
    return conv(cfg)


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if is_dataclass(tp):
        if not isinstance(value, dict):
            raise SplatsynthError(f"{where}: expected a mapping, got {value!r}")
        return config_from_dict(tp, value, where)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise SplatsynthError(f"{where}: {value!r} is not one of {list(typing.get_args(tp))}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, where)
            except SplatsynthError:
                continue
        raise SplatsynthError(f"{where}: {value!r} does not fit {tp}")
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise SplatsynthError(f"{where}: expected {len(args)} values, got {value!r}")
        return tuple(_coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if tp is bool:
        if not isinstance(value, bool):
            raise SplatsynthError(f"{where}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SplatsynthError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SplatsynthError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise SplatsynthError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def config_from_dict(cls: type, data: dict, where: str = "config") -> Any:
    """Build the frozen dataclass ``cls`` from a nested dict, naming any unknown or ill-typed
    key by its dotted path."""
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SplatsynthError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
    sep = "." if ": " in where else ": "  # "file.yaml: fit.iterations"
    kwargs = {k: _coerce(v, hints[k], f"{where}{sep}{k}") for k, v in data.items()}
    return dataclasses.replace(cls(), **kwargs)


def load_config(path: str | Path, cls: type = RunConfig) -> Any:
    """Read a YAML config file into ``cls``; errors name the file and the dotted key."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as e:
        raise SplatsynthError(f"{path}: config file not found") from e
    except yaml.YAMLError as e:
        raise SplatsynthError(f"{path}: not valid YAML ({e})") from e
    if not isinstance(data, dict):
        raise SplatsynthError(f"{path}: expected a mapping at the top level")
    return config_from_dict(cls, data, where=str(path))


def save_config(cfg: Any, path: str | Path) -> None:
    """Write ``cfg`` as YAML (the resolved configuration of a run)."""
    Path(path).write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
