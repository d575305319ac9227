"""The Gaussian parameter set shared by 3DGS and 2DGS, fit, writers and renderers."""

from __future__ import annotations

from dataclasses import dataclass

import torch


def num_sh_coeffs(degree: int) -> int:
    """Number of SH coefficients per channel for ``degree`` (1, 4, 9, 16)."""
    return (degree + 1) ** 2


def sh_degree_from_coeffs(k: int) -> int:
    """Inverse of :func:`num_sh_coeffs`; raises ValueError for a non-square count."""
    d = round(k**0.5) - 1
    if (d + 1) ** 2 != k or d < 0:
        raise ValueError(f"{k} SH coefficients is not (degree + 1)^2")
    return d


# Inria's 3DGS stores colour c as SH DC coefficient (c - 0.5) / C0.
SH_C0 = 0.28209479177387814


def rgb_to_sh_dc(rgb: torch.Tensor) -> torch.Tensor:
    """[..., 3] RGB in [0, 1] -> [..., 3] degree-0 SH coefficient."""
    return (rgb - 0.5) / SH_C0


def sh_dc_to_rgb(dc: torch.Tensor) -> torch.Tensor:
    """[..., 3] degree-0 SH coefficient -> [..., 3] RGB (view-independent part)."""
    return dc * SH_C0 + 0.5


@dataclass
class Gaussians:
    """Raw (unactivated) parameters of N Gaussians.

    Attributes:
        means: [N, 3] world positions.
        quats_wxyz: [N, 4] rotations, w first, not necessarily normalized.
        log_scales: [N, 3] log of the axis scales (2DGS: the third is unused, kept very small).
        opacity_logits: [N] logit of opacity.
        sh: [N, K, 3] SH coefficients, K = (degree + 1)^2; sh[:, 0] is the DC term.
    """

    means: torch.Tensor
    quats_wxyz: torch.Tensor
    log_scales: torch.Tensor
    opacity_logits: torch.Tensor
    sh: torch.Tensor

    def __post_init__(self) -> None:
        n = self.means.shape[0]
        shapes = {"means": (n, 3), "quats_wxyz": (n, 4), "log_scales": (n, 3),
                  "opacity_logits": (n,)}
        for name, shape in shapes.items():
            got = tuple(getattr(self, name).shape)
            if got != shape:
                raise ValueError(f"Gaussians.{name} has shape {got}, expected {shape}")
        if self.sh.ndim != 3 or self.sh.shape[0] != n or self.sh.shape[2] != 3:
            raise ValueError(f"Gaussians.sh has shape {tuple(self.sh.shape)}, expected [N, K, 3]")
        sh_degree_from_coeffs(self.sh.shape[1])

    def __len__(self) -> int:
        return self.means.shape[0]

    @property
    def sh_degree(self) -> int:
        return sh_degree_from_coeffs(self.sh.shape[1])

    @property
    def scales(self) -> torch.Tensor:
        """[N, 3] activated (positive) scales."""
        return torch.exp(self.log_scales)

    @property
    def opacities(self) -> torch.Tensor:
        """[N] activated opacities in (0, 1)."""
        return torch.sigmoid(self.opacity_logits)

    @property
    def quats_normalized(self) -> torch.Tensor:
        """[N, 4] unit quaternions (wxyz)."""
        return torch.nn.functional.normalize(self.quats_wxyz, dim=-1)

    def detach(self) -> Gaussians:
        """A copy without autograd history (parameters cloned)."""
        return Gaussians(*(t.detach().clone() for t in self.tensors()))

    def tensors(self) -> tuple[torch.Tensor, ...]:
        return (self.means, self.quats_wxyz, self.log_scales, self.opacity_logits, self.sh)

    def to(self, device: torch.device | str) -> Gaussians:
        return Gaussians(*(t.to(device) for t in self.tensors()))

    def subset(self, index: torch.Tensor) -> Gaussians:
        """The Gaussians selected by a boolean mask or index tensor."""
        return Gaussians(*(t[index] for t in self.tensors()))
