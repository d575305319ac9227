"""Input checks shared by :func:`~splatsynth.render.rasterize` and
:func:`~splatsynth.render.rasterize_surfels`: one message style, ``"<function>: <what>"``."""

from __future__ import annotations

import torch


def check_inputs(fn: str, means, quats, scales, opacities, colors, viewmats, Ks, width, height,
                 sh_degree, backgrounds, near_plane, far_plane, *, eps2d: float | None = None,
                 scale_cols: int, options: dict[str, tuple[object, tuple]]) -> torch.Tensor:
    """Raise ``ValueError("<fn>: ...")`` on a wrong type, dtype, device, shape, value or option.

    Args:
        fn: the public function's name, the prefix of every message.
        means .. far_plane, eps2d: as :func:`splatsynth.render.rasterize` takes them (eps2d
            None: no low-pass option to check).
        scale_cols: 3 for Gaussians ([N, 3] scales); 2 for surfels, whose scales may be [N, 2]
            or [N, 3] (the third column is ignored, so it is not checked either).
        options: name -> (value, allowed values), e.g. ``{"backend": (backend, BACKENDS)}``.
    Returns:
        [N, scale_cols] the scales that are used (contiguous).
    """

    def need(cond: bool, msg: str) -> None:
        if not cond:
            raise ValueError(f"{fn}: {msg}")

    tensors = dict(means=means, quats=quats, scales=scales, opacities=opacities, colors=colors,
                   viewmats=viewmats, Ks=Ks)
    if backgrounds is not None:
        tensors["backgrounds"] = backgrounds
    for name, t in tensors.items():
        need(isinstance(t, torch.Tensor), f"{name} must be a torch.Tensor, got {type(t).__name__}")
    need(means.dtype in (torch.float32, torch.float64),
         f"means must be float32 or float64, got {means.dtype}")
    for name, t in tensors.items():
        need(t.dtype in (torch.float32, torch.float64),
             f"{name} must be float32 or float64, got {t.dtype}")
    for name in ("quats", "scales", "opacities", "colors"):
        dt = tensors[name].dtype
        need(dt == means.dtype, f"{name} is {dt} but means is {means.dtype}; use one dtype")
    for name, t in tensors.items():
        need(t.device == means.device, f"{name} is on {t.device} but means is on {means.device}")
    need(means.dim() == 2 and means.shape[1] == 3, f"means must be [N, 3], got {list(means.shape)}")
    N = means.shape[0]
    need(quats.shape == (N, 4), f"quats must be [N, 4] = [{N}, 4], got {list(quats.shape)}")
    if scale_cols == 3:
        need(scales.shape == (N, 3), f"scales must be [N, 3] = [{N}, 3], got {list(scales.shape)}")
    else:
        need(scales.dim() == 2 and scales.shape[0] == N and scales.shape[1] in (2, 3),
             f"scales must be [N, 2] or [N, 3] = [{N}, 2|3], got {list(scales.shape)}")
    if scales.shape[1] != scale_cols:
        scales = scales[:, :scale_cols]
    tensors["scales"] = scales
    need(opacities.shape == (N,), f"opacities must be [N] = [{N}], got {list(opacities.shape)}")
    if sh_degree is None:
        need(colors.shape == (N, 3),
             f"colors must be [N, 3] RGB when sh_degree is None, got {list(colors.shape)}"
             + (" (SH coefficients need sh_degree)" if colors.dim() == 3 else ""))
    else:
        need(isinstance(sh_degree, int) and 0 <= sh_degree <= 3,
             f"sh_degree must be None or 0..3, got {sh_degree!r}")
        K = (sh_degree + 1) ** 2
        need(colors.dim() == 3 and colors.shape[0] == N and colors.shape[2] == 3
             and colors.shape[1] >= K,
             f"colors must be [N, K>={K}, 3] SH coefficients for sh_degree={sh_degree}, "
             f"got {list(colors.shape)}")
    need(viewmats.dim() == 3 and viewmats.shape[1:] == (4, 4) and viewmats.shape[0] >= 1,
         f"viewmats must be [C, 4, 4] with C >= 1, got {list(viewmats.shape)}")
    C = viewmats.shape[0]
    need(Ks.shape == (C, 3, 3), f"Ks must be [C, 3, 3] = [{C}, 3, 3], got {list(Ks.shape)}")
    if backgrounds is not None:
        need(backgrounds.shape == (C, 3),
             f"backgrounds must be [C, 3] = [{C}, 3], got {list(backgrounds.shape)}")
    for name, val in (("width", width), ("height", height)):
        need(isinstance(val, int) and not isinstance(val, bool) and val > 0,
             f"{name} must be a positive int, got {val!r}")
    need(near_plane > 0 and far_plane > near_plane,
         f"need 0 < near_plane < far_plane, got {near_plane}, {far_plane}")
    if eps2d is not None:
        need(eps2d >= 0, f"eps2d must be >= 0, got {eps2d}")
    for name, (val, allowed) in options.items():
        need(val in allowed, f"{name} must be one of {allowed}, got {val!r}")
    with torch.no_grad():
        # reductions rather than elementwise masks: this runs on every training step
        for name, t in tensors.items():
            finite = t.numel() == 0 or bool(torch.isfinite(t.sum()))
            if not finite:  # the sum may just overflow: look properly before complaining
                need(bool(torch.isfinite(t).all()), f"{name} has NaN or inf values")
        if N > 0:
            need(float((quats * quats).sum(-1).min()) > 0, "quats has a zero-norm row")
            need(float(scales.min()) >= 0,
                 "scales has negative values (pass activated scales: exp(log_scales))")
            lo, hi = torch.aminmax(opacities)
            need(float(lo) >= 0 and float(hi) <= 1,
                 "opacities must be in [0, 1] (pass activated opacities: sigmoid(logits))")
        need(float(torch.minimum(Ks[:, 0, 0], Ks[:, 1, 1]).min()) > 0,
             "Ks must have positive focal lengths")
    return scales if scales.is_contiguous() else scales.contiguous()
