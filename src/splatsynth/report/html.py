"""The batch summary: one self-contained HTML page (inline CSS, no scripts, no network).

Every string that comes from data (scene ids, file names, error messages, metric values) goes
through :func:`html.escape`; thumbnail paths are also percent-encoded so that a file name can
neither leave its attribute nor become a ``javascript:`` URL.
"""

from __future__ import annotations

import html
import math
import urllib.parse
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fafafa; }
img.thumb { max-height: 120px; display: block; }
pre { margin: 0; white-space: pre-wrap; max-width: 60em; }
.summary span { margin-right: 1.5em; }
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _fmt(v: Any) -> str:
    """A table cell's text (escaped); floats get 4 significant digits."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4g}"
    if isinstance(v, Mapping | list | tuple):
        return _e(", ".join(f"{k}={_plain(x)}" for k, x in v.items()) if isinstance(v, Mapping)
                  else ", ".join(_plain(x) for x in v))
    return _e(v)


def _plain(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _url(path: str) -> str:
    """A relative URL for ``path``: percent-encoded (":" included) and attribute-escaped."""
    return _e(urllib.parse.quote(str(path).replace("\\", "/"), safe="/"))


def _columns(rows: Sequence[Mapping[str, Any]], first: Sequence[str]) -> list[str]:
    cols = [c for c in first if any(c in r for r in rows)]
    for r in rows:
        cols += [k for k in r if k not in cols]
    return cols


def _table(rows: Sequence[Mapping[str, Any]], first: Sequence[str],
           thumbnails: Mapping[str, str] | None = None) -> str:
    if not rows:
        return "<p>none</p>"
    cols = _columns(rows, first)
    head = "".join(f"<th>{_e(c)}</th>" for c in (["thumbnail"] if thumbnails else []) + cols)
    body = []
    for r in rows:
        cells = []
        if thumbnails:
            src = thumbnails.get(str(r.get("scene_id", "")))
            cells.append(f'<td><a href="{_url(src)}"><img class="thumb" src="{_url(src)}" '
                         f'alt="{_e(r.get("scene_id", ""))}"></a></td>' if src else "<td></td>")
        for c in cols:
            v = r.get(c)
            if isinstance(v, np.generic):  # numpy scalars format like Python numbers
                v = v.item()
            cls = ' class="num"' if isinstance(v, int | float) and not isinstance(v, bool) else ""
            text = _fmt(v)
            if isinstance(v, str) and "\n" in v:
                text = f"<pre>{text}</pre>"
            cells.append(f"<td{cls}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body)
            + "\n</tbody></table>")


def batch_summary_html(rows: Sequence[Mapping[str, Any]], failures: Sequence[Mapping[str, Any]],
                       quarantine: Sequence[Mapping[str, Any]], *,
                       thumbnails: Mapping[str, str] | None = None,
                       title: str = "splatsynth batch summary",
                       created: datetime | None = None) -> str:
    """Render a batch's results as one HTML page.

    Args:
        rows: one dict per finished scene, ``scene_id`` first, then flat metrics (e.g.
            ``{"scene_id", "psnr", "ssim", "iou", "fit_s"}``); columns are the union of keys.
        failures: dicts like ``{"scene_id", "error", "message"}`` for scenes that failed.
        quarantine: dicts like ``{"scene_id", "reason", ...}`` for scenes the quality gate
            kept out of the lists.
        thumbnails: scene id -> relative path of its contact sheet (from the HTML file).
        title: page title.
        created: timestamp shown on the page; default now (UTC).
    Returns:
        The HTML document.
    """
    created = created or datetime.now(UTC)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="summary"><span>{len(rows)} finished</span>'
        f"<span>{len(failures)} failed</span><span>{len(quarantine)} quarantined</span>"
        f"<span>created {_e(created.isoformat(timespec='seconds'))}</span></p>",
        "<h2>Scenes</h2>", _table(rows, ["scene_id"], thumbnails or {}),
        "<h2>Failures</h2>", _table(failures, ["scene_id", "error", "message"]),
        "<h2>Quarantine</h2>", _table(quarantine, ["scene_id", "reason"]),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
