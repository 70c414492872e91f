"""drywallqa: prompted segmentation for construction quality assurance."""

__version__ = "0.3.1"

from .engine.predictor import EmbeddedSegmenter, SegmentationResult, Segmenter  # noqa: E402

__all__ = ["EmbeddedSegmenter", "SegmentationResult", "Segmenter", "__version__"]
