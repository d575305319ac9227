"""Every numeric knob has a valid range, checked when its config is built, so YAML, CLI and
Python callers all get the same error, naming the knob by its dotted name, before any work."""

import math
import subprocess
import sys
import typing
from dataclasses import fields

import pytest
import yaml

from splatsynth.batch.config import BatchConfig
from splatsynth.cameras import OrbitConfig
from splatsynth.cli import main
from splatsynth.config import CheckConfig, OutputConfig, load_config
from splatsynth.errors import SplatsynthError
from splatsynth.fit.config import FitConfig
from splatsynth.scene_io.normalize import NormalizeConfig

SECTIONS = {c.section: c for c in (FitConfig, OrbitConfig, NormalizeConfig, OutputConfig,
                                   CheckConfig, BatchConfig)}

# knob, a bad value, the rule the message states
BAD = [
    ("fit.iterations", 0, ">= 1"),
    ("fit.iterations", -5, ">= 1"),
    ("fit.num_gaussians", 0, ">= 1"),
    ("fit.sh_degree", 4, "0..3"),
    ("fit.sh_degree", -1, "0..3"),
    ("fit.sh_increase_every", 0, ">= 1"),
    ("fit.lr_position", 0.0, "> 0"),
    ("fit.lr_position", math.inf, "a finite number"),
    ("fit.lr_feature", -1e-3, "> 0"),
    ("fit.lr_opacity", 0.0, "> 0"),
    ("fit.lr_scaling", 0.0, "> 0"),
    ("fit.lr_rotation", 0.0, "> 0"),
    ("fit.lr_pose", 0.0, "> 0"),
    ("fit.ssim_lambda", 1.5, "in [0, 1]"),
    ("fit.mask_weight", -0.5, ">= 0"),
    ("fit.background", (1.0, 1.0, 2.0), "three values in [0, 1]"),
    ("fit.opacity_reg", -1.0, ">= 0"),
    ("fit.opacity_reg_fade", 1.5, "in [0, 1]"),
    ("fit.scale_reg", -1.0, ">= 0"),
    ("fit.needle_reg", -1.0, ">= 0"),
    ("fit.needle_max_ratio", 0.5, ">= 1"),
    ("fit.aniso_reg", -1.0, ">= 0"),
    ("fit.aniso_max_ratio", 0.5, ">= 1"),
    ("fit.coarse_fraction", -0.1, "in [0, 1]"),
    ("fit.coarse_min_size", 0, ">= 1"),
    ("fit.solid_weight", -1.0, ">= 0"),
    ("fit.clear_weight", -1.0, ">= 0"),
    ("fit.curvature_weight", -1.0, ">= 0"),
    ("fit.curvature_clamp", 0.0, "> 0"),
    ("fit.solid_every", 0, ">= 1"),
    ("fit.solid_erode", -1, ">= 0"),
    ("fit.crop_margin", -1, ">= 0"),
    ("fit.refine_every", 0, ">= 1"),
    ("fit.refine_start", -1, ">= 0"),
    ("fit.refine_stop_fraction", 2.0, "in [0, 1]"),
    ("fit.pose_warmup", -1, ">= 0"),
    ("fit.pose_stage", -1, ">= 0"),
    ("fit.pose_stage_warmup", -1, ">= 0"),
    ("fit.pose_stage_gaussians", 0, ">= 1"),
    ("fit.lr_pose_stage", 0.0, "> 0"),
    ("fit.pose_warn_px", 0.0, "> 0"),
    ("fit.pose_keypoint_px", 0.0, "> 0"),
    ("fit.pose_stage_levels", -1, ">= 0"),
    ("fit.depth_weight", -1.0, ">= 0"),
    ("fit.normal_weight", -1.0, ">= 0"),
    ("fit.regularizer_start", -1, ">= 0"),
    ("fit.holdout_view", -2, ">= -1"),
    ("fit.seed", -1, ">= 0"),
    ("orbit.views", 0, ">= 1"),
    ("orbit.size", 0, ">= 1"),
    ("orbit.distance", 0.0, "> 0"),
    ("orbit.elevation", 90.0, "in (-90, 90)"),
    ("orbit.focal", 0.0, "> 0"),
    ("normalize.radius", 0.0, "> 0"),
    ("normalize.thin", 1.0, "in [0, 1)"),
    ("normalize.percentile", 0.0, "in (0, 100]"),
    ("normalize.thin_room", 0.5, ">= 1"),
    ("normalize.grid", 7, ">= 8"),
    ("output.val_ratio", 2.0, "in [0, 1]"),
    ("output.heatmap_sigma", 0.0, "> 0"),
    ("batch.workers", -1, ">= 0"),
    ("batch.threads", 0, ">= 1"),
    ("batch.ray", " ", "'auto', 'local' or a cluster address"),
    ("check.retry_lr_factor", 0.0, "in (0, 1]"),
    ("check.explode_distance", 0.0, "> 0"),
    ("check.explode_scale", -1.0, "> 0"),
    ("check.max_exploded_fraction", 1.0, "in [0, 1)"),
    ("check.max_median_distance", 0.0, "> 0"),
    ("check.min_train_iou", 1.5, "in [0, 1]"),
    ("orbit.size", 9000, "at most 8192 (the largest square image splatsynth renders)"),
    ("batch.min_holdout_iou", 1.5, "in [0, 1]"),
    ("batch.scene_timeout", 0.0, "> 0"),
    ("batch.summary_every", -1.0, ">= 0"),
]
# numeric knobs whose every finite value makes sense
NO_RANGE = {"batch.min_holdout_psnr_masked", "check.min_train_psnr_masked"}
IDS = [f"{k}={v}" for k, v, _ in BAD]


def _message(knob, value, rule):
    return f"{knob} must be {rule}, got {value!r}"


@pytest.mark.parametrize("knob, value, rule", BAD, ids=IDS)
def test_python(knob, value, rule):
    section, name = knob.split(".")
    with pytest.raises(SplatsynthError) as e:
        SECTIONS[section](**{name: value})
    assert str(e.value) == _message(knob, value, rule)


@pytest.mark.parametrize("knob, value, rule", [b for b in BAD if not b[0].startswith("batch.")],
                         ids=[i for i in IDS if not i.startswith("batch.")])
def test_yaml(tmp_path, knob, value, rule):
    section, name = knob.split(".")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({section: {name: list(value) if isinstance(value, tuple)
                                              else value}}))
    with pytest.raises(SplatsynthError) as e:
        load_config(path)
    assert str(e.value) == f"{path}: " + _message(knob, value, rule)


def _flag(knob, value):
    section, name = knob.split(".")
    flag = f"--{name}" if section == "batch" else f"--{knob}"
    vals = [str(v) for v in value] if isinstance(value, tuple) else [str(value)]
    return [f"{flag}={vals[0]}"] if len(vals) == 1 else [flag, *vals]


@pytest.mark.parametrize("knob, value, rule", BAD, ids=IDS)
def test_cli(tmp_path, capsys, knob, value, rule):
    command = "batch" if knob.startswith("batch.") else "run"
    argv = [command, str(tmp_path / "scene"), "--out", str(tmp_path / "out"),
            *_flag(knob, value)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"splatsynth {command}: error: {knob} must be {rule}" in err
    assert not (tmp_path / "out").exists()  # refused before any work


@pytest.mark.parametrize("flag, knob", [("--views=0", "orbit.views"),
                                        ("--distance=0", "orbit.distance"),
                                        ("--size=-3", "orbit.size")])
def test_orbit_command(tmp_path, capsys, flag, knob):
    assert main(["orbit", "--out", str(tmp_path / "c.json"), flag]) == 1
    assert f"{knob} must be" in capsys.readouterr().err
    assert not (tmp_path / "c.json").exists()


def test_type_errors_from_python():
    with pytest.raises(SplatsynthError, match=r"fit.method must be one of \['3dgs', '2dgs'\]"):
        FitConfig(method="nerf")
    with pytest.raises(SplatsynthError, match="fit.iterations must be an integer, got 1.5"):
        FitConfig(iterations=1.5)
    with pytest.raises(SplatsynthError, match="fit.background must be 3 values"):
        FitConfig(background=(1.0, 1.0))
    with pytest.raises(SplatsynthError, match="output.mesh must be true or false, got 1"):
        OutputConfig(mesh=1)
    # an int where a float is due is a float, so the config and report.json agree
    assert FitConfig(lr_pose=1).lr_pose == 1.0 and isinstance(FitConfig(lr_pose=1).lr_pose, float)


def test_every_numeric_knob_has_a_range():
    covered = {k for k, _, _ in BAD} | NO_RANGE
    missing = []
    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for f in fields(cls):
            kinds = set(typing.get_args(hints[f.name])) | {hints[f.name]}
            if kinds & {int, float} and f"{section}.{f.name}" not in covered:
                missing.append(f"{section}.{f.name}")
    assert not missing, f"knobs without a range check and a row in BAD: {missing}"


def test_defaults_are_valid():
    for cls in SECTIONS.values():
        cls()


def test_no_traceback_from_the_command(tmp_path):
    r = subprocess.run([sys.executable, "-m", "splatsynth.cli", "run", str(tmp_path / "scene"),
                        "--out", str(tmp_path / "out"), "--fit.iterations", "0"],
                       capture_output=True, text=True)
    assert r.returncode in (1, 2)
    assert "fit.iterations must be >= 1, got 0" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
