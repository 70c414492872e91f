"""Zero-shot defect segmentation (Image-Aware Prompts, Park et al. 2025): tags -> anomaly prompts ->
open-vocabulary boxes -> size filter -> SAM masks -> anomaly map. Each stage is swappable."""

from .pipeline import ZeroShotConfig, ZeroShotSegmenter

__all__ = ["ZeroShotConfig", "ZeroShotSegmenter"]
