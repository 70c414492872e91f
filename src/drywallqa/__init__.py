"""drywallqa: prompted segmentation for construction quality assurance.

The names below are imported on first use (PEP 562), so ``import drywallqa`` and the ``drywallqa`` command start
without loading torch: ``drywallqa --help`` and shell completion answer at once, and a Ctrl-C while a command starts
is the command's own clean stop."""

import importlib

from .utils.deprecation import deprecated_names

__version__ = "0.6.32"

_HOMES = {"TorchSegmenter": "drywallqa.engine.torch_runtime", "EncodedImage": "drywallqa.engine.segmenter",
          "SegmentationResult": "drywallqa.engine.segmenter", "Segmenter": "drywallqa.engine.segmenter"}
# called from __getattr__ below: stacklevel 3 names the reader's line (at 2, the warning was this file's, which
# Python's default filters hide from a script)
_deprecated = deprecated_names(__name__, {"EmbeddedSegmenter": ("drywallqa.engine.torch_runtime", "TorchSegmenter")},
                               stacklevel=3)

__all__ = ["EncodedImage", "SegmentationResult", "Segmenter", "TorchSegmenter", "__version__"]


def __getattr__(name: str):
    if name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
        globals()[name] = value  # found once
        return value
    return _deprecated(name)


def __dir__():
    return sorted(set(globals()) | set(_HOMES))
