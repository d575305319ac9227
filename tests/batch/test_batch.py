"""End to end: a batch of tiny scenes with one broken and one forced to diverge; re-runs with a
quality gate and after fixing the broken scene; the safer retry."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from splatsynth.batch import BatchConfig, batch_main, discover_scenes, run_batch
from splatsynth.config import RunConfig

from .conftest import break_scene, copy_scene, tiny_config

GOOD = ("good0", "good1")


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _listed(out: Path) -> set[str]:
    names = set()
    for f in ("data_gslrm_train.txt", "data_gslrm_val.txt"):
        for line in (out / f).read_text().splitlines():
            assert Path(line).is_absolute() and Path(line).parent == out.resolve()
            names.add(Path(line).name)
    return names


def _diverging(cfg: RunConfig) -> RunConfig:
    # A real divergence, no mock: steps this large fling the Gaussians out of the scene.
    return replace(cfg, fit=replace(cfg.fit, lr_position=1e6))


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, base_scenes):
    """Run 4 scenes with 2 worker processes: 2 good, 1 missing an image, 1 diverging."""
    root = tmp_path_factory.mktemp("batch")
    # '<b>' in the folder name: user data that the HTML summary must escape
    scenes_dir = root / "lab<b>"
    scenes_dir.mkdir()
    copy_scene(base_scenes[0], scenes_dir / "good0")
    copy_scene(base_scenes[1], scenes_dir / "good1")
    break_scene(copy_scene(base_scenes[0], scenes_dir / "broken"))
    copy_scene(base_scenes[0], scenes_dir / "wild")
    out = root / "out"
    cfg = tiny_config()
    scenes = discover_scenes([scenes_dir])
    summary = run_batch(scenes, out, cfg, BatchConfig(workers=2, progress=False),
                        per_scene={"wild": _diverging(cfg)})
    return root, scenes_dir, scenes, out, cfg, summary


def test_good_scenes_done_bad_ones_recorded(first_run) -> None:
    _, scenes_dir, scenes, out, _, s = first_run
    assert [p.name for p in scenes] == ["broken", "good0", "good1", "wild"]
    assert (s.done, s.skipped, s.failed, s.retried) == (2, 0, 2, 1), s.failures
    assert s.exit_code == 1
    for sid in GOOD:
        assert (out / sid / "report.json").is_file()
        assert len(list((out / sid / "images").glob("cam_*.png"))) == 4
    # Failed scenes leave nothing visible under OUT; no temporary folders remain.
    visible = {p.name for p in out.iterdir() if not p.name.startswith(".")}
    assert visible == {*GOOD, "data_gslrm_train.txt", "data_gslrm_val.txt", "failures.jsonl",
                       "quarantine.jsonl", "summary.json", "summary.html"}
    assert not [p for p in out.iterdir() if p.name.startswith((".tmp-", ".old-"))]

    fails = {f["scene_id"]: f for f in _jsonl(out / "failures.jsonl")}
    assert set(fails) == {"broken", "wild"}
    b = fails["broken"]
    assert (b["stage"], b["reason"], b["retried"]) == ("validate", "invalid scene", False)
    assert "images/view_000.png: missing image" in b["error"]
    assert b["scene"] == str((scenes_dir / "broken").resolve())
    w = fails["wild"]
    assert (w["stage"], w["reason"], w["retried"]) == ("fit", "diverged", True)
    assert "diverged" in w["error"] and "diverged" in w["first_error"]
    assert w["retry_setting"] == {"fit.lr_position": 5e5, "fit.lr_scaling": 2.5e-3,
                                  "fit.seed": 1}
    for f in fails.values():
        assert set(f) >= {"scene", "scene_id", "stage", "error", "reason", "retried", "time"}
        # 2 workers on this machine's cores: each pinned to cores // 2 threads
        k = BatchConfig(workers=2).threads_per_scene()
        assert f["threads"] == {"numba": k, "torch": k}
        assert f["pid"] != os.getpid()


def test_lists_and_summary(first_run) -> None:
    _, _, _, out, _, s = first_run
    assert _listed(out) == set(GOOD)
    assert (out / "quarantine.jsonl").read_text() == ""  # no gate configured
    doc = json.loads((out / "summary.json").read_text())
    assert doc["counts"] == {"scenes": 4, "done": 2, "skipped": 0, "failed": 2,
                             "quarantined": 0, "retried": 1}
    rows = {r["scene_id"]: r for r in doc["rows"]}
    assert set(rows) == set(GOOD)
    for sid in GOOD:
        rep = json.loads((out / sid / "report.json").read_text())
        assert rows[sid]["holdout_psnr_masked"] == pytest.approx(
            rep["metrics"]["holdout"]["psnr_masked"])
        assert rows[sid]["status"] == "done" and rows[sid]["gate"] == "off"
    assert {f["scene_id"] for f in doc["failures"]} == {"broken", "wild"}
    assert doc["config"]["run"]["fit"]["iterations"] == 30
    assert doc["lists"]["train"] + doc["lists"]["val"] == 2

    page = (out / "summary.html").read_text()
    for sid in GOOD:
        assert f'src="{sid}/contact_sheet.png"' in page
        assert (out / sid / "contact_sheet.png").is_file()
    assert "diverged" in page and "missing image" in page
    assert "lab&lt;b&gt;" in page and "lab<b>" not in page
    assert "2 finished" in page and "2 failed" in page


def test_rerun_gate_then_fix(first_run, tmp_path: Path, base_scenes) -> None:
    root, scenes_dir, scenes, out0, cfg, _ = first_run
    out = tmp_path / "out"
    shutil.copytree(out0, out)
    created = {sid: json.loads((out / sid / "report.json").read_text())["created"]
               for sid in GOOD}
    psnr = {sid: json.loads((out / sid / "report.json").read_text())
            ["metrics"]["holdout"]["psnr_masked"] for sid in GOOD}
    lo, hi = sorted(GOOD, key=psnr.get)
    assert psnr[lo] < psnr[hi], "the two rig seeds should score differently"
    gate = BatchConfig(workers=2, progress=False, skip_failed=True,
                       min_holdout_psnr_masked=(psnr[lo] + psnr[hi]) / 2)

    # 1) A stricter gate on a finished batch: nothing is refitted, the weak scene is quarantined.
    s = run_batch(scenes, out, cfg, gate)
    assert (s.done, s.skipped, s.failed, s.quarantined) == (0, 2, 2, 1)
    q = _jsonl(out / "quarantine.jsonl")
    assert [e["scene_id"] for e in q] == [lo]
    assert "held-out psnr_masked" in q[0]["reason"]
    assert q[0]["holdout_psnr_masked"] == pytest.approx(psnr[lo])
    assert _listed(out) == {hi}
    assert (out / lo / "report.json").is_file()  # quarantined, not deleted
    for sid in GOOD:
        assert json.loads((out / sid / "report.json").read_text())["created"] == created[sid]
    rows = {r["scene_id"]: r for r in json.loads((out / "summary.json").read_text())["rows"]}
    assert rows[lo]["gate"] == "quarantined" and rows[hi]["gate"] == "pass"
    assert rows[lo]["status"] == "skipped"
    assert "Quarantine" in (out / "summary.html").read_text()

    # 2) Fix the broken scene and run again in this process: it is done and leaves the failure
    # list; the diverging one fails again, now without a retry.
    img = base_scenes[0] / "images" / "view_000.png"
    shutil.copy(img, scenes_dir / "broken" / "images" / "view_000.png")
    no_retry = replace(_diverging(cfg), check=replace(cfg.check, retry=False))
    s = run_batch(scenes, out, cfg, replace(gate, workers=0, skip_failed=False,
                                            min_holdout_psnr_masked=None),
                  per_scene={"wild": no_retry})
    assert (s.done, s.skipped, s.failed, s.quarantined) == (1, 2, 1, 0)
    fails = _jsonl(out / "failures.jsonl")
    assert [(f["scene_id"], f["retried"]) for f in fails] == [("wild", False)]
    assert _listed(out) == {"broken", *GOOD}  # gate off again: nothing quarantined

    # 3) The CLI entry: everything finished or failed before -> exit status 1 (wild failed).
    assert batch_main([scenes_dir], out, cfg, replace(gate, skip_failed=True,
                                                      min_holdout_psnr_masked=None)) == 1


def test_retry_with_safer_setting_recovers(tmp_path: Path, base_scenes, monkeypatch) -> None:
    """A scene whose fit diverges once is refitted with the safer setting (the pipeline's one
    retry policy) and passes; the batch records the retry."""
    import splatsynth.pipeline.check as check
    from splatsynth.errors import FitDiverged

    real = check.reconstruct
    calls: list[float] = []

    def diverge_once(prepared, cfg, **kw):
        calls.append(cfg.fit.lr_position)
        if len(calls) == 1:
            # the fit's own error on a NaN loss
            raise FitDiverged("scene s: the fit diverged at step 5 (loss is nan)", scene="s",
                              step=5)
        return real(prepared, cfg, **kw)

    monkeypatch.setattr(check, "reconstruct", diverge_once)
    scene = copy_scene(base_scenes[0], tmp_path / "s")
    cfg = tiny_config(holdout=False)
    s = run_batch([scene], tmp_path / "out", cfg, BatchConfig(workers=0, progress=False))
    assert (s.done, s.failed, s.retried) == (1, 0, 1)
    assert calls == [cfg.fit.lr_position, cfg.fit.lr_position * 0.5]
    rep = json.loads((tmp_path / "out" / "s" / "report.json").read_text())
    assert rep["config"]["fit"]["lr_position"] == pytest.approx(cfg.fit.lr_position * 0.5)
    assert rep["config"]["fit"]["seed"] == cfg.fit.seed + 1
    assert rep["retry"]["setting"]["fit.seed"] == cfg.fit.seed + 1
    assert "diverged at step 5" in rep["retry"]["first_error"]
    assert rep["check"]["passed"] is True
    assert s.rows[0]["retried"] is True
    assert (tmp_path / "out" / "failures.jsonl").read_text() == ""
