"""``run_batch``: many scenes through ``run_scene``, resumable and with failures contained.

Resuming rests on one fact: ``OUT/<scene_id>/`` appears atomically and holds ``report.json``
only when complete (``writers.scene_dir_transaction``). So the batch keeps no journal of its
own: at start, finished scenes are skipped and everything else is (re)done; half-written
scene folders are hidden ``.tmp-*`` siblings that are deleted. Killing the batch at any moment
and running the same command again therefore yields the scenes a clean run would.

Work splits in two:

- the *worker* side (worker.py, :func:`~.worker.process_scene`), run in a local process, a
  Ray task or inline, turns one scene into a :class:`~.worker.SceneResult`; workers write only
  their scene folders.
- the *parent* side (:func:`run_batch`): discovers what is left, hands out tasks, and alone
  writes ``failures.jsonl``, ``quarantine.jsonl``, the lists and the summary.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..config import RunConfig, config_to_dict
from ..errors import SplatsynthError, printable
from ..fileio import check_output_path, read_jsonl, write_jsonl
from ..writers.atomic import check_scene_id, clean_stale_temps, is_scene_finished
from ..writers.lists import finished_scene_dirs, update_lists
from .config import BatchConfig
from .discover import check_unique_ids, scene_id_of
from .gate import check_gate_config, gate_reasons, quarantine_entry
from .summary import (
    FAILURES_FILE,
    QUARANTINE_FILE,
    BatchSummary,
    previous_retries,
    scene_row,
    sort_rows,
    write_summary,
)
from .worker import Backend, SceneResult, SceneTask

_LOCK_FILE = ".batch.lock"


def make_backend(cfg: BatchConfig) -> Backend:
    """The backend ``cfg`` asks for: Ray, local processes, or inline (``workers=0``)."""
    if cfg.ray is not None:
        from .ray_backend import RayBackend

        return RayBackend(cfg.ray, threads=cfg.threads_per_scene(), timeout=cfg.scene_timeout)
    from .local import InlineBackend, ProcessBackend

    if cfg.workers == 0:
        return InlineBackend()
    return ProcessBackend(cfg.workers, threads=cfg.threads_per_scene(),
                          timeout=cfg.scene_timeout)


@contextlib.contextmanager
def _batch_lock(out: Path) -> Iterator[None]:
    """One batch per OUT at a time: its cleanup of temporary folders and its rewrite of the
    failure list assume nobody else is writing there (POSIX advisory lock on OUT/.batch.lock,
    released by the OS even on SIGKILL)."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock; do not run two batches on one OUT
        yield
        return
    with open(out / _LOCK_FILE, "a+b") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise SplatsynthError(f"{out}: another batch is running on this folder "
                                  f"({out / _LOCK_FILE} is locked)") from e
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


class _Ledger:
    """The parent's view of OUT: failures, gate verdicts and summary rows, kept current."""

    def __init__(self, out: Path, run_cfg: RunConfig, cfg: BatchConfig,
                 scene_ids: Sequence[str]) -> None:
        self.out, self.run_cfg, self.cfg = out, run_cfg, cfg
        self.mine = set(scene_ids)
        self.failures: dict[str, dict] = {}
        for rec in read_jsonl(out / FAILURES_FILE):
            sid = str(rec.get("scene_id", ""))
            # Keep an old failure only for a scene that is still unfinished; this run's
            # attempt (if the scene is among its inputs) replaces it.
            if sid and not is_scene_finished(out, sid):
                self.failures[sid] = rec
        self.retried = previous_retries(out)
        self.status: dict[str, str] = {}
        self.reports: dict[str, dict] = {}
        self.quarantine: dict[str, dict] = {}
        self.t_html = time.monotonic()

    # failures ---------------------------------------------------------------------------
    def clear_failure(self, sid: str) -> None:
        self.failures.pop(sid, None)

    def add_failure(self, rec: dict) -> None:
        self.failures[rec["scene_id"]] = rec
        self.write_failures()

    def write_failures(self) -> None:
        write_jsonl(self.out / FAILURES_FILE,
                    [self.failures[k] for k in sorted(self.failures)])

    # gate -------------------------------------------------------------------------------
    def judge(self, sid: str) -> list[str]:
        """Read the finished scene's report (cached) and apply the gate."""
        from ..report.schema import read_report

        if sid not in self.reports:
            try:
                self.reports[sid] = read_report(self.out / sid)
            except SplatsynthError as e:
                self.reports[sid] = {}
                reasons = [f"unusable report.json ({e})"]
                self.quarantine[sid] = {"scene_id": sid, "reason": reasons[0]}
                return reasons
        reasons = gate_reasons(self.reports[sid], self.cfg)
        if reasons:
            self.quarantine[sid] = quarantine_entry(sid, self.reports[sid], reasons, self.cfg)
        else:
            self.quarantine.pop(sid, None)
        return reasons

    def refresh_lists(self) -> dict[str, int]:
        split = update_lists(self.out, val_ratio=self.run_cfg.output.val_ratio,
                             include=lambda d: d.name not in self.quarantine)
        return {k: len(v) for k, v in split.items()}

    # summary ----------------------------------------------------------------------------
    def summary(self, elapsed: float, lists: dict[str, int]) -> BatchSummary:
        s = BatchSummary(self.out, scenes=len(self.mine), elapsed=elapsed, lists=lists)
        for sid in self.mine:
            st = self.status.get(sid)
            s.done += st == "done"
            s.skipped += st == "skipped"
        s.failed = sum(1 for sid in self.failures if sid in self.mine)
        s.quarantined = sum(1 for sid in self.quarantine if sid in self.mine)
        s.retried = sum(1 for sid in self.retried if sid in self.mine)
        gate_on = self.cfg.gate_enabled
        for sid, rep in self.reports.items():
            gate = "off" if not gate_on else ("quarantined" if sid in self.quarantine
                                              else "pass")
            s.rows.append(scene_row(sid, rep, status=self.status.get(sid, "earlier"),
                                    gate=gate, retried=sid in self.retried))
        s.rows = sort_rows(s.rows)
        s.failures = [self.failures[k] for k in sorted(self.failures)]
        s.quarantine = [self.quarantine[k] for k in sorted(self.quarantine)]
        return s

    def write_summary(self, s: BatchSummary, *, html: bool) -> None:
        config = {"batch": asdict(self.cfg), "run": config_to_dict(self.run_cfg)}
        write_summary(self.out, s, config=config, html=html)
        write_jsonl(self.out / QUARANTINE_FILE, s.quarantine)


def _status_line(i: int, n: int, r: SceneResult, gate: list[str]) -> str:
    head = f"[{i}/{n}] {r.scene_id}: "
    if r.status == "failed":
        lines = [ln.strip() for ln in r.error.strip().splitlines() if ln.strip()]
        # A SceneError's first line only counts problems; show the first ones too.
        msg = " ".join(lines[:3]) if lines else r.reason
        retry = " (after a safer retry)" if r.retried else ""
        return f"{head}FAILED {r.reason}{retry}: {msg}"
    if r.status == "skipped":
        return f"{head}already finished (by another worker)"
    m = r.metrics
    if m is not None and m.holdout is not None:
        h = m.holdout.scores
        score = f"held-out PSNR masked {_fmt(h.psnr_masked)} dB, IoU {_fmt(h.iou, 3)}"
    elif m is not None:
        t = m.train_mean
        score = f"train PSNR masked {_fmt(t.psnr_masked)} dB, IoU {_fmt(t.iou, 3)}"
    else:
        score = "no scores"
    extra = " (retried with a safer setting)" if r.retried else ""
    verdict = f" -> QUARANTINED: {'; '.join(gate)}" if gate else ""
    return f"{head}done in {r.seconds:.1f} s, {score}{extra}{verdict}"


def _fmt(v: Any, nd: int = 2) -> str:
    try:
        return f"{float(v):.{nd}f}"
    except (TypeError, ValueError):
        return "nan"


def batch_main(inputs: Sequence[str | Path], out: str | Path, run_cfg: RunConfig | None = None,
               batch_cfg: BatchConfig | None = None) -> int:
    """``splatsynth batch``: discover scenes, run them, print the summary; returns the exit
    status (0 all scenes finished, 1 some failed; errors of the batch itself raise
    :class:`SplatsynthError`)."""
    from .discover import discover_scenes

    if not inputs:
        raise SplatsynthError("batch: no scenes given (scene folders, folders of scenes, or "
                              "text files listing them)")
    scenes = discover_scenes(inputs)
    summary = run_batch(scenes, out, run_cfg, batch_cfg)
    print(printable(summary.format()))
    return summary.exit_code


def run_batch(scenes: Sequence[str | Path], out: str | Path, run_cfg: RunConfig | None = None,
              batch_cfg: BatchConfig | None = None, *,
              per_scene: Mapping[str, RunConfig] | None = None,
              log: Callable[[str], None] | None = None) -> BatchSummary:
    """Run every scene not yet finished under ``out``, in parallel, containing failures.

    Args:
        scenes: scene folders (see :func:`splatsynth.batch.discover_scenes` for expanding
            parent folders and list files).
        out: the dataset root OUT.
        run_cfg: how each scene is fitted (defaults when None).
        batch_cfg: parallelism, retries and quality gate (defaults when None).
        per_scene: scene id -> a different :class:`RunConfig` for that scene (Python API only).
        log: where status lines go (default: printed above the progress bar).
    Returns:
        :class:`BatchSummary`; ``summary.exit_code`` is 1 when any scene failed.
    Raises:
        SplatsynthError: bad settings, duplicate scene ids, or OUT is locked by another batch.
            Failures of single scenes are never raised; they go to ``OUT/failures.jsonl``.
    """
    from tqdm import tqdm

    t0 = time.monotonic()
    run_cfg = run_cfg or RunConfig()
    cfg = batch_cfg or BatchConfig()
    check_gate_config(cfg, run_cfg.output.holdout)
    per_scene = dict(per_scene or {})
    for c in per_scene.values():
        check_gate_config(cfg, c.output.holdout)
    scenes = [Path(s).resolve() for s in scenes]
    check_unique_ids(scenes)
    ids = [scene_id_of(s) for s in scenes]
    out = check_output_path(out, what="batch output folder").resolve()
    out.mkdir(parents=True, exist_ok=True)

    with _batch_lock(out):
        # Under the lock no other batch writes here: every .tmp-/.old- folder is debris of a
        # killed run (workers of a killed parent die with it, see local.py).
        clean_stale_temps(out, older_than_s=0.0)
        led = _Ledger(out, run_cfg, cfg, ids)
        tasks: list[SceneTask] = []
        threads = cfg.threads_per_scene()
        counts = {"finished": 0, "failed earlier": 0, "invalid": 0}
        for scene, sid in zip(scenes, ids):
            try:
                check_scene_id(sid)
                check_output_path(out / sid, what="scene output folder")
            except SplatsynthError as e:
                led.status[sid] = "failed"
                counts["invalid"] += 1
                led.failures[sid] = SceneResult(str(scene), sid, "failed", stage="validate",
                                                reason="invalid scene", error=str(e),
                                                exception=type(e).__name__).failure_record()
                continue
            if is_scene_finished(out, sid):
                led.status[sid] = "skipped"
                counts["finished"] += 1
                led.clear_failure(sid)
            elif cfg.skip_failed and sid in led.failures:
                led.status[sid] = "failed"
                counts["failed earlier"] += 1
            else:
                led.clear_failure(sid)
                tasks.append(SceneTask(str(scene), sid, str(out), per_scene.get(sid, run_cfg),
                                       cfg, threads))
        led.write_failures()
        for d in finished_scene_dirs(out):  # the gate covers every scene the lists could hold
            led.judge(d.name)
        lists = led.refresh_lists()

        backend = make_backend(cfg) if tasks else None
        n = len(scenes)
        bar = tqdm(total=n, initial=n - len(tasks), unit="scene", desc="batch",
                   disable=not cfg.progress, dynamic_ncols=True)
        say = log or bar.write
        parts = [f"{counts['finished']} already finished"]
        if counts["failed earlier"]:
            parts.append(f"{counts['failed earlier']} skipped (failed earlier; --skip_failed)")
        if counts["invalid"]:
            parts.append(f"{counts['invalid']} invalid (see {FAILURES_FILE})")
        parts.append(f"{len(tasks)} to run" + (f" on {backend.describe()}" if backend else ""))
        say(printable(f"batch: {n} scene(s): {', '.join(parts)}"))
        done_count = n - len(tasks)
        try:
            if backend is not None:
                for r in backend.run(tasks):
                    done_count += 1
                    led.status[r.scene_id] = r.status
                    if r.retried:
                        led.retried.add(r.scene_id)
                    else:
                        led.retried.discard(r.scene_id)
                    gate: list[str] = []
                    if r.status == "failed":
                        led.add_failure(r.failure_record())
                    else:
                        led.clear_failure(r.scene_id)
                        led.reports.pop(r.scene_id, None)
                        gate = led.judge(r.scene_id)
                        lists = led.refresh_lists()
                    say(printable(_status_line(done_count, n, r, gate)))
                    bar.update(1)
                    html = time.monotonic() - led.t_html > cfg.summary_every
                    if html:
                        led.t_html = time.monotonic()
                    led.write_summary(led.summary(time.monotonic() - t0, lists), html=html)
            # Every task has reported: a .tmp-/.old- folder now is debris of an attempt that
            # died mid-write (a lost Ray node, a killed worker) and was run again; its scene is
            # finished or recorded as failed. Leave OUT as a clean run would.
            clean_stale_temps(out, older_than_s=0.0)
        finally:
            bar.close()
            # Also on Ctrl-C: leave lists and summary consistent with what is on disk.
            led.write_failures()
            lists = led.refresh_lists()
            summary = led.summary(time.monotonic() - t0, lists)
            led.write_summary(summary, html=True)
    return summary
