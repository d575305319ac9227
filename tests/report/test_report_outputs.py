"""report.json schema, contact sheets, turntables and the batch HTML page."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import numpy as np
import pytest
from PIL import Image

from splatsynth.cameras import orbit_cameras
from splatsynth.report import (
    SCHEMA_VERSION,
    batch_summary_html,
    build_report,
    contact_sheet,
    read_report,
    save_png,
    write_report,
    write_turntable,
)
from splatsynth.report.contact_sheet import LABEL_WIDTH


def _blob(h, w, hue, rgba=True):
    """A soft disc of colour ``hue`` on transparency, [h, w, 4] float."""
    yy, xx = np.mgrid[:h, :w]
    r = np.hypot((yy - h / 2) / (h / 2), (xx - w / 2) / (w / 2))
    a = np.clip(1.5 - 1.5 * r, 0, 1)
    rgb = np.broadcast_to(np.array(hue, np.float32), (h, w, 3))
    return np.concatenate([rgb, a[..., None]], -1) if rgba else rgb * a[..., None]


def test_contact_sheet_layout_and_content(tmp_path):
    rows = [("inputs", [_blob(120, 90, (1, 0, 0)) for _ in range(3)]),
            ("re-renders", [_blob(64, 64, (0, 1, 0), rgba=False) for _ in range(3)]),
            ("orbit", [_blob(64, 64, (0, 0, 1)) for _ in range(5)]),
            ("ground truth", [None, np.linspace(0, 1, 64 * 32).reshape(32, 64)])]
    sheet = contact_sheet(rows, tile=96, captions=[["30.1 dB"]])
    assert sheet.shape == (4 * 96, LABEL_WIDTH + 5 * 96, 3) and sheet.dtype == np.uint8
    no_labels = contact_sheet(rows, tile=64, labels=False)
    assert no_labels.shape == (4 * 64, 5 * 64, 3)

    def tile(r, c):
        return sheet[r * 96:(r + 1) * 96, LABEL_WIDTH + c * 96:LABEL_WIDTH + (c + 1) * 96]

    # Tile centres show their image's colour; a portrait image keeps its aspect (sides empty).
    assert tuple(tile(0, 1)[48, 48]) == (255, 0, 0)
    assert tile(1, 2)[48, 48, 1] == 255 and tile(1, 2)[48, 48, 0] == 0
    assert tuple(tile(2, 4)[48, 48]) == (0, 0, 255)
    assert tuple(tile(0, 1)[48, 5]) == (40, 40, 40)  # outside the 90/120-wide fitted image
    # RGBA corners are composited on the checkerboard (light greys), not black.
    assert tile(2, 0)[4, 10].min() >= 200
    assert tuple(tile(3, 0)[48, 48]) == (40, 40, 40)  # None leaves a gap
    assert np.all(tile(1, 4) == 40)  # short rows leave empty slots
    # Labels are drawn: the label column is not plain background.
    assert (sheet[:96, :LABEL_WIDTH] != 40).any()
    p = save_png(tmp_path / "contact_sheet.png", sheet)
    np.testing.assert_array_equal(np.asarray(Image.open(p)), sheet)


def test_contact_sheet_rejects_bad_images():
    with pytest.raises(ValueError, match="contact sheet images"):
        contact_sheet([("x", [np.zeros((4, 4, 2))])])


@pytest.mark.parametrize("prefer", ["mp4", "gif"])
def test_turntable(tmp_path, prefer):
    frames = np.stack([_blob(47, 64, (t / 8, 0.2, 1 - t / 8)) for t in range(8)])
    p = write_turntable(tmp_path / "turntable", frames, fps=10, prefer=prefer)
    assert p.parent == tmp_path and p.stem == "turntable" and p.stat().st_size > 0
    if prefer == "gif":
        assert p.suffix == ".gif"
        im = Image.open(p)
        assert im.n_frames == 8 and im.size == (64, 48)  # height padded to even
    else:
        import imageio.v2 as imageio

        assert p.suffix in (".mp4", ".gif")
        if p.suffix == ".mp4":
            with imageio.get_reader(p, format="FFMPEG") as r:
                got = [f for f in r]
            assert len(got) == 8 and got[0].shape == (48, 64, 3)
    assert sorted(q.name for q in tmp_path.iterdir()) == [p.name]  # no temp left


def test_report_roundtrip(tmp_path):
    cams = orbit_cameras(views=2, size=32)
    rep = build_report("m1", metrics={"psnr": 31.5, "ssim": np.float32(0.91), "iou": float("nan")},
                       timings={"fit": 12.0}, config={"fit.method": "3dgs"},
                       normalization={"scale": 0.01, "translation": np.zeros(3)},
                       refined_cameras=cams, pose_deltas=[{"rotation_deg": 0.1}],
                       created=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))
    write_report(tmp_path, rep)
    back = read_report(tmp_path)
    assert back["schema_version"] == SCHEMA_VERSION and back["scene_id"] == "m1"
    assert back["created"] == "2025-01-02T03:04:05+00:00"
    assert back["metrics"] == {"psnr": 31.5, "ssim": pytest.approx(0.91), "iou": None}
    assert back["normalization"]["translation"] == [0.0, 0.0, 0.0]
    assert back["cameras"]["refined"][1]["w2c"] == cams[1].w2c.tolist()
    assert set(back["versions"]) >= {"python", "splatsynth", "torch", "numpy", "numba",
                                     "platform"}
    assert back["versions"]["splatsynth"] is not None
    assert "NaN" not in (tmp_path / "report.json").read_text()
    with pytest.raises(ValueError, match="schema_version"):
        write_report(tmp_path, {"scene_id": "x"})
    json.loads((tmp_path / "report.json").read_text())


def test_batch_html_escapes_user_strings():
    evil = "<script>alert(1)</script>"
    page = batch_summary_html(
        [{"scene_id": evil, "psnr": 30.123456, "ok": True},
         {"scene_id": "plain", "psnr": np.float32(28.123456), "note": 'a"b'}],
        [{"scene_id": "bad&<b>", "error": "SceneError", "message": "line1\n<i>line2</i>"}],
        [{"scene_id": "q1", "reason": "<img src=x onerror=alert(1)>"}],
        thumbnails={evil: 'sheets/"><script>x</script>.png', "plain": "javascript:alert(1)"})
    assert "<script>" not in page and "<img src=x" not in page and "<i>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "bad&amp;&lt;b&gt;" in page and "a&quot;b" in page
    assert 'src="javascript:' not in page and "javascript%3Aalert" in page
    assert "30.12" in page and "28.12<" in page and "1 failed" in page and "1 quarantined" in page
    # Every img src is a relative URL without quotes or angle brackets inside.
    for src in re.findall(r'src="([^"]*)"', page):
        assert "<" not in src and ">" not in src and ":" not in src
    assert page.startswith("<!DOCTYPE html>") and "http" not in page  # self-contained


def test_batch_html_empty_sections():
    page = batch_summary_html([], [], [], thumbnails={})
    assert page.count("<p>none</p>") == 3
