"""The ``splatsynth`` command line: subcommands of a few lines each over the Python API.

Exit status: 0 success, 1 a user-facing error (message on stderr, no traceback), 2 bad usage.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
import sys
import threading
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import docstring_parser
import tyro

from .batch.config import BatchConfig
from .cameras.orbits import OrbitConfig
from .config import RunConfig, load_config
from .errors import SplatsynthError, printable
from .ingest.config import IngestConfig

_Pos = tyro.conf.Positional


_LIST_ITEM = re.compile(r"([-*+]|\d+[.)])\s")


def _join_lines(text: str) -> str:
    """Join a docstring's wrapped lines into paragraphs: a line joins the one before it unless
    either is blank or indented (an example), or it starts a list item."""
    out: list[str] = []
    for line in inspect.cleandoc(text).split("\n"):
        if out and out[-1].strip() and not out[-1][0].isspace() and line.strip() \
                and not line[0].isspace() and not _LIST_ITEM.match(line):
            out[-1] = f"{out[-1].rstrip()} {line}"
        else:
            out.append(line)
    return "\n".join(out)


@functools.cache
def _field_help(cls: type) -> dict[str, str]:
    """Each field's docstring of dataclass ``cls``, as paragraphs (:func:`_join_lines`); a
    nested config without one gets its class docstring (its group's description)."""
    params = docstring_parser.parse_from_object(cls).params
    docs = {p.arg_name: _join_lines(p.description) for p in params if p.description}
    hints = typing.get_type_hints(cls, include_extras=False)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if f.name not in docs and dataclasses.is_dataclass(tp) and tp.__doc__:
            docs[f.name] = _join_lines(tp.__doc__)
    return docs


# Field docstrings are the --help text. tyro reflows a docstring only where the next line
# starts with a letter, checked before the indentation is removed, so every continuation line
# of an indented field docstring kept its hard break. A struct rule (tyro's public constructor
# API) hands tyro our own paragraphs instead.
_HELP = tyro.constructors.ConstructorRegistry()
_inside_rule = threading.local()


@_HELP.struct_rule
def _paragraph_help(info: tyro.constructors.StructTypeInfo
                    ) -> tyro.constructors.StructConstructorSpec | None:
    if not dataclasses.is_dataclass(info.type) or getattr(_inside_rule, "active", False):
        return None
    _inside_rule.active = True  # ask tyro's own dataclass rule for everything else
    try:
        spec = tyro.constructors.ConstructorRegistry.get_struct_spec(info)
    finally:
        _inside_rule.active = False
    if not isinstance(spec, tyro.constructors.StructConstructorSpec):
        return None
    docs = _field_help(info.type)
    return dataclasses.replace(spec, fields=tuple(
        dataclasses.replace(f, helptext=docs.get(f.name, f.helptext)) for f in spec.fields))


def _parse(cls, argv: Sequence[str], name: str, default=None):
    # Underscores keep each knob's one dotted name (SPEC: --fit.optimize_pose); tyro still
    # accepts the hyphenated spelling.
    return tyro.cli(cls, args=list(argv), prog=f"splatsynth {name}",
                    description=_join_lines(cls.__doc__), default=default,
                    use_underscores=True, registry=_HELP)


# --- orbit ---------------------------------------------------------------------------------
@dataclass
class OrbitArgs:
    """Write the cameras of a turntable orbit as FaceLift's opencv_cameras.json."""

    out: Path
    """Where to write the cameras JSON."""
    mvdiffusion: bool = False
    """Write FaceLift's 6-view MVDiffusion layout instead (elevation 0; --views and
    --elevation do not apply)."""
    orbit: Annotated[OrbitConfig, tyro.conf.arg(name="")] = field(default_factory=OrbitConfig)


def cmd_orbit(argv: Sequence[str]) -> int:
    a = _parse(OrbitArgs, argv, "orbit")
    from .cameras import cameras_to_json, mvdiffusion_cameras
    from .fileio import atomic_write_json, check_output_path

    check_output_path(a.out, kind="file", what="cameras file")
    if a.mvdiffusion:
        cams = mvdiffusion_cameras(a.orbit.distance, a.orbit.size, a.orbit.focal)
    else:
        cams = a.orbit.cameras()
    atomic_write_json(a.out, cameras_to_json(cams))
    print(printable(f"wrote {len(cams)} cameras to {a.out}"))
    return 0


# --- check ---------------------------------------------------------------------------------
@dataclass
class CheckArgs:
    """Validate a scene folder; list every problem with the file it concerns (exit 1 if any)."""

    scene: _Pos[Path]
    """The scene folder (cameras.json, images/, optional masks/ and keypoints.json)."""


def cmd_check(argv: Sequence[str]) -> int:
    a = _parse(CheckArgs, argv, "check")
    from .scene_io import check_scene

    problems = check_scene(a.scene)
    if problems:
        print(printable(f"{a.scene}: {len(problems)} problem(s)"), file=sys.stderr)
        for p in problems:
            print(printable(f"  - {p}"), file=sys.stderr)
        return 1
    print(printable(f"{a.scene}: ok"))
    return 0


# --- import --------------------------------------------------------------------------------
@dataclass
class ImportArgs:
    """Convert another calibration format into a splatsynth scene folder."""

    format: _Pos[Literal["nerf", "colmap", "dannce"]]
    """Source format: nerf (transforms.json), colmap (text model), dannce (*_params.mat or a
    Label3D .mat)."""
    src: _Pos[Path]
    """The source: a folder (nerf, colmap, dannce) or a Label3D .mat file (dannce)."""
    out: Path
    """The scene folder to write."""
    images: Path | None = None
    """colmap, dannce: folder of images (dannce: Camera1.png or Camera1/<frame>.png per camera)."""
    frame: int = 0
    """dannce: which labelled Label3D frame's keypoints to import."""
    image_size: tuple[int, int] | None = None
    """dannce without --images: the video frame size W H (the mouse rig's is 1152 1024)."""
    overwrite: bool = False
    """Replace an existing scene folder."""


def cmd_import(argv: Sequence[str]) -> int:
    a = _parse(ImportArgs, argv, "import")
    from .scene_io import import_scene

    opts: dict = {"overwrite": a.overwrite}
    if a.format in ("colmap", "dannce") and a.images is not None:
        opts["images"] = a.images
    if a.format == "dannce":
        opts["frame"] = a.frame
        if a.image_size is not None:
            opts["image_size"] = a.image_size
    elif a.image_size is not None:
        raise SplatsynthError("--image-size applies to dannce only")
    out = import_scene(a.format, a.src, a.out, **opts)
    print(printable(f"wrote scene {out}"))
    return 0


# --- run -----------------------------------------------------------------------------------
def _config_default(argv: Sequence[str]) -> RunConfig:
    """The YAML named by --config (read before the other flags so they override it)."""
    argv = list(argv)
    for i, tok in enumerate(argv):
        if tok == "--config" and i + 1 < len(argv):
            return load_config(argv[i + 1])
        if tok.startswith("--config="):
            return load_config(tok.split("=", 1)[1])
    return RunConfig()


@dataclass
class RunArgs:
    """Fit one scene, render the orbit and write it in the GS-LRM layout under OUT."""

    scene: _Pos[Path]
    """The scene folder (see `splatsynth check`)."""
    out: Path
    """The dataset root; the scene is written to OUT/<scene_id>/."""
    config: Path | None = None
    """A YAML file of settings (same dotted names as the flags); flags override it."""
    scene_id: str | None = None
    """Output folder name (default: the scene folder's name)."""
    force: bool = False
    """Redo a scene that is already finished (otherwise it is skipped)."""
    cfg: Annotated[RunConfig, tyro.conf.arg(name="")] = field(default_factory=RunConfig)


def cmd_run(argv: Sequence[str]) -> int:
    base = _config_default(argv)
    a = _parse(RunArgs, argv, "run",
               default=RunArgs(scene=tyro.MISSING, out=tyro.MISSING, cfg=base))
    from .pipeline import run_scene

    outcome = run_scene(a.scene, a.out, a.cfg, scene_id=a.scene_id, force=a.force)
    print(format_outcome(outcome))
    return 0


# --- demo ----------------------------------------------------------------------------------
@dataclass
class DemoArgs:
    """Make the built-in toy-mouse scene, then fit it, render the orbit, write the dataset and
    report, and print the metrics against its ground-truth views."""

    out: Path = Path("demo_out")
    """Where the demo scene (OUT/scene) and the dataset (OUT/dataset) go."""
    config: Path | None = None
    """A YAML file of settings; flags override it."""
    force: bool = False
    """Redo the fit even if the demo dataset is already finished."""
    recording: bool = False
    """Run the recording demo instead: make a video recording of the toy mouse walking (the
    real DANNCE rig, markerless layout) under OUT/recording, ingest it (OUT/scenes), print the
    mask IoU against the true silhouettes, fit every 20th frame (OUT/dataset) and check the
    dataset for training."""
    cfg: Annotated[RunConfig, tyro.conf.arg(name="")] = field(default_factory=RunConfig)


def cmd_demo(argv: Sequence[str]) -> int:
    base = _config_default(argv)
    a = _parse(DemoArgs, argv, "demo", default=DemoArgs(cfg=base))
    if a.recording:  # the ingest front door end to end (issue 17)
        from .recording_demo import run_recording_demo

        return run_recording_demo(a.out, a.cfg, force=a.force).batch_exit
    import time

    from .pipeline import run_demo

    t = time.perf_counter()
    scene_dir, outcome = run_demo(a.out, a.cfg, force=a.force)
    print(printable(f"demo scene: {scene_dir}"))
    print(format_outcome(outcome))
    print(f"  (demo total {time.perf_counter() - t:.1f} s)")
    return 0


# --- batch ---------------------------------------------------------------------------------
@dataclass
class BatchArgs:
    """Run many scenes into one dataset: resumable, in parallel (processes or Ray), with
    failures recorded in OUT/failures.jsonl and a quality gate (OUT/quarantine.jsonl)."""

    scenes: _Pos[tuple[Path, ...]]
    """Scene folders, folders holding scene folders, or text files listing them."""
    out: Path
    """The dataset root; each scene goes to OUT/<scene_id>/."""
    config: Path | None = None
    """A YAML file of run settings (fit, orbit, normalize, output); flags override it."""
    batch: Annotated[BatchConfig, tyro.conf.arg(name="")] = field(default_factory=BatchConfig)
    cfg: Annotated[RunConfig, tyro.conf.arg(name="")] = field(default_factory=RunConfig)


def cmd_batch(argv: Sequence[str]) -> int:
    base = _config_default(argv)
    a = _parse(BatchArgs, argv, "batch",
               default=BatchArgs(scenes=tyro.MISSING, out=tyro.MISSING, cfg=base))
    from .batch import batch_main

    return batch_main(list(a.scenes), a.out, a.cfg, a.batch)


# --- render / eval ---------------------------------------------------------------------------
@dataclass
class RenderArgs:
    """Render a fitted scene at any cameras given in the INPUT scene's world frame."""

    scene_dir: _Pos[Path]
    """A finished scene folder OUT/<scene_id>/ (holds gaussians.ply and report.json)."""
    cameras: Path
    """A cameras JSON (opencv_cameras.json or cameras.json layout) in the input world frame."""
    out: Path
    """Folder for the RGBA PNGs and a copy of the cameras."""
    depth: bool = False
    """Also write expected-depth maps."""


def cmd_render(argv: Sequence[str]) -> int:
    a = _parse(RenderArgs, argv, "render")
    from .pipeline import render_fitted

    n = render_fitted(a.scene_dir, a.cameras, a.out, depth=a.depth)
    print(printable(f"rendered {n} views to {a.out}"))
    return 0


@dataclass
class EvalArgs:
    """Render a fitted scene at a ground-truth folder's cameras and score against its images."""

    scene_dir: _Pos[Path]
    """A finished scene folder OUT/<scene_id>/."""
    gt: Path
    """Ground-truth folder: opencv_cameras.json + images (input world frame)."""
    out: Path | None = None
    """Where to write the scores JSON (default: <scene_dir>/eval_<gt folder name>.json)."""


def cmd_eval(argv: Sequence[str]) -> int:
    a = _parse(EvalArgs, argv, "eval")
    from .pipeline import evaluate_fitted

    scores, path = evaluate_fitted(a.scene_dir, a.gt, a.out)
    print(printable(format_scores(scores)))
    unscored = [v.view for v in scores.per_view if v.scores.iou != v.scores.iou]
    if unscored and len(unscored) < len(scores.per_view):
        print(printable(f"note: {len(unscored)} ground-truth image(s) without alpha, whose "
                        f"silhouette (IoU, masked PSNR) is not scored: {', '.join(unscored)}"))
    elif unscored:
        print("note: no ground-truth image has alpha: IoU is not scored and masked PSNR is over "
              "the whole frame")
    print(printable(f"scores written to {path}"))
    return 0


# --- printing ------------------------------------------------------------------------------
def format_outcome(o) -> str:
    """Where a scene's outputs went and its headline metrics (a ``SceneOutcome``)."""
    if o.status == "skipped":
        return printable(f"{o.scene_id}: already finished at {o.scene_dir} (use --force to "
                         "redo)")
    m = o.metrics
    tr = m.train_mean
    lines = [f"{o.scene_id}: dataset written to {o.scene_dir}",
             f"  input views   PSNR {tr.psnr:.2f} dB, masked {tr.psnr_masked:.2f} dB, "
             f"SSIM {tr.ssim:.3f}, IoU {tr.iou:.3f}"]
    if o.check is not None:
        lines.append(f"  fit check     passed: {o.check.summary()}")
    if o.retried:
        knobs = ", ".join(f"{k}={v:g}" for k, v in o.retry_setting.items())
        lines.append(f"  retried       with a safer setting ({knobs}) after: {o.first_error}")
    if m.holdout is not None:
        h = m.holdout.scores
        lines.append(f"  held-out view PSNR masked {h.psnr_masked:.2f} dB, IoU {h.iou:.3f} "
                     f"({m.holdout.view})")
    if m.ground_truth is not None:
        g = m.ground_truth.mean
        lines.append(f"  ground truth  PSNR {g.psnr:.2f} dB, masked {g.psnr_masked:.2f} dB, "
                     f"SSIM {g.ssim:.3f}, IoU {g.iou:.3f} ({len(m.ground_truth)} novel views)")
    lines.append(f"  time {o.timings.get('total', float('nan')):.1f} s (fit "
                 f"{o.timings.get('fit', float('nan')):.1f} s)")
    if o.contact_sheet:
        lines.append(f"  contact sheet {o.contact_sheet}")
    lines.append(f"  report        {o.scene_dir / 'report.json'}")
    lines += [f"  warning: {w}" for w in o.warnings]
    return printable("\n".join(lines))


def format_scores(scores) -> str:
    """A small table of per-view and mean scores (a ``ScoreSet``)."""
    lines = [f"{'view':<28} {'PSNR':>7} {'masked':>7} {'SSIM':>6} {'IoU':>6}"]
    rows = [(v.view, v.scores) for v in scores.per_view] + [("mean", scores.mean)]
    for name, s in rows:
        lines.append(f"{str(name)[:28]:<28} {s.psnr:7.2f} {s.psnr_masked:7.2f} {s.ssim:6.3f} "
                     f"{s.iou:6.3f}")
    return "\n".join(lines)


# --- ingest --------------------------------------------------------------------------------
@dataclass
class IngestArgs:
    """Turn a recording (synchronized videos + calibration [+ mask videos, keypoint tracks])
    into one scene folder per frame: OUT/<recording>_f<frame, 6 digits>/, OUT/scenes.txt (the
    good scenes, for `splatsynth batch`) and OUT/ingest.jsonl (each skipped frame and why).
    Re-running resumes. See docs/ingest.md."""

    format: _Pos[Literal["markerless", "dannce", "manifest"]]
    """markerless (videos_undist/, simpleclick_undist/, new_cam.pkl, keypoints2d_undist/),
    dannce (a project: videos/Camera1/0.mp4 ... and its calibration), manifest (a YAML file
    naming each camera's video, calibration, mask and track)."""
    src: _Pos[Path]
    """The recording folder (markerless, dannce) or the manifest YAML file."""
    out: Path
    """The scenes folder."""
    name: str | None = None
    """The recording's name in scene ids (default: the folder's or manifest's name)."""
    cfg: Annotated[IngestConfig, tyro.conf.arg(name="")] = field(default_factory=IngestConfig)


def cmd_ingest(argv: Sequence[str]) -> int:
    a = _parse(IngestArgs, argv, "ingest")
    from .ingest import ingest

    print(ingest(a.format, a.src, a.out, a.cfg, name=a.name))
    return 0


# --- mix -----------------------------------------------------------------------------------
@dataclass
class MixArgs:
    """Check a weighted multi-dataset training mix (YAML) for the GS-LRM training feed:
    validate every listed scene and print per-dataset counts and the effective mix."""

    config: _Pos[Path]
    """The mix YAML: top-level datasets (name, path, weight), num_views, num_input_views."""


def cmd_mix(argv: Sequence[str]) -> int:
    a = _parse(MixArgs, argv, "mix")
    from .training import check_mix

    print(printable(check_mix(a.config)))
    return 0


@dataclass
class WarmupArgs:
    """Compile the CPU kernels once into the kernel cache (NUMBA_CACHE_DIR, by default
    ~/.cache/splatsynth/numba), so no scene and no batch worker compiles them; `make install`
    runs it."""


def cmd_warmup(argv: Sequence[str]) -> int:
    _parse(WarmupArgs, argv, "warmup")
    from .warmup import warm_up

    print(warm_up())
    return 0


COMMANDS: dict[str, tuple[Callable[[Sequence[str]], int], str]] = {
    "demo": (cmd_demo, "the main job on the built-in demo scene"),
    "check": (cmd_check, "validate a scene folder"),
    "import": (cmd_import, "convert nerf / colmap / dannce calibrations into a scene folder"),
    "run": (cmd_run, "fit one scene and write its dataset folder"),
    "batch": (cmd_batch, "run many scenes into one dataset (resumable, parallel, Ray)"),
    "render": (cmd_render, "render a fitted scene at given cameras"),
    "eval": (cmd_eval, "score a fitted scene against ground-truth views"),
    "orbit": (cmd_orbit, "write orbit cameras as opencv_cameras.json"),
    "mix": (cmd_mix, "check a training mix of datasets"),
    "ingest": (cmd_ingest, "recordings (videos + calibration) -> scene folders"),
    "warmup": (cmd_warmup, "compile the CPU kernels once (make install runs it)"),
}


def _usage() -> str:
    from . import __version__

    lines = [f"splatsynth {__version__}: sparse calibrated views -> a dense multi-view dataset",
             "", "usage: splatsynth COMMAND [options]   (splatsynth COMMAND --help for details)",
             "", "commands:"]
    lines += [f"  {name:<8} {desc}" for name, (_, desc) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``splatsynth`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0 if argv else 2
    if argv[0] == "--version":
        from . import __version__

        print(__version__)
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"splatsynth: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    try:
        return COMMANDS[name][0](rest)
    except SplatsynthError as e:
        print(printable(f"splatsynth {name}: error: {e}"), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"splatsynth {name}: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print(f"splatsynth {name}: error: out of memory", file=sys.stderr)
        return 1
    except OSError as e:
        if isinstance(e, BrokenPipeError):  # output piped into `head` and the like
            return 0
        # The environment failed under us (disk full, a folder gone, permissions changed):
        # the OS's message names the file.
        print(printable(f"splatsynth {name}: error: {e}"), file=sys.stderr)
        return 1


def _entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    _entry()
