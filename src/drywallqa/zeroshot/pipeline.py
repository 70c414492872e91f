"""The zero-shot pipeline as a ``Segmenter`` (``Segmenter.load(cfg, pipeline="zeroshot")``, ``--pipeline zeroshot``).

Per image: prompts (given, or generated from the surface's tags) -> detector boxes -> size filter
(drop boxes covering more than ``max_box_fraction`` of the image: whole objects, not defects) ->
SAM mask per kept box -> union per prompt. The per-pixel anomaly map is the max over boxes of
(detection score x SAM predicted IoU) inside each box's mask; the image score is its maximum. Every
stage's box counts are kept in ``stats`` for the report.
"""

from __future__ import annotations

import dataclasses
import errno
import inspect
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from ..engine.segmenter import (EncodedImage, SegmentationResult, Segmenter, register_pipeline, validate_confidence,
                                validate_prompts)
from ..models.sam_text import iter_sam_box_masks, load_sam
from ..utils.checks import number_in_range
from ..utils.files import write_text_atomic
from ..utils.formats import strict_json
from ..utils.image_io import read_image, to_rgb_array
from ..utils.output_folders import ZEROSHOT_JOB, ZEROSHOT_REPORT
from ..utils.paths import shortened
from ..utils.yamlfile import describe_error, safe_load
from .detection import DETECTORS
from .prompting import PROMPT_GENERATORS, TablePromptGenerator
from .tagging import TAGGERS, FixedTagger

logger = logging.getLogger(__name__)


PROMPT_SOURCES = ("generated", "fixed")
FIXED_PROMPTS_SOURCE = "fixed (the prompts given)"  # report.json's prompt_source with prompt_source: fixed
DEFAULT_SAM = "facebook/sam-vit-base"  # sam_path's default, and what a null sam_path loads


def warn_mask_threshold(where) -> None:
    """Says that ``mask_threshold`` (given in ``where``: a config file, a keyword) changes nothing: it never cut a
    whole photo's masks, and cut tiled ones wrongly (empty) until 0.6.22."""
    logger.warning("%s: mask_threshold has no effect (a mask is wherever a kept box's SAM mask lies; box_threshold "
                   "chooses the boxes): remove it", where)


@dataclass
class ZeroShotConfig:
    tagger: str = "fixed"
    tagger_options: dict = field(default_factory=lambda: {"material": "drywall"})
    prompt_source: str = "generated"        # "generated" from tags, or "fixed": the prompts the caller gives
    prompt_generator: str = "table"
    prompt_generator_options: dict = field(default_factory=dict)
    detector: str = "grounding-dino"
    detector_path: str | None = None
    box_threshold: float = 0.3
    text_threshold: float = 0.25
    size_filter: bool = True
    max_box_fraction: float = 0.5           # boxes larger than this fraction of the image are dropped
    sam_path: str | None = DEFAULT_SAM      # null: the default, as detector_path's null is the detector's
    mask_threshold: float = 0.5             # no effect (a mask is wherever a kept box's SAM mask lies); read, with a
    # warning, so that configs that set it still load
    min_confidence: float | None = None     # masks whose confidence (the map's maximum) is lower come back empty

    @classmethod
    def from_yaml(cls, path) -> "ZeroShotConfig":
        """The config in a YAML file.

        Raises:
            ValueError: a file that cannot be read, is not YAML or not a mapping, or has an unknown key, a value of
                another type than the field's or out of its range (each named with the file).
        """
        if os.path.isdir(path):  # a model folder given as --model-path with --pipeline zeroshot (os.path: a name
            # longer than the disk allows is no folder, said when it is read; Path.is_dir raised it, a traceback)
            raise ValueError(f"zero-shot config {path} is a folder: the zeroshot pipeline's --model-path is its YAML "
                             "config (a YAML of ZeroShotConfig keys, docs/zeroshot.md), not a model folder; a trained "
                             "model folder runs without --pipeline zeroshot")
        try:
            d = safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:  # a key given twice too
            raise ValueError(f"zero-shot config {path} is not valid YAML ({describe_error(exc)})") from None
        except (OSError, UnicodeDecodeError) as exc:
            if getattr(exc, "errno", None) == errno.ENAMETOOLONG:  # its 5,000 characters were said twice, whole
                raise ValueError(f"zero-shot config {shortened(path)} cannot be read ({type(exc).__name__}: "
                                 f"{exc.strerror}: the name is longer than the file system allows)") from None
            raise ValueError(f"zero-shot config {path} cannot be read ({type(exc).__name__}: {str(exc)[:200]})") from None
        if not isinstance(d, dict):
            raise ValueError(f"zero-shot config {path} must be a mapping of its keys, got {type(d).__name__}")
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"zero-shot config {path}: unknown keys {sorted(unknown)}")
        config = cls(**d)
        if "mask_threshold" in d:
            warn_mask_threshold(path)
        try:  # options a stage needs may come from the command line (--llm-url): checked whole when it is built
            config.validate(partial=True)
        except ValueError as exc:
            raise ValueError(f"zero-shot config {path}: {exc}") from None
        return config

    def validate(self, partial: bool = False) -> "ZeroShotConfig":
        """Check every key (its type, range or name; the stages' options against what they take), before any model
        is loaded; numbers given as ints or YAML 1.1 exponent text are kept as floats. ``partial``: a stage's options
        may still lack ones it needs (a config file whose ``base_url`` the command line gives); those given are checked.

        Raises:
            ValueError: naming the key and the value.
        """
        from ..engine.config import check_field_types

        check_field_types(self)
        for key in ("box_threshold", "text_threshold", "max_box_fraction", "mask_threshold"):
            setattr(self, key, number_in_range(getattr(self, key), key, 0.0, 1.0))
        validate_confidence(self.min_confidence)
        if self.prompt_source not in PROMPT_SOURCES:
            raise ValueError(f"prompt_source must be {' or '.join(PROMPT_SOURCES)}, got {self.prompt_source!r}")
        for key in ("detector_path", "sam_path"):
            if getattr(self, key) is not None and not getattr(self, key).strip():
                raise ValueError(f"{key} must be a hub id or a folder (or null for the default), got {getattr(self, key)!r}")
        if self.detector not in DETECTORS:
            raise ValueError(f"detector must be one of {', '.join(DETECTORS.names())}, got {self.detector!r}")
        for key, registry, options in (("tagger", TAGGERS, self.tagger_options),
                                       ("prompt_generator", PROMPT_GENERATORS, self.prompt_generator_options)):
            name = getattr(self, key)
            if name not in registry:
                raise ValueError(f"{key} must be one of {', '.join(registry.names())}, got {name!r}")
            stage = registry.get(name)
            try:
                (inspect.signature(stage).bind_partial if partial else inspect.signature(stage).bind)(**options)
            except TypeError as exc:
                takes = ", ".join(p for p in inspect.signature(stage).parameters)
                raise ValueError(f"{key}_options {options!r} do not fit the {name} {registry.kind} ({exc}); it takes: "
                                 f"{takes}") from None
            check_options = getattr(stage, "check_options", None)
            if check_options is not None and partial:
                try:
                    inspect.signature(check_options).bind(**options)
                except TypeError:  # some needed option is still to come: checked when the stage is built
                    check_options = None
            if check_options is not None:
                try:
                    check_options(**options)
                except ValueError as exc:
                    raise ValueError(f"{key}_options: {exc}") from None
        return self


def _shown(prompts: list[str]) -> str:
    """Prompts for a message, each of at most 60 characters."""
    return ", ".join(repr(p if len(p) <= 60 else p[:57] + "...") for p in prompts)


def box_area_fraction(box, shape) -> float:
    x0, y0, x1, y1 = box
    return max(0.0, x1 - x0) * max(0.0, y1 - y0) / float(shape[0] * shape[1])


def on_photo(detections: list, shape) -> list:
    """``detections`` with their boxes clipped to a photo of ``shape`` (``(H, W, ...)``); those left with no area on it
    (wholly outside it, as OWLv2's in the padding it adds below or right of a photo, of no width or height, or of
    coordinates that are no number) are dropped: SAM made a mask at the photo's edge of each, and the size filter
    weighed a box's part outside the photo."""
    h, w = shape[:2]
    kept = []
    for d in detections:
        x0, y0, x1, y1 = (float(np.clip(v, 0, side)) for v, side in zip(d.box, (w, h, w, h)))
        if x1 > x0 and y1 > y0:  # NaN compares false: dropped too
            kept.append(dataclasses.replace(d, box=(x0, y0, x1, y1)))
    return kept


def threshold_from_fractions(fractions: list[float], default: float = 0.5) -> float:
    """The size filter's ``max_box_fraction`` from the area fractions of the boxes found on normal (defect-free)
    photos: there every detection is a false one, typically the whole surface, so the threshold goes just under
    their median (clamped to 0.05..0.9); ``default`` with no box."""
    if not fractions:
        return default
    return float(np.clip(0.9 * np.median(fractions), 0.05, 0.9))


@register_pipeline("zeroshot")
class ZeroShotSegmenter(Segmenter):
    """The zero-shot pipeline (see the module doc) as a :class:`~drywallqa.engine.segmenter.Segmenter`, registered as
    the ``zeroshot`` pipeline: ``predict(image, prompts)`` returns per prompt an ``(H, W)`` bool mask and an
    ``(H, W)`` float32 anomaly map in 0..1 (``probabilities``) at the photo's size."""

    def __init__(self, config: ZeroShotConfig, detector=None, sam=None, tagger=None, generator=None):
        """The stages ``config`` names, or the ones given (already loaded, or stand-ins).

        Raises:
            ValueError: a config key out of its range or of the wrong kind (:meth:`ZeroShotConfig.validate`), a
                detector or SAM folder of another kind of model (:func:`~drywallqa.models.hub.check_model_type`).
            OSError: a model that cannot be loaded."""
        self.config = config.validate()
        self.threshold = config.mask_threshold
        self.tagger = tagger or TAGGERS.get(config.tagger)(**config.tagger_options)
        self.generator = generator or PROMPT_GENERATORS.get(config.prompt_generator)(**config.prompt_generator_options)
        self.detector = detector or DETECTORS.get(config.detector)(config.detector_path, config.box_threshold, config.text_threshold)
        self.sam = (sam or load_sam(config.sam_path or DEFAULT_SAM)).eval()
        self.stats = {"images": 0, "boxes_detected": 0, "removed_outside_photo": 0, "removed_by_size_filter": 0,
                      "boxes_kept": 0, "images_without_boxes": 0, "images_with_all_boxes_filtered": 0}
        self.min_confidence = validate_confidence(config.min_confidence)  # read by tiling too
        self.last_prompt_source: str | None = None
        self.prompt_sources: dict[str, None] = {}  # where the prompts of the photos run so far came from, in order
        self._weight_stamp: list | None = None  # weights_stamp, read once when first asked
        self._said_too_long: set[str] = set()  # generated prompts the detector cannot read, warned of once a pipeline
        self._check_table()  # the table's prompts for a surface named, against the detector's text limit

    @classmethod
    def from_path(cls, path=None, **overrides) -> "ZeroShotSegmenter":
        """``path``: a zero-shot YAML config (or None for the defaults); keyword overrides win.

        Raises:
            ValueError: ``precision`` other than float32 (its hub models run as they are loaded)."""
        if overrides.get("precision", "float32") != "float32":
            raise ValueError(f"precision {overrides['precision']} runs the torch runtime only, not the zeroshot pipeline")
        fields = {f.name for f in dataclasses.fields(ZeroShotConfig)}
        unknown = sorted(k for k, v in overrides.items() if k not in fields and k != "precision" and v is not None)
        if unknown:  # a model's options (threshold, label_shape, prompt_gate, model, tta, scales) were dropped silently
            raise ValueError(f"{', '.join(unknown)}: not options of the zeroshot pipeline (its options: "
                             f"{', '.join(sorted(fields))})")
        overrides = {k: os.fspath(v) if isinstance(v, os.PathLike) else v  # a folder as a Path too (was "must be text")
                     for k, v in overrides.items() if k in fields and v is not None}  # None: the config decides
        if "mask_threshold" in overrides:
            warn_mask_threshold("the keyword mask_threshold")
        cfg = ZeroShotConfig.from_yaml(path) if path else ZeroShotConfig()
        return cls(dataclasses.replace(cfg, **overrides))

    def prompts_for(self, image: np.ndarray, prompts=None) -> list[str]:
        """The prompts for ``image``: ``prompts`` with ``prompt_source: fixed`` (when given), else generated from its
        tags; where they came from is kept (``last_prompt_source``, and every source used for :meth:`report`)."""
        if self.config.prompt_source == "fixed" and prompts:
            used, source = validate_prompts(prompts), FIXED_PROMPTS_SOURCE
        else:
            tags = self.tagger.tags(image)
            used = self.generator.generate(tags)
            source = str(getattr(self.generator, "source", "?"))  # after generate: an LLM's falls back to the table
            used, source = self._readable(used, source, tags)
        self.last_prompt_source = source
        self.prompt_sources.setdefault(source, None)  # an ordered set
        return used

    def _readable(self, prompts: list[str], source: str, tags: list[str]) -> tuple[list[str], str]:
        """The generated ``prompts`` the detector reads whole (its ``check_prompts``), and ``source`` naming those left
        out (an LLM's noun longer than the published OWLv2's 16 tokens failed every photo with "shorten it", which the
        user cannot do); none left: those of the generator's ``fallback`` table's prompts it reads (a custom detector
        may read fewer tokens than the published ones the table is held to: the table's were handed to it unchecked,
        and every photo failed with "shorten it" too), where it has one.

        Raises:
            ValueError: no generated prompt the detector reads, and no table to fall back on, or none of its prompts
                that the detector reads either."""
        if getattr(self.detector, "check_prompts", None) is None:
            return prompts, source
        kept, dropped = self._fitting(prompts)
        if not dropped:
            return prompts, source
        longer = f"longer than the {self.config.detector} detector reads"
        if kept:
            return kept, f"{source} ({len(dropped)} left out, {longer}: {_shown(dropped)})"
        fallback = getattr(self.generator, "fallback", None)
        if fallback is None:
            raise ValueError(f"none of the prompts generated ({_shown(dropped)}) is one the {self.config.detector} "
                             "detector reads whole: they are longer than its text encoder reads")
        table, left = self._fitting(fallback.generate(tags))
        if not table:
            raise ValueError(f"none of the prompts generated ({_shown(dropped)}) nor of the {fallback.source} it falls "
                             f"back on ({_shown(left)}) is one {self._reads()}")
        also = f"; of its own, {len(left)} left out: {_shown(left)}" if left else ""
        return table, f"{fallback.source} (the prompts generated were all {longer}: {_shown(dropped)}{also})"

    def _fitting(self, prompts: list[str]) -> tuple[list[str], list[str]]:
        """``(kept, dropped)``: the ``prompts`` the detector reads whole (its ``check_prompts``), and the others, each
        warned of once a pipeline (a job of 500 photos said the same line 500 times)."""
        kept, dropped = [], []
        for prompt in prompts:
            try:
                self.detector.check_prompts([prompt])
                kept.append(prompt)
            except ValueError:
                dropped.append(prompt)
        new = [p for p in dropped if p not in self._said_too_long]
        if new:
            self._said_too_long.update(new)
            logger.warning("generated prompts %s: longer than the %s detector reads; left out (each said once; the "
                           "photos' prompt sources, report.json, name them)", _shown(new), self.config.detector)
        return kept, dropped

    def _reads(self) -> str:
        """What the detector reads, and what to do, for an error of prompts it cannot read."""
        limit = getattr(self.detector, "text_limit", None)
        most = f" (its text encoder reads at most {limit} tokens)" if isinstance(limit, int) else ""
        return (f"the {self.config.detector} detector reads whole{most}: give prompts it reads (--prompts fixed -p ...) "
                "or a detector whose text encoder reads longer text (the published ones read every prompt of the table)")

    def _check_table(self) -> None:
        """With prompts generated by the table (or an LLM falling back on it) for a surface named (the ``fixed``
        tagger, ``--material``: known before any photo), the table's prompts the detector cannot read (a custom one
        whose text encoder reads fewer tokens than the published ones the table is held to) are said as the pipeline
        is built; none of them readable is an error then where the table is the generator (every photo failed with it
        once the models had loaded), a warning where it is an LLM's fall-back (photos fail where the LLM does).

        Raises:
            ValueError: the table, the generator, has no prompt for the surface that the detector reads."""
        if (self.config.prompt_source == "fixed" or not isinstance(self.tagger, FixedTagger)
                or getattr(self.detector, "check_prompts", None) is None):
            return
        fallback = getattr(self.generator, "fallback", None)
        table = self.generator if isinstance(self.generator, TablePromptGenerator) else fallback
        if not isinstance(table, TablePromptGenerator):
            return
        tags = self.tagger.tags(None)
        kept, dropped = self._fitting(table.generate(tags))
        if kept:
            return
        what = (f"none of the prompts of the {table.source} for {', '.join(map(repr, tags))} ({_shown(dropped)}) is one "
                f"{self._reads()}")
        if table is self.generator:
            raise ValueError(what)
        logger.warning("%s; the photos the LLM gives no prompt for that it reads fail", what)

    def run(self, image, prompts=None) -> tuple[SegmentationResult, np.ndarray, list, list[str]]:
        """-> result (per prompt), anomaly map ``(H, W)``, kept detections, the prompts used."""
        rgb = to_rgb_array(image)
        used = self.prompts_for(rgb, prompts)
        detections = self.detector.detect(rgb, used)
        kept = on_photo(detections, rgb.shape)
        s = self.stats
        s["removed_outside_photo"] += len(detections) - len(kept)
        inside = len(kept)
        if self.config.size_filter:
            kept = [d for d in kept if box_area_fraction(d.box, rgb.shape) <= self.config.max_box_fraction]
        s["images"] += 1
        s["boxes_detected"] += len(detections)
        s["removed_by_size_filter"] += inside - len(kept)
        s["boxes_kept"] += len(kept)
        s["images_without_boxes"] += not detections
        s["images_with_all_boxes_filtered"] += bool(detections) and not kept
        h, w = rgb.shape[:2]
        per_prompt = {p: np.zeros((h, w), np.float32) for p in used}
        if kept:
            xywh = [(d.box[0], d.box[1], d.box[2] - d.box[0], d.box[3] - d.box[1]) for d in kept]
            # each mask used as it comes: all of them at the photo's size held 12 MB a box on a 12 MP photo
            for d, (m, iou) in zip(kept, iter_sam_box_masks(self.sam, rgb, xywh)):
                per_prompt[d.prompt] = np.maximum(per_prompt[d.prompt], m * np.float32(d.score * iou))  # IoU in [0, 1]
        anomaly = np.max(np.stack(list(per_prompt.values())), axis=0) if per_prompt else np.zeros((h, w), np.float32)
        result = SegmentationResult(
            masks={p: m > 0 for p, m in per_prompt.items()}, probabilities=per_prompt,
            confidence={p: float(m.max()) for p, m in per_prompt.items()}, confidence_kind="model",
        )
        return result, anomaly, kept, used

    def decode(self, encoded: EncodedImage, prompts, threshold: float | None = None,
               label_shape: str | None = None) -> SegmentationResult:
        """Masks and anomaly maps under the caller's prompt names (``label_shape`` is not used: no prompt of the
        pipeline was trained on box labels, and a mask is where SAM put one). With ``prompt_source: fixed`` each prompt is its own detector query; with ``generated``
        the pipeline's own prompts are used and their union answers every requested prompt.

        Raises:
            ValueError: a ``threshold`` given (it changed nothing)."""
        if threshold is not None:
            raise ValueError("threshold is not an option of the zeroshot pipeline: its masks are where SAM put one "
                             "(its config's box_threshold chooses the boxes)")
        prompts = validate_prompts(prompts)
        result, anomaly, _, used = self.run(encoded.rgb, prompts)
        if self.config.prompt_source != "fixed":
            union = np.zeros(anomaly.shape, bool)
            for m in result.masks.values():
                union |= m
            result = SegmentationResult(masks={p: union for p in prompts}, probabilities={p: anomaly for p in prompts},
                                        confidence={p: float(anomaly.max()) for p in prompts}, confidence_kind="model")
        return result.keep_confident(self.min_confidence)  # masks the pipeline does not trust come back empty

    def threshold_for(self, prompt: str, threshold: float | None = None) -> float:
        """0: a mask is wherever a kept box's SAM mask lies (a probability above 0), as :meth:`run` makes it; tiling
        cuts the blended tiles' maps here too (at ``mask_threshold`` it emptied nearly every mask: the maps are
        detection score x predicted IoU, mostly under 0.5)."""
        return 0.0

    def num_parameters(self) -> int | None:
        """The parameters of every model the pipeline runs: SAM's, the detector's and an hf-classifier tagger's (SAM's
        alone were reported, the detector's left out); None where none of them is a torch model (stand-ins)."""
        models = [self.sam, getattr(self.detector, "model", None), getattr(self.tagger, "model", None)]
        counted = [sum(p.numel() for p in m.parameters()) for m in models if hasattr(m, "parameters")]
        return sum(counted) if counted else None

    def settings(self) -> dict:
        return {**super().settings(), "config": dataclasses.asdict(self.config)}

    def model_paths(self) -> list[tuple[str, str]]:
        """(stage, hub id or folder) of each model the config names: the detector's, SAM's and an hf-classifier
        tagger's."""
        cfg = self.config
        paths = [("detector", cfg.detector_path or DETECTORS.get(cfg.detector).default_model),
                 ("sam", cfg.sam_path or DEFAULT_SAM)]
        if cfg.tagger == "hf-classifier":
            paths.append(("tagger", cfg.tagger_options["model_path"]))
        return paths

    def weights_stamp(self) -> list | None:
        """Each model's weight files (:meth:`model_paths`), named with a digest of their bytes (read once, when first
        asked): a ``predict --pipeline zeroshot`` job run again after SAM's or the detector's weights were replaced in
        their folder reused the masks of the weights before (the config, all its settings hold, was the same)."""
        from ..models.hub import weights_stamp

        if self._weight_stamp is None:
            self._weight_stamp = [[stage, path, weights_stamp(path)] for stage, path in self.model_paths()]
        return self._weight_stamp

    def describe(self) -> dict:
        return {**super().describe(), "pipeline": "zeroshot", "model_type": "zeroshot",  # the cut threshold_for makes
                "threshold": self.threshold_for(""),  # (mask_threshold, said before, cut nothing)
                "threshold_source": "fixed: a mask is wherever a kept box's SAM mask lies", "detector": self.config.detector,
                "prompt_source": self.config.prompt_source}

    def report(self) -> dict:
        """The config, the stages' box counts and ``prompt_source``: where the prompts used came from (the fixed
        prompts given, the table and its version, an LLM, or the table after an LLM failed; several joined by ``; ``),
        or before any photo where they would come from."""
        if self.prompt_sources:
            source = "; ".join(self.prompt_sources)
        elif self.config.prompt_source == "fixed":
            source = f"{FIXED_PROMPTS_SOURCE} (none run yet)"
        else:
            source = str(getattr(self.generator, "source", "?"))
        return {"config": dataclasses.asdict(self.config), "prompt_source": source, "stages": dict(self.stats)}


ANOMALY = "anomaly"  # <stem>__anomaly.png: an image's anomaly map (a prompt "anomaly" has its mask named otherwise)
JOB_PARTS = {"config": "settings", "prompts": "prompts", "references": "reference photos", "photos": "photos",
             "names": "output names (--names-from-folders)"}  # "names": of a job by folder only
ZEROSHOT_LOCK = ".zeroshot.lock"  # in a job's --out: locked (filelock) while a zero-shot job writes there
ZEROSHOT_LOCK_USER = ("zero-shot job", "choose another --out")  # who holds it, and what to do instead


def zeroshot_in_use(out_dir) -> str | None:
    """Why a zero-shot job cannot write into ``out_dir`` now (another holds it: :func:`run_zeroshot`), or None; said
    before the models load, nothing is made."""
    from ..utils.locks import folder_in_use

    return folder_in_use(out_dir, ZEROSHOT_LOCK, *ZEROSHOT_LOCK_USER)


def earlier_outputs(out: Path, report: bool = False) -> set[str]:
    """The names of what an earlier job wrote into the output folder ``out`` (masks, anomaly maps, predict's records
    and reports: :func:`~drywallqa.utils.output_folders.is_output_file`); none when ``out`` is not an output folder
    yet (its files are the user's). The hidden marker, lock and temporary files aside, and ``report.json`` unless
    ``report``."""
    from ..utils.output_folders import is_output_file, is_output_folder

    try:
        if not out.is_dir() or not is_output_folder(out):
            return set()
        return {e.name for e in out.iterdir() if is_output_file(e.name) and not e.name.startswith(".")
                and (report or e.name != ZEROSHOT_REPORT)}
    except OSError:  # cannot be listed: prepare_out_dir names it
        return set()


def users_files(out: Path, photos, names_root: str | None = None) -> list[str]:
    """The files of ``out``, a folder no drywallqa job wrote
    (:func:`~drywallqa.utils.output_folders.is_output_folder`), that a zero-shot job of ``photos`` would write over or
    remove: its ``report.json``, and each photo's ``<stem>__*.png`` (its masks' prompts are known only once
    generated; the stem as the job names it, ``names_root``: :func:`~drywallqa.engine.batch.by_folder`); none in a
    job's output folder."""
    from ..engine.batch import by_folder, out_stem
    from ..utils.output_folders import is_output_folder

    def starts(name: str) -> set:  # each "<...>__" a name starts with
        return {name[:i + 2] for i in range(len(name) - 1) if name.startswith("__", i)}

    try:
        if not out.is_dir() or is_output_folder(out):
            return []
        stems = {f"{out_stem(by_folder(p, names_root))}__" for p in photos}
        return [*([ZEROSHOT_REPORT] if (out / ZEROSHOT_REPORT).is_file() else []),
                *sorted(e.name for e in out.iterdir() if e.suffix == ".png" and starts(e.name) & stems and e.is_file())]
    except OSError:  # cannot be listed: prepare_out_dir names it
        return []


def older_zeroshot_report(out: Path) -> bool:
    """Whether ``out`` holds the ``report.json`` of a zero-shot job (its ``stages`` and ``prompt_source``), as one
    of 0.5.0 or earlier left in a folder it did not mark (:func:`users_files` would take its files for the user's)."""
    try:
        report = json.loads((out / ZEROSHOT_REPORT).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(report, dict) and "stages" in report and "prompt_source" in report


def zeroshot_job(config: ZeroShotConfig, photos, prompts=None, references=None, names_root: str | None = None) -> dict:
    """What decides a zero-shot job's outputs, as :data:`ZEROSHOT_JOB` holds it: the config (before references set its
    size filter), the fixed prompts given, the references and photos (absolute paths), and of a job named by folder
    (``names_root``: :func:`~drywallqa.engine.batch.names_root`) its rule, ``"names": "folders"`` (as ``predict``'s
    ``results.json``; absent: by file stem)."""
    from ..engine.batch import NAMES_FOLDERS

    job = {"config": dataclasses.asdict(config), "prompts": list(prompts or []),
           "references": sorted(os.path.abspath(p) for p in references or []),
           "photos": sorted(os.path.abspath(p) for p in photos), **({"names": NAMES_FOLDERS} if names_root else {})}
    return json.loads(strict_json(job))  # as read back from the file


def _one_of_each_stem(by_stem, by_folder) -> bool:
    """Whether the photos ``by_stem`` of a job named by file stem are those of the job of the photos ``by_folder``
    named by folder, as naming them by stem leaves them: some of them, one of each file stem (case and Unicode
    normalisation aside)."""
    from ..utils.slug import file_stem, name_key

    if not (isinstance(by_stem, list) and isinstance(by_folder, list)
            and all(isinstance(p, str) for p in [*by_stem, *by_folder])):
        return False

    def stems(photos: list[str]) -> set[str]:
        return {name_key(file_stem(Path(p).stem)) for p in photos}

    return set(by_stem) <= set(by_folder) and stems(by_stem) == stems(by_folder)


def earlier_job(paths, out_dir, config: ZeroShotConfig, prompts=None, references=None,
                names_root: str | None = None) -> tuple[dict, str | None]:
    """This job (:func:`zeroshot_job` of the photos under ``paths``, named by folder below ``names_root`` or, None, by
    file stem), and why it would mix its results with an
    earlier job's in ``out_dir``, or None: the folder holds no job's outputs (nor a file of the user's this job would
    write over: :func:`users_files`, named as a conflict too), or the
    same job's (the same settings, prompts, references, photos and naming rule: run again, or after it was stopped). A
    folder of another job's outputs (another zero-shot job's, one named by another rule as ``predict``'s
    :func:`~drywallqa.engine.batch.check_names` says, ``predict``'s, or one an older drywallqa wrote, which no job
    record says is this one) is refused, as ``predict`` refuses another job's results (``--overwrite`` goes on).

    Raises:
        ValueError: ``out_dir`` is an input folder (:func:`~drywallqa.engine.batch.check_out_apart`)."""
    from ..engine.batch import check_out_apart, gather_inputs, names_conflict

    check_out_apart(paths, out_dir)
    out = Path(out_dir)
    job = zeroshot_job(config, gather_inputs(paths, out, names_root)[0], prompts, references, names_root)
    files = sorted(earlier_outputs(out, report=True))
    if not files:
        theirs = users_files(out, job["photos"], names_root)
        if theirs and older_zeroshot_report(out):  # a zero-shot job's of before output folders were marked (0.5.0)
            return job, (f"{out} holds the results of a zero-shot job of an older drywallqa (its {ZEROSHOT_REPORT}, "
                         f"e.g. {theirs[-1]}) that no zero-shot job record says are this job's: give this job another "
                         "--out, or --overwrite to write over them")
        if theirs:
            more = f" and {len(theirs) - 5} more" if len(theirs) > 5 else ""
            return job, (f"{out} holds {', '.join(theirs[:5])}{more} that no drywallqa job wrote (another program's?), "
                         "which this job would write over: give this job another --out, or --overwrite to write over "
                         "them")
        return job, None
    try:
        earlier = json.loads((out / ZEROSHOT_JOB).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none (another command's folder, or an older drywallqa's), or damaged
        earlier = None
    if earlier == job:
        return job, None
    if isinstance(earlier, dict) and set(earlier) | {"names"} == set(job) | {"names"}:
        same = {**earlier, "names": None, "photos": None} == {**job, "names": None, "photos": None}
        by_stem, by_folder = (earlier, job) if job.get("names") else (job, earlier)
        if (same and earlier.get("names") != job.get("names")  # the same job but for its outputs' names (and so its
                # photos: by file stem, of a/IMG_1.jpg and b/IMG_1.jpg only the first is one; other photos: said so)
                and _one_of_each_stem(by_stem.get("photos"), by_folder.get("photos"))):
            return job, names_conflict(f"{out} holds the results of a zero-shot job", earlier.get("names"),
                                       job.get("names"))
        other = ", ".join(name for key, name in JOB_PARTS.items() if earlier.get(key) != job.get(key))
        held = f"the results of an earlier zero-shot job with other {other}"
    else:
        held = f"results of another job (e.g. {files[0]}) that no zero-shot job record says are this job's"
    return job, f"{out} holds {held}: give this job another --out, or --overwrite to write over them"


def reference_photos(references, max_box_fraction: float):
    """The photos under ``references`` (files or folders), as :func:`~drywallqa.utils.image_io.find_images` lists
    them; checked by the command line before the models load (minutes), and again when the size filter is set.

    Raises:
        ValueError: no photo there (an empty folder, or none of its files a photo), naming the references.
    """
    from ..engine.batch import input_paths
    from ..utils.image_io import find_images

    references = input_paths(references)
    listing = find_images(references)
    if not listing.images:
        named = ", ".join(map(str, references))
        n = len(listing.skipped)
        others = f" ({'1 other file' if n == 1 else f'{n} other files, e.g.'} {listing.skipped[0][0]}: " \
                 f"{listing.skipped[0][1]})" if n else ""
        raise ValueError(f"the references {named} hold no photo{others}: the size filter cannot be set from them; "
                         "give a folder of normal (defect-free) photos, or leave the references out to use the config's "
                         f"max_box_fraction ({max_box_fraction:g})")
    return listing


def _size_filter_from_references(segmenter: ZeroShotSegmenter, references, prompts, report: dict,
                                 progress: bool = False) -> None:
    """Set ``max_box_fraction`` from the normal photos under ``references`` (files or folders), and say so in
    ``report``; with no box found on them the config's stays (and the report says that). ``progress``: a bar over the
    reference photos (the detector runs on each: seconds a photo on a CPU).

    Raises:
        ValueError: no photo there (an empty folder, or none of its files a photo), a photo that cannot be read, or
            one the detector fails on (each named).
    """
    from ..engine.batch import describe_error
    from ..utils.image_io import ImageReadError
    from ..utils.progress import progress_bar

    listing = reference_photos(references, segmenter.config.max_box_fraction)
    fractions, used = [], None
    # one photo in memory at a time (a folder of hundreds held them all: gigabytes)
    for path in progress_bar(listing.images, desc="reference photos", disable=not progress):
        try:
            image = read_image(path)
        except (ImageReadError, OSError) as exc:
            raise ValueError(f"a reference photo cannot be read: {exc}") from None
        used = used if used is not None else segmenter.prompts_for(image, prompts)  # the first photo's, for all
        try:
            fractions += [box_area_fraction(d.box, image.shape)
                          for d in on_photo(segmenter.detector.detect(image, used), image.shape)]
        except Exception as exc:  # noqa: BLE001 - a model's error on that photo, named with it
            raise ValueError(f"reference photo {path}: the detector failed on it ({describe_error(exc)})") from None
    n = len(listing.images)
    if fractions:
        segmenter.config.max_box_fraction = threshold_from_fractions(fractions, segmenter.config.max_box_fraction)
        report["size_threshold_source"] = f"{n} reference normal images"
    else:
        report["size_threshold_source"] = f"config (no box found on the {n} reference normal images)"


def run_zeroshot(segmenter: ZeroShotSegmenter, paths, out_dir, references=None, progress: bool = True,
                 prompts: list[str] | None = None, overwrite: bool = False, names_from_folders: bool = False) -> dict:
    """``drywallqa zeroshot``: masks per generated prompt, an anomaly map per image and ``report.json``.
    ``names_from_folders``: each photo's outputs named by its folders below the common input folder and its stem, as
    ``predict``'s (:func:`~drywallqa.engine.batch.folder_stem`; ``day1-IMG_1__anomaly.png``), the rule in the job record
    and ``report.json`` (``"names": "folders"``); a folder of a job named by the other rule is refused
    (:func:`earlier_job`).

    An ``out_dir`` that holds another job's results is refused (:func:`earlier_job`) unless ``overwrite``; the same
    job is run again. ``out_dir`` is locked for the job (:data:`ZEROSHOT_LOCK`): a second job into it meanwhile is
    refused (two jobs checked the folder empty at once and wrote their masks and reports over each other's). Each image's entry lists the ``files`` this run wrote for it; outputs in ``out_dir`` that this
    run did not replace (with ``overwrite``, another job's masks of other prompts or photos, a predict run's records)
    are left as they are, listed in ``earlier_outputs`` and counted in ``warnings``, never read as this run's. The
    files of a photo that failed half-way are removed (this run wrote them). The size filter the ``references`` set
    is this job's: ``segmenter``'s config has its own back afterwards (a segmenter used again runs the same job
    again, and a job without references filters by the config's).

    Raises:
        ValueError: a prompt given that is none (too long, control characters), ``out_dir`` is an input folder, holds
            another job's results, is another job's now, cannot be written; a reference that holds no photo or that the
            detector fails on."""
    from ..engine.batch import check_out_apart, names_root
    from ..utils.locks import folder_lock

    prompts = validate_prompts(prompts) if prompts else None  # one that is no prompt: refused, not each photo's failure
    root = names_root(paths, names_from_folders)
    check_out_apart(paths, out_dir)  # before the lock file is made: never in a folder of photos
    given = segmenter.config.max_box_fraction
    try:
        with folder_lock(out_dir, ZEROSHOT_LOCK, *ZEROSHOT_LOCK_USER):
            return _run_zeroshot(segmenter, paths, out_dir, references, progress, prompts, overwrite, root)
    finally:
        segmenter.config.max_box_fraction = given


def _run_zeroshot(segmenter: ZeroShotSegmenter, paths, out_dir, references, progress: bool,
                  prompts: list[str] | None, overwrite: bool, root: str | None) -> dict:
    from ..utils.progress import progress_bar

    from ..engine.batch import (NAMES_FOLDERS, describe_error, gather_inputs, mask_name, out_stem, prepare_out_dir,
                                save_png_atomic)

    # before references change it
    job, conflict = earlier_job(paths, out_dir, segmenter.config, prompts, references, root)
    if conflict is not None and not overwrite:
        raise ValueError(conflict)
    report = {"size_threshold_source": "config"}
    if references:
        _size_filter_from_references(segmenter, references, prompts, report, progress)
    before = earlier_outputs(Path(out_dir))
    out = prepare_out_dir(out_dir)  # made, checked and marked as predict's is
    write_text_atomic(strict_json(job), out / ZEROSHOT_JOB)  # before any output: a stopped job is known again
    (out / ZEROSHOT_REPORT).unlink(missing_ok=True)  # an earlier job's would read as a stopped job's report
    todo, failed, ignored = gather_inputs(paths, out, root)
    images, written = [], set()
    for path in progress_bar(todo, desc="zero-shot", disable=not progress):
        files = []
        try:
            result, anomaly, kept, used = segmenter.run(read_image(path), prompts)
            masks = [(mask_name(path, p, (ANOMALY,)), result.masks[p].astype(np.uint8) * 255) for p in used]
            anomaly_map = (f"{out_stem(path)}__{ANOMALY}.png", (np.clip(anomaly, 0, 1) * 255).astype(np.uint8))
            for name, array in [*masks, anomaly_map]:
                files.append(name)  # before: one whose writing is cut short is removed below too
                save_png_atomic(array, out / name)
        except BaseException as exc:  # noqa: BLE001 - whatever one photo does, it is named and the job goes on
            for name in files:  # (as predict); half of this photo's outputs: written by this run, described by no report
                try:
                    (out / name).unlink(missing_ok=True)
                except OSError:
                    pass
            if not isinstance(exc, Exception):  # Ctrl-C or a stop signal: the job ends, the photos before it whole
                raise
            failed.append((str(path), describe_error(exc)))
            continue
        written.update(files)
        images.append({"image": str(path), "prompts": used, "prompt_source": segmenter.last_prompt_source,
                       "image_score": float(anomaly.max()), "files": files,
                       "boxes": [{"box": d.box, "score": d.score, "prompt": d.prompt} for d in kept]})
    earlier = sorted(name for name in before - written if (out / name).exists())
    warnings = []
    if earlier:
        some = "1 file" if len(earlier) == 1 else f"{len(earlier)} files"
        warnings.append(f"{some} in {out} {'is' if len(earlier) == 1 else 'are'} an earlier job's, not this run's (other "
                        f"prompts or photos, e.g. {earlier[0]}): left as they were and listed as earlier_outputs in "
                        f"{ZEROSHOT_REPORT}; "
                        "give each run an --out folder of its own to keep runs apart")
    report.update(segmenter.report(), max_box_fraction=segmenter.config.max_box_fraction,
                  **({"names": NAMES_FOLDERS} if root else {}), images=images, failed=failed, ignored=ignored,
                  earlier_outputs=earlier, warnings=warnings)
    write_text_atomic(strict_json(report), out / ZEROSHOT_REPORT)  # standard JSON: a NaN score is written as null
    return report
