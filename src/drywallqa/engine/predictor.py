"""The torch runtime's module up to 0.6.28, kept for one more release with a warning: its names live in
:mod:`drywallqa.engine.torch_runtime` (``engine.predictor.EmbeddedSegmenter`` and ``.register_backend``, 0.4's
names, in :mod:`~drywallqa.engine.torch_runtime` and :mod:`~drywallqa.engine.segmenter` under their new ones)."""

from ..utils.deprecation import deprecated_names

_HOME = "drywallqa.engine.torch_runtime"
__getattr__ = deprecated_names(__name__, {
    **{name: (_HOME, name) for name in ("TorchSegmenter", "cpu_has_bf16", "check_model_settings", "PRECISIONS",
                                        "LOAD_TRIES", "MAX_SCALE", "GATE_READING", "OWN_PROMPT_MARGIN")},
    "EmbeddedSegmenter": (_HOME, "TorchSegmenter"),
    "register_backend": ("drywallqa.engine.segmenter", "register_runtime")})
