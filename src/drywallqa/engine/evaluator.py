"""Evaluation per dataset split and prompt, at the original image resolution.

Two families of splits are scored by default: the published ``valid`` splits (comparable with others, but Roboflow
copies of the same photo sit in train too) and the ``test`` part of the group-clean split manifests (no copy of
any test photo was trained on: the honest number). On request (:data:`SPLIT_CHOICES`) also the group-clean ``val``
part, where thresholds were chosen, a seeded sample of the ``train`` part: how well the model fits what it learnt
from, and ``all``: every photo of every split a dataset declares, once each (a dataset of your own, whatever its splits
are named; no split manifest needed).
"""

from __future__ import annotations

import hashlib
import logging
import heapq
import json
import os
import pickle
import platform
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..data.grouping import (GROUP_LEFT_OUT, SHIPPED_SPLITS_DIR, load_all_splits, samples_of_part,
                             split_manifest_path, why_part_is_empty)
from ..data.negatives import negative_prompts, photo_key, photos_labelled
from ..data.registry import get_dataset_config, resolve_dataset, unique_datasets
from ..data.sample import IGNORE_READ, load_split, mask_level_problem, photo_and_label, source_group
from ..measures import mask_measures
from ..metrics import (BOUNDARY_BAND, ERROR_KINDS, ORACLE_WIDTHS, THRESHOLDS, CenterlineMeter, PixelScoreMeter,
                       SegmentationMeter, bootstrap_ci, confidence_ranking, error_decomposition, fixed_width_oracle,
                       image_auroc, label_and_valid, nothing_to_score, skeleton)
from ..utils.checks import whole_number
from ..utils.files import STORAGE_ERRNOS, write_atomic, write_csv_atomic, write_text_atomic
from ..utils.formats import strict_json
from ..utils.image_io import IGNORE_VALUE, read_image
from ..utils.locks import folder_in_use, folder_lock
from ..utils.paths import check_writable_path, resolved
from ..utils.progress import progress_bar
from ..utils.slug import shown
from ..utils.stamps import file_stamp
from ..viz import (COLORS, error_map, grid, ground_truth, heatmap, overlay, plot_confidence_curves, prompt_colors,
                   truth_title)
from .segmenter import LABEL_SHAPE_CHOICES, Segmenter
from .eval_report import render_markdown
from .run_folder import trained_files
from .speed import measure_speed
from .tiling import tiling_facts
from .validator import best_threshold, threshold_sweep

QA_KEYS = ("components", "area_fraction", "length_px", "mean_width_px", "max_width_px")
PER_IMAGE_KEYS = ("split", "dataset", "image", "prompt", "iou", "dice", "confidence", "centerline_f1", "gt_fraction",
                  "pred_fraction", "max_probability", "best_threshold", "iou_at_best_threshold", "iou_boundary_only", "source_in_training")
ERROR_LEGEND = "errors: green found, red spurious,\nblue missed, yellow / orange\noutline too wide / narrow"
IGNORED_LEGEND = f"\ngrey hatched: ignored ({IGNORE_VALUE} in the mask)"  # under ERROR_LEGEND where a worst photo has it
EMPTY_CONVENTION = "an image with empty ground truth and empty prediction scores IoU = Dice = 1"


@dataclass
class EvalSet:
    name: str       # e.g. "published valid" / "group-clean test" / "all photos"
    dataset: str
    samples: list
    problems: list = field(default_factory=list)  # files of the split that could not be read: the report's failures
    notes: list = field(default_factory=list)  # problems of photos scored all the same (an annotation dropped)
    part: str = ""  # the group-clean part it is ("test", "val", "train"); "" for a published split or all photos


SHRUNK_COPY = ("photos smaller than their COCO entries declare (uniformly shrunk copies): scored with the label drawn at "
               "the declared size and shrunk to the photo's size, as training reads it")


class NothingToScoreError(ValueError):
    """A split (or every image of one) could not be read: a report of it would say nothing."""


TRAIN_SAMPLE = 150  # photos of the (large) train part scored by ``which=("train",)``, a seeded sample
ALL_PHOTOS = "all photos"  # the set (``split`` in the report and per_image.csv) of ``which=("all",)``
EXAMPLE_SETS = ("published valid", ALL_PHOTOS)  # examples.png draws the first photos of the first of these scored


def _part(dataset: str, part: str, splits_dir, datasets_dir, exclude_published=()) -> tuple[list, list]:
    """The samples of a group-clean part, and a failure line for each photo its manifest names that the dataset
    did not give (deleted, or unreadable: the reader left it out), so a report scored on fewer photos says which."""
    missing: list = []
    samples = samples_of_part(dataset, part, splits_dir, datasets_dir, exclude_published, missing=missing)
    return samples, [f"{name}: in the {part} part of the split manifest of {dataset!r}, but not in the dataset "
                     "(missing or unreadable); not scored" for name in missing]


def build_eval_sets(datasets, which=("published", "group"), splits_dir=None, datasets_dir=None,
                    limit: int | None = None) -> list[EvalSet]:
    sets = []
    for ds in map(resolve_dataset, datasets):  # names, or YAML files of datasets
        if "published" in which:
            s, problems = load_split(ds, "valid", datasets_dir)
            if not s:
                raise NothingToScoreError(f"published valid split of {ds!r}: no image could be read"
                                          + "".join(f"; {p}" for p in problems[:3]))
            sets.append(_read_set("published valid", ds, s, problems, limit))
        if "all" in which:  # every photo the dataset declares, whatever its splits are named (one of your own)
            sets.append(_all_photos(ds, datasets_dir, limit))
        if "group" in which:
            s, missing = _part(ds, "test", splits_dir, datasets_dir, GROUP_LEFT_OUT["test"])
            sets.append(EvalSet("group-clean test", ds, s[:limit] if limit else s, missing, part="test"))
        if "val" in which:  # where thresholds and options are chosen; published valid/test images left out
            s, missing = _part(ds, "val", splits_dir, datasets_dir, GROUP_LEFT_OUT["val"])
            sets.append(EvalSet("group-clean val", ds, s[:limit] if limit else s, missing, part="val"))
        if "train" in which:  # how well a model fits the photos it learnt from (under- or over-fitting)
            missing = []
            s = samples_of_part(ds, "train", splits_dir, datasets_dir, GROUP_LEFT_OUT["train"], missing=missing)
            s = [s[i] for i in sorted(np.random.default_rng(0).permutation(len(s))[:limit or TRAIN_SAMPLE])]
            gone = [f"the train part of the split manifest of {ds!r} names photos that are not in the dataset "
                    f"(missing or unreadable): {len(missing)}, e.g. {missing[0]}; the sample is drawn from the others"
                    ] if missing else []  # one line: a sample was never meant to score every photo
            # named by the size drawn, not by the photos a small part gave: two datasets' samples are one split (the
            # image-level AUROC takes its negatives from the other datasets' photos of the same split)
            sets.append(EvalSet(f"group-clean train (sample of {limit or TRAIN_SAMPLE})", ds, s, gone, part="train"))
    for es in sets:
        if not es.samples:  # a group-clean part (an unreadable published split is refused above)
            why = why_part_is_empty(es.dataset, es.part, splits_dir, datasets_dir, GROUP_LEFT_OUT[es.part],
                                    "kept for the published scores")
            raise NothingToScoreError(f"{es.name} of {es.dataset!r}: no image to score: {why}")
    return sets


def _read_set(name: str, dataset: str, samples: list, problems: list, limit: int | None) -> EvalSet:
    """The set of the photos read from published splits: a problem of a photo not read is a failure (it is not
    scored), one of a photo scored is a note (an annotation dropped: the photo is still scored)."""
    read = {str(x.image_path) for x in samples}  # an annotation's problem names its photo, which is still scored
    kept = samples[:limit] if limit else samples
    scored = {str(x.image_path) for x in kept}  # (--limit: the photos left out are not scored, nor their notes)
    return EvalSet(name, dataset, kept, [str(p) for p in problems if getattr(p, "path", None) not in read],
                   [str(p) for p in problems if getattr(p, "path", None) in scored])


def _all_photos(dataset: str, datasets_dir, limit: int | None) -> EvalSet:
    """The :data:`ALL_PHOTOS` set of ``dataset``: the photos of every split it declares (train, valid, test, or
    whatever an export of your own holds), each scored once (a photo two split folders hold, nested, or one folder
    declared under two names: with the labels of the first split that holds it).

    Raises:
        NothingToScoreError: none of its splits gave a photo (each split's reason said)."""
    unread: dict = {}
    samples, problems = load_all_splits(dataset, datasets_dir, unread)
    if not samples:
        splits = get_dataset_config(dataset).splits
        why = "; ".join(f"{split}: {unread.get(split, 'no photo')}" for split in splits) or "it declares no split"
        raise NothingToScoreError(f"{ALL_PHOTOS} of {dataset!r}: no photo to score in any of its splits ({why})")
    once: dict = {}
    for sample in samples:
        once.setdefault(resolved(sample.image_path), sample)
    es = _read_set(ALL_PHOTOS, dataset, list(once.values()), problems, limit)
    # a photo two splits hold is read twice: its problem (no mask, ...) once, as the photo is (it was counted twice)
    es.problems, es.notes = list(dict.fromkeys(es.problems)), list(dict.fromkeys(es.notes))
    if len(once) < len(samples):
        es.notes.append(f"{dataset}: {len(samples) - len(once)} photos are in more than one of its split folders; "
                        "each is scored once, with the labels of the first split that holds it (in the order the "
                        "dataset declares its splits)")
    return es


@dataclass
class SetResult:
    """What :func:`evaluate_set` measures on one split of one dataset."""

    rows: list           # metrics per own prompt
    cross_rows: list     # mean foreground fraction per other dataset's prompt
    qa_rows: list        # QA measures (canonical prompt vs ground truth)
    image_scores: list   # (prompt, max probability, image shows the prompt's class)
    per_image: list      # one dict per image and own prompt (PER_IMAGE_KEYS)
    headroom: dict       # canonical prompt: mIoU at the model's threshold, best single and per-image thresholds
    examples: list       # the first images: (image, gt, {prompt: mask}, ignore: where the target is 'ignore')
    worst: list          # the lowest-IoU images of the canonical prompt: (iou, name, image, gt, mask, probability,
    #                      ignored: where the label is 'ignore', counted nowhere; all False for a label of none)
    failures: list
    warnings: list = field(default_factory=list)  # what the segmenter warned of (a prompt it left unanswered), once each
    notes: list = field(default_factory=list)  # problems of labels scored all the same (a mask saved as JPEG)


def headroom(sweeps: list, ious: list, width_oracles: list | None = None, errors: list | None = None) -> dict:
    """Oracle numbers (they look at the split's ground truth, so they are diagnostics, never results).

    Thresholding: the mIoU with the best single threshold (of thresholds tied for it, the one nearest 0.5:
    :func:`~.validator.best_threshold`) and with a best threshold per image, from the
    ``(images, len(THRESHOLDS))`` sweeps. Labels (``width_oracles``, ``(images, len(ORACLE_WIDTHS))`` from
    :func:`~drywallqa.metrics.fixed_width_oracle`): the mIoU of the annotations' own centre lines drawn at
    the best single width and at a best width per image, i.e. how much IoU the annotators' stroke widths
    alone take away from a prediction that finds every centre line exactly (left out for box labels).
    Errors (``errors``, one :func:`~drywallqa.metrics.error_decomposition` per image): each kind's share of
    all the split's tp + error pixels, and the mIoU with region errors fixed (spurious, missed, both).
    """
    m = np.asarray(sweeps)
    out = {"mIoU": float(np.mean(ious)), "mIoU_best_single_threshold": float(m.mean(0).max()),
           "best_single_threshold": float(THRESHOLDS[best_threshold(m.mean(0))]),
           "mIoU_best_threshold_per_image": float(m.max(1).mean())}
    if width_oracles:
        w = np.asarray(width_oracles)
        out.update(width_oracle_mIoU_best_single_width=float(w.mean(0).max()),
                   width_oracle_best_half_width=float(ORACLE_WIDTHS[int(w.mean(0).argmax())]),
                   width_oracle_mIoU_best_width_per_image=float(w.max(1).mean()))
    if errors:
        pixels = np.array([[e[k] for k in ERROR_KINDS] for e in errors], np.float64).sum(0)
        out.update({f"share_{k}": float(v) for k, v in zip(ERROR_KINDS, pixels / max(pixels.sum(), 1.0))})
        out.update({f"mIoU_{k[4:]}": float(np.mean([e[k] for e in errors]))
                    for k in ("iou_without_spurious", "iou_without_missed", "iou_boundary_only")})
        out["boundary_band"] = BOUNDARY_BAND
    return out


def scoring_label_shape(dataset: str) -> str | None:
    """The ``label_shape`` masks are asked for when scored against ``dataset``'s labels: ``"box"`` for box labels
    (prompts trained on them get their box adapter), else None (the masks as the model sees them)."""
    shape = get_dataset_config(dataset).label_shape
    return shape if shape in LABEL_SHAPE_CHOICES else None


def _photo_files(folders) -> set[str]:
    """The photo files (by :data:`~drywallqa.utils.image_io.IMAGE_SUFFIXES`) in ``folders`` and their folders, each
    named by :func:`~drywallqa.data.negatives.photo_key`: listed, links followed (a file that is a link resolved, each
    folder once), nothing read. A folder that cannot be listed holds none."""
    from ..utils.image_io import IMAGE_SUFFIXES

    out: set[str] = set()
    seen: set[str] = set()
    todo = [str(f) for f in folders]
    while todo:
        folder = todo.pop()
        real = os.path.realpath(folder)
        if real in seen:  # reached twice (a loop of links, two split folders in one)
            continue
        seen.add(real)
        try:
            with os.scandir(folder) as entries:
                for e in entries:
                    try:
                        if e.is_dir():
                            todo.append(e.path)
                        elif os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES:
                            out.add(photo_key(e.path) if e.is_symlink() else os.path.join(real, e.name))
                    except OSError:
                        continue
        except OSError:
            continue
    return out


def photos_held(datasets, datasets_dir=None) -> dict[str, frozenset]:
    """``dataset -> the photos of all its splits`` (each named by :func:`~drywallqa.data.negatives.photo_key`), for each
    of ``datasets`` whose split folders hold, or lie in, those of one of another concept, or hold a photo file that is
    one of theirs (a link to its file, as a DVC cache links, or both links to one file) (else ``{}``): one photo
    labelled by datasets of several concepts (one COCO export of stains and nail pops declared as two datasets by their
    categories:) shows the other dataset's thing, so it is asked none of that dataset's prompts as another thing
    (:func:`evaluate_set`'s ``held``), as training asks none. Datasets in folders apart (cracks and taping) share no
    photo: none of their splits is read (every split of every dataset was, their problems warned of again); their
    folders are only listed (:func:`_photo_files`) where the folders alone do not tell."""
    configs = {d: get_dataset_config(d) for d in dict.fromkeys(datasets)}
    folders = {d: {Path(os.path.realpath(c.root(datasets_dir) / s.folder)) for s in c.splits.values()}
               or {Path(os.path.realpath(c.root(datasets_dir)))} for d, c in configs.items()}
    files: dict = {}

    def photo_files(d: str) -> set[str]:
        if d not in files:
            files[d] = _photo_files(folders[d])
        return files[d]

    def overlap(a: str, b: str) -> bool:
        return (any(x == y or x in y.parents or y in x.parents for x in folders[a] for y in folders[b])
                or not photo_files(a).isdisjoint(photo_files(b)))

    shared = [d for d in configs if any(configs[o].concept_name != configs[d].concept_name and overlap(d, o)
                                        for o in configs)]
    return photos_labelled(((photo_key(s.image_path), d) for d in shared
                            for s in load_all_splits(d, datasets_dir)[0]), shared)


def evaluate_set(segmenter: Segmenter, eval_set: EvalSet, all_datasets, progress: bool = True, keep: int = 4,
                 keep_worst: int = 4, held: dict | None = None) -> SetResult:
    """Metrics per prompt of the set's dataset, cross-prompt foreground fraction, per-image records,
    the thresholding headroom of the canonical prompt, the first ``keep`` and the ``keep_worst`` worst images.
    ``held``: ``dataset -> its photos`` (:func:`photos_held`): a photo another dataset labels too is asked none of
    that dataset's prompts in the cross-prompt check, nor counted as a negative image of them."""
    own = get_dataset_config(eval_set.dataset).prompts
    strokes = get_dataset_config(eval_set.dataset).label_shape != "box"  # the label-width oracle needs drawn shapes
    others = negative_prompts(eval_set.dataset, all_datasets)  # the cross-prompt check's prompts
    listing = {p: [d for d in all_datasets if p in get_dataset_config(d).prompts] for p in others}
    shown = [get_dataset_config(d).canonical_prompt for d in all_datasets]  # the example grid's columns
    prompts = list(dict.fromkeys([*own, *others, *shown]))
    meters = {p: SegmentationMeter() for p in own}
    centerline = {p: CenterlineMeter() for p in own}
    pixel = {p: PixelScoreMeter() for p in own}
    image_scores = []  # (prompt, image score = max probability, label = the image shows that prompt's class)
    cross = {p: [] for p in others}
    qa = ([], [])  # QA measures of the ground truth and of the canonical prompt's masks (a prompt "ground truth" too)
    examples, failures, per_image, sweeps, worst, width_oracles, errors, groups = [], [], [], [], [], [], [], []
    warned: dict = {}  # warning -> images it was given for
    all_ignored = []  # photos whose label is 'ignore' everywhere: nothing to score, left out
    notes = []  # problems of the masks scored (a JPEG's noise read as foreground): said in a log line alone
    label_shape = scoring_label_shape(eval_set.dataset)
    canon_post = segmenter.postprocess_for(own[0], label_shape)
    for sample in progress_bar(eval_set.samples, desc=f"{eval_set.name} {eval_set.dataset}", disable=not progress):
        try:
            image, target = photo_and_label(sample, target=True)  # its 'ignore' pixels scored nowhere
        except (OSError, ValueError) as exc:
            failures.append(f"{sample.image_path}: {exc}")
            continue
        if sample.mask_path is not None and (soft := mask_level_problem(sample.mask_path)) is not None \
                and IGNORE_READ not in soft.message:  # (a mask of 255 'ignore' is read as documented: said once a folder)
            notes.append(str(soft))  # the report's data problems: its score counts its noise as the label
        gt, valid = label_and_valid(target)
        if gt.shape == image.shape[:2] != (sample.height, sample.width):  # a shrunk copy, its label shrunk with it:
            warned[SHRUNK_COPY] = warned.get(SHRUNK_COPY, 0) + 1  # scored as training reads it (all were refused)
        if gt.shape != image.shape[:2]:
            failures.append(f"{sample.image_path}: the image is {image.shape[1]}x{image.shape[0]}, its label "
                            f"{gt.shape[1]}x{gt.shape[0]}; skipped")
            continue
        if nothing_to_score(valid):  # scored IoU 1 everywhere (both masks empty within nothing): a perfect photo;
            all_ignored.append(Path(sample.image_path).name)  # left out as its 'ignore' pixels are (no failure: the
            continue  # label says so)
        ignored = np.zeros(gt.shape, bool) if valid is None else ~valid  # kept with the pictures (shrunk as a mask)
        result = segmenter.predict(image, prompts, label_shape=label_shape)
        for w in result.warnings:
            warned[w] = warned.get(w, 0) + 1
        groups.append(sample.group)
        gt_skeleton = skeleton(gt)  # once per image, for every prompt's centre-line scores and the width oracle
        for p in own:
            iou, dice = meters[p].update(result.masks[p], gt, valid)
            cl_f1 = centerline[p].update(result.masks[p], gt, gt_skeleton, valid)
            pixel[p].update(result.probabilities[p], gt, valid)
            top = float((result.probabilities[p] if valid is None else result.probabilities[p][valid]).max())  # (as
            image_scores.append((p, top, bool(gt.any())))  # the pixel scores: not where the label is 'ignore')
            record = {"split": eval_set.name, "dataset": eval_set.dataset, "image": str(sample.image_path), "prompt": p,
                      "iou": iou, "dice": dice, "confidence": result.confidence.get(p), "centerline_f1": cl_f1, "gt_fraction": float(gt.mean()),
                      "pred_fraction": float(result.masks[p].mean()), "max_probability": top}
            if p == own[0]:
                sweep = threshold_sweep(result.probabilities[p], gt, canon_post, valid)
                sweeps.append(sweep)
                errors.append(error_decomposition(result.masks[p], gt, valid=valid))
                if strokes:
                    width_oracles.append(fixed_width_oracle(gt, gt_skeleton=gt_skeleton, valid=valid))
                record.update(best_threshold=float(THRESHOLDS[best_threshold(sweep)]), iou_at_best_threshold=float(sweep.max()),
                              iou_boundary_only=errors[-1]["iou_boundary_only"])
                key = (-iou, len(per_image))  # the heap keeps the lowest IoUs: one of them so far is kept, as pictures
                if keep_worst and (len(worst) < keep_worst or key > worst[0][:2]):
                    entry = (*key, Path(sample.image_path).name,
                             *shrunk(image, gt, result.masks[p], result.probabilities[p], ignored))
                    (heapq.heappush if len(worst) < keep_worst else heapq.heappushpop)(worst, entry)
            per_image.append(record)
        photo = photo_key(sample.image_path) if held else None
        for p in others:
            if held and any(photo in held.get(d, ()) for d in listing[p]):  # it shows that dataset's thing
                continue
            cross[p].append(float(result.masks[p].mean()))
            image_scores.append((p, float(result.probabilities[p].max()), False))
        qa[0].append(mask_measures(gt))
        qa[1].append(mask_measures(result.masks[own[0]]))
        if len(examples) < keep:
            small = shrunk(image, gt, ignored, *(result.masks[p] for p in prompts))
            examples.append((small[0], small[1], dict(zip(prompts, small[3:])), small[2]))
    if not groups:
        raise NothingToScoreError(f"{eval_set.name} of {eval_set.dataset!r}: none of its {len(eval_set.samples)} images "
                                  "could be scored" + "".join(f"; {f}" for f in failures[:3]) +
                                  (f"; {len(all_ignored)} of them labelled 'ignore' ({IGNORE_VALUE}) everywhere (nothing "
                                   f"to score: {', '.join(all_ignored[:3])})" if all_ignored else ""))
    rows = [{"split": eval_set.name, "dataset": eval_set.dataset, "prompt": p, "map_of": map_of(segmenter, p, label_shape),
             **m.compute(), **pixel[p].compute(), **centerline[p].compute(),
             "mIoU_CI95": list(bootstrap_ci(m.ious, groups))} for p, m in meters.items()]
    cross_rows = [
        {"split": eval_set.name, "dataset": eval_set.dataset, "prompt": p, "mean_foreground_fraction": float(np.mean(v)) if v else float("nan")}
        for p, v in cross.items()
    ]
    qa_rows = [
        {"split": eval_set.name, "dataset": eval_set.dataset, "masks": who,
         **{k: float(np.mean([m[k] for m in ms])) for k in QA_KEYS}} for who, ms in zip(("ground truth", own[0]), qa) if ms
    ]
    worst = [(-e[0], *e[2:]) for e in sorted(worst, reverse=True)]
    canon_ious = [r["iou"] for r in per_image if r["prompt"] == own[0]]
    room = {"split": eval_set.name, "dataset": eval_set.dataset, "prompt": own[0], **headroom(sweeps, canon_ious, width_oracles, errors)} if sweeps else None
    warnings = [f"{eval_set.name} {eval_set.dataset}: {w} ({n} of {len(groups)} images)" for w, n in warned.items()]
    if all_ignored:
        warnings.append(f"{eval_set.name} {eval_set.dataset}: {len(all_ignored)} photo{'s' * (len(all_ignored) > 1)} "
                        f"whose label marks every pixel {IGNORE_VALUE} ('ignore') left out of the scores, nothing to "
                        f"score ({', '.join(all_ignored[:3])}{', ...' if len(all_ignored) > 3 else ''})")
    return SetResult(rows, cross_rows, qa_rows, image_scores, per_image, room, examples, worst, failures, warnings,
                     notes)


def image_level_rows(split: str, image_scores: list) -> list[dict]:
    """Image-level AUROC per prompt: its own dataset's images with a non-empty ground truth are positives,
    images without it (the other datasets' images) are negatives."""
    rows = []
    for p in dict.fromkeys(x[0] for x in image_scores):
        s = [x for x in image_scores if x[0] == p]
        labels = [x[2] for x in s]
        rows.append({"split": split, "prompt": p, "AUROC": image_auroc([x[1] for x in s], labels),
                     "positives": int(sum(labels)), "negatives": int(len(labels) - sum(labels))})
    return rows


def map_of(segmenter: Segmenter, prompt: str, label_shape: str | None) -> str:
    """The prompt whose probability map makes ``prompt``'s masks when they are asked for as ``label_shape``: a box
    adapter's own prompt, else the prompt as the model is asked it (a paraphrase routed to its concept's canonical
    prompt), else the prompt. Prompts of one map score alike by construction: one measurement, not several."""
    adapter = (segmenter.postprocess_for(prompt, label_shape) or {}).get("prompt")
    understood = getattr(segmenter, "understood", None)
    return adapter or (understood(prompt) if callable(understood) else prompt)


def trained_sources(model_dir: Path | None) -> set[str] | None:
    """Source photos (:func:`~drywallqa.data.sample.source_group` of each file name) of the files a model
    trained on, from the ``train_files.json`` beside its weights; None when it lists none."""
    if model_dir is None:
        return None
    try:
        flat = trained_files(model_dir)
    except ValueError as exc:  # not the trainer's file: no memory rows
        logging.getLogger(__name__).warning("%s; the report leaves out how the model scores on photos it trained on",
                                            exc)
        return None
    return None if flat is None else {source_group(str(f)) for f in flat}


def memory_rows(per_image: list, canonical: dict) -> list[dict]:
    """Per split and dataset (its canonical prompt, ``canonical[dataset]``): mIoU of the images whose source photo the
    model trained on (another Roboflow copy of it) and of the others, from records carrying ``source_in_training``."""
    rows = []
    for split, dataset in dict.fromkeys((r["split"], r["dataset"]) for r in per_image):
        recs = [r for r in per_image
                if (r["split"], r["dataset"]) == (split, dataset) and r["prompt"] == canonical[dataset]]
        seen = [r["iou"] for r in recs if r.get("source_in_training")]
        unseen = [r["iou"] for r in recs if r.get("source_in_training") is False]
        rows.append({"split": split, "dataset": dataset, "images_seen": len(seen), "images_unseen": len(unseen),
                     "mIoU_seen": float(np.mean(seen)) if seen else None,
                     "mIoU_unseen": float(np.mean(unseen)) if unseen else None})
    return rows


def confidence_rows(per_image: list, canonical: dict) -> list[dict]:
    """Per split and dataset (its canonical prompt, ``canonical[dataset]``): how well the masks' confidence ranks them by
    true IoU (:func:`~drywallqa.metrics.confidence_ranking`); nothing for segmenters that report no confidence. Only
    the dataset's own canonical prompt: another dataset's canonical prompt among its synonyms counted each photo twice,
    under the first prompt's name."""
    rows = []
    for split, dataset in dict.fromkeys((r["split"], r["dataset"]) for r in per_image):
        recs = [r for r in per_image if (r["split"], r["dataset"]) == (split, dataset)
                and r["prompt"] == canonical[dataset] and r.get("confidence") is not None]
        if recs:
            rows.append({"split": split, "dataset": dataset, "prompt": recs[0]["prompt"],
                         **confidence_ranking([r["confidence"] for r in recs], [r["iou"] for r in recs])})
    return rows


def model_facts(model_dir: Path | None, segmenter: Segmenter) -> dict:
    """The report's facts of the model: :meth:`Segmenter.describe` plus the folder and its size on disk, and a tiled
    one's ``tiling`` (:func:`~drywallqa.engine.tiling.tiling_facts`: ``--tile``, its overlap, ``--enlarge-tiles`` and
    the sizes each tile is seen at; the report named the model but not how its masks were cut into tiles)."""
    described = segmenter.describe()
    facts = {"parameters": described.get("parameters"), "threshold": described.get("threshold"),
             "threshold_source": described.get("threshold_source", "given"),
             "prompt_thresholds": dict(described.get("prompt_thresholds") or {}),
             "postprocess": dict(described.get("postprocess") or {}),
             "precision": described.get("precision", "float32")}  # what the network computed in (speed differs)
    tiling = tiling_facts(segmenter)
    if tiling is not None:  # only where tiled (a report of whole photos is as it was)
        facts["tiling"] = tiling
    if model_dir is not None:
        facts["model_dir"] = str(model_dir)
        # the whole folder (weights, calibrations, card) in MB of 10^6 bytes, as `make benchmark` counts it
        facts["file_size_mb"] = round(sum(f.stat().st_size for f in Path(model_dir).glob("*") if f.is_file()) / 1e6, 2)
    return facts


# Finished sets of an evaluation are kept here (inside the output folder) until its report is written, so an
# interrupted evaluation, run again with the same model, settings and images, continues after the last
# finished set. Bump the version when SetResult or what evaluate_set measures changes.
PARTIAL_DIR, PARTIAL_VERSION = ".partial", 10  # (8: a label's 'ignore' pixels scored nowhere; 9: worst keeps them;
#                                              10: examples keep them too)


def _stamp(path) -> list | None:
    """``[path, size, mtime_ns]`` of a file, None where there is none (:func:`~drywallqa.utils.stamps.file_stamp`)."""
    stamp = file_stamp(path) if path else None
    return [str(Path(path)), *stamp] if stamp else None


def set_fingerprint(segmenter: Segmenter, model_dir, eval_set: EvalSet, datasets) -> str:
    """A key that changes with anything that could change the set's results: the segmenter's settings and weights
    (:meth:`~drywallqa.engine.segmenter.Segmenter.weights_stamp`), the model folder's files (size, time), the set's
    images and ground truth, the datasets of the cross-prompt check and their declarations (prompts, label shape,
    ...: a dataset YAML edited between runs), the package version."""
    from .. import __version__
    from ..data.registry import get_dataset_config

    files = sorted(_stamp(p) for p in Path(model_dir).iterdir() if p.is_file()) if model_dir and Path(model_dir).is_dir() else []
    state = {"version": [__version__, PARTIAL_VERSION], "segmenter": segmenter.settings(), "model_files": files,
             "weights": segmenter.weights_stamp(),  # evaluate() from Python without model_dir: no model files above
             "set": [eval_set.name, eval_set.dataset], "datasets": list(datasets),
             "declared": [repr(get_dataset_config(d)) for d in dict.fromkeys([eval_set.dataset, *datasets])],
             "samples": [[_stamp(s.image_path), s.annotations, _stamp(s.mask_path)] for s in eval_set.samples]}
    return hashlib.sha1(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()[:20]


# What a saved SetResult is made of besides Python's own lists, dicts, numbers and strings: numpy arrays and scalars
# (as numpy 1.x and 2.x pickle them). A file naming anything else (a pickle of another program: pickle runs what it
# names) is not loaded but scored anew and written over.
_PARTIAL_GLOBALS = {(__name__, "SetResult"), ("numpy", "dtype"), ("numpy", "ndarray")} | {
    (f"numpy.{core}.{module}", name) for core in ("core", "_core")
    for module, name in (("multiarray", "scalar"), ("multiarray", "_reconstruct"), ("numeric", "_frombuffer"))}


class _PartialUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _PARTIAL_GLOBALS:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of an evaluation's saved results")
        return super().find_class(module, name)


def _load_partial(path: Path) -> SetResult | None:
    """The set saved at ``path`` by an interrupted evaluation; None where there is none, or it is cut short, stale
    (an older SetResult) or not one at all (nothing it names but the parts of a SetResult is loaded)."""
    try:
        with open(path, "rb") as f:
            result = _PartialUnpickler(f).load()
    except FileNotFoundError:
        return None
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, TypeError, ValueError, IndexError,
            KeyError, OverflowError, MemoryError, RuntimeError) as exc:  # a flipped length byte: "BINBYTES exceeds
        # system's maximum size", a bytearray of exabytes, a numpy scalar of another kind (was a traceback)
        logging.getLogger(__name__).warning("%s is not a finished set of this evaluation (%s); scoring the set anew",
                                            path, exc)
        return None
    return result if isinstance(result, SetResult) else None


def _save_partial(result: SetResult, path: Path) -> None:
    """Keep a finished set for a rerun after an interruption; where it cannot be kept (a file where ``.partial/``
    goes, a folder where the set's file goes) the evaluation goes on without, with a warning (it was a traceback once
    the set was scored). A full disk is said as one by the command."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda tmp: tmp.write_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)))
    except OSError as exc:
        if exc.errno in STORAGE_ERRNOS:
            raise
        logging.getLogger(__name__).warning("%s cannot be written (%s): the set is not kept for a rerun after an "
                                            "interruption", path, exc.strerror or exc)


def speed_photos(samples: list, n: int) -> list:
    """The paths of the first ``n`` of ``samples`` whose photos can be read, for the speed measurement: a damaged photo
    (its header whole, its data cut: the set lists it as failed) was timed, and its error ended the evaluation once
    every set was scored, with no report."""
    paths = []
    for sample in samples:
        if len(paths) == n:
            break
        try:
            read_image(sample.image_path)
        except (OSError, ValueError):
            continue
        paths.append(sample.image_path)
    return paths


def evaluate(segmenter: Segmenter, out_dir: str | Path, datasets=("cracks", "taping"), which=("published", "group"),
             splits_dir=None, datasets_dir=None, limit: int | None = None, speed_images: int = 50,
             model_dir: Path | None = None, progress: bool = True) -> dict:
    """Run the whole evaluation and write ``report.json``, ``report.md``, ``per_image.csv`` and the pictures
    (``examples.png``, ``worst.png``, ``confidence.png``, where there is something to draw) to ``out_dir``.

    Each finished set (split x dataset) is kept in ``out_dir/.partial/`` until the report is written: run
    again after an interruption, the evaluation reuses the sets whose :func:`set_fingerprint` still
    matches and scores only the rest.

    ``out_dir`` is locked for the evaluation (``.evaluate.lock``): a second one into the same folder is refused (the
    two would score into one ``.partial/`` and write their reports over each other's).

    Returns:
        The report as written to ``report.json`` (``metrics``: a row per split, dataset and prompt (``mIoU``,
        ``mIoU_CI95``, ``mDice``, ...), ``cross_prompt``, ``image_level``, ``qa_measures``, ``confidence``,
        ``model``, ``failures``, ``warnings``, ``speed`` where measured, ...; docs/evaluation.md).

    Raises:
        ValueError: no dataset, a dataset listed twice (:class:`~drywallqa.data.registry.DatasetListedTwice`),
            ``which`` naming no split or an unknown one, ``limit`` not a whole number of at least 1 (or None),
            ``speed_images`` not one of at least 0 (each before anything is written; a string is one dataset, one
            split), an output folder that cannot be made, that another evaluation is writing into, that is or lies
            inside a split folder of a dataset scored or the model's folder, or where a report file cannot go
            (:func:`check_eval_out`).
    """
    if isinstance(datasets, (str, Path)):  # one dataset (its letters were read as datasets: "'c' is listed twice")
        datasets = [datasets]
    datasets = tuple(unique_datasets(datasets))  # one listed twice is refused, as by the CLI: scored twice otherwise
    if not datasets:  # (a report of nothing was written)
        raise ValueError("datasets must name at least one dataset (a name or a dataset YAML file)")
    which = check_splits(which)
    if limit is not None and not (whole_number(limit) and limit >= 1):  # 0 scored every photo, -1 all but the last
        raise ValueError(f"limit must be a whole number of at least 1 (or None: every photo), got {limit!r}")
    if not (whole_number(speed_images) and speed_images >= 0):  # -1 timed all but the last photo
        raise ValueError(f"speed_images must be a whole number, 0 to skip the speed measurement, got {speed_images!r}")
    limit, speed_images = None if limit is None else int(limit), int(speed_images)
    check_eval_out(out_dir, datasets, datasets_dir, model_dir)
    with folder_lock(out_dir, EVAL_LOCK, *EVAL_LOCK_USER) as out:
        return _evaluate(segmenter, out, datasets, which, splits_dir, datasets_dir, limit, speed_images, model_dir,
                         progress)


REPORT_FILES = ("report.json", "report.md", "per_image.csv", "examples.png", "worst.png", "confidence.png")


def evaluation_wrote(out_dir: str | Path) -> bool:
    """Whether an evaluation wrote into ``out_dir``: its lock (:data:`EVAL_LOCK`, left there), its sets kept
    (:data:`PARTIAL_DIR`) or its ``report.json``."""
    out = Path(out_dir)
    if (out / EVAL_LOCK).exists() or (out / PARTIAL_DIR).is_dir():
        return True
    try:
        report = json.loads((out / "report.json").read_text())
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(report, dict) and isinstance(report.get("metrics"), list)


def check_eval_out(out_dir: str | Path, datasets, datasets_dir=None, model_dir: str | Path | None = None) -> None:
    """Raises ``ValueError`` where ``out_dir`` is or lies inside a split folder of one of ``datasets`` (registered
    names): its pictures, tables and ``.partial/`` were written among the split's photos, and the next evaluation,
    ``data stats`` or training read them as photos without masks, unlisted photos or a folder, each a failure or a
    problem; where it is or lies inside ``model_dir``, the folder of the model scored (its reports went among the
    model's files, into every copy, ONNX export and ship of it, and a re-export into it was refused); or where one of
    its :data:`REPORT_FILES` cannot be written (a folder there, a link that loops or leads nowhere): a traceback once
    every set was scored; or where it holds one of them that no evaluation wrote (:func:`evaluation_wrote`: a
    user's ``report.md``, replaced without a word)."""
    here = resolved(out_dir)
    model = resolved(model_dir) if model_dir is not None else None
    if model is not None and (here == model or model in here.parents):
        raise ValueError(f"{out_dir} is or lies inside the folder of the model scored ({model_dir}): the report's "
                         "files would be among the model's; choose a folder outside it")
    for name in REPORT_FILES if Path(out_dir).is_dir() else ():  # (one that cannot be made: folder_lock says why)
        try:
            check_writable_path(Path(out_dir) / name, folder=False)
        except ValueError as exc:
            raise ValueError(f"{exc} (the evaluation writes its {name} there: remove what is there, or choose another "
                             "--out)") from None
    theirs = [name for name in REPORT_FILES if Path(out_dir).is_dir() and (Path(out_dir) / name).is_file()]
    if theirs and not evaluation_wrote(out_dir):  # a user's report.md, examples.png: replaced (or deleted) unsaid
        raise ValueError(f"{out_dir} holds {', '.join(theirs)} that no evaluation wrote (another program's?), which "
                         "this evaluation would write over: choose another --out, or move them out first")
    for name in datasets:
        config = get_dataset_config(name)
        for split, source in config.splits.items():
            folder = resolved(config.root(datasets_dir) / source.folder)
            if here == folder or folder in here.parents:
                raise ValueError(f"{out_dir} is or lies inside the folder of the {split!r} split of the dataset "
                                 f"{config.name!r} ({folder}): the report's files would be read as its photos; "
                                 "choose a folder outside the dataset's split folders")


PICTURE_SIDE = 512  # px: the longer side of the photos, labels and maps an evaluation keeps to draw (in 192 px cells)


def worst_row(image: np.ndarray, gt: np.ndarray, mask: np.ndarray, prob: np.ndarray,
              ignore: np.ndarray | None = None) -> list:
    """The pictures of one of ``worst.png``'s rows: the photo, its ground truth, the prediction, its errors
    (:func:`~drywallqa.viz.error_map`: hatched grey, no error, where the target is 'ignore', ``ignore``, which no
    score counts; :func:`~drywallqa.viz.ground_truth` tints it) and the probability map."""
    return [image, ground_truth(image, gt, ignore), overlay(image, mask, COLORS[0]),
            error_map(image, mask, gt, valid=~ignore if ignore is not None and ignore.any() else None), heatmap(prob)]


def shrunk(image: np.ndarray, *maps: np.ndarray) -> tuple:
    """``image`` and its ``(H, W)`` masks or probability maps with the longer side at most :data:`PICTURE_SIDE`, to
    keep for ``examples.png`` and ``worst.png``: a phone's 12 MP photos, kept whole with their maps, held hundreds of
    MB per set in memory and in ``.partial/``. A mask keeps every pixel it touches (a thin crack stays in the
    picture); a probability map is averaged."""
    import cv2

    h, w = image.shape[:2]
    if max(h, w) <= PICTURE_SIDE:
        return (image, *maps)
    size = (max(1, round(w * PICTURE_SIDE / max(h, w))), max(1, round(h * PICTURE_SIDE / max(h, w))))
    area = lambda a: cv2.resize(a, size, interpolation=cv2.INTER_AREA)  # noqa: E731
    return (area(image), *(area(m.astype(np.float32)) > 0 if m.dtype == bool else area(m.astype(np.float32))
                           for m in maps))


SPLIT_CHOICES = ("published", "group", "val", "train", "all")  # what an evaluation's ``which`` (``--splits``) names


def check_splits(which) -> tuple[str, ...]:
    """``which`` (one of :data:`SPLIT_CHOICES` or several) as a tuple, repeats dropped.

    Raises:
        ValueError: no name, or one that is none of them (``("valid",)`` and ``()`` wrote a report of no split)."""
    try:
        names = tuple(dict.fromkeys([which] if isinstance(which, str) else which))
    except TypeError:  # None, a number
        names = ()
    if not names or any(not isinstance(w, str) or w not in SPLIT_CHOICES for w in names):
        raise ValueError(f"which must name one or more of {', '.join(SPLIT_CHOICES)}, got {which!r}")
    return names


EVAL_LOCK = ".evaluate.lock"  # in an evaluation's --out folder: locked (filelock) while an evaluation writes there
EVAL_LOCK_USER = ("evaluation", "choose another --out")  # who holds it, and what to do instead


def evaluation_in_use(out_dir: str | Path) -> str | None:
    """Why an evaluation cannot write into ``out_dir`` now (another holds it: :func:`evaluate`), or None; nothing is
    made."""
    return folder_in_use(out_dir, EVAL_LOCK, *EVAL_LOCK_USER)


def split_manifests(datasets, splits_dir) -> list[dict]:
    """Which group-clean split manifest each of ``datasets`` was read from (a ``./splits`` folder is read before the
    shipped ones, and ``--splits-dir`` before both): its path, the start of its SHA-256, whether it is the one shipped
    in the package and, where one is shipped for that dataset, whether it holds the same. A report said none: numbers
    of another split read as the README's."""
    rows = []
    for name in dict.fromkeys(datasets):
        manifest = split_manifest_path(splits_dir, get_dataset_config(name).manifest_name)
        shipped = SHIPPED_SPLITS_DIR / manifest.name
        try:
            data = manifest.read_bytes()
            same = shipped.is_file() and shipped.read_bytes() == data
        except OSError:
            continue  # (read above when the parts were made: gone since)
        rows.append({"dataset": name, "manifest": str(manifest.resolve()), "sha256": hashlib.sha256(data).hexdigest()[:16],
                     "shipped": manifest.resolve() == shipped.resolve(),
                     "same_as_shipped": same if shipped.is_file() else None})
    return rows


def _evaluate(segmenter: Segmenter, out: Path, datasets: tuple, which, splits_dir, datasets_dir, limit: int | None,
              speed_images: int, model_dir: Path | None, progress: bool) -> dict:
    """:func:`evaluate`, once ``out`` is made and locked."""
    sets = build_eval_sets(datasets, which, splits_dir, datasets_dir, limit)
    held = photos_held(datasets, datasets_dir)
    results, cross, qa, grid_rows, failures, per_image, rooms, worst_rows, worst_labels = [], [], [], [], [], [], [], [], []
    warnings: list = []
    data_problems: list = []
    scores_by_split: dict[str, list] = {}
    ignored = ignored_worst = False  # whether examples.png / worst.png show a target's 'ignore' pixels
    canon = [get_dataset_config(d).canonical_prompt for d in datasets]
    columns = list(dict.fromkeys(canon))  # of the example grid
    shown_set = next((name for name in EXAMPLE_SETS if any(es.name == name for es in sets)), None)  # its photos
    partial = out / PARTIAL_DIR
    for es in sets:
        saved = partial / f"{set_fingerprint(segmenter, model_dir, es, datasets)}.pkl"
        r = _load_partial(saved)
        if r is None:
            r = evaluate_set(segmenter, es, datasets, progress, held=held)
            _save_partial(r, saved)
        elif progress:
            print(f"{es.name} {es.dataset}: reusing the results of an interrupted run ({saved})")
        scores_by_split.setdefault(es.name, []).extend(r.image_scores)
        results += r.rows
        cross += r.cross_rows
        qa += r.qa_rows
        failures += es.problems + r.failures
        data_problems += es.notes + getattr(r, "notes", [])  # (a set kept by an earlier release has none)
        warnings += r.warnings
        per_image += r.per_image
        rooms += [r.headroom] if r.headroom else []
        if es.name == shown_set:
            for image, gt, masks, ignore in r.examples[:3]:
                ignored |= bool(ignore.any())
                grid_rows.append([image, ground_truth(image, gt, ignore)] +
                                 [overlay(image, masks[p], rgb) for p, rgb in zip(columns, prompt_colors(len(columns)))])
        for iou, name, *maps in r.worst:
            ignored_worst |= bool(maps[-1].any())
            worst_rows.append(worst_row(*maps))
            worst_labels.append(f"{es.name} {es.dataset}\n{shown(name[:28])}\nIoU {iou:.2f}")
    trained = trained_sources(model_dir)
    for r in per_image:
        r["source_in_training"] = None if trained is None else source_group(r["image"]) in trained
    report = {
        "metrics": results,
        "split_manifests": split_manifests([es.dataset for es in sets if es.name.startswith("group-clean")], splits_dir),
        "cross_prompt": cross,
        "image_level": [r for split, sc in scores_by_split.items() for r in image_level_rows(split, sc)],
        "qa_measures": qa,
        "empty_convention": EMPTY_CONVENTION,
        "resolution": "original image size (masks upsampled from the model's output)",
        "model": model_facts(model_dir, segmenter),
        "headroom": rooms,
        "memory": memory_rows(per_image, dict(zip(datasets, canon))) if trained is not None else [],
        "confidence": confidence_rows(per_image, dict(zip(datasets, canon))),
        "failures": list(dict.fromkeys(failures)),  # a photo unread in two sets (published valid, all): once
        "data_problems": list(dict.fromkeys(data_problems)),  # a photo scored in two sets (published valid, all): once
        "warnings": warnings,
        "environment": {"python": platform.python_version(), "torch": torch.__version__,
                        "machine": platform.machine(), "cpus": os.cpu_count()},
    }
    if speed_images:
        pool = (load_split(datasets[0], "valid", datasets_dir)[0] if "valid" in get_dataset_config(datasets[0]).splits
                else [s for es in sets for s in es.samples])  # a dataset of your own may have no valid split
        paths = speed_photos(pool, speed_images)
        all_prompts = [p for d in datasets for p in get_dataset_config(d).prompts][:3]
        if paths:
            report["speed"] = measure_speed(segmenter, paths, all_prompts, batch=True, progress=progress,
                                            desc="speed")
    for name in ("report.json", "report.md"):  # an earlier run's, beside the pictures of this one if it is stopped
        (out / name).unlink(missing_ok=True)  # while they are written, would read as their finished evaluation
    if grid_rows:
        grid(grid_rows, ["input", truth_title(ignored)] + columns, out / "examples.png")
        report["examples_png"] = "examples.png"
    if report["confidence"]:
        plot_confidence_curves({f"{r['split']} {r['dataset']}": r for r in report["confidence"]}, out / "confidence.png")
        report["confidence_png"] = "confidence.png"
    if worst_rows:
        grid(worst_rows, ["input", truth_title(ignored_worst), "prediction", ERROR_LEGEND + IGNORED_LEGEND * ignored_worst,
                          "probability"], out / "worst.png",
             row_labels=worst_labels)
        report["worst_png"] = "worst.png"
    for name in {"examples.png", "worst.png", "confidence.png"} - {report.get(k) for k in ("examples_png", "worst_png", "confidence_png")}:
        (out / name).unlink(missing_ok=True)  # an earlier run's picture would read as this report's
    write_csv_atomic(per_image, list(PER_IMAGE_KEYS), out / "per_image.csv")
    report["per_image_csv"] = "per_image.csv"
    write_text_atomic(render_markdown(report), out / "report.md")
    write_text_atomic(strict_json(report), out / "report.json")  # last: a report.json names a finished evaluation
    shutil.rmtree(partial, ignore_errors=True)  # the report holds it all now
    return report
