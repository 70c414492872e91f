"""``drywallqa data stats``: counts, mask coverage, source-photo groups and near-duplicates across splits."""

from __future__ import annotations

from collections import Counter

import numpy as np
from tqdm import tqdm

from ..measures import mask_measures
from .grouping import load_all_splits, near_duplicate_pairs
from .registry import get_dataset_config


def dataset_stats(dataset: str, datasets_dir=None, progress: bool = True) -> dict:
    """Per split: images, empty masks, mean coverage, source groups and, for drawn (not box) labels, the
    annotations' stroke width (mean width along the skeleton of each non-empty mask, px: median and
    10th/90th percentiles over the masks); plus groups and near-duplicates shared between splits."""
    samples, problems = load_all_splits(dataset, datasets_dir)
    strokes = get_dataset_config(dataset).label_shape != "box"
    per_split: dict[str, dict] = {}
    coverage: dict[str, list] = {}
    widths: dict[str, list] = {}
    for s in tqdm(samples, desc=f"{dataset}: masks", disable=not progress):
        try:
            mask = s.load_mask()
        except (OSError, ValueError) as exc:
            problems.append(f"{s.image_path}: {exc}")
            continue
        coverage.setdefault(s.split, []).append(float(mask.mean()))
        if strokes and mask.any():
            widths.setdefault(s.split, []).append(mask_measures(mask)["mean_width_px"])
    pairs = near_duplicate_pairs([s.image_path for s in samples], progress=progress)
    cross_dups = Counter()
    for i, j in pairs:
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
            "mean_mask_coverage": float(np.mean(cov)) if cov else float("nan"),
            "source_groups": len(groups_by_split[sp]),
        }
        if widths.get(sp):
            p10, p50, p90 = np.percentile(widths[sp], [10, 50, 90])
            per_split[sp]["stroke_width_px"] = {"median": float(p50), "p10": float(p10), "p90": float(p90)}
    shared = {
        f"{a}&{b}": len(groups_by_split[a] & groups_by_split[b])
        for k, a in enumerate(splits) for b in splits[k + 1 :]
    }
    return {
        "dataset": dataset,
        "splits": per_split,
        "source_groups_shared_between_splits": shared,
        "near_duplicate_pairs_across_splits": {f"{a}&{b}": n for (a, b), n in cross_dups.items()},
        "problems": [str(p) for p in problems],
    }


def preview(dataset: str, path, n: int = 12, seed: int = 0, datasets_dir=None, per_row: int = 3) -> int:
    """Save a grid PNG of ``n`` photos picked at random (seeded) over all splits, each beside its ground
    truth tinted green, ``per_row`` pairs a row (row labels: split and file of each, left to right): to see
    at a glance that the labels sit where they should. Returns how many photos it shows."""
    from ..utils.image_io import read_image
    from ..viz import grid, overlay

    samples, _ = load_all_splits(dataset, datasets_dir)
    rng = np.random.default_rng(seed)
    pairs, names = [], []
    for i in rng.permutation(len(samples)):
        if len(pairs) == n:
            break
        s = samples[i]
        try:
            image, mask = read_image(s.image_path), s.load_mask()
        except (OSError, ValueError):
            continue
        pairs.append([image, overlay(image, mask, (0, 255, 0))])
        names.append(f"{s.split}: {s.image_path.name[:24]}")
    if pairs:
        per_row = min(per_row, len(pairs))
        blank = [np.full_like(pairs[0][0], 255)] * 2
        starts = range(0, len(pairs), per_row)
        rows = [sum((pairs[k] if k < len(pairs) else blank for k in range(a, a + per_row)), []) for a in starts]
        grid(rows, ["photo", "ground truth"] * per_row, path,
             row_labels=["\n".join(names[a:a + per_row]) for a in starts])
    return len(pairs)
