"""drywallqa: prompted segmentation for construction quality assurance."""

__version__ = "0.4.0"

from .engine.predictor import EmbeddedSegmenter, SegmentationResult, Segmenter  # noqa: E402

__all__ = ["EmbeddedSegmenter", "SegmentationResult", "Segmenter", "__version__"]
