"""The training views as tensors, at full resolution or area-downsampled for coarse steps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..scene_io.scene import Scene


def crop_box(mask: np.ndarray | None, margin: int, w: int, h: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the mask's foreground plus ``margin``, or the whole frame."""
    if mask is None or not (mask > 0.5).any():
        return 0, 0, w, h
    ys, xs = np.nonzero(mask > 0.5)
    x0, x1 = max(int(xs.min()) - margin, 0), min(int(xs.max()) + 1 + margin, w)
    y0, y1 = max(int(ys.min()) - margin, 0), min(int(ys.max()) + 1 + margin, h)
    # SSIM needs an 11x11 window inside the crop.
    if x1 - x0 < 16:
        x0, x1 = max(0, min(x0, w - 16)), min(w, max(x1, 16))
    if y1 - y0 < 16:
        y0, y1 = max(0, min(y0, h - 16)), min(h, max(y1, 16))
    return x0, y0, x1, y1


@dataclass
class ViewTensors:
    """Training tensors of every view at one resolution."""

    images: list[torch.Tensor]  # [H, W, 3]
    masks: list[torch.Tensor | None]  # [H, W]
    Ks: list[torch.Tensor]  # [3, 3]
    boxes: list[tuple[int, int, int, int]]  # colour-loss crop (x0, y0, x1, y1)
    sizes: list[tuple[int, int]]  # (width, height)


def view_tensors(scene: Scene, margin: int, factor: int) -> ViewTensors:
    """The views' images, masks, intrinsics and crops, area-downsampled by ``factor``."""
    out = ViewTensors([], [], [], [], [])
    for v in scene.views:
        w, h = max(v.camera.w // factor, 16), max(v.camera.h // factor, 16)
        img = torch.as_tensor(v.image, dtype=torch.float32)
        mask = None if v.mask is None else torch.as_tensor(v.mask, dtype=torch.float32)
        K = torch.as_tensor(v.camera.K, dtype=torch.float32).clone()
        if (w, h) != (v.camera.w, v.camera.h):
            # Pixel-corner origin: scaling the whole first two rows of K maps the image
            # rectangle onto the smaller one exactly.
            K[0] *= w / v.camera.w
            K[1] *= h / v.camera.h
            img = area_resize(img, w, h)
            mask = None if mask is None else area_resize(mask[..., None], w, h)[..., 0]
        out.images.append(img)
        out.masks.append(mask)
        out.Ks.append(K)
        out.boxes.append(crop_box(None if mask is None else mask.numpy(), max(margin // factor, 4),
                               w, h))
        out.sizes.append((w, h))
    return out


def area_resize(img: torch.Tensor, w: int, h: int) -> torch.Tensor:
    """[H, W, C] -> [h, w, C] by area averaging (the box filter a coarser sensor applies)."""
    x = torch.nn.functional.interpolate(img.permute(2, 0, 1)[None], size=(h, w), mode="area")
    return x[0].permute(1, 2, 0).contiguous()
