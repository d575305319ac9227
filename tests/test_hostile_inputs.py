"""No traceback reaches a user: every command against a table of hostile inputs.

Each row is one realistic way to hand splatsynth something broken. The command must exit 1 or 2
with a message that names the file or the knob at fault, print no traceback, and leave no partial
output behind. The rows cover every class of issue 19 -- broken fits written and listed,
parameters not validated, degenerate scenes passing ``check``, tracebacks in render / eval /
import and on bad output folders, wrong numbers with exit 0, and the smaller items -- plus a few
more (bad YAML, broken mix lists). Commands run through ``cli.main`` with captured output; a
few run as real subprocesses too. Scenes are tiny (64 px, 4 views) and fits short, so the whole
module takes well under a minute.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from splatsynth.cli import main

# A shrunk run (tests/batch/conftest.py): 30 steps at 64 px. Its worst training view scores about
# 10.5 dB masked PSNR and IoU 0.71, under the product's floors (15 dB, 0.8: real fits), so the
# tiny runs here use floors of 9 dB and 0.6 -- which broken tiny fits still fail.
TINY = ["--fit.iterations", "30", "--fit.num_gaussians", "1500", "--fit.refine_start", "10",
        "--fit.refine_every", "10", "--orbit.views", "4", "--orbit.size", "64",
        "--output.no_contact_sheet", "--fit.no_progress",
        "--check.min_train_psnr_masked", "9",
        "--check.min_train_iou", "0.6"]


# --- fixtures: one tiny scene, one finished scene -----------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The tiny demo scene (with its 32 ground-truth views) and a finished scene folder."""
    from splatsynth.demo import make_demo_scene

    root = tmp_path_factory.mktemp("hostile")
    scene = make_demo_scene(root / "scenes", size=64, n_views=4)
    out = root / "finished"
    assert main(["run", str(scene), "--out", str(out), *TINY]) == 0
    return {"root": root, "scene": scene, "gt": scene / "gt" / "orbit",
            "finished": out / "toy_mouse"}


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _edit_json(path: Path, fn: Callable[[dict], None]) -> Path:
    doc = json.loads(path.read_text())
    fn(doc)
    path.write_text(json.dumps(doc))
    return path


def _truncate(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _cameras(tmp: Path, world: dict, **change) -> Path:
    """A one-camera JSON: the ground truth's first camera with ``change`` applied."""
    frame = json.loads((world["gt"] / "opencv_cameras.json").read_text())["frames"][0]
    frame.update(change)
    path = tmp / "cams.json"
    path.write_text(json.dumps({"frames": [frame]}))
    return path


def _turn_camera(scene: Path, index: int) -> None:
    """Turn a camera half around (its image unchanged): it no longer sees the subject."""
    def fn(doc):
        w2c = np.asarray(doc["frames"][index]["w2c"])
        c = -w2c[:3, :3].T @ w2c[:3, 3]
        R = np.diag([-1.0, 1.0, -1.0]) @ w2c[:3, :3]
        w2c[:3, :3], w2c[:3, 3] = R, -R @ c
        doc["frames"][index]["w2c"] = w2c.tolist()
    _edit_json(scene / "cameras.json", fn)


def _mirror_masks(scene: Path) -> None:
    for f in sorted((scene / "images").glob("*.png")):
        im = np.asarray(Image.open(f).convert("RGBA")).copy()
        im[..., 3] = im[:, ::-1, 3]
        Image.fromarray(im).save(f)


def _read_only_dir(tmp: Path) -> Path | None:
    """A folder this process cannot create entries in (None: there is none to be had)."""
    if os.geteuid() != 0:
        d = tmp / "ro"
        d.mkdir()
        d.chmod(0o555)
        return d / "out"
    sys_dir = Path("/sys")  # read-only even for root in containers and on most hosts
    if sys_dir.is_dir() and not os.access(sys_dir, os.W_OK):
        return sys_dir / "splatsynth-out"
    try:
        import tempfile
        os.rmdir(tempfile.mkdtemp(dir=sys_dir))
    except OSError:
        return sys_dir / "splatsynth-out"
    return None


# --- the table ----------------------------------------------------------------------------


@dataclass
class Case:
    """One hostile input: what to run, what the message must name, what must not appear."""

    cls: str
    id: str
    build: Callable[[Path, dict], list[str] | None]
    """(a fresh folder, the world) -> argv, or None when this machine cannot pose the case."""
    names: tuple[str, ...]
    """Strings the output must contain: the file, the knob, the reason."""
    absent: tuple[str, ...] = ()
    """Paths (relative to the fresh folder) that must not exist afterwards."""
    codes: tuple[int, ...] = (1, 2)
    extra: Callable[[Path, str], None] | None = field(default=None)
    """More assertions on (the fresh folder, the output)."""


def _run(*flags: str) -> Callable[[Path, dict], list[str]]:
    return lambda t, w: ["run", str(w["scene"]), "--out", str(t / "OUT"), *TINY, *flags]


def _run_on(prep: Callable[[Path], None], *flags: str) -> Callable[[Path, dict], list[str]]:
    def build(t, w):
        scene = _copy(w["scene"], t / "scene")
        prep(scene)
        return ["run", str(scene), "--out", str(t / "OUT"), *TINY, *flags]
    return build


def _check_on(prep: Callable[[Path], None]) -> Callable[[Path, dict], list[str]]:
    def build(t, w):
        scene = _copy(w["scene"], t / "scene")
        prep(scene)
        return ["check", str(scene)]
    return build


def _render(**change) -> Callable[[Path, dict], list[str]]:
    return lambda t, w: ["render", str(w["finished"]), "--cameras", str(_cameras(t, w, **change)),
                         "--out", str(t / "R")]


def _render_broken(prep: Callable[[Path], None]) -> Callable[[Path, dict], list[str]]:
    def build(t, w):
        fin = _copy(w["finished"], t / "fin")
        prep(fin)
        return ["render", str(fin), "--cameras", str(w["gt"] / "opencv_cameras.json"),
                "--out", str(t / "R")]
    return build


def _report(fn: Callable[[dict], None]) -> Callable[[Path], None]:
    return lambda fin: _edit_json(fin / "report.json", fn)


def _eval_broken(prep: Callable[[Path], None]) -> Callable[[Path, dict], list[str]]:
    def build(t, w):
        gt = _copy(w["gt"], t / "gt")
        prep(gt)
        return ["eval", str(w["finished"]), "--gt", str(gt), "--out", str(t / "scores.json")]
    return build


def _gt_frame0(**change) -> Callable[[Path], None]:
    return lambda gt: _edit_json(gt / "opencv_cameras.json",
                                 lambda d: d["frames"][0].update(change))


def _batch_not_listed(t: Path, out: str) -> None:
    fails = [json.loads(x) for x in (t / "OUT" / "failures.jsonl").read_text().splitlines()]
    assert [f["scene_id"] for f in fails] == ["toy_mouse"] and fails[0]["retried"]
    assert (t / "OUT" / "data_gslrm_train.txt").read_text() == ""
    assert (t / "OUT" / "data_gslrm_val.txt").read_text() == ""


def _nerf(t: Path, w: dict, frame: dict, *, top: dict | None = None) -> Path:
    src = t / "nerf"
    (src / "images").mkdir(parents=True)
    shutil.copy(w["scene"] / "images" / "view_000.png", src / "images" / "a.png")
    shutil.copy(w["scene"] / "images" / "view_001.png", src / "images" / "b.png")
    eye = np.eye(4)
    eye[2, 3] = 3.0
    other = eye.copy()
    other[0, 3] = 0.5
    frames = [{"file_path": "images/a.png", "transform_matrix": eye.tolist()},
              {"file_path": "images/b.png", "transform_matrix": other.tolist()}]
    frames[0].update(frame)
    (src / "transforms.json").write_text(json.dumps({"camera_angle_x": 0.7, **(top or {}),
                                                     "frames": frames}))
    return src


def _colmap(t: Path, w: dict, name: str) -> Path:
    src = t / "colmap"
    (src / "images").mkdir(parents=True)
    shutil.copy(w["scene"] / "images" / "view_000.png", src / "images" / "a.png")
    (src / "cameras.txt").write_text("1 PINHOLE 64 64 60 60 32 32\n")
    (src / "images.txt").write_text(f"1 1 0 0 0 0 0 3 1 a.png\n\n2 1 0 0 0 0 0 4 1 {name}\n\n")
    return src


def _dannce_half_size(t: Path, w: dict) -> list[str]:
    fixtures = Path(__file__).parent / "fixtures" / "dannce"
    imgs = t / "frames"
    imgs.mkdir()
    for i in range(1, 7):  # the rig is calibrated on 1152 x 1024 frames; these are half that
        Image.new("RGB", (576, 512), (90, 90, 90)).save(imgs / f"kyle_cam{i}.png")
    return ["import", "dannce", str(fixtures), "--out", str(t / "scene"), "--images", str(imgs)]


def _text(t: Path, name: str, text: str) -> Path:
    p = t / name
    p.write_text(text)
    return p


def _mix(t: Path, text: str) -> Path:
    _text(t, "list.txt", "")
    return _text(t, "mix.yaml", text)


def _file_out(argv: Callable[[Path, dict], list[str]], flag: str = "--out"
              ) -> Callable[[Path, dict], list[str]]:
    """``argv`` with its output replaced by an existing file ``t/f``, which must survive."""
    def build(t, w):
        (t / "f").write_text("x")
        a = argv(t, w)
        return a[:a.index(flag) + 1] + [str(t / "f")] + a[a.index(flag) + 2:]
    return build


def _file_kept(t: Path, _: str) -> None:
    assert (t / "f").read_text() == "x"


CASES: list[Case] = [
    # --- broken fits written and listed with exit 0 ----------------------------------------
    Case("broken fit", "run-lr_position-20", _run("--fit.lr_position", "20"),
         ("toy_mouse", "safer"), ("OUT",)),
    Case("broken fit", "run-iterations-1", _run("--fit.iterations", "1"),
         ("check.min_train_psnr_masked", "post-fit check"), ("OUT",)),
    Case("broken fit", "run-masks-mirrored", _run_on(_mirror_masks),
         ("post-fit check", "check.min_train"), ("OUT",)),
    Case("broken fit", "batch-lr_position-20",
         lambda t, w: ["batch", str(w["scene"]), "--out", str(t / "OUT"), "--workers", "0",
                       "--no_progress", *TINY, "--fit.lr_position", "20"],
         ("toy_mouse", "FAILED"), ("OUT/toy_mouse",), extra=_batch_not_listed),
    # --- parameters not validated before work starts ---------------------------------------
    Case("parameters", "fit.iterations-0", _run("--fit.iterations", "0"),
         ("fit.iterations must be >= 1",), ("OUT",)),
    Case("parameters", "fit.iterations-negative", _run("--fit.iterations", "-3"),
         ("fit.iterations must be >= 1",), ("OUT",)),
    Case("parameters", "fit.num_gaussians-0", _run("--fit.num_gaussians", "0"),
         ("fit.num_gaussians must be >= 1",), ("OUT",)),
    Case("parameters", "orbit.size-0", _run("--orbit.size", "0"), ("orbit.size must be",),
         ("OUT",)),
    Case("parameters", "orbit.size-30000", _run("--orbit.size", "30000"),
         ("orbit.size must be at most 8192",), ("OUT",)),
    Case("parameters", "orbit.views-0", _run("--orbit.views", "0"), ("orbit.views must be",),
         ("OUT",)),
    Case("parameters", "orbit.distance-0", _run("--orbit.distance", "0"),
         ("orbit.distance must be",), ("OUT",)),
    Case("parameters", "output.val_ratio-2", _run("--output.val_ratio", "2"),
         ("output.val_ratio must be in [0, 1]",), ("OUT",)),
    Case("parameters", "yaml-fit.iterations", lambda t, w: [
        "run", str(w["scene"]), "--out", str(t / "OUT"), "--config",
        str(_text(t, "cfg.yaml", "fit: {iterations: -1}\n"))],
        ("cfg.yaml", "fit.iterations must be"), ("OUT",)),
    Case("parameters", "yaml-not-yaml", lambda t, w: [
        "run", str(w["scene"]), "--out", str(t / "OUT"), "--config",
        str(_text(t, "cfg.yaml", "fit: [\n"))], ("cfg.yaml", "not valid YAML"), ("OUT",)),
    Case("parameters", "batch-orbit.views-0", lambda t, w: [
        "batch", str(w["scene"]), "--out", str(t / "OUT"), "--orbit.views", "0"],
        ("orbit.views must be",), ("OUT",)),
    Case("parameters", "demo-num_gaussians-0", lambda t, w: [
        "demo", "--out", str(t / "D"), "--fit.num_gaussians", "0"],
        ("fit.num_gaussians must be",), ("D",)),
    Case("parameters", "check.min_train_iou-2", _run("--check.min_train_iou", "2"),
         ("check.min_train_iou must be in [0, 1]",), ("OUT",)),
    # --- degenerate scenes pass check ----------------------------------------------------
    Case("degenerate scene", "check-camera-turned-away", _check_on(lambda s: _turn_camera(s, 1)),
         ("frames[1]", "subject is behind this camera")),
    Case("degenerate scene", "check-identical-views", _check_on(lambda s: _edit_json(
        s / "cameras.json", lambda d: [f.update(w2c=d["frames"][0]["w2c"])
                                       for f in d["frames"]])),
         ("cameras.json", "sit at one point")),
    Case("degenerate scene", "check-repeated-view", _check_on(lambda s: _edit_json(
        s / "cameras.json", lambda d: d["frames"][2].update(w2c=d["frames"][0]["w2c"]))),
         ("frames[2]", "same camera pose as frames[0]")),
    Case("degenerate scene", "check-image-size-differs", _check_on(lambda s: Image.open(
        s / "images" / "view_001.png").resize((32, 32)).save(s / "images" / "view_001.png")),
         ("images/view_001.png", "32x32 but cameras.json says 64x64")),
    Case("degenerate scene", "run-camera-turned-away", _run_on(lambda s: _turn_camera(s, 2)),
         ("frames[2]", "subject is behind this camera"), ("OUT",)),
    Case("degenerate scene", "import-dannce-half-size-images", _dannce_half_size,
         ("kyle_cam1.png", "principal point", "another image size"), ("scene",)),
    # --- tracebacks instead of errors: render ----------------------------------------------
    Case("render", "fx-nan", _render(fx=math.nan), ("cams.json", "fx is nan"), ("R",)),
    Case("render", "fx-0", _render(fx=0), ("cams.json", "fx must be positive"), ("R",)),
    Case("render", "fy-negative", _render(fy=-5), ("cams.json", "fy must be positive"), ("R",)),
    Case("render", "w-0", _render(w=0), ("cams.json", "w must be a positive integer"), ("R",)),
    Case("render", "30000x30000", _render(w=30000, h=30000),
         ("cams.json", "30000x30000 is larger than"), ("R",)),
    Case("render", "empty-frames", lambda t, w: [
        "render", str(w["finished"]), "--cameras", str(_text(t, "c.json", '{"frames": []}')),
        "--out", str(t / "R")], ("c.json", "no frames"), ("R",)),
    Case("render", "cameras-not-json", lambda t, w: [
        "render", str(w["finished"]), "--cameras", str(_text(t, "c.json", "{frames")),
        "--out", str(t / "R")], ("c.json", "malformed JSON"), ("R",)),
    Case("render", "cameras-is-a-folder", lambda t, w: [
        "render", str(w["finished"]), "--cameras", str(t), "--out", str(t / "R")],
        ("not a file",), ("R",)),
    Case("render", "ply-truncated", _render_broken(lambda f: _truncate(f / "gaussians.ply")),
         ("gaussians.ply", "truncated or garbled"), ("R",)),
    Case("render", "ply-garbage", _render_broken(
        lambda f: (f / "gaussians.ply").write_bytes(b"\x00\x01 not a ply")),
        ("gaussians.ply", "not a readable 3DGS PLY"), ("R",)),
    Case("render", "ply-missing-properties", _render_broken(lambda f: (f / "gaussians.ply")
         .write_bytes(b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nend_header\n"
                      b"1\n")), ("gaussians.ply", "lacks 3DGS properties"), ("R",)),
    Case("render", "ply-missing", _render_broken(lambda f: (f / "gaussians.ply").unlink()),
         ("gaussians.ply", "missing"), ("R",)),
    Case("render", "report-malformed", _render_broken(
        lambda f: (f / "report.json").write_text("{bad")), ("report.json", "malformed JSON"),
        ("R",)),
    Case("render", "report-a-list", _render_broken(lambda f: (f / "report.json").write_text("[]")),
         ("report.json", "expected a JSON object"), ("R",)),
    Case("render", "report-config-not-object", _render_broken(_report(
        lambda r: r.update(config=5))), ("report.json", "config must be an object"), ("R",)),
    Case("render", "report-unknown-method", _render_broken(_report(
        lambda r: r["config"]["fit"].update(method="nerf"))), ("report.json", "'nerf'"), ("R",)),
    Case("render", "report-bad-background", _render_broken(_report(
        lambda r: r["config"]["fit"].update(background="x"))),
        ("report.json", "config.fit.background"), ("R",)),
    Case("render", "report-no-normalization", _render_broken(_report(
        lambda r: r.pop("normalization"))), ("report.json", "normalization"), ("R",)),
    Case("render", "not-a-scene-folder", lambda t, w: [
        "render", str(t), "--cameras", str(w["gt"] / "opencv_cameras.json"),
        "--out", str(t / "R")], ("not a finished scene folder",), ("R",)),
    # --- tracebacks instead of errors: eval ------------------------------------------------
    Case("eval", "gt-image-missing", _eval_broken(
        lambda g: (g / "images" / "cam_003.png").unlink()), ("cam_003.png", "missing"),
        ("scores.json",)),
    Case("eval", "gt-image-truncated", _eval_broken(
        lambda g: _truncate(g / "images" / "cam_003.png")), ("cam_003.png", "unreadable image"),
        ("scores.json",)),
    Case("eval", "gt-image-not-an-image", _eval_broken(
        lambda g: (g / "images" / "cam_003.png").write_text("hello")),
        ("cam_003.png", "unreadable image"), ("scores.json",)),
    Case("eval", "gt-scaled-w2c", _eval_broken(lambda g: _edit_json(
        g / "opencv_cameras.json", lambda d: d["frames"][0].update(
            w2c=(2 * np.asarray(d["frames"][0]["w2c"])).tolist()))),
        ("opencv_cameras.json", "not orthonormal"), ("scores.json",)),
    Case("eval", "gt-path-outside", _eval_broken(_gt_frame0(file_path="../../secret.png")),
         ("opencv_cameras.json", 'contains ".."'), ("scores.json",)),
    Case("eval", "gt-absolute-path", _eval_broken(_gt_frame0(file_path="/etc/passwd")),
         ("opencv_cameras.json", "is absolute"), ("scores.json",)),
    Case("eval", "gt-symlink-outside", _eval_broken(lambda g: (
        (g / "images" / "cam_000.png").unlink(),
        (g / "images" / "cam_000.png").symlink_to(g.parent / "elsewhere.png"),
        shutil.copy(g / "images" / "cam_001.png", g.parent / "elsewhere.png"))),
        ("cam_000.png", "outside its folder"), ("scores.json",)),
    Case("eval", "run-scene-ground-truth-truncated", _run_on(
        lambda s: _truncate(s / "gt" / "orbit" / "images" / "cam_007.png")),
        ("gt/orbit/images/cam_007.png", "unreadable image"), ("OUT",)),
    Case("eval", "gt-folder-missing", lambda t, w: [
        "eval", str(w["finished"]), "--gt", str(t / "nowhere"), "--out", str(t / "s.json")],
        ("nowhere", "no opencv_cameras.json"), ("s.json",)),
    # --- tracebacks instead of errors: import ----------------------------------------------
    Case("import", "nerf-camera_angle_x-0", lambda t, w: [
        "import", "nerf", str(_nerf(t, w, {}, top={"camera_angle_x": 0})), "--out",
        str(t / "scene")], ("transforms.json", "camera_angle_x must be"), ("scene",)),
    Case("import", "nerf-negative-focal", lambda t, w: [
        "import", "nerf", str(_nerf(t, w, {"fl_x": -10})), "--out", str(t / "scene")],
        ("transforms.json frames[0]", "fl_x must be positive"), ("scene",)),
    Case("import", "colmap-name-climbs-out", lambda t, w: [
        "import", "colmap", str(_colmap(t, w, "../../etc/x.png")), "--out", str(t / "scene")],
        ("images.txt line 3", 'contains ".."'), ("scene",)),
    Case("import", "colmap-absolute-name", lambda t, w: [
        "import", "colmap", str(_colmap(t, w, "/etc/passwd")), "--out", str(t / "scene")],
        ("images.txt line 3", "is absolute"), ("scene",)),
    # --- output folders that are a file, read-only or too long -----------------------------
    Case("output folder", "run-out-is-a-file", _file_out(_run()),
         ("exists and is not a folder",), extra=_file_kept),
    Case("output folder", "run-out-under-a-file", lambda t, w: (
        (t / "f").write_text("x"), _run()(t, w)[:3] + [str(t / "f" / "sub")] + TINY)[1],
        ("is a file, not a folder",), extra=_file_kept),
    Case("output folder", "run-out-read-only", lambda t, w: (
        None if (ro := _read_only_dir(t)) is None else _run()(t, w)[:3] + [str(ro)] + TINY),
        ("cannot write in",)),
    Case("output folder", "run-scene-id-too-long", _run("--scene-id", "x" * 250),
         ("not a valid folder name",), ("OUT",)),
    Case("output folder", "run-out-name-too-long", lambda t, w: (
        _run()(t, w)[:3] + [str(t / ("o" * 250))] + TINY), ("too long",), ("o" * 250,)),
    Case("output folder", "run-out-path-too-long", lambda t, w: (
        _run()(t, w)[:3] + [str(t / "/".join(["p" * 200] * 21))] + TINY), ("too long",),
        ("p" * 200,)),
    Case("output folder", "batch-out-is-a-file", _file_out(
        lambda t, w: ["batch", str(w["scene"]), "--out", str(t / "OUT")]),
        ("exists and is not a folder",), extra=_file_kept),
    Case("output folder", "demo-out-is-a-file", _file_out(
        lambda t, w: ["demo", "--out", str(t / "D")]), ("exists and is not a folder",),
        extra=_file_kept),
    Case("output folder", "render-out-is-a-file", _file_out(
        lambda t, w: ["render", str(w["finished"]), "--cameras",
                      str(w["gt"] / "opencv_cameras.json"), "--out", str(t / "R")]),
        ("exists and is not a folder",), extra=_file_kept),
    Case("output folder", "eval-out-is-a-folder", lambda t, w: [
        "eval", str(w["finished"]), "--gt", str(w["gt"]), "--out", str(t)],
        ("is a folder, not a file",)),
    Case("output folder", "import-out-is-a-file", _file_out(
        lambda t, w: ["import", "nerf", str(_nerf(t, w, {})), "--out", str(t / "S"),
                      "--overwrite"]), ("exists and is not a folder",), extra=_file_kept),
    Case("output folder", "orbit-out-is-a-folder", lambda t, w: ["orbit", "--out", str(t)],
         ("is a folder, not a file",)),
    # --- wrong numbers with exit 0 ---------------------------------------------------------
    Case("wrong numbers", "mix-image_size-0", lambda t, w: [
        "mix", str(_mix(t, "datasets: [{name: a, path: list.txt}]\nimage_size: 0\n"))],
        ("mix.yaml", "image_size 0")),
    Case("wrong numbers", "mix-overlap-angle-0", lambda t, w: [
        "mix", str(_mix(t, "datasets: [{name: a, path: list.txt}]\noverlap_angle_deg: 0\n"))],
        ("mix.yaml", "overlap_angle_deg must be")),
    Case("wrong numbers", "mix-list-missing", lambda t, w: [
        "mix", str(_mix(t, "datasets: [{name: a, path: nowhere.txt}]\n"))],
        ("nowhere.txt", "cannot read scene list")),
    # --- smaller ---------------------------------------------------------------------------
    Case("smaller", "nul-in-a-path-printed-escaped", _check_on(lambda s: _edit_json(
        s / "cameras.json", lambda d: d["frames"][1].update(file_path="images/a\u0000\u001b.png"))),
        ("\\x00\\x1b", "control character")),
    Case("smaller", "batch-list-with-a-nul", lambda t, w: [
        "batch", str(_text(t, "list.txt", f"{w['scene']}\nscenes/a\x00b\n")), "--out",
        str(t / "OUT")], ("list.txt", "line 2 holds a control character", "a\\x00b"), ("OUT",)),
    Case("smaller", "import-error-names-the-source-file", lambda t, w: (
        (src := _nerf(t, w, {})), _truncate(src / "images" / "b.png"),
        ["import", "nerf", str(src), "--out", str(t / "scene")])[2],
        ("nerf/images/b.png", "unreadable image"), ("scene",),
        extra=lambda t, o: ".tmp-" not in o),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.cls}/{c.id}" for c in CASES])
def test_hostile_input(case: Case, world, tmp_path, capsys) -> None:
    argv = case.build(tmp_path, world)
    if argv is None:
        pytest.skip("this machine cannot pose the case (no read-only folder to be had)")
    try:
        code = main(argv)
    except SystemExit as e:  # tyro's usage errors
        code = e.code
    except BaseException as e:  # noqa: BLE001 - what a user would see as a traceback
        pytest.fail(f"{case.cls}/{case.id}: {type(e).__name__} escaped: {e}")
    out = capsys.readouterr()
    text = out.out + out.err
    assert code in case.codes, f"exit {code}\n{text}"
    assert "Traceback" not in text
    assert "\x00" not in text and "\x1b" not in text
    for s in case.names:
        assert s in text, f"{s!r} not in:\n{text}"
    for rel in case.absent:
        assert not (tmp_path / rel).exists(), f"{rel} was left behind"
    assert not list(tmp_path.rglob(".tmp-*")), "temporary folders left behind"
    if case.extra is not None:
        case.extra(tmp_path, text)


def test_every_class_and_command_has_cases(world, tmp_path) -> None:
    assert {c.cls for c in CASES} >= {"broken fit", "parameters", "degenerate scene", "render",
                                      "eval", "import", "output folder", "wrong numbers",
                                      "smaller"}
    commands = set()
    for i, c in enumerate(CASES):
        (tmp_path / str(i)).mkdir()
        argv = c.build(tmp_path / str(i), world)
        if argv is not None:
            commands.add(argv[0])
    assert commands >= {"run", "batch", "demo", "check", "import", "render", "eval", "orbit",
                        "mix"}


# --- as real commands: the entry point itself prints no traceback -------------------------


@pytest.mark.parametrize("name", ["30000x30000", "run-lr_position-20"])
def test_no_traceback_from_the_real_command(name, world, tmp_path) -> None:
    case = next(c for c in CASES if c.id == name)
    argv = case.build(tmp_path, world)
    r = subprocess.run([sys.executable, "-m", "splatsynth.cli", *argv], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    for s in case.names:
        assert s in r.stderr
    for rel in case.absent:
        assert not (tmp_path / rel).exists()


# --- wrong numbers and the smaller items, which need more than an exit status --------------


def test_eval_scores_what_it_can_when_one_image_lacks_alpha(world, tmp_path, capsys) -> None:
    gt = _copy(world["gt"], tmp_path / "gt")
    before = tmp_path / "before.json"
    assert main(["eval", str(world["finished"]), "--gt", str(gt), "--out", str(before)]) == 0
    im = Image.open(gt / "images" / "cam_003.png").convert("RGB")
    im.save(gt / "images" / "cam_003.png")
    after = tmp_path / "after.json"
    capsys.readouterr()
    assert main(["eval", str(world["finished"]), "--gt", str(gt), "--out", str(after)]) == 0
    out = capsys.readouterr().out
    assert "without alpha" in out and "images/cam_003.png" in out
    a, b = json.loads(before.read_text()), json.loads(after.read_text())
    assert b["views_without_mask"] == ["images/cam_003.png"]
    for k, (va, vb) in enumerate(zip(a["per_view"], b["per_view"])):
        if k == 3:  # scored on what it can be: PSNR and SSIM, not the silhouette
            assert vb["iou"] is None and vb["psnr_masked"] is None and vb["psnr"] is not None
        else:  # the other views' scores are unchanged
            assert vb == va
    assert b["mean"]["iou"] is not None and b["mean"]["iou"] > 0.3


def test_outputs_follow_the_umask(world, tmp_path) -> None:
    """Datasets, lists, the batch summary and render outputs are readable by the group and
    others when the umask says so (022), not written owner-only."""
    script = f"""
import os
os.umask(0o022)
from pathlib import Path
from splatsynth.cli import main
t = Path({str(tmp_path)!r})
tiny = {TINY!r}
assert main(["run", {str(world["scene"])!r}, "--out", str(t / "run"), *tiny]) == 0
assert main(["render", str(t / "run" / "toy_mouse"), "--cameras",
             {str(world["gt"] / "opencv_cameras.json")!r}, "--out", str(t / "render"),
             "--depth"]) == 0
assert main(["batch", {str(world["scene"])!r}, "--out", str(t / "batch"), "--workers", "0",
             "--no_progress", *tiny]) == 0
"""
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    files = [p for d in ("run", "render", "batch") for p in (tmp_path / d).rglob("*")
             if not p.name.startswith(".")]
    names = {p.name for p in files}
    assert {"data_gslrm_train.txt", "report.json", "gaussians.ply", "cam_000.png",
            "cam_000.npy", "summary.json", "summary.html", "failures.jsonl"} <= names
    wrong = [(str(p), oct(p.stat().st_mode & 0o777)) for p in files
             if (p.stat().st_mode & 0o777) != (0o755 if p.is_dir() else 0o644)]
    assert not wrong


def test_run_cleans_its_own_leftovers_but_never_a_live_build(world, tmp_path, capsys) -> None:
    from splatsynth.fileio import BUILD_LOCK, discard_temp_directory, new_temp_directory

    out = tmp_path / "OUT"
    dead = out / ".tmp-toy_mouse-deadbeef"  # a run killed mid-write: its lock is free
    (dead / "images").mkdir(parents=True)
    (dead / BUILD_LOCK).write_text("")
    stale = out / ".tmp-other-0badf00d"  # no lock file, two hours old
    stale.mkdir()
    os.utime(stale, (stale.stat().st_atime - 7200, stale.stat().st_mtime - 7200))
    young = out / ".old-other-12345678"  # no lock file, just made: maybe someone's swap
    young.mkdir()
    live = new_temp_directory(out / "another")  # a live run writing another scene
    try:
        assert main(["run", str(world["scene"]), "--out", str(out), *TINY]) == 0
        assert not dead.exists() and not stale.exists()
        assert live.is_dir() and young.is_dir()
    finally:
        discard_temp_directory(live)


def test_batch_start_line_counts_invalid_scenes_apart(world, tmp_path) -> None:
    from splatsynth.batch import BatchConfig, run_batch

    out = tmp_path / "OUT"
    _copy(world["finished"], out / "toy_mouse")
    bad = _copy(world["scene"], tmp_path / "bad name")  # a space: not a valid scene id
    lines: list[str] = []
    s = run_batch([world["scene"], bad], out, batch_cfg=BatchConfig(workers=0, progress=False),
                  log=lines.append)
    assert lines[0] == ("batch: 2 scene(s): 1 already finished, 1 invalid (see failures.jsonl)"
                        ", 0 to run")
    assert (s.skipped, s.failed) == (1, 1)
