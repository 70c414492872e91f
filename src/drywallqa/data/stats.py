"""``drywallqa data stats``: counts, mask coverage, source-photo groups and near-duplicates across splits."""

from __future__ import annotations

from collections import Counter

import numpy as np
from tqdm import tqdm

from .grouping import load_all_splits, near_duplicate_pairs


def dataset_stats(dataset: str, datasets_dir=None, progress: bool = True) -> dict:
    samples, problems = load_all_splits(dataset, datasets_dir)
    per_split: dict[str, dict] = {}
    coverage: dict[str, list] = {}
    for s in tqdm(samples, desc=f"{dataset}: masks", disable=not progress):
        try:
            coverage.setdefault(s.split, []).append(float(s.load_mask().mean()))
        except (OSError, ValueError) as exc:
            problems.append(f"{s.image_path}: {exc}")
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
