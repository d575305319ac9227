import math

import numpy as np
import pytest

from splatsynth.metrics import masked_psnr, psnr, score_view, silhouette_iou, ssim_value


def test_psnr_of_known_error():
    a = np.zeros((4, 4, 3))
    b = np.full((4, 4, 3), 0.1)
    assert psnr(a, b) == pytest.approx(20.0)  # mse 0.01 -> 20 dB
    assert psnr(a, a) == math.inf


def test_masked_psnr_only_counts_mask():
    a = np.zeros((4, 4, 3))
    b = a.copy()
    b[0, 0] = 1.0
    m = np.zeros((4, 4), bool)
    m[2:, 2:] = True
    assert masked_psnr(a, b, m) == math.inf
    m[0, 0] = True  # 1 wrong pixel of 5, error 1 in all channels -> mse 0.2
    assert masked_psnr(a, b, m) == pytest.approx(-10 * math.log10(0.2))
    assert math.isnan(masked_psnr(a, b, np.zeros((4, 4), bool)))


def test_iou():
    a = np.zeros((4, 4))
    b = np.zeros((4, 4))
    a[:2] = 1
    b[1:3] = 1
    assert silhouette_iou(a, b) == pytest.approx(4 / 12)
    assert silhouette_iou(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0


def test_ssim_identity_and_degradation():
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:32, 0:32] / 32.0
    img = np.stack([x, y, 0.5 + 0.4 * np.sin(6 * x)], -1).astype(np.float32)
    assert ssim_value(img, img) == pytest.approx(1.0, abs=1e-5)
    noisy = [np.clip(img + rng.normal(0, s, img.shape), 0, 1).astype(np.float32)
             for s in (0.05, 0.2)]
    assert ssim_value(noisy[0], img) < 0.9
    assert ssim_value(noisy[1], img) < ssim_value(noisy[0], img)


def test_score_view_composites_reference_over_background():
    gt = np.zeros((8, 8, 3), np.float32)  # black subject colour everywhere...
    mask = np.zeros((8, 8), np.float32)
    mask[2:6, 2:6] = 1  # ...but only a 4x4 subject
    render = np.ones((8, 8, 3), np.float32)
    render[2:6, 2:6] = 0
    s = score_view(render, mask, gt, mask, background=(1, 1, 1))
    assert s.psnr == math.inf and s.psnr_masked == math.inf and s.iou == 1.0
