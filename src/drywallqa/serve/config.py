"""The server's settings (:class:`ServeConfig`): the one place their defaults are written (``drywallqa serve``'s options
read them). No web framework is imported here."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from pathlib import Path

from ..utils.checks import flag, whole_number
from ..utils.image_io import DEFAULT_MAX_PIXELS

MIN_TIMEOUT_S = 0.1  # the shortest request or body timeout drywallqa serve takes
COUNTS = ("max_concurrency", "max_prompts", "max_pixels", "max_tiles", "max_rules")  # whole numbers of at least 1
EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"  # sample photos shipped with the package


class SettingError(ValueError):
    """A :class:`ServeConfig` limit the server cannot keep: ``field`` names it, ``reason`` says why without naming it
    (``drywallqa serve`` says the reason beside its option)."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"ServeConfig.{field} {reason}"[:200])
        self.field, self.reason = field, reason[:200]


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
    enlarge_tiles: bool = False            # a tile (the server's, a request's) smaller than the model's input size
    #                                        enlarged to it, as up to 0.6.28 (default: seen at its own size)

    def __post_init__(self):
        try:
            from ..engine.segmenter import from_backend

            self.runtime, self.pipeline = from_backend(self.backend, self.runtime, self.pipeline, "ServeConfig",
                                                       stacklevel=4)
        except KeyError as exc:  # a config value, refused as one
            raise ValueError(exc.args[0]) from None
        self.backend = None
        self._check_limits()

    def _check_limits(self) -> None:
        """Each limit a number the server can keep (:class:`SettingError`, a ValueError naming it; ``drywallqa serve``
        checks its options here):
        ``max_concurrency=0`` answered every request 429, ``request_timeout_s=0`` (or NaN) every one 503 and
        ``max_pixels=0`` every one 413, and a limit given as text (read from an environment variable) failed as
        ``create_app`` or each request used it."""
        for name in COUNTS:
            value = getattr(self, name)
            if not whole_number(value) or value < 1:
                raise SettingError(name, f"must be a whole number of at least 1, got {value!r}")
            setattr(self, name, int(value))
        try:  # "no" (an environment variable's text) read as on
            self.enlarge_tiles = flag(self.enlarge_tiles, "enlarge_tiles")
        except ValueError:
            raise SettingError("enlarge_tiles", f"must be True or False, got {self.enlarge_tiles!r}") from None
        for name, low in (("max_upload_mb", 0.0), ("request_timeout_s", MIN_TIMEOUT_S), ("body_timeout_s", MIN_TIMEOUT_S)):
            value = getattr(self, name)
            if (isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= low or not value > 0
                    or not math.isfinite(float(value) * 2**20 if value < 1e300 else math.inf)):  # (in bytes: 1e303 MB
                # is no limit)
                unit = ("megabytes, over 0" if name == "max_upload_mb"
                        else f"seconds, at least {low:g} (a shorter wait cuts every client off)")
                raise SettingError(name, f"must be a finite number of {unit}, got {value!r}")
