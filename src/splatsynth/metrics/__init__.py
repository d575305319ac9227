"""Quality metrics of renders against reference images (no autograd needed), and their typed
results."""

from .image import ImageScores, masked_psnr, psnr, score_view, silhouette_iou, ssim_value
from .scores import SceneMetrics, ScoreSet, ViewScores

__all__ = ["psnr", "masked_psnr", "ssim_value", "silhouette_iou", "score_view", "ImageScores",
           "ViewScores", "ScoreSet", "SceneMetrics"]
