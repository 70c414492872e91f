"""``drywallqa ship``: a trained model made ready to use, every choice made on the group-clean **val** part.

Input sizes (one or two, logits averaged) and mirror-image test-time augmentation are tried where they fit a
speed budget (median ms for the first and for each extra prompt, 2 threads, val photos from disk); for each,
the :class:`~drywallqa.engine.validator.Validator` picks each dataset's threshold and post-processing; the
candidate with the best val mIoU is written as a model folder (float16 weights; every candidate's timing and
val scores in ``selection.json``) with the run's
``train_files.json`` and training curves, then given a prompt gate (:mod:`drywallqa.text.gate`) and a
confidence calibration (:mod:`drywallqa.engine.calibrate`), both also chosen on val. Last, the product's main
case is checked on the val part: cracks transplanted onto drywall photos (:mod:`drywallqa.engine.cracks_on_drywall`),
for the new model and the model it replaces: where the new one finds clearly fewer, the old model stays and the
new one is left beside it as ``<dest>.candidate`` (a model trained on drywall photos without crack transplants
learns that drywall holds no cracks, which neither dataset's own val photos show). The folder is written beside
the destination and swapped in at the end, so an interrupted ship leaves the old model whole.

    drywallqa ship runs/default --out src/drywallqa/weights/fast
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import torch

from ..confidence import CONFIDENCE_FILE, MIN_MASKS
from ..data.grouping import GROUP_LEFT_OUT, samples_of_part
from ..data.registry import answer_datasets, check_datasets_given, datasets_by_concept
from ..models.base import CONFIG_NAME, WEIGHTS_NAME, is_drywallqa_model_dir, not_a_model_folder
from ..models.shipped import resolve_model_dir
from ..text.gate import GATE_FILE
from ..text.gate_calibration import calibrate_model_gate, concepts_without_paraphrases
from ..utils.checks import whole_number
from ..utils.files import KeptAside, replace_dir, replaced_hint, restore_replaced, temp_dir
from ..utils.locks import folders_to_make, remove_made_folders
from ..utils.logs import warnings_held_back
from ..utils.paths import check_replaceable_dir
from . import cracks_on_drywall as drywall
from .calibrate import (FolderReplaced, calibrate_model_confidence, calibrated_concepts, check_keeps_concepts,
                        folder_stamp)
from .folder_writers import holding_writer_lock
from .torch_runtime import TorchSegmenter
from . import run_folder
from .run_folder import TrainFilesUnreadable, read_train_files, run_in_use, run_model_around, train_files_name, trained_files
from .segmenter import Segmenter
from .speed import measure_speed
from .validator import Validator, prompt_postprocess, prompt_thresholds

SHIP_MAX_SCALE = 2048  # the largest input size --scales takes (candidates for a shipped model)
SELECTION_FILE = "selection.json"  # the sweep behind the shipped options, beside config.json
CALIBRATION_FILES = (GATE_FILE, CONFIDENCE_FILE)  # made again unless --no-gate / --no-confidence
KEPT_FILES = ("MODEL_CARD.md", "README.md")  # of the folder replaced

CANDIDATE_SCALES = ((384,), (448,), (512,), (384, 512))
BUDGET_FIRST_MS, BUDGET_EXTRA_MS = 150.0, 50.0  # the `fast` model's budget (2 threads, a laptop CPU)
SHIPPED_RUN_FILES = ("metrics.csv", "curves.png", "config.yaml")  # of a training run, copied as training_<name>
# every file ship writes into a model folder (this release and the earlier ones), the kept ones with them: a folder
# holding only these is replaced whole unasked (a model shipped, trained or calibrated before); anything else is asked
SHIP_WRITES = (CONFIG_NAME, WEIGHTS_NAME, SELECTION_FILE, "train_files.json", *CALIBRATION_FILES, *KEPT_FILES,
               *(f"training_{name}" for name in SHIPPED_RUN_FILES))


def parse_scales(text: str) -> tuple:
    """``"448"`` -> ``(448,)``, ``"384,512"`` -> ``(384, 512)`` (positive multiples of 32; ValueError otherwise)."""
    values = [v.strip() for v in text.split(",")]
    if not all(re.fullmatch(r"[0-9]+", v) for v in values):  # int() read "3_84" as 384, and other scripts' digits too
        raise ValueError(f"{text!r}: sizes in pixels (digits 0-9) separated by commas, e.g. 448 or 384,512")
    scales = tuple(int(v) for v in values)
    if not scales or any(v <= 0 or v % 32 for v in scales):
        raise ValueError(f"{text!r}: every size must be a positive multiple of 32")
    if any(v > SHIP_MAX_SCALE for v in scales):  # 65536 made a 50 GB input: out of memory, after the val photos were read
        raise ValueError(f"{text!r}: every size must be at most {SHIP_MAX_SCALE}")
    if len(set(scales)) < len(scales):  # a size averaged with itself: its time twice, the same masks
        raise ValueError(f"{text!r}: a size given twice; give each size once (384,512 averages two sizes)")
    return scales


def model_folder(source: str | Path) -> Path:
    """The model folder of ``source``: itself, a training run's ``best/``, or a shipped model's name
    (FileNotFoundError otherwise)."""
    from ..export.onnx import is_onnx_export_dir

    source = resolve_model_dir(source)
    for folder in (source, source / "best"):
        if is_onnx_export_dir(folder):  # said before the val photos are read, not when the sweep loads it
            raise FileNotFoundError(f"{folder} is an ONNX export; ship takes the torch model folder it was exported "
                                    "from (and its export is made again from the shipped folder)")
        if is_drywallqa_model_dir(folder):
            return folder
    for folder in (source, source / "best"):  # a model folder, or a run's best/, that is damaged: why, not only what
        if os.path.isfile(folder / "config.json"):  # it is not (a run's was "neither a model folder nor a training run")
            raise FileNotFoundError(not_a_model_folder(folder))
    try:  # a ship into SOURCE itself (re-shipped in place) killed between its renames: this one fails before it would
        aside = replaced_hint(source) and source.with_name(f".{source.name}.replaced")  # put it back
    except (OSError, ValueError):  # a name longer than the disk allows; "." (no name)
        aside = ""
    hint = (f"; a ship into it was stopped between its two renames: the model is whole in {aside}, rename it back to "
            f"{source.name}" if aside else "")
    raise FileNotFoundError(f"{source}: neither a drywallqa model folder nor a training run with best/{hint}")


def select(model_dir: Path, validator: Validator, timing_paths: list, scales=CANDIDATE_SCALES, tta=(False, True),
           budget_first_ms: float | None = BUDGET_FIRST_MS, budget_extra_ms: float | None = BUDGET_EXTRA_MS,
           prompts=("segment crack", "segment taping area", "segment joint/tape"), report=print,
           progress: bool = True) -> tuple[dict, list]:
    """Every (scales, tta) candidate timed and, within the budget (None: no budget), validated.
    Returns the best candidate and all of them (with their timings and choices). ``progress``: a bar over each
    candidate's timing photos (the validator draws its own)."""
    candidates = []
    for sizes in scales:
        for flip in tta:
            seg = TorchSegmenter.from_path(model_dir, tta=flip, scales=sizes, prompt_gate=False, confidence=False)
            desc = f"candidate {len(candidates) + 1}/{len(scales) * len(tta)} (scales {list(sizes)}, tta {flip}): timing"
            speed = (measure_speed(seg, timing_paths, list(prompts), warmup=3, progress=progress, desc=desc)
                     if timing_paths else {})
            entry = {"scales": list(sizes), "tta": flip, "median_ms_first_prompt": speed.get("median_ms_first_prompt"),
                     "median_ms_per_extra_prompt": speed.get("median_ms_per_extra_prompt")}
            extra = entry["median_ms_per_extra_prompt"]  # None: one prompt timed, no extra one to cost
            entry["within_budget"] = ((budget_first_ms is None or entry["median_ms_first_prompt"] <= budget_first_ms)
                                      and (budget_extra_ms is None or extra is None or extra <= budget_extra_ms))
            if entry["within_budget"]:
                result = validator(seg)
                entry.update(result.choose().to_dict(), val_mIoU_table={d: t.tolist() for d, t in result.ious.items()})
            report({k: v for k, v in entry.items() if k != "val_mIoU_table"})
            candidates.append(entry)
    eligible = [c for c in candidates if c["within_budget"]]
    if not eligible:
        raise ValueError("no candidate fits the speed budget: " + "; ".join(
            f"{c['scales']} tta={c['tta']}: {c['median_ms_first_prompt']:.0f} ms" for c in candidates))
    return max(eligible, key=lambda c: c["val_mIoU"]), candidates


SELECTED_ON = "group-clean val part (published valid/test images left out)"


def selected_on(limit: int | None) -> str:
    """What a shipped folder's options were chosen on, as its ``config.json`` and ``selection.json`` say: with
    ``--limit`` (a smoke run), that only the first photos were (a folder written so looked like one chosen on all)."""
    return SELECTED_ON if limit is None else f"{SELECTED_ON}, only the first {limit} photos of each dataset (--limit)"


def write_shipped(model_dir: Path, dest: Path, best: dict, candidates: list, run_dir: Path | None,
                  limit: int | None = None, val_photos: dict | None = None) -> None:
    """``model_dir``'s weights (float16) with the chosen options into ``dest`` (which must not exist); ``limit`` and
    ``val_photos`` (dataset -> photos validated on) are recorded."""
    seg = TorchSegmenter.from_path(model_dir, prompt_gate=False, confidence=False)
    meta = {k: v for k, v in seg.metadata.items() if k not in ("model_type", "config")}
    meta.update(threshold=best["threshold"], tta=best["tta"], scales=best["scales"],
                prompt_thresholds=prompt_thresholds(best["dataset_thresholds"]),
                postprocess=prompt_postprocess(best["postprocess"]),
                selected_on=selected_on(limit))
    meta.pop("selection", None)  # a model shipped before the sweep had a file of its own
    seg.model.save_pretrained(dest, extra=meta, dtype=torch.float16)
    sweep = {"selected_on": meta["selected_on"], "limit": limit, "val_photos": val_photos,
             "chosen": {k: v for k, v in best.items() if k != "val_mIoU_table"},
             "candidates": [{k: v for k, v in c.items() if k != "val_mIoU_table"} for c in candidates]}
    (dest / SELECTION_FILE).write_text(json.dumps(sweep, indent=1))
    for folder in (model_dir, run_dir):
        if folder is not None and (folder / "train_files.json").is_file():
            shutil.copy(folder / "train_files.json", dest / "train_files.json")
            break
    for name in SHIPPED_RUN_FILES if run_dir is not None else ():
        if (run_dir / name).is_file():
            shutil.copy(run_dir / name, dest / f"training_{name}")
    if run_dir is None:  # a model folder shipped again: its training record and calibrations go with its weights
        for f in model_dir.iterdir():
            if f.is_file() and (f.name.startswith("training_") or f.name in CALIBRATION_FILES):
                shutil.copy(f, dest / f.name)


class DrywallRegression(ValueError):
    """The new model finds clearly fewer cracks on drywall than the model it would replace (nothing replaced)."""


def drywall_pair(datasets) -> tuple[str, str] | None:
    """The (crack, drywall) datasets among ``datasets`` whose photos the cracks-on-drywall check pairs: the first
    of concept ``cracks`` and the first of concept ``taping``; None where either is missing."""
    groups = datasets_by_concept(datasets)
    if drywall.CRACK_CONCEPT in groups and drywall.WALL_CONCEPT in groups:
        return groups[drywall.CRACK_CONCEPT][0], groups[drywall.WALL_CONCEPT][0]
    return None


def check_drywall(model_dir: Path, replaced: Path | None, pair: tuple[str, str], splits_dir=None, datasets_dir=None,
                  limit: int | None = None, progress: bool = True, report=print) -> dict:
    """The cracks-on-drywall check on the group-clean val part for ``model_dir`` and, where given, the model
    folder it replaces: ``{"part", "crack_dataset", "drywall_dataset", "rows": {"new": row, "replaced": row},
    "worse": bool}`` (rows as :func:`drywallqa.engine.cracks_on_drywall.score_cracks_on_drywall` gives them). A
    replaced model that cannot be loaded (a damaged folder: the reason to replace it) is not compared, with a
    warning through ``report``."""
    models = {"new": Segmenter.load(model_dir)}
    if replaced is not None:
        try:
            models["replaced"] = Segmenter.load(replaced)
        except (OSError, ValueError) as exc:
            report(f"WARNING: the model in {replaced} cannot be loaded ({exc}); the new model is not compared with it")
    pairs = drywall.transplant_pairs("val", splits_dir, datasets_dir, limit, *pair)
    rows, _ = drywall.score_cracks_on_drywall(models, pairs, progress=progress)
    rows = {r["model"]: r for r in rows}
    return {"part": "val", "crack_dataset": pair[0], "drywall_dataset": pair[1], "rows": rows,
            "worse": "replaced" in rows and drywall.worse_than(rows["new"], rows["replaced"])}


def drywall_step(tmp: Path, dest: Path, pair: tuple[str, str], accept_regression: bool, splits_dir, datasets_dir,
                 limit, progress, report) -> dict:
    """:func:`check_drywall` of the model being written in ``tmp`` against the one in ``dest``, recorded in its
    ``selection.json``; a clear regression moves ``tmp`` to ``<dest>.candidate`` and raises
    :class:`DrywallRegression` (unless ``accept_regression``). Returns the summary for the shipping report."""
    check = check_drywall(tmp, dest if is_drywallqa_model_dir(dest) else None, pair, splits_dir, datasets_dir, limit,
                          progress, report)
    rows = check["rows"]
    sweep = json.loads((tmp / SELECTION_FILE).read_text())
    (tmp / SELECTION_FILE).write_text(json.dumps(sweep | {"cracks_on_drywall": check}, indent=1))
    report("val part, " + drywall.summary(rows["new"], rows.get("replaced")))
    if check["worse"] and not accept_regression:
        candidate, kept = write_candidate(tmp, dest)
        raise DrywallRegression(
            f"the new model finds clearly fewer val cracks on drywall than the model in {dest} ("
            + drywall.summary(rows["new"], rows["replaced"]) + f"); {dest} is unchanged, the new model is in "
            f"{candidate} (--accept-drywall-regression replaces it anyway){kept}")
    if check["worse"]:
        report("WARNING: the new model finds clearly fewer cracks on drywall than the model it replaces")
    return {k: v for k, v in check.items() if k != "rows"} | {
        "missed": rows["new"]["missed_on_drywall"], "crack_photos": rows["new"]["crack_photos"],
        "crack_mIoU_on_drywall": rows["new"]["crack_mIoU_on_drywall"]}


def write_candidate(tmp: Path, dest: Path) -> tuple[Path, str]:
    """Rename the new model folder ``tmp`` to ``<dest>.candidate`` (the model not swapped into ``dest``), replacing an
    earlier candidate whole (a file or a link there too: left by rmtree, it failed the rename, the new model lost after
    all the work); an earlier candidate holding files ship does not write (a user's notes, an ``eval/`` report of it:
    any file, where it is no model folder) is not deleted but kept whole as ``<dest>.candidate.replaced`` (``-2``,
    ...), as ``dest`` itself is. Returns the candidate's path and what to add to the message that names it: where it
    was kept, and what it holds (empty where nothing was kept)."""
    candidate = dest.with_name(f"{dest.name}.candidate")
    try:
        replace_dir(tmp, candidate, unexpected=_not_candidate_files)
    except KeptAside as exc:
        what = ", ".join(exc.names[:5]) + (", ..." if len(exc.names) > 5 else "") if exc.names else "files"
        return candidate, (f"; the earlier {candidate.name} held {what} (files ship does not write): it is kept whole in "
                           f"{exc.kept}; move them out of it, then delete it")
    return candidate, ""


def _not_candidate_files(folder: Path) -> list[str]:
    """What replacing the earlier candidate ``folder`` may not delete: :func:`files_ship_does_not_write` of a model
    folder; every name but a file browser's in any other folder."""
    if is_drywallqa_model_dir(folder):
        return files_ship_does_not_write(folder)
    return sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir()
                  if not (browser_metadata(p.name) and p.is_file()))


def files_ship_does_not_write(dest: Path) -> list[str]:
    """The names in the model folder ``dest`` that no ship writes (:data:`SHIP_WRITES`; a CLIPSeg model's tokenizer,
    the model folder's files an ONNX export copies and a file browser's, :func:`browser_metadata`, too), sorted, a
    folder's with a trailing ``/``: a user's notes, an ``eval/`` report, an ONNX export or a TensorRT engine made of
    its weights."""
    from ..export.onnx import EXPORT_EXTRAS
    from ..models.clipseg.modeling_clipseg import TOKENIZER_FILES

    ours = {*SHIP_WRITES, *EXPORT_EXTRAS, *TOKENIZER_FILES}
    return sorted(p.name + ("/" if p.is_dir() else "") for p in Path(dest).iterdir()
                  if not ((p.name in ours or browser_metadata(p.name)) and p.is_file()))


BROWSER_FILES = (".DS_Store", "Thumbs.db", "desktop.ini")  # a file browser's, written whenever a folder is opened


def browser_metadata(name: str) -> bool:
    """Whether ``name`` is a file a file browser writes into any folder it shows (macOS Finder's ``.DS_Store`` and, on
    a disk without its attributes, ``._<name>``; Windows Explorer's ``Thumbs.db``, ``desktop.ini``): nothing of a
    user's that replacing a model folder whole loses (it is written again), so not asked about."""
    return name in BROWSER_FILES or name.startswith("._")


def check_destination(model_dir: Path, dest: Path, overwrite: bool = False) -> None:
    """``dest`` may be replaced by a shipped model: absent, an empty folder, or a model folder (``model_dir`` itself
    too, re-shipped in place) holding only what a ship writes (any other file, unless ``overwrite``:
    :func:`files_ship_does_not_write`), never an ONNX export, a file, another folder, a folder holding ``model_dir`` (a
    training run), nor a training run's ``best/`` or a folder inside it (its trainer replaces it whole).

    Raises:
        ValueError: naming what is there, after ``--out``.
    """
    from ..export.onnx import is_onnx_export_dir

    try:
        check_replaceable_dir(dest, "the shipped model", is_drywallqa_model_dir, source=model_dir)
    except ValueError as exc:
        folder = Path(dest)  # a model folder whose config.json is damaged or gone: it was said to hold "other files"
        if "holds other files" in str(exc) and any((folder / f).exists() for f in (CONFIG_NAME, WEIGHTS_NAME)):
            raise ValueError(f"--out {not_a_model_folder(folder)}; a damaged model folder is not replaced unasked: move "
                             "it away (or delete it) first, or give another --out") from None
        raise ValueError(f"--out {exc}") from None
    if is_onnx_export_dir(dest):  # replaced whole by a torch folder: its graphs, and what was built beside them (a
        # TensorRT engine, which export onnx itself never deletes), were gone
        raise ValueError(f"--out {dest} is an ONNX export, which ship would replace with a torch model folder: ship into "
                         "another folder (and export that with drywallqa export onnx)")
    here = Path(dest).resolve()  # the source's run or another's: its best/ replaced (the run's weights lost), or the
    around = run_model_around(here) or (here if run_of(here) is not None else None)  # shipped model gone with it
    if around is not None:
        where = "is the best/" if around == here else f"lies in {around}, the best/"
        raise ValueError(f"--out {dest} {where} of the training run {around.parent}, which its trainer replaces whole at "
                         f"each better epoch (a resumed run too): ship into a folder outside the run")
    name = Path(dest).resolve().name
    if len(name.encode()) > MAX_DEST_NAME_BYTES:  # its temporary siblings (".<name>.shipping.<pid>-...") would not fit
        raise ValueError(f"--out {dest}: a folder name of at most {MAX_DEST_NAME_BYTES} bytes, please (this one has "
                         f"{len(name.encode())}): the folder is written beside it under a longer name, then renamed")
    others = files_ship_does_not_write(dest) if Path(dest).is_dir() and not overwrite else []
    if others:  # replaced whole, they were deleted without a word (a report, notes, an export of the old weights)
        raise ValueError(f"--out {not_ship_files(dest, others)}")


def not_ship_files(dest: Path, others: list[str]) -> str:
    """Why ``dest``, a model folder holding ``others`` (files no ship writes), is not replaced, and the ways on."""
    return (f"{dest} holds files ship does not write ({', '.join(others[:5])}{', ...' if len(others) > 5 else ''}), "
            "which replacing the folder whole would delete (and any made of its old weights, an ONNX export or a "
            "TensorRT engine, would not match the new ones): move them out of it (an export is made again from the "
            "shipped folder: drywallqa export onnx), give another --out, or --overwrite to replace the folder and "
            "delete them")


MAX_DEST_NAME_BYTES = 200  # of a shipped folder's name: 255 a name on most disks, less its temporary siblings' additions


def snapshot_run(run_dir: Path, into: Path, tries: int = 20) -> int | None:
    """Copy a training run's ``best/`` (and the run's record, :data:`SHIPPED_RUN_FILES` and ``train_files.json``) into ``into``,
    as one epoch's: a trainer still running replaces ``best/`` whole at each better epoch, and a ship that read it
    there again for each candidate and for the folder written chose the thresholds on the weights of one epoch and
    wrote those of another. A copy that ``best/`` was replaced during is made again. Returns the epoch copied.

    Raises:
        ValueError: ``best/`` was replaced during every try.
    """
    best = run_dir / "best"
    for _ in range(tries):
        try:
            before = os.stat(best)
            shutil.rmtree(into / "best", ignore_errors=True)
            shutil.copytree(best, into / "best", ignore_dangling_symlinks=True)  # a link to nowhere: nothing to ship
            after = os.stat(best)
        except FileNotFoundError:  # between the two renames of a replace
            time.sleep(0.2)
            continue
        if (before.st_ino, before.st_ctime_ns) == (after.st_ino, after.st_ctime_ns):
            for name in (*SHIPPED_RUN_FILES, "train_files.json"):
                if (run_dir / name).is_file():
                    shutil.copy(run_dir / name, into / name)
            meta = json.loads((into / "best" / "config.json").read_text())
            return meta.get("epoch") if isinstance(meta, dict) else None
        time.sleep(0.2)
    raise ValueError(f"{best} was replaced while it was copied, {tries} times: ship it once the run has ended")


class ShipRefused(ValueError):
    """What :func:`ship` refuses before any work, and the option at fault (``option``: ``SOURCE``, ``--dataset``,
    ``--limit``), for the CLI's usage error."""

    def __init__(self, message: str, option: str):
        super().__init__(message)
        self.option = option


def _train_files_entry(folder: str | Path, key: str):
    """The ``key`` entry of the ``train_files.json`` in ``folder`` (:func:`~.run_folder.read_train_files`); None where
    there is no such file or it has no such entry (a run of an earlier drywallqa records fewer).

    Raises:
        TrainFilesUnreadable: (a ValueError) naming the file and what to do, where it is there but cannot be read.
    """
    record = read_train_files(folder)
    return None if record is None else record.get(key)


def _not_found_here(path: str) -> bool:
    """Whether ``path`` (a dataset entry as a run recorded it) is a dataset YAML file given by a relative path that is
    not found from the folder this command runs in (a run that does not record where it read it)."""
    from ..data.registry import is_dataset_file

    return is_dataset_file(path) and not Path(path).is_absolute() and not Path(path).is_file()


def recorded_datasets(config_file: Path, files_folder: Path) -> tuple[list[tuple[str, str]], str | None] | None:
    """``([(entry, path)], datasets_dir)`` of the training config ``config_file`` (a run's ``config.yaml``, a shipped
    folder's ``training_config.yaml``): each entry of its ``data.datasets`` with where to read it (a dataset YAML file
    given by a relative path where the run read it, the ``dataset_files`` of the ``train_files.json`` in
    ``files_folder``, where that file is still
    there; a run of an earlier drywallqa did not record it, and a run trained on another machine or checkout read it
    where it is not here: the path as written, of the folder this command runs in), and its ``data.datasets_dir``.
    None where the config cannot be read or names no datasets."""
    import yaml

    try:
        record = yaml.safe_load(Path(config_file).read_text())
        data = record.get("data") or {}
        trained = data.get("datasets") or []
        datasets_dir = data.get("datasets_dir")
    except (OSError, ValueError, AttributeError, TypeError, yaml.YAMLError):
        return None
    if not isinstance(trained, list):  # a damaged record ("datasets: cracks" was read as the datasets c, r, a, ...)
        return None
    read_at = _train_files_entry(files_folder, "dataset_files")  # where the run read its dataset YAML files
    read_at = read_at if isinstance(read_at, dict) else {}
    # a recorded path that is gone (a run trained on another machine or checkout, copied here): the entry as written
    entries = [(str(entry), read_at[str(entry)] if isinstance(read_at.get(str(entry)), str)
                and Path(read_at[str(entry)]).is_file() else str(entry)) for entry in trained]
    return (entries, datasets_dir) if entries else None


def trained_datasets_left_out(run_dir: Path, datasets, unchecked: list | None = None) -> dict[str, tuple[str, ...]]:
    """``name -> prompts`` of the datasets the training run ``run_dir`` was trained on (its ``config.yaml``'s
    ``data.datasets``) whose concept none of ``datasets`` has: shipped on the others alone, the prompt gate made for
    them refused those prompts ("not something this model was trained to find") and no threshold was chosen for
    them. A dataset YAML file given by a relative path is read where the run read it (``train_files.json``'s
    ``dataset_files``; a run of an earlier drywallqa did not record it: from the folder this command runs in). One
    that cannot be read now (a YAML file moved, a relative path of an earlier run not found from here, a record that
    is not one) is left out of the check, and added to ``unchecked`` (``"entry (why)"``) where given."""
    from ..data.registry import get_dataset_config

    recorded = recorded_datasets(run_dir / "config.yaml", run_dir)
    if recorded is None:
        return {}
    trained, datasets_dir = recorded
    given = set(datasets_by_concept(datasets))
    left_out, unchecked = {}, unchecked if unchecked is not None else []
    for entry, path in trained:
        if _not_found_here(path):
            unchecked.append(f"{entry} (a path relative to the folder the run was trained in, which the run does not "
                             f"record, and not found from {Path.cwd()}: run ship from that folder)")
            continue
        try:
            config = get_dataset_config(path, datasets_dir)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            unchecked.append(f"{entry} ({str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else exc})")
            continue
        if config.concept_name not in given:
            left_out[config.name] = tuple(config.prompts)
    return left_out


def trained_datasets(model_dir: str | Path, with_dir: bool = False) -> tuple | None:
    """The datasets the model in ``model_dir`` was trained on, as ``--dataset`` takes them (names, and dataset YAML
    files where the run read them), where that was read, and the entries of a YAML file given by a relative path
    that is not found from the folder this command runs in (a run that does not record where it read it): ``(names,
    where, not_found)``. Read from the run's ``config.yaml`` (``data.datasets``) for a training run's ``best/``; from
    the ``training_config.yaml`` that ``ship`` copied of it (``training_*`` files go with a folder shipped again) for
    a model folder; for an ONNX export, from the model folder its ``config.json`` says it was exported from, where it
    is still there. A dataset file's ``dataset_files`` record (``train_files.json``) is read beside it. None where
    none of these records any datasets (a model folder written by ``save_pretrained``, an export of one moved away).
    ``with_dir``: ``(names, where, not_found, datasets_dir)``, with the record's ``data.datasets_dir`` (None where it
    records none: the default), the folder its ``{datasets}/`` dataset YAML files and registered datasets were read in."""
    from ..export.onnx import EXPORTED_FROM, is_onnx_export_dir

    folder = Path(model_dir)
    if is_onnx_export_dir(folder):  # it carries its model's config.json, gate, confidence, card and train_files.json
        try:
            source = json.loads((folder / CONFIG_NAME).read_text()).get(EXPORTED_FROM, {}).get("folder")
        except (OSError, ValueError, AttributeError):
            source = None
        if not isinstance(source, str) or not is_drywallqa_model_dir(source) or is_onnx_export_dir(source):
            return None
        found = trained_datasets(source, with_dir)
        return None if found is None else (found[0], f"{found[1]}, the model {folder} was exported from", *found[2:])
    run_dir = run_of(folder)
    config_file, files_folder = ((run_dir / "config.yaml", run_dir) if run_dir is not None else
                                 (folder / "training_config.yaml", folder))
    recorded = recorded_datasets(config_file, files_folder)
    if recorded is None:
        return None
    names = [path for _, path in recorded[0]]
    not_found = [entry for entry, path in recorded[0] if _not_found_here(path)]
    datasets_dir = recorded[1] if isinstance(recorded[1], str) and recorded[1] else None
    return (names, f"{config_file}'s data.datasets", not_found, *((datasets_dir,) if with_dir else ()))


def recorded_split_manifests(model_dir: str | Path) -> dict[str, str] | None:
    """``dataset -> path`` of the split manifests the model in ``model_dir`` was trained with (absolute paths, as the
    trainer read them: ``split_manifests`` of the ``train_files.json`` beside its weights, which ``ship`` copies into
    the folder it writes); None where it records none (a run of an earlier drywallqa, a folder without the file)."""
    read = _train_files_entry(model_dir, "split_manifests")
    if not isinstance(read, dict):
        return None
    return {str(d): p for d, p in read.items() if isinstance(p, str) and p} or None


def recorded_split_manifest_digests(model_dir: str | Path) -> dict[str, str]:
    """``dataset -> digest`` (:func:`~drywallqa.utils.stamps.file_digest`) of the split manifests the model in
    ``model_dir`` was trained with (``split_manifest_digests`` of its ``train_files.json``); {} where none is recorded."""
    read = _train_files_entry(model_dir, "split_manifest_digests")
    return {str(d): v for d, v in read.items() if isinstance(v, str)} if isinstance(read, dict) else {}


def val_photos_trained_on(model_dir: str | Path, datasets, splits_dir=None, datasets_dir=None) -> dict[str, int]:
    """Per dataset, how many photos of its group-clean val part (its published valid and test photos left out, as
    ``ship`` and ``calibrate-confidence`` read it) the model in ``model_dir`` was trained on, by the ``train_files.json``
    beside its weights (a photo named from its dataset's folder, "walls/train/x.jpg", as the trainer names it): a
    manifest drawn again after training (``data split --overwrite``, another ``--splits-dir``) puts them there, and the
    options and confidence chosen on them flatter the model. Only datasets with some; {} where the folder records no
    training files, and a dataset whose part cannot be read is left to the command to name.

    Raises:
        TrainFilesUnreadable: (a ValueError) where the folder's ``train_files.json`` cannot be read: counted as none,
            the model's options were chosen on photos it may have trained on without a word.
    """
    from ..data.registry import get_dataset_config

    trained = {f for f in trained_files(model_dir) or () if isinstance(f, str)}
    counts = {}
    for d in datasets:
        try:  # what the reading finds wrong is said by the command's own reading, once (this thread's alone held back)
            with warnings_held_back():
                root = get_dataset_config(d).root(datasets_dir)
                samples = samples_of_part(d, "val", splits_dir, datasets_dir, exclude_published=GROUP_LEFT_OUT["val"])
        except (OSError, ValueError, KeyError):
            continue
        n = sum(train_files_name(s.image_path, root) in trained for s in samples)
        if n:
            counts[get_dataset_config(d).name] = n
    return counts


def run_of(model_dir: Path) -> Path | None:
    """The training run whose ``best/`` ``model_dir`` is, or None: a model folder merely named ``best`` (shipped there)
    is a model folder, whose calibrations and record go with it when it is shipped again. ``model_dir`` is taken where
    it leads (absolute, links followed: ``.`` in best/, a link to a run's best/ are that run's; they were model folders,
    their run's datasets and record not found); the run is returned so named."""
    folder = Path(os.path.realpath(model_dir))
    record = [f for f in run_folder.RUN_FILES if f != "best"]  # what a training run holds beside its best/
    return folder.parent if folder.name == "best" and any((folder.parent / f).exists() for f in record) else None


@contextmanager
def ship_lock(dest: Path):
    """Hold ``.<name>.ship.lock`` beside ``dest`` while one ship chooses and writes it (its parent folders made for it,
    removed again where left empty): two ships into one folder at once each printed "wrote", the first's model was
    replaced by the second's unsaid, and the second's cracks-on-drywall check had compared it with the model the first
    replaced; a ship and an ONNX export into one folder each replaced the other's (:mod:`.folder_writers`).

    Raises:
        FolderInUse: another ship or an export writes ``dest``, or the lock file cannot be opened (a ValueError).
    """
    made = folders_to_make(dest.parent)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with holding_writer_lock(dest, "ship", "ship into another --out"):
            yield
    finally:
        remove_made_folders(made)  # up to the one not empty: the shipped folder, or another's


def check_source_loads(model_dir: Path, gate: bool, confidence: bool) -> None:
    """The model folder to ship loads with the calibrations that ship with it unchanged (its prompt gate where ``gate``
    is off, its confidence calibration where ``confidence`` is off; the others are made anew): a damaged
    ``confidence.json`` or ``prompt_gate.npz`` was copied into the shipped folder, which then did not load.

    Raises:
        ValueError: naming the damaged file.
    """
    try:
        TorchSegmenter.from_path(model_dir, prompt_gate=gate, confidence=confidence)
    except (OSError, KeyError) as exc:
        raise ValueError(f"the model to ship, {model_dir}, does not load: {exc}") from None


def check_val_photos_for_confidence(val_photos: dict) -> None:
    """ShipRefused (``--dataset``) where a concept has fewer val photos (``val_photos``: dataset -> photos) than the
    confidence calibration needs (:data:`~drywallqa.confidence.MIN_MASKS` masks of the datasets that score it)."""
    counts = {c: sum(val_photos.get(d, 0) for d in names) for c, names in answer_datasets(val_photos).items()}
    few = {c: n for c, n in counts.items() if n < MIN_MASKS}
    if few:
        raise ShipRefused(f"the confidence calibration needs at least {MIN_MASKS} val photos of each concept; the "
                          f"group-clean val part holds {', '.join(f'{n} of {c}' for c, n in few.items())} (give "
                          "the datasets a larger val part: drywallqa data split --val, or leave the confidence out: "
                          "--no-confidence)", "--dataset")


def check_kept_gate(model_dir: Path, datasets) -> None:
    """ShipRefused (``--no-gate``) where the prompt gate a model folder keeps (``--no-gate``) does not know a concept of
    ``datasets``: shipped on it, the model refused that concept's own prompts (an empty mask for 'segment taping area'
    of a model chosen on taping)."""
    known = calibrated_concepts(model_dir, gate=True, confidence=False)
    unknown = sorted(set(datasets_by_concept(datasets)) - known)
    if known and unknown:
        raise ShipRefused(f"the prompt gate of {model_dir}, kept by --no-gate, knows {', '.join(sorted(known))} only: "
                          f"the shipped model would refuse the prompts of {', '.join(unknown)}; leave out --no-gate "
                          "(a gate is calibrated anew for every dataset given)", "--no-gate")


def ship(source: str | Path, dest: str | Path, datasets=("cracks", "taping"), scales=CANDIDATE_SCALES, tta=(False, True),
         splits_dir=None, datasets_dir=None, limit: int | None = None, timing_images: int = 20,
         budget: bool = True, gate: bool = True, confidence: bool = True, drywall_check="auto",
         accept_drywall_regression: bool = False, overwrite: bool = False, progress: bool = True,
         report=print) -> dict:
    """Choose and write (see the module docstring). ``source``: a model folder or a training run.
    ``budget=False`` validates every candidate whatever its speed (a machine slower than the budget's).
    ``timing_images=0`` skips timing (only with ``budget=False``). ``drywall_check``: ``"auto"`` (the datasets of
    concepts ``cracks`` and ``taping``, where both are shipped on), a ``(crack dataset, drywall dataset)`` pair, or
    None (skipped). ``overwrite``: a model folder in ``dest`` holding files no ship writes (a user's notes, an
    ``eval/`` report, an ONNX export of its weights) is replaced whole too, those files deleted (and listed through
    ``report``); otherwise it is refused (a ValueError of :func:`check_destination`), and where such files appear in it
    while the model is chosen, ``dest`` is left as it was and the new model is written to ``<dest>.candidate``; where
    they appear as it is replaced, the folder replaced is kept whole beside it (its path the result's ``kept``, said
    through ``report``).

    Raises:
        ShipRefused: before any work, a request that cannot be shipped (a concept the calibrations made anew would drop,
            a source whose kept calibrations do not load, a ``limit`` too small for the confidence, a dataset without
            val photos, no labelled val crack photo for the cracks-on-drywall check), naming the option.
        DrywallRegression: the check finds the new model clearly worse than the model in ``dest`` (unless
            ``accept_drywall_regression``); ``dest`` is left as it was, the new model in ``<dest>.candidate``.
    """
    try:  # none: "need at least one array to stack", once the model had loaded
        check_datasets_given(datasets)
    except ValueError as exc:
        raise ShipRefused(str(exc), "--dataset") from None
    model_dir, dest = model_folder(source), Path(dest).resolve()  # "." has no name to write beside it under
    check_destination(model_dir, dest, overwrite)
    run_dir = run_of(model_dir)
    # limit 0 failed as "none of the photos could be read", -3 wrote a model chosen on all but the last 3 photos, said
    # to be chosen on "only the first -3"; timing_images -1 timed all but the last photo
    if limit is not None and not (whole_number(limit) and limit >= 1):
        raise ShipRefused(f"limit must be a whole number of at least 1 (or None: every photo), got {limit!r}", "--limit")
    if not (whole_number(timing_images) and timing_images >= 0):
        raise ValueError(f"timing_images must be a whole number of at least 0, got {timing_images!r}")
    limit, timing_images = None if limit is None else int(limit), int(timing_images)
    # none was said as "no candidate fits the speed budget: " (none listed); scales=(448,) failed once the photos were
    # read, "TypeError: 'int' object is not iterable"
    if not scales or not tta or any(not isinstance(s, (tuple, list)) for s in scales):
        raise ValueError(f"scales and tta: one or more candidates each, a tuple of input sizes per scales candidate, e.g. "
                         f"scales=((448,), (384, 512)), tta=(False, True); got scales={scales!r}, tta={tta!r}")
    if confidence and limit is not None and limit < MIN_MASKS:  # before the sweep, not after it
        raise ShipRefused(f"the confidence calibration needs at least {MIN_MASKS} val photos of each dataset; limit is "
                          f"{limit} (raise it, or leave the confidence out: --no-confidence)", "--limit")
    if budget and timing_images < 1:
        raise ValueError("the speed budget needs at least one timing photo (timing_images >= 1, or budget=False)")
    try:  # as calibrate-gate / -confidence: a concept the calibrations made anew would drop is refused (a gate of
        check_keeps_concepts(model_dir, datasets, gate, confidence)  # cracks alone refused the folder's tape prompts)
    except ValueError as exc:
        raise ShipRefused(str(exc), "--dataset") from None
    unchecked: list[str] = []
    try:
        left_out = trained_datasets_left_out(run_dir, datasets, unchecked) if run_dir is not None else {}
    except TrainFilesUnreadable as exc:  # (its dataset_files: where the run read its dataset YAML files)
        raise ShipRefused(str(exc), "SOURCE") from None
    if unchecked:  # said, not skipped without a word
        report(f"WARNING: {run_dir} was trained on {'; '.join(unchecked)}, which cannot be read here: whether the "
               "datasets given include it is not checked (give every dataset the run was trained on, its config.yaml's "
               "data.datasets)")
    if left_out:  # shipped on the others alone: its gate refused their prompts as "not something it was trained to find"
        names = ", ".join(f"{name} ({', '.join(repr(p) for p in prompts)})" for name, prompts in left_out.items())
        raise ShipRefused(f"{run_dir} was trained on {names} too, which the datasets given leave out: the prompt gate "
                          "made for the others would refuse its prompts, and no threshold would be chosen for them; give "
                          f"every dataset the run was trained on (its config.yaml, data.datasets)", "--dataset")
    with ExitStack() as stack:
        stack.enter_context(ship_lock(dest))  # one ship (or export) into a folder at a time
        if restore_replaced(dest):  # a ship or export killed between its two renames left no dest: the earlier folder
            # put back first (its MODEL_CARD.md was deleted with it unsaid, its other files not refused), looked at again
            report(f"{dest} was missing: a ship or export into it was killed between its two renames; the folder it "
                   f"replaced was put back from {dest.with_name(f'.{dest.name}.replaced')}")
            try:
                check_destination(model_dir, dest, overwrite)
            except ValueError as exc:  # before any work, as the check above: a usage error of --out
                raise ShipRefused(str(exc).removeprefix("--out "), "--out") from None
        candidate = dest.with_name(f"{dest.name}.candidate")
        if restore_replaced(candidate):  # the same of a write_candidate: else hidden for good unless one is written again
            report(f"{candidate} was missing: a ship writing it was killed between its two renames; the folder it "
                   f"replaced was put back from {candidate.with_name(f'.{candidate.name}.replaced')}")
        if run_dir is not None:  # a run's best/, which its trainer (maybe still running) replaces whole at a better epoch:
            dest.parent.mkdir(parents=True, exist_ok=True)  # the sweep, the weights written and their record all of one
            frozen = stack.enter_context(temp_dir(dest.parent, f".{dest.name}.source."))  # epoch, copied first
            epoch = snapshot_run(run_dir, frozen)
            try:  # weights missing or damaged: said now, of the run's best/ (not of the copy, gone when it is read)
                check_source_loads(frozen / "best", gate=False, confidence=False)
            except ValueError as exc:
                raise ShipRefused(str(exc).replace(str(frozen / "best"), str(model_dir)), "SOURCE") from None
            if run_in_use(run_dir):
                report(f"{run_dir} is still training: its best/ as it is now (epoch {epoch}) is shipped")
            model_dir, run_dir = frozen / "best", frozen
        if run_dir is None:  # a model folder shipped again: its calibrations go with it (a run's best/ has none to keep)
            try:
                check_source_loads(model_dir, gate=not gate, confidence=not confidence)
            except ValueError as exc:
                raise ShipRefused(str(exc), "SOURCE") from None
            if not gate:
                check_kept_gate(model_dir, datasets)
        stamp = folder_stamp(model_dir)  # (a run's best/ is shipped from a copy of one epoch)
        try:  # a dataset with no val photo: the data given, a usage error as calibrate-confidence says it (was exit 1)
            validator = Validator.from_parts(datasets, "val", splits_dir, datasets_dir, limit, progress=progress)
        except ValueError as exc:
            raise ShipRefused(str(exc), "--dataset / --splits-dir / --datasets-dir") from None
        if confidence:  # said before the sweep: it failed after it (an hour of a real model's), writing nothing
            check_val_photos_for_confidence({d: len(items) for d, items in validator.items.items()})
        pair = drywall_pair(datasets) if drywall_check == "auto" else drywall_check
        if pair is not None:  # no labelled val crack (or drywall) photo: said before the sweep too, not after all of it
            try:
                drywall.transplant_pairs("val", splits_dir, datasets_dir, limit, *pair)
            except ValueError as exc:
                raise ShipRefused(f"{exc}, which the cracks-on-drywall check transplants: give a dataset that has some, "
                                  "or leave the check out: --no-drywall-check", "--dataset") from None
        timing = [s.image_path for s in samples_of_part(datasets[0], "val", splits_dir, datasets_dir,
                                                        exclude_published=GROUP_LEFT_OUT["val"])[:timing_images]]
        best, candidates = select(model_dir, validator, timing, scales, tta, BUDGET_FIRST_MS if budget else None,
                                  BUDGET_EXTRA_MS if budget else None, report=report, progress=progress)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with temp_dir(dest.parent, f".{dest.name}.shipping.") as tmp:
            write_shipped(model_dir, tmp, best, candidates, run_dir, limit,
                          {d: len(items) for d, items in validator.items.items()})
            if folder_stamp(model_dir) != stamp:  # the weights written are not those the sweep chose on
                raise FolderReplaced(f"{model_dir} was written over while it was shipped (a ship or train into it, a "
                                     f"copy): the options were chosen on its earlier weights; {dest} was left as it "
                                     "was: ship it again")
            if gate:
                missing = concepts_without_paraphrases(datasets)
                if not missing:
                    best["prompt_gate"] = calibrate_model_gate(tmp, tuple(datasets), report=report)
                elif (tmp / GATE_FILE).is_file():  # the source's gate knows other concepts: it would refuse these
                    (tmp / GATE_FILE).unlink()
                    report(f"WARNING: no prompt gate: concept(s) {', '.join(missing)} have no generated paraphrase lists; "
                           f"the source's gate (made for other concepts) is left out, so every prompt is answered")
                else:
                    report(f"no prompt gate: concept(s) {', '.join(missing)} have no generated paraphrase lists; every "
                           "prompt is answered")
            if confidence:
                model = calibrate_model_confidence(tmp, tuple(datasets), splits_dir, datasets_dir, limit, progress)
                best["confidence"] = model.selection["chosen"]
            for name in KEPT_FILES:  # written by people, not by shipping: kept (to be brought up to date by hand)
                if (dest / name).is_file() and not (tmp / name).exists():
                    shutil.copy(dest / name, tmp / name)
                    report(f"{name} kept from the folder replaced: bring it up to date")
            if pair is not None:
                best["cracks_on_drywall"] = drywall_step(tmp, dest, pair, accept_drywall_regression, splits_dir,
                                                         datasets_dir, limit, progress, report)
            try:  # what is written must load before it replaces anything (the model there may be the one in use)
                Segmenter.load(tmp)
            except (OSError, ValueError, KeyError) as exc:
                raise ValueError(f"the shipped model would not load, so {dest} was left as it was: "
                                 f"{str(exc).replace(str(tmp), str(dest))}") from None
            others = files_ship_does_not_write(dest) if dest.is_dir() else []
            if others and not overwrite:  # put there while the model was chosen (an evaluate --out into it)
                candidate, kept = write_candidate(tmp, dest)
                raise ValueError(f"{not_ship_files(dest, others)}; {dest} is unchanged, the new model is in "
                                 f"{candidate}{kept}")
            if others:
                report(f"--overwrite: deleted with the folder replaced: {', '.join(others)}")
            kept = None
            try:  # what was put into it since it was looked at just now (the folder replaced is checked once aside,
                # where nothing more can reach it): kept, not deleted without a word
                replace_dir(tmp, dest, unexpected=lambda old: [n for n in files_ship_does_not_write(old)
                                                               if n not in others],
                            unexpected_earlier=files_ship_does_not_write)  # (--overwrite named none of a killed ship's)
            except KeptAside as exc:
                kept = str(exc.kept)
                report(f"WARNING: {dest} holds the new model, but {', '.join(exc.names) or 'files'} appeared in the "
                       f"folder it replaced while it was replaced (files ship does not write): that folder is kept "
                       f"whole in {exc.kept}; move them out of it, then delete it")
        return {"dest": str(dest), "chosen": {k: v for k, v in best.items() if k != "val_mIoU_table"},
                "files": sorted(p.name for p in dest.iterdir()), **({"kept": kept} if kept else {})}
