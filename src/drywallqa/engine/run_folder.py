"""A training run's folder: its lock (one run at a time), its resumable checkpoint ``last.pt``, and the settings a run
records there (``config.yaml``), which a resumed run is checked against."""

from __future__ import annotations

import json
import os
import pickle
import re
from pathlib import Path

import numpy as np
import torch

from ..utils.files import write_atomic
from ..utils.locks import folder_in_use, folder_lock
from ..utils.paths import check_writable_path
from .config import SECTIONS, TrainConfig


def check_writable_folder(folder, key: str) -> None:
    """Whether ``folder`` (``None``: none wanted) is a folder that can be written, or can be made
    (:func:`~drywallqa.utils.paths.check_writable_path`; nothing is made, so a run that fails on its data leaves
    no empty folder behind).

    Raises:
        ValueError: naming ``key`` (``output_dir``), when it is a file, lies below one or cannot be made or written.
    """
    if folder is not None:
        try:
            check_writable_path(folder, folder=True)
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None


def atomic_torch_save(obj, path: Path) -> None:
    write_atomic(path, lambda tmp: torch.save(obj, tmp))


RUN_LOCK = ".train.lock"  # in a run folder: locked (filelock) while a training run uses the folder


def run_lock(folder: str | Path):
    """Hold ``folder/.train.lock`` (:data:`RUN_LOCK`) for a training run (:func:`~drywallqa.utils.locks.folder_lock`):
    one run in a folder at a time; the folder is made for it, and removed again when the run leaves nothing in it.

    Raises:
        ValueError: naming the folder, when another run holds its lock.
    """
    return folder_lock(folder, RUN_LOCK, *RUN_LOCK_USER)


RUN_LOCK_USER = ("training run", "choose another output_dir (--out)")  # who holds it, and what to do instead


def run_in_use(folder: str | Path) -> str | None:
    """Why a training run cannot use ``folder`` now (another holds it: :func:`run_lock`), or None; nothing is made."""
    return folder_in_use(folder, RUN_LOCK, *RUN_LOCK_USER)


RUN_FILES = ("last.pt", "best", "metrics.json", "metrics.csv", "curves.png", "config.yaml", "train_files.json")
# what a resumed run may change: where and on what it runs, how often it saves, and how long it goes on
RESUME_MAY_CHANGE = ("output_dir", "device", "threads", "checkpoint_every", "bf16", "init_from", "optim.epochs",
                     "data.datasets_dir", "data.splits_dir", "data.cache_dir", "data.num_workers", "distill.teacher")


def train_files_name(path: str | Path, root: Path) -> str:
    """``path`` named from the folder ``root`` of its dataset ("cracks/train/x.jpg"), as a run's ``train_files.json``
    names the photos it used (without the machine's own folders), and as what reads it matches them."""
    try:
        return (Path(root.name) / Path(path).relative_to(root)).as_posix()
    except ValueError:  # a photo a manifest names outside its dataset's folder
        return str(path)


TRAIN_FILES = "train_files.json"  # a run's record of the files it trained on (Trainer.files_record), in best/ too


class TrainFilesUnreadable(ValueError):
    """A ``train_files.json`` that is there but cannot be read as the trainer's record: the message names the file,
    why, and what to do."""


def _train_files_unreadable(path: Path, why: str) -> TrainFilesUnreadable:
    return TrainFilesUnreadable(
        f"{path} is not a list of training files ({why}): it is the record its training run writes (the photos, "
        f"dataset files and split manifests the model was trained with); copy it again from the run's folder "
        f"(RUN/{TRAIN_FILES}), or remove it (the model then records no training files, as one of an earlier release)")


def read_train_files(folder: str | Path) -> dict | None:
    """The ``train_files.json`` in ``folder`` (a run's, its best/'s, the copy ``ship`` or an ONNX export puts in a
    folder it writes: :meth:`~drywallqa.engine.trainer.Trainer.files_record`), the one reading of it; None where
    there is none (it is optional: a folder of ``save_pretrained``, or of an earlier release). An entry a caller does
    not find (a run of an earlier release records fewer) is the caller's to take as unrecorded.

    Raises:
        TrainFilesUnreadable: (a ValueError) naming the file and what to do, where it is there but cannot be read, is
            not JSON, or is not a JSON object.
    """
    path = Path(folder) / TRAIN_FILES
    if not os.path.exists(path):  # (a link that leads nowhere: none; a name longer than the disk allows: Path.exists
        # raised it, an OSError traceback from evaluate --model-path)
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:  # (UnicodeDecodeError and JSONDecodeError are ValueErrors)
        raise _train_files_unreadable(path, type(exc).__name__) from exc
    if not isinstance(record, dict):
        raise _train_files_unreadable(path, f"a JSON {type(record).__name__}, not an object")
    return record


def trained_files(folder: str | Path) -> list | None:
    """The photos the model in ``folder`` was trained on, as the ``train_files.json`` there names them
    (:func:`train_files_name`; its ``train`` entry, a list of them per dataset), in one list, each entry as written
    (what a caller cannot use it leaves out); None where there is no such file (:func:`read_train_files`).

    Raises:
        TrainFilesUnreadable: (a ValueError) naming the file, where it cannot be read or is not the trainer's record.
    """
    record = read_train_files(folder)
    if record is None:
        return None
    groups = record.get("train", [])
    if not isinstance(groups, list) or not all(isinstance(g, (str, list)) for g in groups):
        raise _train_files_unreadable(Path(folder) / TRAIN_FILES, "its train entry is not a list of lists of files")
    return [f for group in groups for f in ([group] if isinstance(group, str) else group)]


def holds_run(folder: str | Path) -> bool:
    """Whether ``folder`` holds a training run (a checkpoint or a best model) that a new run would overwrite."""
    return any((Path(folder) / name).exists() for name in ("last.pt", "best"))


def run_model_around(folder: str | Path) -> Path | None:
    """The ``best/`` of a training run that ``folder`` is or lies in, or None: the run replaces that folder whole at
    its next better epoch, and whatever was written inside it with it."""
    folder = Path(folder).resolve()
    for p in (folder, *folder.parents):
        if p.name == "best" and ((p.parent / "last.pt").exists() or run_in_use(p.parent)):
            return p
    return None


def changed_settings(saved: dict, now: dict, may_change=RESUME_MAY_CHANGE) -> list[str]:
    """The dotted keys (``optim.lr``) whose value differs between two :meth:`TrainConfig.to_dict` dicts, leaving
    out ``may_change`` (:data:`RESUME_MAY_CHANGE`); a mapping such as ``model_config`` compares whole. Both are
    compared as a YAML file holds them (a tuple as a list), and a key an earlier release did not store as its default: that release
    trained with it."""
    saved, now = normal_config(saved), normal_config(now)

    def flat(d: dict) -> dict:
        return {f"{k}.{j}" if isinstance(v, dict) and k in SECTIONS else k: w
                for k, v in d.items() for j, w in (v.items() if isinstance(v, dict) and k in SECTIONS else [(None, v)])}

    a, b = flat(saved), flat(now)
    return sorted(k for k in a.keys() | b.keys() if k not in may_change and a.get(k) != b.get(k))


def config_file_settings(path: str | Path) -> dict | None:
    """The settings (:meth:`TrainConfig.to_dict`) the config file ``path`` gives; None where it gives none (missing,
    not YAML, not a config this release takes)."""
    import yaml

    try:
        return TrainConfig.from_yaml(path).to_dict()
    except (OSError, ValueError, TypeError, yaml.YAMLError):
        return None


def check_config_file(config_file: str | Path, config: TrainConfig, resume: bool = False) -> None:
    """A run records the settings it trains with in ``output_dir/config.yaml``. Where that is the file the run is
    read from (``drywallqa train runs/exp/config.yaml`` with ``output_dir: runs/exp``), the file is kept as it is
    (comments and all) when it says what the run trains with; overrides or options that change it are refused,
    since the run would replace the file with them. With ``resume``, what a resumed run may change
    (:data:`RESUME_MAY_CHANGE`: more epochs, another device) is allowed, and recorded in the file as the run goes on.

    Raises:
        ValueError: naming the file and the settings that would change.
    """
    source, record = Path(config_file), Path(config.output_dir) / "config.yaml"
    try:
        same = record.exists() and os.path.samefile(source, record)
    except OSError:
        return
    saved = config_file_settings(source) if same else None
    if saved is None:
        return
    changed = changed_settings(saved, config.to_dict(), may_change=RESUME_MAY_CHANGE if resume else ())
    if changed:
        raise ValueError(f"{source} is the config.yaml of output_dir {config.output_dir}, where a run records the "
                         f"settings it trains with: with {', '.join(changed)} changed (by overrides or options) the run "
                         "would replace it. Edit it, or train from a copy outside the run folder")


def normal_config(d: dict) -> dict:
    """A stored config dict with the defaults of keys it lacks filled in (an earlier release trained with them) and
    tuples as lists (as ``config.yaml`` gives them back)."""
    defaults = TrainConfig().to_dict()
    filled = {**defaults, **d}
    for section in SECTIONS:
        if isinstance(d.get(section), dict):
            filled[section] = {**defaults[section], **d[section]}
    return json.loads(json.dumps(filled, default=str))


def _checkpoint_globals() -> list:
    """What a trainer checkpoint holds besides tensors and Python's own values: numpy's random state (an array), named
    as numpy 2 pickles it and as numpy 1 did (``numpy.core``: a run begun before numpy was upgraded); ``torch.load``
    loads nothing else (it runs what a pickle names)."""
    import importlib

    multiarray = importlib.import_module("numpy._core.multiarray" if hasattr(np, "_core") else "numpy.core.multiarray")
    rebuild = multiarray._reconstruct
    return [(rebuild, "numpy._core.multiarray._reconstruct"), (rebuild, "numpy.core.multiarray._reconstruct"),
            np.ndarray, np.dtype, type(np.dtype(np.uint32))]


def read_checkpoint(path: Path, device) -> dict:
    """The trainer state in ``path`` (``last.pt``), loaded with ``weights_only``: a file naming anything but tensors,
    Python values and numpy arrays (a pickle of another program, which would run as it is loaded) is refused.

    Raises:
        ValueError: the file cannot be read, is cut short, or is not a trainer checkpoint.
    """
    try:
        with torch.serialization.safe_globals(_checkpoint_globals()):
            state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsupported global" not in str(exc) and "GLOBAL" not in str(exc):
            raise ValueError(f"{path} cannot be read (UnpicklingError: {str(exc)[:200]}); it may be cut short: start "
                             "again with --overwrite, or from the run's best/ with init_from") from None
        named = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        raise ValueError(f"{path} is not a drywallqa training checkpoint: it names "
                         f"{named.group(1) if named else 'something'} to load, which a checkpoint never holds (loading "
                         "it could run code); it was not loaded") from None
    except Exception as exc:  # OSError, RuntimeError, EOFError; KeyError, IndexError, struct.error of bytes of no pickle
        raise ValueError(f"{path} cannot be read ({type(exc).__name__}: {str(exc)[:200]}); it may be cut short: start "
                         "again with --overwrite, or from the run's best/ with init_from") from None
    keys = ("model", "optimizer", "step", "epoch", "best_score", "history", "rng")
    if not isinstance(state, dict) or any(k not in state for k in keys):
        raise ValueError(f"{path} is not a drywallqa training checkpoint (it needs {', '.join(keys)})")
    rng = state["rng"]
    kinds = {"model": dict, "optimizer": dict, "history": list, "rng": dict}
    wrong = [k for k, kind in kinds.items() if not isinstance(state[k], kind)]
    wrong += [k for k in ("step", "epoch") if isinstance(state[k], bool) or not isinstance(state[k], int) or state[k] < 0]
    wrong += [k for k in ("best_score",) if isinstance(state[k], bool) or not isinstance(state[k], (int, float))]
    losses = state.get("epoch_losses", [])  # of the epoch it stopped in: each step's {loss name: number}
    if not (isinstance(losses, list) and all(isinstance(step, dict) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in step.values()) for step in losses)):
        wrong.append("epoch_losses")
    if isinstance(rng, dict):  # the three random states a resume restores, as the trainer saves them
        torch_rng = rng.get("torch")
        if not (isinstance(torch_rng, torch.Tensor) and torch_rng.dtype == torch.uint8) or \
                not isinstance(rng.get("numpy"), tuple) or not isinstance(rng.get("python"), tuple):
            wrong.append("rng")
    if wrong:  # a file of another training script with these keys: a TypeError or AttributeError later, mid-resume
        raise ValueError(f"{path} is not a drywallqa training checkpoint: {', '.join(wrong)} not as the trainer "
                         "writes them")
    return state
