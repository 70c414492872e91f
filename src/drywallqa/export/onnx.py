"""ONNX export of a ``film_unet`` model: the graphs the ``onnx`` runtime runs (:mod:`~drywallqa.export.onnx_runtime`;
a torch model folder it is given is exported once into the cache of :mod:`~drywallqa.export.onnx_cache`).

Two graphs, so that the image is encoded once and each prompt costs one decoder run:

    encoder.onnx: pixel_values (B, 3, S, S) float32 0..1 -> lateral_32, lateral_16, lateral_8, lateral_4
                  (and lateral_2 for a model with a refinement level, ``refine_channels``)
    decoder.onnx: the laterals (B, C_i, S/i, S/i) + text_embeddings (B, D) -> logits (B, 1, S, S)

Batch and spatial axes are dynamic (S any multiple of 32), so multi-scale inference works too.

TensorRT consumes the same graphs (``trtexec --onnx=encoder.onnx --fp16``) on a GPU.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import numbers
import os
import shutil
import threading
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..confidence import CONFIDENCE_FILE, ConfidenceModel
from ..engine.folder_writers import holding_writer_lock
from ..engine.torch_runtime import check_model_settings
from ..models.base import (CONFIG_NAME, MODEL_CARD_NAME, PromptedSegmentationModel, is_drywallqa_model_dir,
                           read_model_metadata)
from ..models.film_unet.modeling_film_unet import FilmUNetFeatures
from ..models.shipped import resolve_model_dir
from ..text.gate import GATE_FILE
from ..utils.files import KeptAside, replace_dir, restore_replaced, temp_dir
from ..utils.paths import check_replaceable_dir
from ..utils.stamps import WEIGHT_SUFFIXES, file_digest, folder_state

LATERALS = ("lateral_32", "lateral_16", "lateral_8", "lateral_4")
GRAPHS = ("encoder.onnx", "decoder.onnx")
GRAPH_DIGESTS = "graph_digests"  # config.json's key: each graph's file_digest as the export wrote it
EXPORT_FILES = (*GRAPHS, CONFIG_NAME)
# the model folder's files an export copies where it has them: the prompt gate, the confidence calibration, the card and
# the list of files it trained on (evaluate's seen and unseen photos: a report of the export had none)
TRAIN_FILES = "train_files.json"
EXPORT_EXTRAS = (GATE_FILE, CONFIDENCE_FILE, MODEL_CARD_NAME, TRAIN_FILES)
EXPORT_WRITES = (*EXPORT_FILES, *EXPORT_EXTRAS)  # every file an export may write
# the calibrations a command may make on an export (calibrate-gate, calibrate-confidence write them into it), and
# config.json's key recording what it was made of: the digests of the model's settings and weights, and of each of
# those calibrations copied from the model folder (one not recorded, or other bytes, was made on the export)
CALIBRATIONS = (GATE_FILE, CONFIDENCE_FILE)
EXPORTED_FROM = "exported_from"
EXPORT_KEYS = ("runtime", "parameters", GRAPH_DIGESTS, EXPORTED_FROM)  # config.json's keys written by the export
logger = logging.getLogger(__name__)
_EXPORT_LOCK = threading.RLock()  # torch.onnx.export keeps global state: one export at a time in a process


def lateral_names(config) -> tuple[str, ...]:
    """Names of the encoder graph's outputs (the decoder graph's inputs besides the text) for a config."""
    return LATERALS + (("lateral_2",) if getattr(config, "refine_channels", 0) else ())


class _EncoderGraph(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pixel_values):
        return tuple(self.model.encode_image(pixel_values).laterals)


class _DecoderGraph(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, *inputs):  # the laterals in lateral_names order, then text_embeddings
        *laterals, text_embeddings = inputs
        size = (laterals[3].shape[-2] * 4, laterals[3].shape[-1] * 4)  # the input size: lateral_4 is at stride 4
        return self.model.decode(FilmUNetFeatures(laterals, size), text_embeddings)


def is_onnx_export_dir(path: str | Path) -> bool:
    """True for a folder written by :func:`export_onnx` (its ``config.json`` says ``runtime: onnx``)."""
    try:
        return json.loads((Path(path) / CONFIG_NAME).read_text()).get("runtime") == "onnx"
    except (OSError, ValueError, AttributeError):
        return False


def not_export_files(folder: Path) -> list[str]:
    """The names in ``folder`` that an export may not delete in replacing it (:func:`check_export_target` refuses them
    before the work; the replace after it keeps the folder aside where they appeared meanwhile): in an earlier export,
    those it does not write (:data:`EXPORT_WRITES`); in any other folder (empty when it was checked), all of them."""
    names = sorted(p.name for p in folder.iterdir())
    return [n for n in names if n not in EXPORT_WRITES] if is_onnx_export_dir(folder) else names


class ExportTargetRefused(ValueError):
    """:func:`check_export_target`'s refusal of ``out_dir`` as :func:`export_onnx` makes it again on the folder it put
    back (an export killed between its two renames): an error of the folder (``--out``), not of the model."""


MAX_OUT_NAME_BYTES = 200  # of an export's folder name, as ship's: 255 a name on most disks, less its siblings' additions


def check_export_name(out_dir: str | Path) -> None:
    """Raises ValueError where the name of ``out_dir`` is too long for the folders and files an export writes beside it
    (``.<name>.export.lock``, ``.<name>.replaced``, its temporary folder): an OSError traceback (ENAMETOOLONG)."""
    name = Path(os.path.abspath(os.path.expanduser(out_dir))).name
    if len(name.encode()) > MAX_OUT_NAME_BYTES:
        raise ValueError(f"{out_dir}: a folder name of at most {MAX_OUT_NAME_BYTES} bytes, please (this one has "
                         f"{len(name.encode())}): the export is written beside it under a longer name, then renamed")


def check_export_target(model_dir: str | Path, out_dir: str | Path) -> Path:
    """``out_dir`` as a place :func:`export_onnx` may write: a new folder, an empty one, or an earlier export.

    Raises:
        ValueError: ``out_dir`` is a file, the model folder itself (or holds it), a folder holding anything else
            (:func:`~drywallqa.utils.paths.check_replaceable_dir`; nothing in it is replaced), or an earlier export
            holding files an export does not write (:data:`EXPORT_WRITES`; a TensorRT engine built beside its graphs),
            or its name is too long (:func:`check_export_name`).
    """
    check_export_name(out_dir)
    out = check_replaceable_dir(out_dir, "the ONNX graphs", is_onnx_export_dir, source=model_dir)
    others = not_export_files(out) if out.is_dir() else []
    if others:  # an earlier export is replaced whole: what a user put beside its graphs (a TensorRT engine) would go
        raise ValueError(f"{out} is an earlier export holding files an export does not write ({', '.join(others[:5])}"
                         f"{', ...' if len(others) > 5 else ''}), which replacing it would delete: move them out first, "
                         "or give another folder")
    return out


def check_exportable(model_dir: str | Path) -> None:
    """Raises ValueError, naming the folder, where ``model_dir`` holds a model of another type than ``film_unet``
    (the only one the graphs cover: a clipseg or sam_text folder failed deep in the export, an AttributeError)."""
    try:
        model_type = read_model_metadata(model_dir).get("model_type")
    except (OSError, ValueError, AttributeError):  # no folder, or a damaged config.json: the loading names that
        return
    if model_type != "film_unet":
        raise ValueError(f"{model_dir} is a {model_type} model; ONNX export (and the onnx runtime) covers film_unet "
                         "models: run it on the torch runtime")


MIN_OPSET = 11  # opsets 9 and 10 export the bilinear upsampling with other corner rules: other masks, said only by a
# torch warning


def max_opset() -> int | None:
    """The highest opset this torch's TorchScript exporter (``dynamo=False``, the one used here) writes (a higher one
    failed deep in the export, a RuntimeError after the whole traced graph was printed; torch's own maximum, of its
    other exporter, is higher: 23 against 20 in torch 2.13, the extra ones with "not supported" warnings); None where
    this torch does not say."""
    try:
        from torch.onnx import _constants
    except ImportError:
        return None
    return getattr(_constants, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", getattr(_constants, "ONNX_MAX_OPSET", None))


@contextlib.contextmanager
def export_lock(out: Path):
    """Hold ``.<name>.export.lock`` beside ``out`` (whose parent exists) while an export writes it, refused where a ship
    or another export writes the same folder: each replaces it whole when it ends, and the one that ended first was
    silently gone; a calibration written into an export meanwhile was lost with the folder replaced (it checks this
    lock now: :mod:`~drywallqa.engine.folder_writers`).

    Raises:
        FolderInUse: another export or a ship writes ``out``, or the lock file cannot be opened."""
    with holding_writer_lock(Path(out), "export", "export into another --out"):
        yield


def export_onnx(model_dir: str | Path | None, out_dir: str | Path, opset: int = 17) -> Path:
    """Write ``encoder.onnx``, ``decoder.onnx`` and the model's ``config.json`` to ``out_dir``: a new or empty
    folder, or an earlier export, which is replaced whole. ``model_dir`` is read as :meth:`Segmenter.load` reads it
    (None: the default shipped model; a shipped model's name; ``~`` the home folder, in ``out_dir`` too). The graphs
    are written to a folder beside it and renamed into place, so an interrupted export leaves ``out_dir`` as it was.
    Files an export does not write that appear in ``out_dir`` while it is exported are not deleted: the folder
    replaced is kept whole beside it (``<out_dir>.replaced``), a WARNING naming them.

    Raises:
        ValueError: ``out_dir`` is not such a place (:func:`check_export_target`), ``opset`` is no whole number
            of at least :data:`MIN_OPSET` and at most :func:`max_opset`, or ``model_dir`` holds a model of another
            type than ``film_unet``.
        FolderInUse: another export, or a ship, is writing ``out_dir`` (:func:`export_lock`).
        ExportTargetRefused: (a ValueError) the earlier export put back (one killed between its two renames left it
            aside) is no place to export to (:func:`check_export_target`).
    """
    if isinstance(opset, (bool, np.bool_)) or not isinstance(opset, numbers.Integral) or opset < MIN_OPSET:
        raise ValueError(f"opset must be a whole number of at least {MIN_OPSET} (earlier ones resize the decoder's maps "
                         f"otherwise than torch: masks at 0.4-0.7 IoU of the model's), got {opset!r}")
    if (highest := max_opset()) is not None and opset > highest:
        raise ValueError(f"opset must be at most {highest}, the highest this torch ({torch.__version__}) exports, "
                         f"got {opset!r}")
    opset = int(opset)  # numpy's integers too
    # the paths as Segmenter.load reads a model's: None the default shipped model, a shipped model's name, a leading ~
    # the home folder (a model "~/models/best" was not found, an out_dir "~/onnx" made a folder "~" here)
    model_dir = resolve_model_dir(model_dir)
    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f"out_dir is a folder (str or Path), got {type(out_dir).__name__}")
    if not str(out_dir):  # Path("") is the current folder
        raise ValueError("an empty out_dir names no folder; give the folder for the export")
    out_dir = os.path.expanduser(out_dir)
    check_exportable(model_dir)
    # absolute (links not followed: a link as out_dir is replaced, not what it points to): "." has no name to write
    # beside it under ('--out .' failed after the whole export: "PosixPath('.') has an empty name")
    out = Path(os.path.abspath(check_export_target(model_dir, out_dir)))
    out.parent.mkdir(parents=True, exist_ok=True)
    with export_lock(out), temp_dir(out.parent, f".{out.name}.") as tmp:
        if restore_replaced(out):  # an export or ship killed between its two renames left no out: the earlier export
            # put back first (what was calibrated on it was not carried into the new one, and went with it unsaid)
            logger.warning("%s was missing: an export or ship into it was killed between its two renames; the folder "
                           "it replaced was put back from %s", out, out.with_name(f".{out.name}.replaced"))
            try:  # looked at as the one there before the work
                check_export_target(model_dir, out)
            except ValueError as exc:
                raise ExportTargetRefused(str(exc)) from None
        before = folder_state(model_dir)
        # the folder recorded (not in the cache's exports: made of a copy, and made again on a change)
        _write_onnx(model_dir, tmp, opset, record_folder=True)
        # the graphs are of the weights read first, the settings, gate and calibration copied after: a folder replaced
        # meanwhile (a training run writing best/, a ship) gave the new model's thresholds with the old one's graphs
        if folder_state(model_dir) != before:
            raise ValueError(f"{model_dir} was written over while it was exported (a training run writing best/, a "
                             "ship?): nothing was written; export it again once it is written")
        _carry_calibrations(out, tmp)  # what was calibrated on an earlier export there: kept, or said to be dropped
        try:  # an earlier export (or an empty folder) replaced whole; what was put into it since check_export_target
            # looked (a TensorRT engine built beside the graphs meanwhile) is looked for again once it is aside, where
            # nothing more can reach it: kept, not deleted without a word
            return replace_dir(tmp, out, unexpected=not_export_files)
        except KeptAside as exc:
            logger.warning("%s holds the new export, but %s appeared in the folder it replaced while it was exported "
                           "(files an export does not write): that folder is kept whole in %s; move them out of it, "
                           "then delete it", out, ", ".join(exc.names) or "files", exc.kept)
            return out


def _settings_digest(meta: dict) -> str:
    """A digest of a config.json's settings (the keys an export writes left out; key order and layout ignored)."""
    settings = {k: v for k, v in meta.items() if k not in EXPORT_KEYS}
    return hashlib.blake2b(json.dumps(settings, sort_keys=True).encode(), digest_size=16).hexdigest()


def _weights_digest(folder: Path) -> str:
    """A digest of a model folder's weight files (their names and bytes)."""
    weights = hashlib.blake2b(digest_size=16)
    for f in sorted(p for p in folder.iterdir() if p.suffix in WEIGHT_SUFFIXES and p.is_file()):
        weights.update(f"{f.name}\0{file_digest(f)}\0".encode())
    return weights.hexdigest()


def _exported_from(model_dir: str | Path, meta: dict) -> dict:
    """What an export records of the model folder it is made of (config.json's :data:`EXPORTED_FROM`): the digests
    of its settings (``meta``, its config.json) and weight files, and of each calibration it copies."""
    folder = Path(model_dir)
    return {"settings": _settings_digest(meta), "weights": _weights_digest(folder),
            "copied": {name: file_digest(folder / name) for name in CALIBRATIONS if (folder / name).is_file()}}


def retrained_source(directory: str | Path) -> str | None:
    """The model folder the export ``directory`` was made of (:func:`export_onnx` records it), where it is
    still there and its weights are no longer those exported (retrained, or replaced by a ship): the export runs the
    old ones. None otherwise (a folder gone, or on another machine: nothing to tell)."""
    try:
        recorded = json.loads((Path(directory) / CONFIG_NAME).read_text()).get(EXPORTED_FROM)
        folder = recorded.get("folder") if isinstance(recorded, dict) else None
        if not isinstance(folder, str) or not is_drywallqa_model_dir(folder) or is_onnx_export_dir(folder) \
                or os.path.samefile(folder, directory):
            return None
        return folder if _weights_digest(Path(folder)) != recorded.get("weights") else None
    except (OSError, ValueError, AttributeError):
        return None


def _carry_calibrations(earlier: Path, new: Path) -> tuple[list[str], list[str]]:
    """The calibrations made on the earlier export ``earlier`` (calibrate-gate / calibrate-confidence run on it, its
    config.json's settings changed: not what it copied from its model folder) put into the new export ``new``
    where the model is the one they were made for (its settings and weights those of the earlier export), else
    named in a warning as dropped: re-exporting dropped a confidence fitted on onnxruntime's maps without a word.
    Returns (the names kept, those dropped)."""
    if not is_onnx_export_dir(earlier):
        return [], []
    try:
        old = json.loads((earlier / CONFIG_NAME).read_text())
        recorded = old.get(EXPORTED_FROM)
    except (OSError, ValueError, AttributeError):
        return [], []
    meta = json.loads((new / CONFIG_NAME).read_text())
    source = meta[EXPORTED_FROM]
    if not isinstance(recorded, dict) or not isinstance(recorded.get("copied"), dict):  # an export of 0.6.23 or
        # earlier records not what it copied: a file of it unlike the model's now may be a calibration made on it, or
        # the copy of one the model has had made again since (taking it would keep a stale one): the model's files are
        # taken, as 0.6.23 did, and each such file named
        other, settings_other = _unlike(earlier, old, source)
        other += ["config.json's settings"] if settings_other else []
        if other:
            logger.warning("%s: replaced %s by the model's: the earlier export there (of release 0.6.23 or earlier) "
                           "records not whether it was calibrated itself; if it was, calibrate the new export again "
                           "(drywallqa calibrate-confidence / calibrate-gate --model-path %s)", earlier,
                           ", ".join(other), earlier)
        return [], other
    made, settings_made = _unlike(earlier, old, recorded)
    damaged = [name for name in made if not _loads(earlier, name)]
    try:
        check_model_settings(old)
    except ValueError:
        damaged += ["config.json's settings"] if settings_made else []
        settings_made = False
    if damaged:  # (one that does not load would fail the new export where it is used)
        logger.warning("%s: dropped %s, damaged (it does not load)", earlier, ", ".join(damaged))
        made = [name for name in made if name not in damaged]
    if not made and not settings_made:
        return [], damaged
    said = [*made, *(["config.json's settings"] if settings_made else [])]
    if recorded.get("weights") == source["weights"] and recorded.get("settings") == source["settings"]:
        for name in made:
            shutil.copy(earlier / name, new / name)
        if settings_made:  # the earlier export's settings, with this export's own keys
            kept = {k: v for k, v in old.items() if k not in EXPORT_KEYS}
            (new / CONFIG_NAME).write_text(json.dumps({**kept, **{k: meta[k] for k in EXPORT_KEYS if k in meta}},
                                                      indent=2))
        logger.warning("%s: kept %s, made on the earlier export there (the model is the one it was made for)",
                       earlier, ", ".join(said))
        return said, damaged
    logger.warning("%s: dropped %s, made on the earlier export there for another model (its settings or weights "
                   "have changed since): calibrate the new export again (drywallqa calibrate-confidence / "
                   "calibrate-gate --model-path %s)", earlier, ", ".join(said), earlier)
    return [], [*damaged, *said]


def _unlike(earlier: Path, old: dict, record: dict) -> tuple[list[str], bool]:
    """The calibration files of the export ``earlier`` unlike the copies ``record`` (an :data:`EXPORTED_FROM`) lists,
    and whether its settings (``old``, its config.json) are unlike the record's."""
    files = [name for name in CALIBRATIONS
             if (earlier / name).is_file() and file_digest(earlier / name) != record["copied"].get(name)]
    return files, _settings_digest(old) != record.get("settings")


def _loads(folder: Path, name: str) -> bool:
    """Whether the calibration ``name`` (:data:`CALIBRATIONS`) in ``folder`` loads."""
    from ..text.gate import PromptGate

    try:
        (PromptGate if name == GATE_FILE else ConfidenceModel).from_model_dir(folder)
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True


def _write_onnx(model_dir: str | Path, out: Path, opset: int = 17, record_folder: bool = False) -> None:
    """The export itself, into the existing folder ``out``; with ``record_folder``, its :data:`EXPORTED_FROM` holds the
    absolute path of ``model_dir`` too: what :func:`retrained_source` looks at."""
    model = PromptedSegmentationModel.from_pretrained(model_dir).eval()
    s = model.config.image_size
    x = torch.rand(1, 3, s, s)
    t = torch.randn(1, model.config.text_dim)
    names = lateral_names(model.config)
    # one export at a time in a process: two threads' exports at once failed ("AssertionError: GLOBALS.in_onnx_export
    # must be True"), each another's torch state
    with _EXPORT_LOCK, torch.no_grad(), warnings.catch_warnings():
        # the TorchScript exporter is chosen (dynamo=False), and torch says at each export that it is the old one, and
        # its own code calls deprecated functions of torch: DeprecationWarnings no user can act on, which `python -W
        # error` / PYTHONWARNINGS=error made the export's end (a traceback)
        warnings.simplefilter("ignore", DeprecationWarning)
        laterals = _EncoderGraph(model)(x)
        torch.onnx.export(_EncoderGraph(model), (x,), out / "encoder.onnx", input_names=["pixel_values"],
                          output_names=list(names), dynamic_axes={n: {0: "batch", 2: f"{n}_h", 3: f"{n}_w"} for n in ("pixel_values", *names)},
                          opset_version=opset, dynamo=False)
        spatial = {n: {0: "batch", 2: f"{n}_h", 3: f"{n}_w"} for n in (*names, "logits")}
        torch.onnx.export(_DecoderGraph(model), (*laterals, t), out / "decoder.onnx",
                          input_names=[*names, "text_embeddings"], output_names=["logits"],
                          dynamic_axes={**spatial, "text_embeddings": {0: "batch"}},
                          opset_version=opset, dynamo=False)
    shutil.copy(Path(model_dir) / CONFIG_NAME, out / CONFIG_NAME)
    # the prompt gate and the confidence calibration travel with the model, and so does its card (the version
    # /v1/models and the records give: an export of the shipped model said none) and its training files' list
    for extra in EXPORT_EXTRAS:
        if (Path(model_dir) / extra).is_file():
            shutil.copy(Path(model_dir) / extra, out / extra)
    meta = json.loads((out / CONFIG_NAME).read_text())
    meta["runtime"] = "onnx"
    meta["parameters"] = sum(p.numel() for p in model.parameters())
    # the graphs' digests: a graph overwritten inside its weights still loads, and gave other masks without a word
    meta[GRAPH_DIGESTS] = {name: file_digest(out / name) for name in GRAPHS}
    meta[EXPORTED_FROM] = _exported_from(model_dir, meta)  # what tells a calibration made on the export (re-export)
    if record_folder:
        meta[EXPORTED_FROM]["folder"] = os.path.abspath(model_dir)
    (out / CONFIG_NAME).write_text(json.dumps(meta, indent=2))

