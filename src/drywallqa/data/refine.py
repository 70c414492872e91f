"""Box annotations -> pixel masks: a new image/mask-folder dataset for box-only datasets (the taping data).

Refiners (``BOX_REFINERS``, ``drywallqa data refine-masks --with NAME``) turn each box into a mask:

- ``sam``: each box prompts SAM (``transformers.SamModel``; :func:`drywallqa.models.sam_text.sam_box_masks`);
  where SAM's predicted IoU is below ``min_iou`` (or its mask is empty) the box itself stays. Photos are
  resized to SAM's square input (stretched, not padded as SamProcessor does) and boxes scaled with them.
- ``edges``: strips that follow the tape, found in the HED edge response and dark/light lines inside each
  box (:mod:`drywallqa.data.edge_strips`); needs no SAM weights.

Every box is ``kept`` (already a strip), ``refined`` or ``fell_back`` (to the box). Output, per split:
``<out>/<split>/<image>`` (a symbolic link to the original, or a copy where links are not possible) and
``<out>/<split>/_masks/<stem>.png`` (0/255), the layout of a mask-folder dataset (a photo in a subfolder of the split,
``sub/a.jpg``, becomes ``sub__a.jpg``: the reader reads no subfolders, and two photos ``a.jpg`` of two subfolders stay
two; a photo whose name or mask another photo of the split takes already is skipped and named in the split's
``problems``); ``report.json`` with the counts and, per file, the way each
of its boxes went; ``preview.png``: refined masks over their photos beside the box labels.
"""

from __future__ import annotations

import filecmp
import hashlib
import json
import math
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..models.hub import weights_stamp
from ..models.sam_text import load_sam, sam_box_masks
from ..utils.files import remove_stale_temporaries, write_atomic, write_text_atomic
from ..utils.image_io import DATASET_LIMIT, read_image
from ..utils.locks import folder_in_use, folder_lock
from ..utils.paths import check_links, check_writable_path, lexical_path, resolved
from ..utils.progress import progress_bar
from ..utils.registry import Registry
from ..utils.stamps import file_stamp
from ..viz import grid, overlay
from .coco import box_mask, coordinate_bound, usable_box
from .edge_strips import OUTCOMES, EdgeEvidence, StripOptions, refine_boxes_with_edges
from .registry import get_dataset_config
from .sample import UNFINISHED, load_split

def _link_or_copy(src: Path, dst: Path) -> None:
    if dst.exists() and dst.resolve() == src.resolve():
        return  # already the photo (never unlink the photo itself)
    if dst.is_file() and not dst.is_symlink() and filecmp.cmp(src, dst, shallow=False):
        return  # a copy of it (where links are not possible)
    if dst.exists() or dst.is_symlink():
        dst.unlink()
    try:
        os.symlink(src.resolve(), dst)
    except OSError:  # written whole: a run killed mid-copy left half a photo, which every rerun refused as not the
        write_atomic(dst, lambda tmp: shutil.copy2(src, tmp))  # photo (its temporary file is removed by the next run)


def too_long(name: str) -> bool:
    """Whether an output photo ``name`` or its mask's (``<stem>.png``) is longer than a file name may be (255 bytes): a
    photo of nested subfolders of long names, joined by ``__``."""
    return any(len(n.encode("utf-8", "surrogateescape")) > 255 for n in (name, f"{Path(name).stem}.png"))


def output_name(image_path: Path, folder: Path) -> str:
    """The name of a photo of the split ``folder`` in the refined dataset: its path inside ``folder`` with ``__`` for
    each ``/`` (``sub/a.jpg`` -> ``sub__a.jpg``; ``a.jpg`` stays itself), as the mask-folder reader reads no
    subfolders."""
    # by name, as the reader placed it in the split (a file_name through the folder above, a link to a file elsewhere)
    return "__".join(lexical_path(image_path).relative_to(lexical_path(folder)).parts)


DEFAULT_SAM = "facebook/sam-vit-base"  # SamRefiner's weights where no model_path is given


class SamRefiner:
    """Box -> SAM's mask where its predicted IoU reaches ``min_iou``, else the box."""

    def __init__(self, model_path: str | None = None, min_iou: float = 0.8, sam=None):
        try:  # NaN (or text) compared below as no IoU at all: every box fell back to itself, silently
            if isinstance(min_iou, bool) or math.isnan(float(min_iou)):
                raise ValueError
        except (TypeError, ValueError):
            raise ValueError(f"min_iou must be a number (a predicted IoU), got {min_iou!r}") from None
        self.source = str(model_path or DEFAULT_SAM)
        self.sam = sam or load_sam(self.source).eval()
        self.min_iou = min_iou
        # its weight files' digests: a run again after they were replaced in their folder kept the masks of the others
        self.weights = weights_stamp(self.source)

    def describe(self) -> dict:
        return {"with": "sam", "sam": self.source, "min_iou": self.min_iou, "weights": self.weights}

    def __call__(self, image: np.ndarray, boxes: list) -> tuple[list, list]:
        masks, outcomes = [], []
        for box, m, iou in zip(boxes, *sam_box_masks(self.sam, image, boxes)):
            good = iou >= self.min_iou and m.any()
            masks.append(m if good else box_mask([box], *image.shape[:2]))
            outcomes.append("refined" if good else "fell_back")
        return masks, outcomes


class EdgeRefiner:
    """Box -> strips along the tape found in its edges (:mod:`drywallqa.data.edge_strips`), else the box."""

    def __init__(self, options=None, evidence=None):
        self.options = options or StripOptions()
        self.evidence = evidence or EdgeEvidence(size=self.options.edge_size)

    def describe(self) -> dict:
        import dataclasses

        return {"with": "edges", **dataclasses.asdict(self.options)}

    def __call__(self, image: np.ndarray, boxes: list) -> tuple[list, list]:
        masks, outcomes, _ = refine_boxes_with_edges(image, boxes, self.evidence, self.options)
        return masks, outcomes


PROGRESS_FILE = "progress.jsonl"  # first line: the settings; then one line per finished file


def _finished_files(path: Path, settings: dict) -> dict:
    """file key -> (outcomes, input) of the files an earlier run with the same ``settings`` finished (``input``: what
    its mask was made from, :func:`_input_of`; None in a record of 0.6.9 or before), and starts the record afresh, with
    ``settings`` as its first line, when there is none or it was made with others."""
    text = path.read_text() if path.is_file() else ""
    done, lines = {}, text.splitlines()
    try:
        same = bool(lines) and json.loads(lines[0]) == {"settings": settings}
    except ValueError:
        same = False
    if same:
        kept = lines[:1]
        for line in lines[1:]:
            try:
                entry = json.loads(line)
                done[entry["file"]] = (list(entry["outcomes"]), entry.get("input"))
                kept.append(line)
            except (ValueError, KeyError, TypeError):  # a line cut short by a crash: that file is done again
                continue
        if not text.endswith("\n") or len(kept) < len(lines):  # the next record would go on the cut line: lost
            write_text_atomic("".join(f"{line}\n" for line in kept), path)
    else:
        write_text_atomic(json.dumps({"settings": settings}) + "\n", path)
    return done


def _at_photo_size(boxes: list, image: np.ndarray, sample) -> list:
    """``boxes`` of ``sample`` (in the pixels of the size its COCO file declares) in the pixels of its photo ``image`` as
    read: the reader takes a uniformly shrunk copy of a photo, whose boxes were drawn over the photo's whole width
    (they were refined at the declared size: outside the photo, or over the wrong part of it)."""
    sx, sy = image.shape[1] / sample.width, image.shape[0] / sample.height
    if (sx, sy) == (1, 1):
        return boxes
    return [[x * sx, y * sy, w * sx, h * sy] for x, y, w, h in boxes]


def _input_of(image_path: Path, boxes: list) -> str:
    """What a file's mask is made from, as a short hash: its boxes, and its photo's size and time of change. A label
    edited, or a photo replaced, since an earlier run makes another (its mask is made again, not kept)."""
    st = image_path.stat()
    text = json.dumps({"boxes": [[round(float(v), 3) for v in b] for b in boxes], "size": st.st_size,
                       "mtime_ns": st.st_mtime_ns})
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _earlier_report(out: Path, report: dict, settings: dict, splits: list[str]) -> None:
    """Into ``report``: what an earlier run into ``out`` with the same ``settings`` (dataset and refiner) reported of
    the splits this run does not refine (``--split valid`` then ``--split train`` into one folder: report.json holds
    both)."""
    try:
        earlier = json.loads((out / "report.json").read_text())
        if {k: earlier.get(k) for k in settings} != settings:
            return
        report["splits"].update({k: v for k, v in earlier["splits"].items() if k not in splits})
        report["files"].update({k: v for k, v in earlier["files"].items() if k.split("/", 1)[0] not in splits})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # none, or not one of ours: this run's alone
        return


BOX_REFINERS: Registry[type] = Registry("box refiner")
BOX_REFINERS.add("sam", SamRefiner)
BOX_REFINERS.add("edges", EdgeRefiner)
PREVIEW_PHOTOS = 12


def _outlines(image: np.ndarray, boxes: list) -> np.ndarray:
    """The photo with its boxes drawn (corners clipped to :func:`~drywallqa.data.coco.coordinate_bound`: OpenCV takes
    32-bit coordinates only)."""
    out = image.copy()
    t = max(2, round(0.004 * max(image.shape[:2])))
    bound = coordinate_bound(*image.shape[:2])
    for x, y, w, h in boxes:
        x0, y0, x1, y1 = (int(np.clip(v, -bound, bound)) for v in (x, y, x + w, y + h))
        cv2.rectangle(out, (x0, y0), (x1, y1), (0, 220, 0), t)
    return out


class RefineOutError(ValueError):
    """``--out`` holds files that refining would write over or delete: nothing was written."""


OUTPUT_FILES = (PROGRESS_FILE, "report.json")  # what marks a folder as refine-masks' output


def is_refine_out(folder: str | Path) -> bool:
    """Whether ``folder`` is the output of an earlier refine run (it holds its ``progress.jsonl`` or ``report.json``)."""
    return any((Path(folder) / name).is_file() for name in OUTPUT_FILES)


def check_refine_out(dataset: str, out_dir: str | Path, datasets_dir=None) -> Path:
    """``out_dir`` as a Path, when refining may write there: a new or empty folder, or one an earlier refine run
    wrote (:func:`is_refine_out`; rerun into it, it goes on or starts over, :func:`refine_box_masks`).

    Raises:
        RefineOutError: it is, holds or lies inside ``dataset``'s folder (the new dataset's photos and masks would be
            written over the dataset's own); it is a file, lies below one or cannot be written; or it is a folder of
            other files (its photos and masks would be written over). Nothing is written.
    """
    out = Path(out_dir)
    try:
        check_links(out)  # before resolve(), which a loop of links stops
    except ValueError as exc:
        raise RefineOutError(f"{exc} (--out is the folder of the refined dataset)") from None
    root = resolved(get_dataset_config(dataset).root(datasets_dir))  # --datasets-dir a loop of links: holds nothing
    here = out.resolve()
    if here == root or root in here.parents or here in root.parents:
        raise RefineOutError(f"{out} is, holds or lies inside the folder of the dataset {dataset} ({root}): the new "
                             "dataset would be written over its photos; choose a folder of its own")
    try:
        check_writable_path(out, folder=True)
    except ValueError as exc:
        raise RefineOutError(f"{exc} (--out is the folder of the refined dataset)") from None
    if out.is_dir() and not is_refine_out(out) and any(not p.name.startswith(".") for p in out.iterdir()):
        raise RefineOutError(f"{out} holds other files (no {PROGRESS_FILE} or report.json of an earlier refine-masks "
                             "run): refining would write over its photos and masks; give a new or empty folder, or an "
                             "earlier run's --out to go on with it")
    return out


def _recorded_copies(out: Path) -> dict[str, set]:
    """file key (``<split>/<name>``) -> the stamps (:func:`~drywallqa.utils.stamps.file_stamp`) of the photo copies
    earlier refine runs into ``out`` recorded writing there (where links cannot be made), from its
    :data:`PROGRESS_FILE`; an unreadable line names none."""
    try:
        lines = (out / PROGRESS_FILE).read_text().splitlines()
    except (OSError, ValueError):
        return {}
    copies: dict[str, set] = {}
    for line in lines[1:]:
        try:
            entry = json.loads(line)
            if entry.get("copy"):
                copies.setdefault(entry["file"], set()).add(tuple(entry["copy"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return copies


def _check_out_files(out: Path, loaded: dict, folders: dict) -> None:
    """RefineOutError, before anything is written, naming the files of an earlier run's ``out`` that refining would
    write over and that it did not write: a photo that is no link to the photo it writes there nor a copy of it
    (a link it replaces whatever it points to: the photo stays where it is; a copy an earlier run wrote, unchanged
    since, is its own: of a photo replaced since, where links cannot be made), a file where a folder goes."""
    clashes, copies = [], _recorded_copies(out)
    for split, (samples, _) in loaded.items():
        for sub in (out / split, out / split / "_masks"):
            if sub.exists() and not sub.is_dir():
                clashes.append(f"{sub} is a file (a folder goes there)")
        for s in samples:
            dst = out / split / output_name(s.image_path, folders[split])
            if too_long(dst.name):  # skipped, and named, when refined
                continue
            if dst.is_symlink() or not dst.exists() or file_stamp(dst) in copies.get(f"{split}/{dst.name}", ()):
                continue
            if not dst.is_file() or not filecmp.cmp(s.image_path, dst, shallow=False):
                clashes.append(f"{dst} is not the photo {s.image_path} (nor a copy of it)")
    if clashes:
        raise RefineOutError(f"{out} holds files that refining would write over: {'; '.join(clashes[:3])}"
                             f"{f' (and {len(clashes) - 3} more)' if len(clashes) > 3 else ''}; move them away, or "
                             "refine into a new --out")


def check_refine_request(dataset: str, splits: list[str] | None = None) -> list[str]:
    """The splits of ``dataset`` to refine (default, ``None``: all of its COCO splits: an image/mask-folder split has no
    boxes to refine).

    Raises:
        ValueError: ``dataset`` is not labelled with boxes (its masks need no refining: refining would replace each
            outline by its filled box), has no split of one of those names, ``splits`` is an empty list, or a split to
            refine is not a COCO split (an image/mask folder: its masks were each written empty, it has no box annotations).
    """
    config = get_dataset_config(dataset)
    if splits is not None and not list(splits):
        raise ValueError(f"no split of {dataset!r} named (it has {', '.join(config.splits)}; None: all of them)")
    if config.label_shape != "box":
        raise ValueError(f"{dataset} is labelled with regions (label_shape: {config.label_shape}), not boxes: its masks "
                         "need no refining (refine-masks would fill each outline's box)")
    unknown = [s for s in splits or () if s not in config.splits]
    if unknown:
        raise ValueError(f"dataset {dataset!r} has no split {', '.join(map(repr, unknown))}; it has "
                         f"{', '.join(config.splits)}")
    coco = [s for s in config.splits if config.splits[s].kind == "coco"]
    folders = [s for s in dict.fromkeys(splits or ()) if s not in coco]
    if folders or not coco:
        named = folders or list(config.splits)
        kinds = sorted({config.splits[s].kind for s in named})
        said = ("an image/mask folder" if kinds == ["mask_folder"] else f"of the kind {' / '.join(kinds)}")
        raise ValueError(f"{dataset}: {', '.join(map(repr, named))} {'is' if len(named) == 1 else 'are'} "
                         f"{said if len(named) == 1 else said.replace('an image/mask folder', 'image/mask folders')}"
                         ": refine-masks turns the boxes of COCO annotations (<split>/_annotations.coco.json) into masks, "
                         "and such a split has none (its masks would each be written empty)"
                         + (f"; its COCO splits: {', '.join(coco)}" if coco else ""))
    return list(dict.fromkeys(splits or coco))  # --split train,train: once (each photo was refined twice)


def read_refine_splits(dataset: str, splits: list[str], datasets_dir=None) -> dict:
    """``{split: (samples, problems)}`` of the splits to refine.

    Raises:
        ValueError: no photo could be read from any of them (a datasets folder that does not hold the dataset), naming
            where it looked and why: the run would write an empty dataset and report 0 images as done.
    """
    loaded = {split: load_split(dataset, split, datasets_dir) for split in splits}
    if not any(samples for samples, _ in loaded.values()):
        root = get_dataset_config(dataset).root(datasets_dir)
        why = "; ".join(str(p) for _, problems in loaded.values() for p in problems[:2])
        raise ValueError(f"no photo of {dataset!r} could be read under {root}{f' ({why})' if why else ''}: set "
                         "--datasets-dir or DRYWALLQA_DATASETS to the folder holding the datasets")
    return loaded


def refine_box_masks(dataset: str, out_dir: str | Path, sam_path: str | None = None, min_iou: float = 0.8,
                     splits: list[str] | None = None, datasets_dir=None, progress: bool = True, sam=None,
                     refiner=None) -> dict:
    """Write a mask for every box of ``dataset`` and return the report (also in ``report.json``).

    ``refiner``: a callable ``(image, boxes) -> (masks, outcomes)`` (``BOX_REFINERS``); default SAM.
    Raises ValueError for a dataset or split it cannot refine (:func:`check_refine_request`) or read
    (:func:`read_refine_splits`), and its subclass
    RefineOutError, before anything is written, for an ``out_dir`` it may not write into (:func:`check_refine_out`: the
    dataset's own folder, a file, a folder of other files) or an earlier run's ``out_dir`` holding a photo that is
    not the one it writes there.
    Resumable: each finished file is recorded in ``progress.jsonl`` after its mask is written, and a run into
    the same folder with the same dataset and refiner settings skips the files recorded there whose boxes and photo
    are unchanged (other settings: the record starts over); ``report.json`` keeps what an earlier run of the same
    settings reported of the splits this one does not refine. ``out_dir`` is locked for the run (:data:`REFINE_LOCK`):
    a second run into it meanwhile is refused with a ValueError naming it (two runs, of other splits or settings, wrote
    their masks over each other's and each its own report.json, without the other's splits)."""
    splits = check_refine_request(dataset, splits)
    out = check_refine_out(dataset, out_dir, datasets_dir)
    with folder_lock(out, REFINE_LOCK, *REFINE_LOCK_USER):
        return _refine_into(out, dataset, splits, datasets_dir, refiner or SamRefiner(sam_path, min_iou, sam), progress)


REFINE_LOCK = ".refine.lock"  # in a refine run's --out: locked (filelock) while a run writes there
REFINE_LOCK_USER = ("refine-masks run", "choose another --out")  # who holds it, and what to do instead


def refine_in_use(out_dir) -> str | None:
    """Why a refine run cannot write into ``out_dir`` now (another holds it), or None: said before SAM loads."""
    return folder_in_use(out_dir, REFINE_LOCK, *REFINE_LOCK_USER)


def _refine_into(out: Path, dataset: str, splits: list[str], datasets_dir, refiner, progress: bool) -> dict:
    config = get_dataset_config(dataset)
    folders = {split: config.root(datasets_dir) / config.splits[split].folder for split in splits}
    loaded = read_refine_splits(dataset, splits, datasets_dir)
    _check_out_files(out, loaded, folders)
    settings = {"dataset": dataset, **refiner.describe()}
    report = {**settings, "splits": {}, "files": {}}
    out.mkdir(parents=True, exist_ok=True)
    _earlier_report(out, report, settings, splits)
    unfinished = sorted(set(_unfinished_splits(out)) | set(splits))  # said until they are done: a run stopped midway
    write_text_atomic(json.dumps({**report, UNFINISHED: unfinished}, indent=2), out / "report.json")  # left half a
    # split (or its masks of other settings), which the mask-folder reader names (it was read as a whole dataset)
    done = _finished_files(out / PROGRESS_FILE, settings)
    preview = []
    with open(out / PROGRESS_FILE, "a") as record:
        for split in splits:
            _refine_split(dataset, split, loaded[split], folders[split], out, refiner, done, record, report, preview,
                          progress)
    if preview:
        grid(preview, ["photo and boxes", "box label", f"refined ({report['with']})"], out / "preview.png")
        report["preview"] = "preview.png"
    if [sp for sp in unfinished if sp not in splits]:  # an earlier run's, stopped in a split this one did not refine
        report[UNFINISHED] = [sp for sp in unfinished if sp not in splits]
    write_text_atomic(json.dumps(report, indent=2), out / "report.json")
    return report


def _unfinished_splits(out: Path) -> list[str]:
    """The splits of ``out`` that an earlier refine run left unfinished, as its ``report.json`` names them
    (:data:`UNFINISHED`)."""
    try:
        named = json.loads((out / "report.json").read_text()).get(UNFINISHED, [])
    except (OSError, ValueError, AttributeError):  # none (a new folder), or not one of ours
        return []
    return [sp for sp in named if isinstance(sp, str)] if isinstance(named, list) else []


def _refine_split(dataset, split, loaded: tuple, folder: Path, out: Path, refiner, done: dict, record, report: dict,
                  preview: list, progress: bool) -> None:
    """One split of :func:`refine_box_masks` (``loaded``: its samples and problems, ``folder``: its folder): its
    masks, its counts in ``report``, refined photos into ``preview``."""
    samples, problems = loaded
    (out / split / "_masks").mkdir(parents=True, exist_ok=True)
    for written_in in (out / split, out / split / "_masks"):  # what a killed run's photo copies and masks left
        remove_stale_temporaries(written_in)
    counts = {"images": 0, "boxes": 0, **{k: 0 for k in OUTCOMES},
              "problems": [str(p) for p in problems]}
    taken: dict[str, Path] = {}  # output stem -> its photo
    for s in progress_bar(samples, desc=f"{dataset}/{split}: masks from boxes ({report['with']})",
                          disable=not progress):
        name = output_name(s.image_path, folder)
        stem = Path(name).stem
        if too_long(name):  # it crashed the run with an OSError traceback
            counts["problems"].append(f"{s.image_path}: its output name {split}/{name} (its subfolders joined by '__') "
                                      "is longer than a file name may be (255 bytes); skipped (shorten its folders' names)")
            continue
        if stem in taken:
            counts["problems"].append(f"{s.image_path}: its output {split}/{name} (mask _masks/{stem}.png) is taken by "
                                      f"{taken[stem]} already; skipped")
            continue
        taken[stem] = s.image_path
        key = f"{split}/{name}"
        mask_path = out / split / "_masks" / f"{stem}.png"
        boxes = []
        for a in s.annotations or []:
            box = usable_box(a, s.height, s.width)
            if box is not None:
                boxes.append(box)
            elif a.get("segmentation"):  # drawn by the reader from its polygon, without a word on its box
                counts["problems"].append(f"{s.image_path}: annotation {a.get('id')}: no usable box to refine (bbox "
                                          f"{str(a.get('bbox'))[:60]}); skipped")
        try:
            made_from = _input_of(s.image_path, boxes)
        except OSError as exc:  # removed since the split was read (a folder being written): it stopped the whole run
            counts["problems"].append(f"{s.image_path}: gone since the dataset was read ({exc.strerror or exc}); "
                                      "skipped (no mask written)")
            continue
        if key in done and done[key][1] == made_from and mask_path.is_file():  # finished by an earlier run, from
            outcomes = done[key][0]  # the same boxes and photo
            photo = out / split / name
            if not photo.exists():  # a link to where the photo was (its datasets folder moved since), or removed: the
                _link_or_copy(s.image_path, photo)  # rerun said it done, and the refined dataset read none of them
                if not photo.is_symlink():
                    record.write(json.dumps({"file": key, "outcomes": outcomes, "input": made_from,
                                             "copy": file_stamp(photo)}) + "\n")
                    record.flush()
            image = None
            if "refined" in outcomes and len(preview) < PREVIEW_PHOTOS:  # its preview from the saved mask
                try:
                    image = read_image(s.image_path, advice=DATASET_LIMIT)
                    boxes = _at_photo_size(boxes, image, s)
                    mask = np.asarray(Image.open(mask_path)) > 0
                except (OSError, ValueError):  # no preview of it; its mask stands
                    image = None
        else:
            try:  # one photo that cannot be read or refined is named and skipped; the others go on
                image = read_image(s.image_path, advice=DATASET_LIMIT)
                boxes = _at_photo_size(boxes, image, s)
                mask = np.zeros(image.shape[:2], bool)
                outcomes = []
                if boxes:
                    masks, outcomes = refiner(image, boxes)
                    for m in masks:
                        mask |= m
            except (OSError, ValueError, RuntimeError) as exc:
                reason = str(exc) if str(s.image_path) in str(exc) else f"{s.image_path}: {exc}"
                counts["problems"].append(f"{reason}; skipped (no mask written)")
                continue
            _link_or_copy(s.image_path, out / split / name)
            write_atomic(mask_path, lambda tmp: Image.fromarray(mask.astype(np.uint8) * 255).save(tmp, format="PNG"))
            entry = {"file": key, "outcomes": outcomes, "input": made_from}
            if not (out / split / name).is_symlink():  # a copy: its own to replace when the photo is (its stamp)
                entry["copy"] = file_stamp(out / split / name)
            record.write(json.dumps(entry) + "\n")
            record.flush()
        for o in outcomes:
            counts[o] += 1
        counts["images"] += 1
        counts["boxes"] += len(outcomes)
        report["files"][key] = outcomes
        if image is None:
            continue
        if "refined" in outcomes and len(preview) < PREVIEW_PHOTOS:
            label = box_mask(boxes, *image.shape[:2])
            preview.append([_outlines(image, boxes), overlay(image, label, (0, 200, 0)), overlay(image, mask, (255, 40, 40))])
    written = {k.split("/", 1)[1] for k in report["files"] if k.startswith(f"{split}/")}
    for path in sorted(p for p in (out / split).iterdir() if p.name not in written and not p.name.startswith(".")
                       and (p.is_file() or p.is_symlink())):  # an earlier run's photo this run names otherwise, or
        # no longer has (whatever its settings were): the refined dataset still holds it
        counts["problems"].append(f"{path}: written by an earlier run for a photo this run does not write under that "
                                  "name; the refined dataset still holds it (delete it and its mask, or refine into a "
                                  "new --out)")
    report["splits"][split] = counts
