"""drywallqa: prompted segmentation for construction quality assurance."""

__version__ = "0.6.20"

from .engine.predictor import TorchSegmenter  # noqa: E402
from .engine.segmenter import EncodedImage, SegmentationResult, Segmenter  # noqa: E402
from .utils.deprecation import deprecated_names  # noqa: E402

__all__ = ["EncodedImage", "SegmentationResult", "Segmenter", "TorchSegmenter", "__version__"]
__getattr__ = deprecated_names(__name__, {"EmbeddedSegmenter": ("drywallqa.engine.predictor", "TorchSegmenter")})
