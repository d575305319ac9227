"""The Gaussian parameter set shared by 3DGS and 2DGS, fit, writers and renderers."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .sh import sh_degree_from_coeffs


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
