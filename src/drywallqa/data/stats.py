"""``drywallqa data stats``: counts, mask coverage, source-photo groups, near-duplicates across splits and
how consistently near-identical copies of a photo were labelled."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from ..measures import mask_measures
from ..metrics import mask_iou
from ..utils.image_io import DATASET_LIMIT, IGNORE_VALUE
from ..utils.progress import progress_bar
from ..utils.slug import shown
from .cache import resize_mask
from .grouping import dihedral, load_all_splits, near_duplicate_matches, thumbnail
from .problems import DataProblem
from .registry import get_dataset_config
from .sample import IGNORE_READ, mask_level_problem, photo_and_label

AGREEMENT_SIZE = 256  # masks are compared at this square size, as the thumbnails that matched them are square
# A 32 px thumbnail match can pair two different cracks on blank paper; a copy must also match at 128 px.
CONFIRM_SIZE, CONFIRM_DIFF = 128, 0.05


def confirmed_copies(paths: list, matches) -> list[tuple[int, int, int]]:
    """The ``(i, j, k)`` of :func:`near_duplicate_matches` whose images, aligned, also agree at ``CONFIRM_SIZE``
    px (mean absolute difference of normalised grey below ``CONFIRM_DIFF``): the same photo, not a look-alike."""
    cache: dict[int, np.ndarray] = {}

    def big(n: int) -> np.ndarray:
        if n not in cache:
            cache[n] = thumbnail(paths[n], CONFIRM_SIZE)
        return cache[n]

    return [(i, j, k) for i, j, k in matches if np.abs(big(i) - dihedral(big(j), k)).mean() < CONFIRM_DIFF]


def label_agreement(masks: dict, copies, samples: list, worst: int = 6) -> dict:
    """Mean IoU between the labels of copies of one photo (``copies`` from :func:`confirmed_copies`, ``masks``
    index -> ``(S, S)`` bool): over all pairs and over the pairs across splits, the share of pairs below 0.5
    and the ``worst`` pairs (photo, its copy, the flip/rotation that aligns them). Two labellings of one
    photo that agree at IoU x put a ceiling near x on what any model can score against either."""
    scored = sorted((mask_iou(masks[i], dihedral(masks[j], k)), i, j, k) for i, j, k in copies if i in masks and j in masks)
    ious = np.array([r[0] for r in scored])
    across = np.array([r[0] for r in scored if samples[r[1]].split != samples[r[2]].split])
    return {"pairs": len(ious), "mean_IoU": float(ious.mean()) if len(ious) else None,  # None (JSON null): no pairs
            "share_below_0.5": float((ious < 0.5).mean()) if len(ious) else None,
            "pairs_across_splits": len(across), "mean_IoU_across_splits": float(across.mean()) if len(across) else None,
            "worst": [{"IoU": float(iou), "photo": str(samples[i].image_path), "copy": str(samples[j].image_path), "dihedral": k}
                      for iou, i, j, k in scored[:worst]]}


def _ignore_folder_problem(folder, found: list[DataProblem]) -> DataProblem:
    """One problem of a mask folder's masks of class indices beside 255 'ignore' (``found``: each mask's; most often
    every mask of the folder, which was one line a mask): how many, the first few by name and the first's problem."""
    if len(found) == 1:
        return found[0]
    names = [Path(p.path).name for p in found]
    return DataProblem(str(folder), f"{len(found)} masks of class indices beside {IGNORE_VALUE} ('ignore'), all read so "
                                    f"({', '.join(names[:3])}{', ...' if len(names) > 3 else ''}); {names[0]}: "
                                    f"{found[0].message}")


def dataset_stats(dataset: str, datasets_dir=None, progress: bool = True) -> dict:
    """Per split: images, empty masks, mean coverage, source groups and, for drawn (not box) labels, the
    annotations' stroke width (mean width along the skeleton of each non-empty mask, px: median and
    10th/90th percentiles over the masks); plus groups and near-duplicates shared between splits, and the
    :func:`label_agreement` of near-identical copies."""
    unread: dict[str, str] = {}
    samples, problems = load_all_splits(dataset, datasets_dir, unread)
    strokes = get_dataset_config(dataset).label_shape != "box"
    per_split: dict[str, dict] = {}
    coverage: dict[str, list] = {}
    widths: dict[str, list] = {}
    paths = [s.image_path for s in samples]
    matches = near_duplicate_matches(paths, progress=progress, problems=problems)
    copies = confirmed_copies(paths, matches)
    in_copies = {n for i, j, _ in copies for n in (i, j)}
    small: dict[int, np.ndarray] = {}  # index -> mask at AGREEMENT_SIZE, of the photos in ``copies`` only
    ignored: dict = {}  # mask folder -> the problems of its masks of class indices beside 255 'ignore'
    for n, s in enumerate(progress_bar(samples, desc=f"{dataset}: masks", disable=not progress)):
        try:
            mask = s.load_mask()
        except (OSError, ValueError) as exc:
            problems.append(f"{s.image_path}: {exc}")
            continue
        if s.mask_path is not None and (soft := mask_level_problem(s.mask_path)) is not None:
            if IGNORE_READ in soft.message:  # a folder's every mask, as a rule: named once a folder, with a count
                ignored.setdefault(s.mask_path.parent, []).append(soft)
            else:
                problems.append(soft)
        if n in in_copies:
            small[n] = resize_mask(mask, AGREEMENT_SIZE)
        coverage.setdefault(s.split, []).append(float(mask.mean()))
        if strokes and mask.any():
            widths.setdefault(s.split, []).append(mask_measures(mask)["mean_width_px"])
    problems += [_ignore_folder_problem(folder, found) for folder, found in ignored.items()]
    cross_dups = Counter()
    for i, j, _ in matches:
        a, b = samples[i].split, samples[j].split
        if a != b:
            cross_dups[tuple(sorted((a, b)))] += 1
    groups_by_split = {}
    for s in samples:
        groups_by_split.setdefault(s.split, set()).add(s.group)
    splits = list(dict.fromkeys(s.split for s in samples))
    for sp in splits:
        cov = coverage.get(sp, [])
        per_split[sp] = {
            "images": sum(s.split == sp for s in samples),
            "empty_masks": int(sum(c == 0 for c in cov)),
            "mean_mask_coverage": float(np.mean(cov)) if cov else None,  # no mask read
            "source_groups": len(groups_by_split[sp]),
        }
        if widths.get(sp):
            p10, p50, p90 = np.percentile(widths[sp], [10, 50, 90])
            per_split[sp]["stroke_width_px"] = {"median": float(p50), "p10": float(p10), "p90": float(p90)}
    shared = {
        f"{a}&{b}": len(groups_by_split[a] & groups_by_split[b])
        for k, a in enumerate(splits) for b in splits[k + 1 :]
    }
    # the trap of Roboflow exports: a later split's photos whose source photo an earlier split holds a copy of
    leaked = [{"split": b, "source_photo_in": a, "of": per_split[b]["images"],
               "images": sum(s.split == b and s.group in groups_by_split[a] for s in samples)}
              for k, a in enumerate(splits) for b in splits[k + 1 :]]
    return {
        "dataset": dataset,
        "splits": per_split,
        "unread_splits": unread if samples else {},  # a dataset with none read at all is said as a whole
        "source_groups_shared_between_splits": shared,
        "images_with_their_source_photo_in_another_split": leaked,
        "near_duplicate_pairs_across_splits": {f"{a}&{b}": n for (a, b), n in cross_dups.items()},
        "label_agreement_of_copies": label_agreement(small, copies, samples),
        "problems": [str(p) for p in problems],
    }


def preview(dataset: str, path, n: int = 12, seed: int = 0, datasets_dir=None, per_row: int = 3) -> int:
    """Save a grid PNG of ``n`` photos picked at random (seeded) over all splits, each beside its ground
    truth tinted green, ``per_row`` pairs a row (row labels: split and file of each, left to right): to see
    at a glance that the labels sit where they should; a mask's 'ignore' pixels (no label, scored nowhere:
    :meth:`~drywallqa.data.sample.Sample.load_target`) tinted :data:`~drywallqa.viz.IGNORE_COLOR` (the column's title
    says so).
    Returns how many photos it shows."""
    from ..viz import grid, ground_truth, truth_title

    samples, _ = load_all_splits(dataset, datasets_dir)
    rng = np.random.default_rng(seed)
    pairs, names, ignored = [], [], False
    for i in rng.permutation(len(samples)):
        if len(pairs) == n:
            break
        s = samples[i]
        try:
            image, target = photo_and_label(s, target=True, advice=DATASET_LIMIT)
        except (OSError, ValueError):
            continue
        band = target == IGNORE_VALUE
        ignored |= bool(band.any())
        pairs.append([image, ground_truth(image, target == 1, band)])
        names.append(f"{s.split}: {shown(s.image_path.name[:24])}")
    if pairs:
        per_row = min(per_row, len(pairs))
        blank = [np.full_like(pairs[0][0], 255)] * 2
        starts = range(0, len(pairs), per_row)
        rows = [sum((pairs[k] if k < len(pairs) else blank for k in range(a, a + per_row)), []) for a in starts]
        grid(rows, ["photo", truth_title(ignored)] * per_row, path,
             row_labels=["\n".join(names[a:a + per_row]) for a in starts])
    return len(pairs)


def copies_picture(dataset: str, worst: list[dict], path, datasets_dir=None) -> int:
    """Save a grid PNG of the copy pairs whose labels disagree most (``label_agreement(...)["worst"]``): each
    photo with its label (green) beside its copy, turned to match, with that copy's label (red)."""
    from ..viz import grid, overlay

    samples, _ = load_all_splits(dataset, datasets_dir)
    by_path = {str(s.image_path): s for s in samples}
    rows, labels = [], []
    for pair in worst:
        try:  # a photo removed or damaged since the statistics were read (a folder being written): left out, as the
            a, b = by_path[pair["photo"]], by_path[pair["copy"]]  # preview leaves it out (it was a KeyError traceback)
            (image_a, mask_a), (image_b, mask_b) = (photo_and_label(x, advice=DATASET_LIMIT) for x in (a, b))
        except (KeyError, OSError, ValueError):
            continue
        turned = np.ascontiguousarray(dihedral(image_b, pair["dihedral"]))
        mask_b = np.ascontiguousarray(dihedral(mask_b, pair["dihedral"]))
        rows.append([overlay(image_a, mask_a, (0, 255, 0)), overlay(turned, mask_b, (255, 40, 40))])
        labels.append(f"IoU {pair['IoU']:.2f}\n{a.split}: {shown(a.image_path.name[:22])}\n{b.split}: "
                      f"{shown(b.image_path.name[:22])}")
    if rows:
        grid(rows, ["photo and its label", "its copy (aligned) and that label"], path, row_labels=labels)
    return len(rows)
