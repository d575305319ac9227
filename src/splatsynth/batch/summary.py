"""The batch's records under OUT: failures.jsonl, quarantine.jsonl, summary.json, summary.html.

Only the batch's parent process writes these, each file replaced atomically as a whole, so a
kill at any moment leaves the previous or the next version, never a torn line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..fileio import atomic_write_json, atomic_write_text
from ..report.html import batch_summary_html

FAILURES_FILE = "failures.jsonl"
QUARANTINE_FILE = "quarantine.jsonl"
SUMMARY_JSON = "summary.json"
SUMMARY_HTML = "summary.html"


@dataclass
class BatchSummary:
    """What a batch did.

    Counts refer to this run's input scenes: ``done`` were fitted now, ``skipped`` were
    already finished, ``failed`` are in ``failures.jsonl``; ``quarantined`` counts this run's
    finished scenes that the quality gate kept out of the lists; ``retried`` the scenes fitted
    a second time with the safer setting (whether or not that worked).
    """

    out: Path
    scenes: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    quarantined: int = 0
    retried: int = 0
    elapsed: float = 0.0
    rows: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    quarantine: list[dict] = field(default_factory=list)
    lists: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no scene of this run failed."""
        return self.failed == 0

    @property
    def exit_code(self) -> int:
        """The CLI's exit status: 0 when nothing failed, 1 otherwise."""
        return 0 if self.ok else 1

    def counts(self) -> dict[str, int]:
        return {"scenes": self.scenes, "done": self.done, "skipped": self.skipped,
                "failed": self.failed, "quarantined": self.quarantined,
                "retried": self.retried}

    def format(self) -> str:
        """A few lines for the terminal."""
        c = self.counts()
        head = ", ".join(f"{v} {k}" for k, v in c.items())
        lines = [f"batch: {head} in {self.elapsed:.0f} s",
                 f"  lists    {self.lists.get('train', 0)} train, {self.lists.get('val', 0)} val "
                 f"({self.out / 'data_gslrm_train.txt'})",
                 f"  summary  {self.out / SUMMARY_HTML}"]
        if self.failed:
            lines.append(f"  failures {self.out / FAILURES_FILE}")
        if self.quarantine:
            lines.append(f"  quarantine {self.out / QUARANTINE_FILE}")
        return "\n".join(lines)


def _f(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def scene_row(scene_id: str, report: Mapping[str, Any], *, status: str, gate: str,
              retried: bool = False) -> dict:
    """One flat row of the summary table from a scene's ``report.json``.

    Args:
        scene_id: the scene.
        report: its report.
        status: ``done`` (fitted in this run), ``skipped`` (finished before) or ``earlier``
            (finished under OUT but not among this run's inputs).
        gate: ``pass``, ``quarantined`` or ``off``.
        retried: whether it needed the safer retry.
    """
    m = report.get("metrics") or {}
    tr, ho = m.get("train") or {}, m.get("holdout") or {}
    gt = ((m.get("ground_truth") or {}).get("mean")) or {}
    t = report.get("timings") or {}
    row: dict[str, Any] = {"scene_id": scene_id, "status": status, "gate": gate,
                           "retried": retried,
                           "holdout_psnr_masked": _f(ho.get("psnr_masked")),
                           "holdout_iou": _f(ho.get("iou")),
                           "train_psnr_masked": _f(tr.get("psnr_masked")),
                           "train_ssim": _f(tr.get("ssim")),
                           "train_iou": _f(tr.get("iou"))}
    if gt:
        row["gt_psnr_masked"] = _f(gt.get("psnr_masked"))
        row["gt_iou"] = _f(gt.get("iou"))
    row["fit_s"] = _f(t.get("fit"))
    row["total_s"] = _f(t.get("total"))
    return row


def write_summary(out: Path, summary: BatchSummary, *, config: Mapping[str, Any],
                  html: bool = True) -> None:
    """Write ``summary.json`` (and ``summary.html`` when ``html``) under ``out``."""
    doc = {"created": datetime.now(UTC).isoformat(timespec="seconds"),
           "out": str(out), "counts": summary.counts(), "elapsed_s": summary.elapsed,
           "lists": summary.lists, "config": dict(config), "rows": summary.rows,
           "failures": summary.failures, "quarantine": summary.quarantine}
    atomic_write_json(out / SUMMARY_JSON, doc)
    if html:
        thumbs = {r["scene_id"]: f"{r['scene_id']}/contact_sheet.png" for r in summary.rows
                  if (out / r["scene_id"] / "contact_sheet.png").is_file()}
        fails = [{"scene_id": f.get("scene_id"), "reason": f.get("reason"),
                  "stage": f.get("stage"), "retried": f.get("retried"),
                  "error": f.get("error"), "scene": f.get("scene"), "time": f.get("time")}
                 for f in summary.failures]
        page = batch_summary_html(summary.rows, fails, summary.quarantine, thumbnails=thumbs,
                                  title=f"splatsynth batch summary: {out.name}")
        atomic_write_text(out / SUMMARY_HTML, page)


def previous_retries(out: Path) -> set[str]:
    """Scene ids an earlier run recorded as retried (carried into this run's summary)."""
    try:
        doc = json.loads((out / SUMMARY_JSON).read_text())
        return {r["scene_id"] for r in doc.get("rows", []) if r.get("retried")}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return set()


def sort_rows(rows: Sequence[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: str(r.get("scene_id")))
