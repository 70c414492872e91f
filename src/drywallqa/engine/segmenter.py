"""The ``Segmenter`` interface: what every runtime and pipeline implements and every caller relies on.

    from drywallqa import Segmenter
    seg = Segmenter.load()                           # the shipped model on the torch runtime
    result = seg.predict("wall.jpg", ["segment crack", "segment taping area"])
    results = seg(["a.jpg", "b.jpg"], "segment crack")  # one result per photo, in order (seg(photo, ...) is predict)
    encoded = seg.encode("wall.jpg")                 # the photo read and encoded once ...
    seg.decode(encoded, ["segment drywall seam"])    # ... then any number of prompts decoded on it
    seg.predict("wall.jpg", "segment taping area", label_shape="box")  # box-shaped, to score against box labels
    seg.settings()                                   # what decides its output besides the weights
    seg.describe()                                   # what a report or /v1/models says of it

Words used throughout (code, CLI, docs):

- *model*: an architecture with its weights (``film_unet``, ``clipseg``, ``sam_text``; ``drywallqa.models``);
- *runtime*: what runs a model folder (``torch``, ``onnx``), registered in :data:`RUNTIMES`;
- *pipeline*: a segmenter assembled from hub models without a trained prompted model (``zeroshot``),
  registered in :data:`PIPELINES`;
- *executor*: what runs a batch of photos (``local`` threads or ``ray``; :mod:`drywallqa.engine.batch`);
- *wrapper*: a segmenter around another one (:class:`~drywallqa.engine.tiling.TiledSegmenter`).
"""

from __future__ import annotations

import importlib
import logging
import numbers
import os
import warnings
from collections.abc import Iterator, MappingView, Set
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..confidence import mask_confidence
from ..postprocess import ADAPTERS
from ..text.prompts import as_read, check_prompt
from ..utils.checks import flag, not_text, number_in_range
from ..utils.image_io import to_rgb_array
from ..utils.plugins import failed_plugins_said
from ..utils.registry import Registry, UnknownNameError

logger = logging.getLogger(__name__)
_TILE_WARNING_SAID = ContextVar("drywallqa_tile_warning_said", default=False)


@contextmanager
def tile_warning_said():
    """Inside (this caller's thread or task), :meth:`Segmenter.load` does not log a tiled model's tile warning: the job
    said it already (a Ray actor loads the model its driver loaded and warned of, and each actor said it again). Each
    tiled result still carries it."""
    token = _TILE_WARNING_SAID.set(True)
    try:
        yield
    finally:
        _TILE_WARNING_SAID.reset(token)


RUNTIMES: Registry[type] = Registry("runtime")
PIPELINES: Registry[type] = Registry("pipeline")
# implementations whose module registers them on import (lazy: their dependencies load only when asked for)
LAZY = {"runtime": {"torch": "drywallqa.engine.torch_runtime", "onnx": "drywallqa.export.onnx_runtime"},
        "pipeline": {"zeroshot": "drywallqa.zeroshot.pipeline"},
        "wrapper": {"tiled": "drywallqa.engine.tiling"}}
WRAPPERS: Registry[type] = Registry("wrapper")
# the ``backend=`` names of release 0.4 -> (kind, name); kept as deprecated aliases for one release
OLD_BACKENDS = {"embedded": ("runtime", "torch"), "onnx": ("runtime", "onnx"), "zeroshot": ("pipeline", "zeroshot")}


def from_backend(backend: str | None, runtime: str, pipeline: str | None, where: str,
                 stacklevel: int = 2) -> tuple[str, str | None]:
    """``(runtime, pipeline)`` for the 0.4 spelling ``backend`` (or an old name given as ``runtime``, the 0.4
    positional place of ``backend``), with a ``DeprecationWarning`` naming ``where``; unchanged without one.

    Raises:
        KeyError: ``backend`` is none of :data:`OLD_BACKENDS`.
    """
    if backend is None and runtime in OLD_BACKENDS and runtime not in LAZY["runtime"]:
        backend, runtime = runtime, "torch"  # load(path, "embedded") / ServeConfig(path, "zeroshot")
    if backend is None:
        return runtime, pipeline
    if backend not in OLD_BACKENDS:
        raise UnknownNameError(f"unknown backend {backend!r}; use runtime= ({', '.join(LAZY['runtime'])}) "
                               f"or pipeline= ({', '.join(LAZY['pipeline'])})")
    warnings.warn(f"{where}(backend=...) is deprecated: use runtime= or pipeline= (runtime='torch' / 'onnx', "
                  "pipeline='zeroshot')", DeprecationWarning, stacklevel=stacklevel + 1)
    kind, name = OLD_BACKENDS[backend]
    return (name, None) if kind == "runtime" else (runtime, name)


def register_runtime(name: str):
    return RUNTIMES.decorator(name)


def register_pipeline(name: str):
    return PIPELINES.decorator(name)


def register_wrapper(name: str):
    return WRAPPERS.decorator(name)


def registered_names(kind: str) -> list[str]:
    """The names of the registry of ``kind`` (``runtime``, ``pipeline``, ``wrapper``), sorted: the built-in ones
    (:data:`LAZY`, whose modules may not be imported yet) and those plugins register (imported here)."""
    registry = {"runtime": RUNTIMES, "pipeline": PIPELINES, "wrapper": WRAPPERS}[kind]
    return sorted({*registry.names(), *LAZY[kind]})


def _registered(kind: str, name: str) -> type:
    """The class registered as ``name`` in the registry of ``kind``, importing its module on first use."""
    registry = {"runtime": RUNTIMES, "pipeline": PIPELINES, "wrapper": WRAPPERS}[kind]
    if name not in registry and name in LAZY[kind]:
        importlib.import_module(LAZY[kind][name])
    if name not in registry:
        raise UnknownNameError(f"unknown {kind} {name!r}; known: {', '.join(registered_names(kind))}"
                               f"{failed_plugins_said()}")  # (the plugin that would have registered it may have failed)
    return registry.get(name)


def registered_as(segmenter) -> str:
    """How the class of ``segmenter`` is registered (``runtime 'torch'``, ``pipeline 'zeroshot'``, ``wrapper 'tiled'``),
    or its class name where it is not."""
    for kind, registry in (("runtime", RUNTIMES), ("pipeline", PIPELINES), ("wrapper", WRAPPERS)):
        for name, cls in registry.items():
            if cls is type(segmenter):
                return f"{kind} {name!r}"
    return f"segmenter {type(segmenter).__name__}"


def with_logits() -> list[str]:
    """The runtimes and pipelines whose segmenters give raw logits (their own ``predict_logits``), as
    ``runtime 'torch'``; built-in ones whose dependencies do not import here are left out."""
    have = []
    for kind in ("runtime", "pipeline"):
        for name in registered_names(kind):
            try:
                cls = _registered(kind, name)
            except ImportError:
                continue
            method = getattr(cls, "predict_logits", None)
            if callable(method) and method is not Segmenter.predict_logits:
                have.append(f"{kind} {name!r}")
    return have


class MapsNotFinite(ValueError):
    """A model's probability map holds NaN or infinity (weights that overflow, a damaged model): its masks would be
    empty and its confidence NaN, as if nothing were there. A fault of the model, not of the photo or prompt."""


class PromptKeyed(dict):
    """A dict keyed by prompts as a segmenter reads them (stripped, on one line: :func:`check_prompt`) that finds an
    entry by the prompt as it was typed too: ``result.masks[" segment crack\n"]`` is ``result.masks["segment crack"]``."""

    @staticmethod
    def _read(key):
        return as_read(key) if isinstance(key, str) else key

    def __missing__(self, key):
        read = self._read(key)
        if read != key and dict.__contains__(self, read):
            return dict.__getitem__(self, read)
        if isinstance(key, str) and self:  # (a misspelt prompt: said with those there are, not the bare key; those
            # of this dict, which may be fewer than the result's: emptied holds only the prompts emptied)
            raise KeyError(f"no entry for the prompt {key!r}; entries for: {', '.join(map(repr, self))}")
        raise KeyError(key)

    def __contains__(self, key) -> bool:
        return dict.__contains__(self, key) or dict.__contains__(self, self._read(key))

    def get(self, key, default=None):
        return self[key] if key in self else default


PROMPT_KEYED = ("masks", "probabilities", "confidence", "concepts", "emptied")  # the fields of a SegmentationResult by prompt
RECORD_BESIDE = ("confidence", "emptied_below", "concept")  # what a prompt's record says beside its measures, in order


def prompt_record(prompt: str, mask, mm_per_px: float | None = None, **beside) -> dict:
    """A prompt's record as a photo's entry of ``results.json`` keeps it, the one builder of it (of a result:
    :meth:`SegmentationResult.prompt_entry`; of a mask measured again: ``engine.batch.remeasured``): the mask's QA
    measures (:func:`~drywallqa.measures.mask_measures`, ``joints`` for a prompt of taped joints, as ``concept`` reads
    it), then those of ``beside`` (:data:`RECORD_BESIDE`) given, in that order: ``confidence`` (a number as a plain
    float, a NaN as None, null, as results.json writes it: NaN is no JSON, and the server's answer, built from this
    record, failed on it), ``emptied_below``, ``concept``."""
    from ..data.registry import measures_joints
    from ..measures import mask_measures

    unknown = set(beside) - set(RECORD_BESIDE)
    if unknown:
        raise TypeError(f"prompt_record takes {', '.join(RECORD_BESIDE)} beside the measures, not {', '.join(unknown)}")
    joints = measures_joints(prompt, (beside.get("concept") or {}).get("concept"))  # taped joints: per joint too
    entry = mask_measures(mask, mm_per_px, joints=joints)
    for key in RECORD_BESIDE:
        if key in beside:
            entry[key] = beside[key]
    c = entry.get("confidence")
    if isinstance(c, numbers.Real) and not isinstance(c, (bool, np.bool_)):  # (no number, as a record edited by hand
        entry["confidence"] = float(c) if np.isfinite(c) else None  # may hold: left as it is)
    return entry


@dataclass
class SegmentationResult:
    """Masks and probabilities per prompt, at the input image's size. Each by-prompt field (:data:`PROMPT_KEYED`) is a
    :class:`PromptKeyed` dict: a prompt as typed (spaces around it, several lines) finds its entry.

    Attributes:
        masks: prompt -> ``(H, W)`` bool numpy array at the photo's size (H, W of the photo as read, EXIF turn applied).
        probabilities: prompt -> ``(H, W)`` float32 numpy array in 0..1 (the sigmoid of the model's logits; zeros for
            a prompt the prompt gate refused). A mask is this map above the prompt's threshold, then post-processed.
        confidence: prompt -> float in 0..1, the mask's estimated IoU (:mod:`drywallqa.confidence`; 0.0 for a
            prompt the gate refused); ``confidence_kind`` says how it was made.
        concepts: prompt -> the prompt gate's reading of it (``concept``, ``nearest_prompt``, ``similarity``,
            ``margin``, ``known``, ...); empty without a gate.
        warnings: texts (a prompt the model does not know, what was read otherwise than the file holds).
        emptied: prompt -> the ``min_confidence`` that emptied its mask (one that held pixels).
        timings_ms: milliseconds by step, e.g. ``read_ms``, ``encode_ms``, ``decode_ms`` (the torch runtime's; a tiled
            segmenter's summed over its tiles, and its ``total_ms``).
        tiles: how many tiles a tiled segmenter (:class:`~drywallqa.engine.tiling.TiledSegmenter`) cut the photo into;
            None where it was predicted whole (through 0.6.27 a count in ``timings_ms["tiles"]``, among the milliseconds).

    :meth:`to_dict` gives the whole as plain JSON values, keyed as ``results.json``.
    """

    masks: dict = field(default_factory=dict)          # prompt -> (H, W) bool
    probabilities: dict = field(default_factory=dict)  # prompt -> (H, W) float32
    timings_ms: dict = field(default_factory=dict)
    # prompt -> the mask's confidence (its estimated IoU, 0..1; 0 for a prompt the model does not know)
    confidence: dict = field(default_factory=dict)
    # "map": computed from the probability map (drywallqa.confidence); "model": predicted by the model (SAM's IoU head)
    confidence_kind: str = "map"
    concepts: dict = field(default_factory=dict)       # prompt -> PromptMatch.to_dict(): nearest known concept
    warnings: list = field(default_factory=list)       # e.g. prompts the model does not know (masks left empty)
    # prompt -> the min_confidence that emptied its mask (one that held pixels; not one found empty): see keep_confident
    emptied: dict = field(default_factory=dict)
    tiles: int | None = None  # how many tiles the photo was cut into (TiledSegmenter); None: predicted whole

    def __init__(self, masks: dict | None = None, probabilities: dict | None = None, timings_ms: dict | None = None,
                 confidence: dict | None = None, confidence_kind: str = "map", concepts: dict | None = None,
                 warnings: list | None = None, scores: dict | None = None, emptied: dict | None = None,
                 tiles: int | None = None):
        """The fields in their order; ``scores=`` is the 0.5.0 name of ``confidence`` (given, it is the one used:
        ``dataclasses.replace(result, scores=...)`` passes both)."""
        self.masks, self.probabilities, self.timings_ms = masks or {}, probabilities or {}, timings_ms or {}
        self.confidence = scores if scores is not None else (confidence or {})
        self.confidence_kind, self.concepts, self.warnings = confidence_kind, concepts or {}, warnings or []
        self.emptied = emptied or {}
        self.tiles = tiles

    def keep_confident(self, min_confidence: float | None) -> "SegmentationResult":
        """Empties each mask whose confidence is below ``min_confidence`` (None: keeps all; a prompt without a
        confidence is kept) and records in :attr:`emptied` those that held pixels, so that a report can tell a mask
        emptied as untrusted from one in which nothing was found. Returns this result."""
        if min_confidence is None:
            return self
        for p, mask in list(self.masks.items()):
            if not self.confidence.get(p, 1.0) >= min_confidence:  # (a NaN confidence is no trust either)
                if mask.any():
                    self.emptied[p] = min_confidence
                self.masks[p] = np.zeros_like(mask)
        return self

    def prompt_entry(self, prompt: str, mm_per_px: float | None = None, mask=None) -> dict:
        """What a photo's entry of ``results.json`` says of ``prompt``'s mask (``mask`` where given, else the result's):
        :func:`prompt_record` of it and of this result's ``confidence``, ``emptied_below`` (where ``min_confidence``
        emptied a mask that held pixels) and ``concept`` (where the model has a prompt gate), each where it holds one."""
        beside = {key: by_prompt[prompt] for key, by_prompt in (("confidence", self.confidence),
                                                                ("emptied_below", self.emptied),
                                                                ("concept", self.concepts)) if prompt in by_prompt}
        return prompt_record(prompt, self.masks[prompt] if mask is None else mask, mm_per_px, **beside)

    def to_dict(self, mm_per_px: float | None = None) -> dict:
        """The result as plain JSON values, keyed as a photo's entry of ``results.json`` (``drywallqa predict``):
        ``height`` and ``width`` of the photo; ``prompts``: prompt -> its mask's QA measures
        (:func:`~drywallqa.measures.mask_measures`: ``components``, ``area_px``, ``length_px``, ..., in mm too with
        ``mm_per_px``; ``joints`` for a prompt of taped joints), ``confidence``, ``concept`` (where the model has a
        prompt gate) and ``emptied_below`` (where ``min_confidence`` emptied a mask that held pixels); ``warnings``;
        ``confidence_kind`` and ``timings_ms``; ``tiles`` where the photo was tiled. The masks and probability maps themselves are left out (arrays:
        :attr:`masks`, :attr:`probabilities`; ``json.dumps(result.to_dict())`` works).

        Raises:
            ValueError: ``mm_per_px`` not a number in its range (:func:`~drywallqa.measures.validate_mm_per_px`).
        """
        shape = next((m.shape for m in self.masks.values()), (0, 0))
        prompts = {}
        for p in self.masks:
            entry = prompts[p] = self.prompt_entry(p, mm_per_px)  # (a NaN confidence as null: prompt_entry's)
            if "concept" in entry:
                entry["concept"] = dict(entry["concept"])
        return {"height": int(shape[0]), "width": int(shape[1]), "prompts": prompts, "warnings": list(self.warnings),
                "confidence_kind": self.confidence_kind, "timings_ms": dict(self.timings_ms),
                **({"tiles": self.tiles} if self.tiles is not None else {})}

    def __repr__(self) -> str:
        """Short, for a notebook: the prompts, the photo's size, each mask's pixels and confidence, how many warnings
        (the dataclass's own printed every mask and probability map, thousands of characters a result)."""
        shape = next((tuple(m.shape) for m in self.masks.values() if hasattr(m, "shape")), None)
        pixels = {p: int(np.count_nonzero(m)) for p, m in self.masks.items()}
        confidence = {p: round(float(c), 3) if isinstance(c, (int, float, np.number)) else c
                      for p, c in self.confidence.items()}
        emptied = f", emptied={dict(self.emptied)}" if self.emptied else ""
        return (f"{type(self).__name__}(prompts={list(self.masks)}, shape={shape}, mask_pixels={pixels}, "
                f"confidence={confidence}, confidence_kind={self.confidence_kind!r}{emptied}, "
                f"warnings={len(self.warnings)})")

    def __setattr__(self, name: str, value) -> None:
        if name in PROMPT_KEYED and isinstance(value, dict) and not isinstance(value, PromptKeyed):
            value = PromptKeyed(value)
        super().__setattr__(name, value)

    def __eq__(self, other) -> bool:
        """Field by field, masks and probabilities array by array (the dataclass's own ``==`` asked numpy for the truth
        of an array and raised "The truth value of an array ... is ambiguous")."""
        if not isinstance(other, SegmentationResult):
            return NotImplemented

        def same(a, b) -> bool:
            if isinstance(a, dict) and isinstance(b, dict):
                return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                return np.array_equal(a, b)
            return a == b

        return all(same(getattr(self, f), getattr(other, f)) for f in self.__dataclass_fields__)

    @property
    def scores(self) -> dict:
        """The 0.5.0 name of :attr:`confidence` (the same dict; setting one sets the other)."""
        return self.confidence

    @scores.setter
    def scores(self, value: dict) -> None:
        self.confidence = value


@dataclass
class EncodedImage:
    """A photo as :meth:`Segmenter.encode` leaves it for :meth:`Segmenter.decode`: the ``(H, W, 3)`` uint8 RGB
    array, and the model's features of it where the segmenter can encode once and decode many prompts."""

    rgb: np.ndarray
    features: list = field(default_factory=list)   # runtime-specific: e.g. one entry per input scale
    timings_ms: dict = field(default_factory=dict)
    encoded_by: object = None  # the segmenter that made the features: decode refuses those of other weights or settings
    notes: list = field(default_factory=list)  # what was read otherwise than the file holds (only its first frame, a
    # damaged EXIF block ignored, 16-bit colour read as 8 bits): predict() puts them first among the result's warnings

    def __repr__(self) -> str:
        """Short: the photo's shape, how many feature entries, the encoder (not the arrays and tensors themselves)."""
        shape = tuple(self.rgb.shape) if hasattr(self.rgb, "shape") else None
        return (f"{type(self).__name__}(rgb={shape}, features={len(self.features)}, "
                f"encoded_by={type(self.encoded_by).__name__}, notes={len(self.notes)})")


def validate_prompts(prompts) -> list[str]:
    """The prompts as a list, each stripped (:func:`~drywallqa.text.prompts.check_prompt`), repeats dropped.

    Raises:
        ValueError: no prompt, or one that is not text, empty or too long.
    """
    if isinstance(prompts, str):
        prompts = [prompts]
    try:
        prompts = list(prompts)
    except TypeError:
        raise ValueError(f"prompts must be text or a list of texts, got {type(prompts).__name__}") from None
    if not prompts:
        raise ValueError("give at least one prompt, e.g. 'segment crack'")
    return list(dict.fromkeys(check_prompt(p) for p in prompts))


def validate_confidence(min_confidence: float | None) -> float | None:
    """``None`` (keep every mask) or a number in [0, 1] (ValueError otherwise: text too, "0.3", as elsewhere in the
    Python API)."""
    return None if min_confidence is None else number_in_range(not_text(min_confidence, "min_confidence"),
                                                               "min_confidence", 0.0, 1.0)


LABEL_SHAPE_CHOICES = tuple(sorted(set(ADAPTERS.values())))  # the label shapes a mask can be adapted to


def validate_label_shape(label_shape: str | None) -> str | None:
    """``None`` (the mask as the model sees it) or a label shape masks are adapted to (``"box"``).

    Raises:
        ValueError: anything else.
    """
    if label_shape is None or label_shape in LABEL_SHAPE_CHOICES:
        return label_shape
    raise ValueError(f"label_shape must be one of {', '.join(LABEL_SHAPE_CHOICES)} (or left out for the mask as "
                     f"the model sees it), got {label_shape!r}")


def validate_threshold(threshold: float | None) -> float | None:
    """``None`` (each prompt's own threshold) or a number in [0, 1].

    Raises:
        ValueError: NaN, infinite, outside [0, 1], or text ("0.5").
    """
    return None if threshold is None else number_in_range(not_text(threshold, "threshold"), "threshold", 0.0, 1.0)


def _naming_photo(exc: Exception, index: int, image) -> Exception:
    """``exc`` (raised by the photo ``images[index]`` of :meth:`Segmenter.__call__`) with a message that starts with
    ``image INDEX (PATH)``: an error of the same type where it can be made from one message, else ``exc`` itself with
    that line added as a note (shown under it in a traceback)."""
    if isinstance(image, (str, os.PathLike)):
        name = os.fspath(image)
    elif getattr(image, "filename", ""):  # a PIL image opened from a file
        name = image.filename
    else:
        name = type(image).__name__ + (f" of shape {tuple(image.shape)}" if hasattr(image, "shape") else "")
    said = f"image {index}" + (f" ({name})" if not str(exc).startswith(str(name)) else "")  # (a file's error names it)
    try:
        named = type(exc)(f"{said}: {exc}")
    except Exception:  # (an exception of several arguments)
        named = None
    if named is None or str(named) != f"{said}: {exc}":  # (a KeyError's message in quotes)
        if hasattr(exc, "add_note"):  # (Python 3.11+; on 3.10 the error goes up as it was raised)
            exc.add_note(said)
        return exc
    return named


def _rows_of_one_image(images: list | tuple) -> bool:
    """Whether ``images`` is one photo given as nested lists (rows of pixels, as ``arr.tolist()``), which
    :meth:`Segmenter.predict` reads as one array, not a list of photos (each a path, PIL image or 2-D/3-D array)."""
    return bool(images) and all(isinstance(row, (list, tuple)) or getattr(row, "ndim", None) == 1 for row in images)


def _no_unlisted_photos(images) -> None:
    """TypeError where :meth:`Segmenter.__call__` is given several photos in another container than a list, tuple or
    iterator (a set, a dict's keys or values, a 1-D array or pandas Series of paths): each was read as one image that
    is not one ("an image is a path ...; got set", "expected an (H, W) ... image, got shape (2,)")."""
    paths = getattr(images, "ndim", None) == 1 and getattr(getattr(images, "dtype", None), "kind", "") in "OSU"
    if isinstance(images, (Set, MappingView)) or paths:
        kind = type(images).__name__ + (f" of {getattr(images, 'dtype', '')}" if paths else "")
        raise TypeError(f"several photos are given as a list, tuple or iterator; got {kind}: pass "
                        + ("sorted(photos) (a set has no order: the results come in the photos' order)"
                           if isinstance(images, (Set, MappingView)) else "list(photos)"))


def _check_name_length(path, model) -> None:
    """FileNotFoundError where ``path``, a model folder, is a name the file system refuses as too long (a bare name
    so long is said by :func:`~drywallqa.models.shipped.resolve_model_dir`, with the shipped models' names, where
    the runtime resolves it: no ``model`` given; with one, a bare name is not resolved, and was "[Errno 36] File name
    too long: '<the whole name>'")."""
    from ..models.shipped import check_name_length, is_bare_name

    if isinstance(path, (str, os.PathLike)) and (model is not None or not is_bare_name(path)):
        check_name_length(os.path.expanduser(path))


class _Checked:
    """An attribute of a segmenter checked when set, as when it is given to ``load``: ``seg.threshold = 2`` (or
    ``"0.5"``) after loading was taken as it was, and every mask came back empty (or a TypeError deep in a call)."""

    def __init__(self, check, default):
        self.check, self.default = check, default

    def __set_name__(self, owner, name: str) -> None:
        self.key = f"_{name}_set"  # (not "_threshold": a method of the torch runtime)

    def __get__(self, obj, owner=None):
        return self.default if obj is None else obj.__dict__.get(self.key, self.default)

    def __set__(self, obj, value) -> None:
        obj.__dict__[self.key] = self.check(value)


class Segmenter:
    """The interface of every runtime, pipeline and wrapper.

    Subclasses implement :meth:`decode` (and :meth:`encode` where the photo's features can be reused across
    prompts); the rest has working defaults for segmenters without per-prompt thresholds, post-processing,
    prompt gate or confidence calibration."""

    threshold = _Checked(validate_threshold, 0.5)         # for prompts without a threshold of their own
    min_confidence = _Checked(validate_confidence, None)  # masks whose confidence falls below come back empty (None: all kept)
    label_shape = _Checked(validate_label_shape, None)    # "box": masks adapted to box labels by default (None: as seen)

    @classmethod
    def load(cls, path: str | Path | None = None, runtime: str = "torch", tile: int | None = None,
             tile_overlap: float = 0.25, *, pipeline: str | None = None, backend: str | None = None,
             max_tiles: int | None = None, tile_enlarge: bool = False, **kwargs) -> "Segmenter":
        """A segmenter for ``path``: a model folder, a shipped model's name (``"fast"``), or ``None`` (the default
        shipped model).

        Args:
            runtime: ``torch`` or ``onnx`` (:data:`RUNTIMES`).
            pipeline: ``zeroshot`` (:data:`PIPELINES`; ``path`` is then its YAML config) instead of a model folder.
            tile: predict photos wider or taller than this many pixels tile by tile (the ``tiled`` wrapper).
            max_tiles: with ``tile``, photos it would cut into more tiles fail (default: no limit).
            tile_enlarge: with ``tile``, each tile is resized to every input size (``scales``), enlarged where that is
                larger (as up to 0.6.28); default: a tile is seen at no size larger than its own. True or False (1/0,
                None: off) with a tile or without (a ValueError otherwise: ``"no"`` would read as on); True without
                a tile is a ValueError too.
            backend: the 0.4 spelling (``embedded`` / ``onnx`` / ``zeroshot``), deprecated.
            kwargs: options of the runtime or pipeline; the torch runtime's
                (:meth:`~drywallqa.engine.torch_runtime.TorchSegmenter.from_path`): ``device`` (``"cpu"``, ``"cuda"``,
                ``"auto"``), ``threshold``, ``min_confidence``, ``label_shape``, ``tta``, ``scales``, ``precision``,
                ``prompt_gate``, ``confidence``, ``model``.

        Returns:
            The segmenter (for a model folder on ``torch``: a
            :class:`~drywallqa.engine.torch_runtime.TorchSegmenter`); :meth:`predict` gives a :class:`SegmentationResult`.
        """
        runtime, pipeline = from_backend(backend, runtime, pipeline, "Segmenter.load", stacklevel=3)
        # a bool with a tile or without: "no" read as on ("options of tile" without one, TiledSegmenter's "enlarge"
        # with one), "" as off
        tile_enlarge = flag(tile_enlarge, "tile_enlarge")
        if tile is None and (max_tiles is not None or tile_overlap != 0.25 or tile_enlarge):  # was ignored without a word
            raise ValueError("tile_overlap, max_tiles and tile_enlarge are options of tile (Segmenter.load(path, "
                             "tile=512, ...))")
        if pipeline and runtime != "torch":  # dropped without a word
            raise ValueError(f"runtime {runtime!r}: a pipeline runs its own models (leave runtime out)")
        implementation = _registered("pipeline", pipeline) if pipeline else _registered("runtime", runtime)
        if not pipeline:  # a model folder the file system refuses by its length: was "[Errno 36] File name too long:
            _check_name_length(path, kwargs.get("model"))  # '<the whole path>'", from the runtime's Path.is_dir
        segmenter = implementation.from_path(path, **kwargs)
        if tile is not None:  # tile=0 is an error (TiledSegmenter), not a quiet 'no tiles'
            limit = {"max_tiles": max_tiles} if max_tiles is not None else {}
            if tile_enlarge:
                limit["enlarge"] = tile_enlarge
            segmenter = _registered("wrapper", "tiled")(segmenter, tile, tile_overlap, **limit)
            said = getattr(segmenter, "tile_warning", lambda: None)()
            if said and not _TILE_WARNING_SAID.get():  # said once, when loaded (each tiled photo's result says it too)
                logger.warning("%s", said)
        return segmenter

    # ---------------------------------------------------------------- segmenting
    def encode(self, image) -> EncodedImage:
        """Image (path, PIL image or ``(H, W[, C])`` array) -> what :meth:`decode` needs of it. The default reads
        it only; runtimes that can encode once and decode each prompt keep the model's features too."""
        notes: list[str] = []
        return EncodedImage(to_rgb_array(image, notes=notes), notes=notes)

    def decode(self, encoded: EncodedImage, prompts, threshold: float | None = None,
               label_shape: str | None = None) -> SegmentationResult:  # pragma: no cover
        """Masks, probabilities and confidences of ``prompts`` on an encoded photo; ``label_shape="box"`` adapts the
        masks of prompts trained on box labels to boxes (default: :attr:`label_shape`)."""
        raise NotImplementedError

    def predict(self, image, prompts, threshold: float | None = None, label_shape: str | None = None) -> SegmentationResult:
        """Image (path, PIL image or ``(H, W[, C])`` array) and prompts -> masks and probabilities. What was read
        otherwise than the file holds (:attr:`EncodedImage.notes`) comes first among the result's ``warnings``.

        Args:
            image: a path, a PIL image, or an ``(H, W)`` / ``(H, W, 3)`` / ``(H, W, 4)`` array (uint8 0..255, or
                floats in 0..1), one photo.
            prompts: one text or a list of them (each stripped; repeats dropped).
            threshold: one threshold in [0, 1] for every prompt (default: each prompt's own, :meth:`threshold_for`).
            label_shape: ``"box"`` adapts box-trained prompts' masks to boxes (default: :attr:`label_shape`).

        Returns:
            A :class:`SegmentationResult` keyed by prompt: ``(H, W)`` bool masks and float32 probabilities at the
            photo's size, confidences, warnings.
        """
        prompts = validate_prompts(prompts)
        validate_threshold(threshold)
        validate_label_shape(label_shape)
        encoded = self.encode(image)
        result = self.decode(encoded, prompts, threshold, label_shape)
        result.warnings = [*encoded.notes, *result.warnings]
        return result

    def __call__(self, images, prompts, threshold: float | None = None,
                 label_shape: str | None = None) -> SegmentationResult | list[SegmentationResult]:
        """``seg(image, prompts)`` is ``seg.predict(image, prompts)``; ``seg([image, ...], prompts)`` predicts each
        photo in turn and returns their results in the photos' order, as a Hugging Face pipeline is called.

        The photos are predicted one at a time (no runtime encodes several photos in one pass; a batch job over photo
        files, which writes each photo's masks as it goes and goes on past a photo it cannot read, is
        :func:`~drywallqa.engine.batch.predict_paths`).

        Args:
            images: one photo as :meth:`predict` takes it (a path, a PIL image, an ``(H, W)`` / ``(H, W, 3)`` /
                ``(H, W, 4)`` array), or a list, tuple or iterator of them (e.g. ``Path("photos").glob("*.jpg")``),
                of any sizes (nested lists of pixels, as ``arr.tolist()``, are one photo, as :meth:`predict` reads them).
            prompts: one text or a list of them, asked of every photo (each stripped; repeats dropped).
            threshold, label_shape: as :meth:`predict`, for every photo.

        Returns:
            For one photo, its :class:`SegmentationResult` (``(H, W)`` bool masks and float32 probabilities at that
            photo's size); for a list, tuple or iterator, a list of them, one per photo in order (``[]`` for none).

        Raises:
            ValueError: bad prompts, ``threshold`` or ``label_shape``, before any photo is read.
            TypeError: several photos in a set, a dict's keys or values, or an array of paths (pass a list).
            The error :meth:`predict` raises for a photo, of its type, its message starting with the photo's index in
            ``images`` and its path (``image 2 (walls/b.jpg): ...``); the results of the photos before it are not kept.
        """
        prompts = validate_prompts(prompts)
        validate_threshold(threshold)
        validate_label_shape(label_shape)
        if not (isinstance(images, (list, tuple)) and not _rows_of_one_image(images)
                or (isinstance(images, Iterator) and not hasattr(images, "read"))):
            _no_unlisted_photos(images)
            # one photo (an open file too, refused so); by keyword: a subclass's predict may order them otherwise
            return self.predict(images, prompts, threshold=threshold, label_shape=label_shape)
        results = []
        for index, image in enumerate(images):
            try:
                results.append(self.predict(image, prompts, threshold=threshold, label_shape=label_shape))
            except Exception as exc:
                named = _naming_photo(exc, index, image)
                if named is exc:
                    raise
                raise named from exc
        return results

    def predict_logits(self, image, prompts):
        """The raw logits of ``prompts`` on ``image``: given by the runtimes that run a prompted network on the whole
        photo (``torch``, ``onnx``: :meth:`~drywallqa.engine.torch_runtime.TorchSegmenter.predict_logits`, an ``(H, W, 3)``
        uint8 array, ``(P, H, W)`` float32 logits and timings). Every segmenter gives the 0..1 map, the logits'
        sigmoid where there are logits: ``predict(image, prompts).probabilities``.

        Raises:
            NotImplementedError: this segmenter has no raw logits (a pipeline, a tiled wrapper, a plugin's runtime
                that does not define them); the message names it and those that have them.
        """
        what = registered_as(self)
        inner = getattr(self, "inner", None)  # a wrapper: the logits are the wrapped segmenter's, of the whole photo
        if isinstance(inner, Segmenter):
            what += f" (around {registered_as(inner)}; load it without tile= for its logits)"
        raise NotImplementedError(f"the {what} gives no raw logits (predict_logits); {', '.join(with_logits())} do. "
                                  "predict(image, prompts).probabilities is the 0..1 map every segmenter gives")

    # ---------------------------------------------------------------- per prompt
    def match_prompts(self, prompts) -> dict:
        """prompt -> :class:`~drywallqa.text.gate.PromptMatch` (nearest known concept, whether it is answered);
        empty for segmenters without a prompt gate, which answer every prompt."""
        return {}

    def prompt_warnings(self, matches: dict, off_switch: str | None = None) -> list[str]:
        """The warnings for the prompts in ``matches`` that are not answered, each ending with ``off_switch`` (how to
        turn the check off where the warning is read; default: :data:`drywallqa.text.gate.OFF_SWITCH`), and for those
        answered with one mask that name two known things (:meth:`~drywallqa.text.gate.PromptGate.two_things`)."""
        return []

    def postprocess_for(self, prompt: str, label_shape: str | None = None) -> dict | None:
        """The post-processing of a prompt's thresholded mask when masks are asked for as ``label_shape`` (default:
        :attr:`label_shape`; e.g. boxes for box-trained prompts under ``"box"``), or None."""
        return None

    def threshold_for(self, prompt: str, threshold: float | None = None) -> float:
        """``threshold`` if given, else the threshold this segmenter uses for ``prompt``."""
        return float(threshold) if validate_threshold(threshold) is not None else float(self.threshold)

    def mask_confidence(self, prompt: str, probability: np.ndarray, mask: np.ndarray,
                        threshold: float | None = None, concept: str | None = None) -> float:
        """The confidence of ``mask`` (made from ``probability``) as the answer to ``prompt``: the estimated IoU
        of :func:`~drywallqa.confidence.mask_confidence` (uncalibrated here; segmenters with a calibration
        override and use ``concept``, the prompt's nearest known concept, when the caller knows it already)."""
        return mask_confidence(probability, mask, self.threshold_for(prompt, threshold))

    # ---------------------------------------------------------------- describing itself
    def num_parameters(self) -> int | None:
        """Parameters of the model behind it (None where it does not say)."""
        return None

    def weights_stamp(self) -> list | None:
        """What tells this segmenter's weights from others across runs (for a model folder: its weight files' names
        and digests of their bytes), or None where it cannot say (a network built in code, a hub id): a resumed batch
        job redoes the photos an earlier run made with other weights under the same settings."""
        return None

    def settings(self) -> dict:
        """Plain values that decide the output besides the weights (class, thresholds, input sizes,
        post-processing, tiling, the gate's margin, ...): what a cache or a resumed job must match."""
        return {"class": type(self).__name__, "threshold": self.threshold, "min_confidence": self.min_confidence,
                "label_shape": self.label_shape}

    def describe(self) -> dict:
        """What a report or ``/v1/models`` says of the segmenter (plain values; keys absent where unknown).

        ``runtime`` / ``pipeline``, ``model_type``, ``parameters``, ``threshold``, ``threshold_source`` (where
        the thresholds were chosen), ``prompt_thresholds``, ``postprocess``, ``text_encoder``, ``image_size``
        (the input size it runs at), ``scales``, ``tta``, ``tile`` (a tiled one's also ``tile_overlap`` and
        ``tile_enlarge``: a tile smaller than the input size enlarged to it), ``version``, ``min_confidence``,
        ``label_shape`` (``"box"`` where masks are adapted to box labels by default)."""
        return {"model_type": None, "parameters": self.num_parameters(), "threshold": self.threshold,
                "threshold_source": "given", "prompt_thresholds": {}, "postprocess": {},
                "min_confidence": self.min_confidence, "label_shape": self.label_shape, "tile": None}
