"""Running models: the :class:`~drywallqa.engine.segmenter.Segmenter` interface and its torch runtime
(``torch_runtime``), tiling, batch prediction and its outputs, training, validation, evaluation, shipping and calibration.
Modules are imported by name (``from drywallqa.engine.segmenter import Segmenter``); the code map: docs/training.md."""
