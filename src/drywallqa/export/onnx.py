"""ONNX export of a ``film_unet`` model and the ``onnx`` runtime (``Segmenter.load(dir, runtime="onnx")``).

Two graphs, so that the image is encoded once and each prompt costs one decoder run:

    encoder.onnx: pixel_values (B, 3, S, S) float32 0..1 -> lateral_32, lateral_16, lateral_8, lateral_4
                  (and lateral_2 for a model with a refinement level, ``refine_channels``)
    decoder.onnx: the laterals (B, C_i, S/i, S/i) + text_embeddings (B, D) -> logits (B, 1, S, S)

Batch and spatial axes are dynamic (S any multiple of 32), so multi-scale inference works too.

TensorRT consumes the same graphs (``trtexec --onnx=encoder.onnx --fp16``) on a GPU.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import hashlib
import json
import logging
import numbers
import os
import shlex
import shutil
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock
from torch import nn

from ..confidence import CONFIDENCE_FILE, ConfidenceModel
from ..engine.folder_writers import holding_writer_lock
from ..engine.predictor import PRECISIONS, TorchSegmenter, check_model_settings
from ..engine.segmenter import register_runtime
from ..models.base import (CONFIG_NAME, MODEL_CARD_NAME, PromptedSegmentationModel, is_drywallqa_model_dir,
                           not_a_model_folder, read_model_metadata)
from ..models.film_unet.modeling_film_unet import FilmUNetFeatures
from ..models.shipped import resolve_model_dir
from ..text.encoder import default_cache_dir, get_text_encoder
from ..text.gate import GATE_FILE
from ..utils.checks import check_device_name
from ..utils.files import (WEIGHT_SUFFIXES, check_replaceable_dir, file_digest, file_id, folder_state,
                           remove_stale_temp_dirs, replace_dir, temp_dir)

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


def check_export_target(model_dir: str | Path, out_dir: str | Path) -> Path:
    """``out_dir`` as a place :func:`export_onnx` may write: a new folder, an empty one, or an earlier export.

    Raises:
        ValueError: ``out_dir`` is a file, the model folder itself (or holds it), a folder holding anything else
            (:func:`~drywallqa.utils.files.check_replaceable_dir`; nothing in it is replaced), or an earlier export
            holding files an export does not write (:data:`EXPORT_WRITES`; a TensorRT engine built beside its graphs).
    """
    out = check_replaceable_dir(out_dir, "the ONNX graphs", is_onnx_export_dir, source=model_dir)
    others = sorted(p.name for p in out.iterdir() if p.name not in EXPORT_WRITES) if out.is_dir() else []
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

    Raises:
        ValueError: ``out_dir`` is not such a place (:func:`check_export_target`), ``opset`` is no whole number
            of at least :data:`MIN_OPSET` and at most :func:`max_opset`, or ``model_dir`` holds a model of another
            type than ``film_unet``.
        FolderInUse: another export, or a ship, is writing ``out_dir`` (:func:`export_lock`).
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
        before = folder_state(model_dir)
        # the folder recorded (not in the cache's exports: made of a copy, and made again on a change)
        _write_onnx(model_dir, tmp, opset, record_folder=True)
        # the graphs are of the weights read first, the settings, gate and calibration copied after: a folder replaced
        # meanwhile (a training run writing best/, a ship) gave the new model's thresholds with the old one's graphs
        if folder_state(model_dir) != before:
            raise ValueError(f"{model_dir} was written over while it was exported (a training run writing best/, a "
                             "ship?): nothing was written; export it again once it is written")
        _carry_calibrations(out, tmp)  # what was calibrated on an earlier export there: kept, or said to be dropped
        return replace_dir(tmp, out)  # an earlier export (or an empty folder) replaced whole


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


CACHE_KEEP = 4             # exports kept in the cache however old (the most recently used)
CACHE_LOCK = ".cache.lock"  # held while an export is found and marked used (or made), and while the cache is pruned
CACHE_MAX_AGE_DAYS = 30.0  # older exports beyond those are removed when a new one is made


def _cache_lock(root: Path):
    """The cache's lock (:data:`CACHE_LOCK`), or none where the cache cannot be written (a read-only copy of exports
    made elsewhere: found and used, never pruned)."""
    if os.access(root, os.W_OK):
        return FileLock(str(root / CACHE_LOCK))
    return contextlib.nullcontext()


def exported_onnx_dir(model_dir: str | Path, cache_dir: str | Path | None = None) -> Path:
    """The ONNX graphs of a torch model folder, exported once on first use into
    ``<cache>/onnx/<hash of the folder's files>/`` and reused after (a changed model gets a new folder).

    The export is made under the cache's lock, written to a temporary folder and renamed into place whole: of
    concurrent first uses (processes, threads) one exports, the others wait for it and use its export. Where the cache
    cannot be used (``$DRYWALLQA_CACHE`` a file, or a folder this user cannot write) the model is exported for this
    process only, into a temporary folder removed at its end, with a warning naming why (it was an error blamed on
    the model folder)."""
    files, key = _model_files(model_dir)
    try:
        target = Path(cache_dir or default_cache_dir()) / "onnx" / key
    except OSError as exc:  # no home folder for the default cache
        return _export_for_this_run(files, key, Path("~/.cache/drywallqa/onnx"), exc.strerror, model_dir)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return _cached_export(files, model_dir, target)
    except OSError as exc:  # a cache that is a file, or below one, or a folder this user cannot write; its lock file
        if exc.errno not in _UNUSABLE:  # a folder or a link loop
            raise
        why = exc.strerror or str(exc)
        if exc.filename and Path(exc.filename) != target.parent:  # what in it: ".cache.lock: Is a directory"
            why = f"{exc.filename}: {why}"
        return _export_for_this_run(files, key, target.parent, why, model_dir)


def _model_files(model_dir: str | Path) -> tuple[dict, str]:
    """A model folder's files (name -> bytes) and the key of their export: a digest of them and of the drywallqa and
    torch versions (the graphs depend on the code that traced them too: another version exports again)."""
    from .. import __version__

    digest = hashlib.sha256(f"drywallqa {__version__} torch {torch.__version__}\0".encode())
    files = {f.name: f.read_bytes() for f in sorted(p for p in Path(model_dir).iterdir() if p.is_file())}
    for name, data in files.items():
        digest.update(name.encode() + b"\0" + data)
    return files, digest.hexdigest()[:16]


def export_for_this_run(model_dir: str | Path, cache: Path, why: str) -> Path:
    """``model_dir`` exported for this process only (:func:`_export_for_this_run`), where its cached export in
    ``cache`` cannot be used (``why``)."""
    files, key = _model_files(model_dir)
    return _export_for_this_run(files, key, cache, why, model_dir)


_UNUSABLE = frozenset((errno.ENOTDIR, errno.EEXIST, errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR, errno.ELOOP))
_EXPORTS_FOR_THIS_RUN: dict[str, Path] = {}  # a model's export made for this process, by its digest: made once


def _export_for_this_run(files: dict, key: str, cache: Path, why: str, model_dir: str | Path) -> Path:
    """The export of ``files`` (a model folder's, ``key`` their digest) into a temporary folder removed when the
    process ends, where the export cache ``cache`` cannot be used (:func:`exported_onnx_dir`): the run goes on, with a
    warning naming why; made once in a process, however often the model is loaded."""
    with _EXPORT_LOCK:
        if key in _EXPORTS_FOR_THIS_RUN and all((_EXPORTS_FOR_THIS_RUN[key] / n).is_file() for n in EXPORT_FILES):
            return _EXPORTS_FOR_THIS_RUN[key]
        logger.warning("the ONNX export cache %s cannot be used (%s; $DRYWALLQA_CACHE sets where it is): exporting for "
                       "this run only, into a temporary folder", cache, why)
        tmp = Path(tempfile.mkdtemp(prefix="drywallqa-onnx-"))
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)
        (tmp / "export").mkdir()
        _export_copy(files, model_dir, tmp / "export", tmp / ".source")  # the copy is not kept for the process's life
        _EXPORTS_FOR_THIS_RUN[key] = tmp / "export"
        return tmp / "export"


def _export_copy(files: dict, model_dir: str | Path, out: Path, snapshot: Path) -> None:
    """Export ``files`` (``model_dir``'s, as read) into ``out`` from a copy of them at ``snapshot``, removed after.
    An error of a damaged folder names ``model_dir``, not the copy (a temporary folder gone by the time it is read)."""
    try:
        snapshot.mkdir()
        for name, data in files.items():
            (snapshot / name).write_bytes(data)
        _write_onnx(snapshot, out)
    except (ValueError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None and exc.filename is None:  # a full disk: the writes
            # (torch's too) name no file, and the command said "cannot write: No space left on device" of no place
            raise type(exc)(exc.errno, exc.strerror, str(out.parent)) from None
        said = exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], str) else ""
        if str(snapshot) not in said:
            raise
        try:
            renamed = type(exc)(said.replace(str(snapshot), str(model_dir)))
        except TypeError:  # an error type made otherwise: as it was
            raise exc from None
        raise renamed from None
    shutil.rmtree(snapshot)


def _cached_export(files: dict, model_dir: str | Path, target: Path) -> Path:
    """The export of ``files`` (``model_dir``'s) found in the cache at ``target`` or made there
    (:func:`exported_onnx_dir`)."""
    # found and marked used, or exported, or pruned: never two at once. The export is made under the lock too:
    # torch.onnx.export keeps global state, so two threads exporting at once fail (AssertionError), and a second
    # process would only repeat the work; each waiting one then finds the export made
    with _cache_lock(target.parent):
        if all((target / name).is_file() for name in EXPORT_FILES):
            try:
                os.utime(target)  # last used now: what prune_export_cache keeps
            except FileNotFoundError:  # gone meanwhile: exported again below
                pass
            except OSError:  # a read-only cache, or another user's export: used as it is
                return target
            else:
                return target
        if target.exists():  # damaged (a file gone): set aside, exported again below
            discard_export(target)
        with temp_dir(target.parent, f".{target.name}.") as tmp:
            logger.warning("exporting %s to ONNX once, into %s", model_dir, target)
            # exported from the very bytes hashed: a folder changed meanwhile (a training run writing best/, a
            # calibration) must not leave its new weights' graphs under the old weights' name
            _export_copy(files, model_dir, tmp, tmp / ".source")
            try:
                tmp.rename(target)
            except OSError:
                if not all((target / name).is_file() for name in EXPORT_FILES):  # not another process finishing first
                    raise
    prune_export_cache(target.parent, keep=target.name)
    return target


def prune_export_cache(root: Path, keep: str | None = None) -> list[str]:
    """Remove cached exports (``<cache>/onnx/<hash>/``) unused for :data:`CACHE_MAX_AGE_DAYS`, beyond the
    :data:`CACHE_KEEP` most recently used and ``keep``: each model, drywallqa or torch version makes a new one, and
    a server upgraded over the years would pile them up. Under the cache's lock, which finding an export and marking
    it used takes too, so none is removed between being found and used; each goes through :func:`discard_export`
    (renamed aside, then removed), so no process finds half of one. Returns the names removed."""
    now = time.time()
    removed = []
    with _cache_lock(root):
        found = []
        for d in root.iterdir():
            if not (_is_export_name(d.name) and d.is_dir()):
                continue  # only exports: a folder someone put here is theirs
            try:
                found.append((d.stat().st_mtime, d))
            except OSError:
                continue
        found.sort(reverse=True)
        for used, d in found[CACHE_KEEP:]:
            if d.name != keep and now - used > CACHE_MAX_AGE_DAYS * 86400:
                discard_export(d)
                removed.append(d.name)
        # and the half-made exports of killed runs (a server killed during its first --runtime onnx start): each was
        # removed only by a later export of the same model, so one of a model (or version) not used again stayed
        for lock in root.glob(".*.lock"):
            key = lock.name[1:17]
            if lock.name[17:18] == "." and _is_export_name(key):
                remove_stale_temp_dirs(root, f".{key}.")
        # and the exports a killed run was discarding (renamed aside, not yet removed: each discard_export is made under
        # this lock, so none is being removed now)
        for aside in root.glob(".*.damaged.*"):
            if _is_export_name(aside.name[1:17]) and aside.name[17:26] == ".damaged.":
                _remove_aside(aside)
    return removed


def _is_export_name(name: str) -> bool:
    """Whether ``name`` is a cached export's (a 16-digit hex key): other folders in the cache are someone else's."""
    return len(name) == 16 and all(c in "0123456789abcdef" for c in name)


def discard_export(target: Path) -> None:
    """Take a damaged cached export out of the way: renamed first (atomic, so no process finds half of it), then
    removed. Another process may have done it already. Called under the cache's lock (:func:`_cache_lock`): what a run
    killed between the two left aside is removed by :func:`prune_export_cache`."""
    aside = target.parent / f".{target.name}.damaged.{os.getpid()}.{threading.get_ident()}"
    try:
        target.rename(aside)
    except OSError:
        return
    _remove_aside(aside)


def _remove_aside(aside: Path) -> None:
    """Remove an export :func:`discard_export` renamed aside (or what is in its place)."""
    if aside.is_dir() and not aside.is_symlink():
        shutil.rmtree(aside, ignore_errors=True)
    else:  # a file or a link in the export's place (rmtree left it in the cache for good)
        aside.unlink(missing_ok=True)


def changed_graphs(directory: str | Path) -> list[str]:
    """The graphs of an export whose bytes are not those its export wrote (their digests in its config.json); none
    for an export of 0.6.16 or earlier, which has no digests."""
    try:
        written = json.loads((Path(directory) / CONFIG_NAME).read_text()).get(GRAPH_DIGESTS)
    except (OSError, ValueError, AttributeError):
        return []
    if written is None:
        return []
    if not isinstance(written, dict):  # not what an export writes: none of the graphs can be vouched for
        return list(GRAPHS)
    return [name for name in GRAPHS if name in written and file_digest(Path(directory) / name) != written[name]]


def load_exported(directory: str | Path, threads: int | None = None, strict: bool = False) -> "OnnxFilmUNet":
    """:class:`OnnxFilmUNet` of an exported folder. A graph whose bytes are not those the export wrote (overwritten
    inside its weights, it still loads) is refused with ``strict`` (the cache's exports: made again), else used with a
    warning (an export folder of the user's: its graphs may have been optimised since).

    Raises:
        ValueError: the folder is not a loadable export (a graph missing, truncated or not ONNX; its config.json
            unreadable; with ``strict``, a graph changed since), naming the folder.
    """
    changed = changed_graphs(directory)
    if changed and strict:
        raise ValueError(f"{directory}: not a loadable ONNX export ({', '.join(changed)} not the bytes the export wrote: "
                         "damaged since)")
    if changed:
        logger.warning("%s: %s not the bytes its export wrote (optimised since, or damaged?): used as they are",
                       directory, ", ".join(changed))
    try:
        return OnnxFilmUNet(directory, threads=threads)
    except Exception as exc:  # onnxruntime's own errors (InvalidProtobuf, NoSuchFile, ...) are not OSError/ValueError
        raise ValueError(f"{directory}: not a loadable ONNX export ({type(exc).__name__}: {exc})") from exc


ONNX_FLOATS = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64}  # the input
# types the runtime feeds (onnxruntime's names): the export's float32, or a graph converted since


class OnnxFilmUNet:
    """Runs the two exported graphs with onnxruntime behind the :class:`~drywallqa.models.base.PromptedModel`
    interface (``encode_image`` / ``decode_with_scores`` / ``prompt_embeddings`` / ``num_parameters``)."""

    uses_text_encoder = True  # prompt_embeddings: the shared sentence encoder named in the model's config

    def __init__(self, directory: str | Path, threads: int | None = None):
        from ..models.registry import get_model_class

        meta = read_model_metadata(directory)
        self.directory = Path(directory)
        self.config = get_model_class(meta["model_type"]).config_class(**meta["config"])
        self.parameters_count = int(meta.get("parameters", 0))  # of the torch model it was exported from
        # the graphs' files as read, and their sessions by the threads they run on: with follow_torch_threads (the
        # onnx runtime's, OnnxSegmenter.load_model) a torch.set_num_threads made after loading is followed (_run)
        self.graph_files = {name: file_id(self.directory / name) for name in GRAPHS}
        self.follow_torch_threads, self._threads_lock = False, threading.Lock()
        self.graph_bytes = None  # the graphs themselves, in a copy unpickled (__setstate__): its sessions are of them
        self._digest = None  # of the graphs that run (weights_digest), taken when first asked
        self.threads = threads
        self.encoder, self.decoder = self._sessions(threads)
        self.sessions_by_threads = {threads: (self.encoder, self.decoder)}
        names = list(lateral_names(self.config))
        wired = {"encoder.onnx": ([i.name for i in self.encoder.get_inputs()], ["pixel_values"],
                                  [o.name for o in self.encoder.get_outputs()], names),
                 "decoder.onnx": ([i.name for i in self.decoder.get_inputs()], [*names, "text_embeddings"],
                                  [o.name for o in self.decoder.get_outputs()], ["logits"])}
        for graph, (inputs, want_in, outputs, want_out) in wired.items():  # another graph in its place failed each
            if inputs != want_in or outputs != want_out:  # photo on its own ("Invalid input name")
                raise ValueError(f"{graph} takes {inputs} and gives {outputs}, where this model's export takes {want_in} "
                                 f"and gives {want_out}: not this model's graph")
        # and their channels: an encoder of another model with the same outputs failed each photo on its own too
        # ("Got invalid dimensions for input: lateral_32"), as did a config.json of another text encoder
        given = [(o.shape or [None] * 2)[1] for o in self.encoder.get_outputs()]
        taken = [(i.shape or [None] * 2)[1] for i in self.decoder.get_inputs()]
        text_dim = getattr(self.config, "text_dim", None)
        pairs = [*zip(given, taken[:-1]), (text_dim, taken[-1])]  # (a size a graph leaves open is not compared)
        if any(isinstance(a, int) and isinstance(b, int) and a != b for a, b in pairs):
            raise ValueError(f"encoder.onnx gives laterals of {given} channels and decoder.onnx takes {taken[:-1]} and "
                             f"text embeddings of {taken[-1]} (config.json: {text_dim}): graphs of different models")
        self.lateral_names = names  # the decoder's inputs but the prompt's, as checked
        # each input fed in the float type its graph takes: a graph converted to float16 since (an optimisation the
        # runtime uses "as they are") failed every photo on its own ("Unexpected input data type")
        self.input_types = {}
        for graph, session in (("encoder.onnx", self.encoder), ("decoder.onnx", self.decoder)):
            for i in session.get_inputs():
                if i.type not in ONNX_FLOATS:
                    raise ValueError(f"{graph} takes {i.name} as {i.type}, where this model's export takes floats "
                                     f"({', '.join(ONNX_FLOATS)})")
                self.input_types[i.name] = ONNX_FLOATS[i.type]
        # fixed sizes where the runtime varies them (a graph made static since, for a mobile or TensorRT runtime,
        # failed every photo on its own: "Got invalid dimensions"): a batch of 1 is run an item at a time; the input
        # size it implies is checked against the segmenter's scales (OnnxSegmenter)
        self.one_at_a_time, sizes = set(), set()
        for graph, session in (("encoder.onnx", self.encoder), ("decoder.onnx", self.decoder)):
            for i in session.get_inputs():
                dims = list(i.shape or [])
                if dims and isinstance(dims[0], int) and dims[0] != 1:
                    raise ValueError(f"{graph} takes {i.name} in batches of {dims[0]} only, where the runtime gives it "
                                     "one per prompt and view: export it again with a dynamic batch axis")
                if dims and isinstance(dims[0], int):
                    self.one_at_a_time.add(graph)
                stride = int(i.name.rsplit("_", 1)[1]) if i.name in names else 1 if i.name == "pixel_values" else None
                if stride and len(dims) == 4 and any(isinstance(d, int) for d in dims[2:]):
                    sizes.add(tuple(d * stride if isinstance(d, int) else None for d in dims[2:]))
        if len(sizes) > 1:
            raise ValueError(f"the graphs' inputs are fixed at sizes that do not fit one photo size: {sorted(sizes)}")
        self.fixed_size = sizes.pop() if sizes else None  # (height, width) of the photos it takes; None: any

    def __getstate__(self) -> dict:
        """Its state with the graphs' bytes in place of onnxruntime's sessions, which cannot be pickled (a segmenter
        sent to a Ray actor, a ``multiprocessing`` or ``joblib`` worker, or ``copy.deepcopy``'d raised "cannot
        pickle '_thread.lock' object", where the torch runtime's is sent with its weights): the copy runs the graphs
        loaded, wherever it is unpickled, without their folder.

        Raises:
            pickle.PicklingError: a graph file changed since it was loaded (its bytes are no longer those that run),
                naming it: load it again."""
        import pickle

        state = {k: v for k, v in self.__dict__.items()
                 if k not in ("encoder", "decoder", "sessions_by_threads", "_threads_lock")}
        if self.graph_bytes is None:
            graphs = {}
            for name, seen in self.graph_files.items():
                try:  # (a file removed between the look and the read: an OSError from pickling, naming no cause)
                    data = (self.directory / name).read_bytes() if file_id(self.directory / name) == seen else None
                except OSError:
                    data = None
                if data is None or file_id(self.directory / name) != seen:
                    gone = "removed" if file_id(self.directory / name) is None else "changed"
                    raise pickle.PicklingError(f"{self.directory / name} was {gone} since it was loaded: the graph "
                                               "that runs cannot be sent; load the segmenter again, then send it")
                graphs[name] = data
            state["graph_bytes"] = graphs
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._threads_lock = threading.Lock()
        if self.follow_torch_threads:  # on the threads it will run on here (a worker's count, not the sender's: it
            self.threads = torch.get_num_threads()  # made the sender's sessions, unused, and then its own)
        self.encoder, self.decoder = self._sessions(self.threads)
        self.sessions_by_threads = {self.threads: (self.encoder, self.decoder)}

    def weights_digest(self) -> str:
        """A digest of the graphs it runs (taken once, when first asked): what tells its encodings from another
        model's, so that two loads of one export, or a pickled copy, decode each other's (the runtime's key was the
        object's id: a copy refused the original's encodings). Where a graph file was changed since it was loaded
        (the bytes read are not those that run), this object's id."""
        if self._digest is None:
            digest = hashlib.blake2b(digest_size=16)
            for name in GRAPHS:
                path = self.directory / name
                try:
                    data = self.graph_bytes[name] if self.graph_bytes is not None else \
                        path.read_bytes() if file_id(path) == self.graph_files[name] else None
                except OSError:
                    data = None
                if data is None or (self.graph_bytes is None and file_id(path) != self.graph_files[name]):
                    return f"id {id(self)}"
                digest.update(f"{name}\0{len(data)}\0".encode() + data)
            self._digest = digest.hexdigest()
        return self._digest

    def _sessions(self, threads: int | None) -> tuple:
        """onnxruntime's sessions of the encoder and decoder graphs (their bytes where it holds them, else their
        files), on ``threads`` threads (None: its default)."""
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        providers = ["CPUExecutionProvider"]
        graphs = self.graph_bytes or {name: str(self.directory / name) for name in GRAPHS}
        return tuple(ort.InferenceSession(graphs[name], opts, providers=providers) for name in GRAPHS)

    def _sessions_now(self) -> tuple:
        """The encoder's and decoder's sessions on torch's thread count in this thread, made on its first use:
        onnxruntime fixes a session's threads when it is made, and a ``torch.set_num_threads`` after loading
        (``measure_speed``'s, whose report then named its count while onnxruntime ran on the count at load: all the
        cores under ``evaluate --runtime onnx``) was not followed. Kept by count (torch's count is a thread's own
        where the thread ran torch before it was set). Graph files changed since they were loaded (the checks were
        of those loaded) are not read again: the sessions loaded run, with a warning."""
        threads = torch.get_num_threads()
        found = self.sessions_by_threads.get(threads)
        if found is not None:
            return found
        with self._threads_lock:
            if threads not in self.sessions_by_threads:
                if self.graph_bytes is None and any(file_id(self.directory / name) != seen
                                                    for name, seen in self.graph_files.items()):
                    logger.warning("%s: its graphs were changed since they were loaded; the ones loaded run, on their "
                                   "threads, not on torch's %d (load it again to run the new ones)", self.directory,
                                   threads)
                    self.sessions_by_threads[threads] = (self.encoder, self.decoder)
                else:
                    self.sessions_by_threads[threads] = self._sessions(threads)
            return self.sessions_by_threads[threads]

    def prompt_embeddings(self, prompts: list[str], text_encoder: str) -> torch.Tensor:
        return get_text_encoder(text_encoder).encode(prompts)

    def num_parameters(self) -> int:
        return self.parameters_count

    def encode_image(self, pixel_values: torch.Tensor) -> FilmUNetFeatures:
        pixels = pixel_values.numpy().astype(self.input_types["pixel_values"])
        outs = self._run("encoder.onnx", {"pixel_values": pixels})
        return FilmUNetFeatures([torch.from_numpy(o) for o in outs], tuple(pixel_values.shape[-2:]))

    def decode_with_scores(self, features: FilmUNetFeatures, text_embeddings: torch.Tensor):
        return self.decode(features, text_embeddings), None

    def decode(self, features: FilmUNetFeatures, text_embeddings: torch.Tensor) -> torch.Tensor:
        feed = {n: f.numpy().astype(self.input_types[n], copy=False)
                for n, f in zip(self.lateral_names, features.laterals)}
        feed["text_embeddings"] = text_embeddings.numpy().astype(self.input_types["text_embeddings"])
        return torch.from_numpy(self._run("decoder.onnx", feed)[0].astype(np.float32, copy=False))

    def _run(self, graph: str, feed: dict) -> list:
        """``graph``'s outputs for ``feed``, run an item at a time where its batch axis is fixed at 1."""
        encoder, decoder = self._sessions_now() if self.follow_torch_threads else (self.encoder, self.decoder)
        session = encoder if graph == "encoder.onnx" else decoder
        if graph not in self.one_at_a_time:
            return session.run(None, feed)
        items = len(next(iter(feed.values())))
        runs = [session.run(None, {k: v[i:i + 1] for k, v in feed.items()}) for i in range(items)]
        return [np.concatenate(outs) for outs in zip(*runs)]


@register_runtime("onnx")
class OnnxSegmenter(TorchSegmenter):
    """The torch runtime's pre- and post-processing with the model run by onnxruntime (a directory written by
    :func:`export_onnx`, or a model folder exported on first use)."""

    runtime = "onnx"

    def __init__(self, model, *args, **kwargs):
        super().__init__(model, *args, **kwargs)
        fixed = getattr(model, "fixed_size", None)
        if fixed is not None and any(tuple(f or s for f in fixed) != (s, s) for s in self.scales):
            size = "x".join(str(f) if f else "any" for f in reversed(fixed))
            raise ValueError(f"{model.directory}: its graphs take photos of {size} px only (their shapes fixed since "
                             f"the export), and the scales asked are {list(self.scales)}: give scales that fit (its "
                             "config.json's scales, or scales= in Python), or export it again")

    @classmethod
    def from_path(cls, path=None, device: str = "cpu", *args, **kwargs) -> "OnnxSegmenter":
        """:meth:`TorchSegmenter.from_path` on the CPU, where onnxruntime runs the graphs (CPUExecutionProvider):
        ``device="auto"`` is the CPU (on a GPU machine it was CUDA, and every photo then failed in torch's "can't
        convert cuda:0 device type tensor to numpy").

        Raises:
            ValueError: another ``device`` (``cuda``, ``mps``), a ``model`` type other than ``film_unet``, or a
                ``precision`` other than float32, before anything is loaded or exported.
        """
        precision = kwargs.get("precision", args[8] if len(args) > 8 else "float32")
        if precision != "float32" and precision not in PRECISIONS:  # (as the torch runtime says it)
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if precision != "float32":  # it was refused once the model was exported (the shipped one: half a minute)
            raise ValueError(f"the onnx runtime runs the exported float32 graphs; precision {precision!r} runs the "
                             "torch runtime only (leave out runtime='onnx', or precision)")
        if kwargs.get("model") not in (None, "film_unet"):  # it ran that model on torch, said to run on onnx
            raise ValueError(f"the onnx runtime runs an exported film_unet model; model {kwargs['model']!r} runs on the "
                             "torch runtime (leave out runtime='onnx')")
        if isinstance(device, str) and check_device_name(device) == "auto":
            device = "cpu"
        if torch.device(device).type != "cpu":
            raise ValueError(f"the onnx runtime runs on the CPU (onnxruntime's CPUExecutionProvider), got device "
                             f"{str(device)!r}: use cpu, or the torch runtime on a GPU")
        return super().from_path(path, device, *args, **kwargs)

    @classmethod
    def load_model(cls, path: Path) -> OnnxFilmUNet:
        """An exported folder as it is; a torch model folder (the shipped one too) through its export in
        the cache (:func:`exported_onnx_dir`), made on first use."""
        model = cls._load_graphs(path)
        model.follow_torch_threads = True  # a torch.set_num_threads after loading is followed (OnnxFilmUNet._run)
        return model

    @classmethod
    def _load_graphs(cls, path: Path) -> OnnxFilmUNet:
        """:meth:`load_model`'s graphs, on torch's threads."""
        threads = torch.get_num_threads()
        if (Path(path) / "encoder.onnx").is_file():
            source = retrained_source(path)
            if source is not None:  # (it ran the old weights without a word)
                logger.warning("%s was exported from %s, whose weights have changed since (retrained, or replaced): it "
                               "runs the weights exported; to run the new ones, export it again (drywallqa export onnx "
                               "--model-path %s --out %s)", path, source, shlex.quote(source), shlex.quote(str(path)))
            return load_exported(path, threads)
        if is_onnx_export_dir(path):  # its config says so, its graphs are gone: not a torch folder to export
            raise FileNotFoundError(f"{path}: an ONNX export without its encoder.onnx; export it again (drywallqa "
                                    "export onnx --out ...) from the torch model folder")
        if not is_drywallqa_model_dir(path):  # why, as the torch runtime says it (a damaged config.json, a run's folder)
            raise FileNotFoundError(f"{not_a_model_folder(path)}, nor an ONNX export (no encoder.onnx)")
        check_exportable(path)
        export = exported_onnx_dir(path)
        found = file_id(export / CONFIG_NAME)  # which export this is: one made again since has a config.json of its own
        try:
            return load_exported(export, threads, strict=True)
        except ValueError as exc:  # the cached export is damaged (truncated, overwritten): exported again, once
            logger.warning("%s; exporting it again", exc)
            # under the cache's lock, and only the export found damaged: another process that found it so too may have
            # made it again meanwhile, and that new export (which it runs) is kept, not set aside as this damaged one
            with _cache_lock(export.parent):
                damaged = file_id(export / CONFIG_NAME) == found
                if damaged:
                    discard_export(export)
            if damaged and export.exists():  # a cache this user cannot change (read-only): the damaged export stays
                return load_exported(export_for_this_run(path, export.parent, "its damaged export cannot be replaced"),
                                     threads)
            return load_exported(exported_onnx_dir(path), threads)

    def num_parameters(self) -> int:
        return int(self.metadata.get("parameters") or self.model.num_parameters())
