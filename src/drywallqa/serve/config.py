"""The server's settings (:class:`ServeConfig`): the one place their defaults are written (``drywallqa serve``'s options
read them). No web framework is imported here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..utils.image_io import DEFAULT_MAX_PIXELS

MIN_TIMEOUT_S = 0.1  # the shortest request or body timeout drywallqa serve takes
EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"  # sample photos shipped with the package


@dataclass
class ServeConfig:
    model_path: str | None = None
    runtime: str = "torch"                 # torch / onnx (drywallqa.engine.segmenter.RUNTIMES)
    max_upload_mb: float = 20.0
    max_concurrency: int = 2
    max_prompts: int = 8
    max_pixels: int = DEFAULT_MAX_PIXELS   # larger photos are answered 413 before they are decoded
    max_tiles: int = 64                    # a ``tile`` that would cut the photo into more is answered 422
    request_timeout_s: float = 120.0       # a request still segmenting then is answered 503
    body_timeout_s: float = 60.0           # a request body still arriving then is answered 408
    max_rules: int = 32                    # ``flag`` fields per request
    examples_dir: str | None = str(EXAMPLES_DIR)  # photos the web page offers to try (None: no gallery)
    pipeline: str | None = None            # or a pipeline instead of a model folder: zeroshot
    precision: str = "float32"             # or bfloat16 (the torch runtime; docs/batch.md, "Precision")
    backend: str | None = None             # the 0.4 field (embedded / onnx / zeroshot), deprecated

    def __post_init__(self):
        try:
            from ..engine.segmenter import from_backend

            self.runtime, self.pipeline = from_backend(self.backend, self.runtime, self.pipeline, "ServeConfig",
                                                       stacklevel=4)
        except KeyError as exc:  # a config value, refused as one
            raise ValueError(exc.args[0]) from None
        self.backend = None
