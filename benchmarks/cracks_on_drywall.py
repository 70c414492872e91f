"""Cracks on drywall: the same cracks on their own photos and transplanted onto drywall-join photos.

    python benchmarks/cracks_on_drywall.py --out out/cracks_on_drywall [--model-path DIR ...] [--part val] [--limit N]

The crack dataset holds few photos of drywall, and the drywall photos hold no crack labels, so neither
published split measures the product's main case: a crack in a drywall board. This benchmark makes
that case from held-out data: each crack photo of the group-clean **test** part (no model of this
project trains or selects on it) lends the shading of its labelled crack (``data/composite.py``) to a
drywall-join photo of the group-clean test part, resized to the crack photo's size. Per model it scores:

- ``segment crack`` on the crack's own photo and on the drywall composite (mIoU against the crack's
  label, centre-line F1, cracks missed outright): a model that learnt "a drywall photo holds no crack"
  loses much more on the composites than on the originals;
- ``segment taping area`` on the composite against the drywall photo's own boxes (a crack should not
  change the taping answer) and ``segment crack`` on the plain drywall photo (foreground fraction:
  joints mistaken for cracks).

``--part val`` builds the same composites from the group-clean val part (published valid/test photos
left out), where models may be compared and chosen; reported numbers come from the test part.

Writes ``cracks_on_drywall.json``, ``cracks_on_drywall.md`` and ``cracks_on_drywall.png`` (the first
composites: input | crack label | one column per model).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from drywallqa import Segmenter
from drywallqa.data.composite import SIGMA_FRACTION, transplant
from drywallqa.data.grouping import samples_of_part
from drywallqa.metrics import CenterlineMeter, SegmentationMeter
from drywallqa.utils.image_io import read_image
from drywallqa.viz import grid, overlay

CRACK, TAPING = "segment crack", "segment taping area"


def pairs(splits_dir: str, limit: int | None, part: str = "test") -> list:
    """``(crack sample, drywall sample)`` pairs: every labelled crack photo of the part, drywall photos in turn."""
    exclude = ("valid", "test") if part == "val" else ()  # as where thresholds are chosen
    cracks = [s for s in samples_of_part("cracks", part, splits_dir, exclude_published=exclude) if s.load_mask().any()]
    walls = samples_of_part("taping", part, splits_dir, exclude_published=exclude)
    return [(c, walls[k % len(walls)]) for k, c in enumerate(cracks[:limit] if limit else cracks)]


def composite(crack, wall_sample):
    """``(crack_photo, crack_label, drywall_photo, taping_label, composite)`` at the crack photo's size."""
    image, label = read_image(crack.image_path), crack.load_mask()
    h, w = label.shape
    wall = cv2.resize(read_image(wall_sample.image_path), (w, h), interpolation=cv2.INTER_AREA)
    tape = cv2.resize(wall_sample.load_mask().astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    return image, label, wall, tape, transplant(wall, image, label, sigma=SIGMA_FRACTION * min(h, w))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("out/cracks_on_drywall"))
    ap.add_argument("--model-path", type=Path, action="append", default=None,
                    help="model directory (repeatable); default: the shipped model")
    ap.add_argument("--splits-dir", default=None, help="default: ./splits, else the shipped manifests")
    ap.add_argument("--part", choices=("test", "val"), default="test", help="group-clean part (val: for choosing models)")
    ap.add_argument("--limit", type=int, default=None, help="crack photos (smoke runs only)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    paths = args.model_path or [None]
    names = [p.name if p else "shipped" for p in paths]
    if len(set(names)) < len(names):  # e.g. two runs' best/: tell them apart by their whole path
        names = [str(p) if p else "shipped" for p in paths]
    models = {name: Segmenter.load(p) for name, p in zip(names, paths)}
    meters = {name: {key: SegmentationMeter() for key in ("original", "composite", "taping")} for name in models}
    lines = {name: {key: CenterlineMeter() for key in ("original", "composite")} for name in models}
    missed = {name: {"original": 0, "composite": 0} for name in models}
    wall_fg = {name: [] for name in models}
    plain_wall_fg = {}  # (model, drywall photo, size) -> foreground: drywall photos recur across crack photos
    pictures, n = [], 0
    for crack, wall_sample in tqdm(pairs(args.splits_dir, args.limit, args.part), desc="cracks on drywall"):
        image, label, wall, tape, comp = composite(crack, wall_sample)
        n += 1
        row = [comp, overlay(comp, label, (0, 255, 0))] if len(pictures) < 4 else None
        for name, seg in models.items():
            on_own = seg.predict(image, [CRACK]).masks[CRACK]
            out = seg.predict(comp, [CRACK, TAPING]).masks
            for key, mask in (("original", on_own), ("composite", out[CRACK])):
                meters[name][key].update(mask, label)
                lines[name][key].update(mask, label)
                missed[name][key] += int(not mask.any())
            meters[name]["taping"].update(out[TAPING], tape)
            key = (name, str(wall_sample.image_path), wall.shape)
            if key not in plain_wall_fg:
                plain_wall_fg[key] = float(seg.predict(wall, [CRACK]).masks[CRACK].mean())
            wall_fg[name].append(plain_wall_fg[key])
            if row is not None:
                row.append(overlay(comp, out[CRACK]))
        if row is not None:
            pictures.append(row)
    rows = []
    for name in models:
        o, c = meters[name]["original"].compute(), meters[name]["composite"].compute()
        rows.append({"model": name, "crack_photos": n,
                     "crack_mIoU_own_photo": o["mIoU"], "crack_mIoU_on_drywall": c["mIoU"],
                     "centerline_F1_own_photo": lines[name]["original"].compute()["centerline_F1"],
                     "centerline_F1_on_drywall": lines[name]["composite"].compute()["centerline_F1"],
                     "missed_own_photo": missed[name]["original"], "missed_on_drywall": missed[name]["composite"],
                     "taping_mIoU_on_composite": meters[name]["taping"].compute()["mIoU"],
                     "crack_fg_on_plain_drywall": float(np.mean(wall_fg[name]))})
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cracks_on_drywall.json").write_text(json.dumps({"part": args.part, "sigma_fraction": SIGMA_FRACTION, "rows": rows}, indent=2))
    md = [f"# Cracks on drywall (group-clean {args.part} cracks transplanted onto group-clean {args.part} drywall photos)", "",
          "| model | crack photos | crack mIoU own photo | on drywall | centre-line F1 own | on drywall | missed own | "
          "missed on drywall | taping mIoU on composite | crack fg on plain drywall |", "|---|---|---|---|---|---|---|---|---|---|"]
    md += [f"| {r['model']} | {r['crack_photos']} | {r['crack_mIoU_own_photo']:.3f} | {r['crack_mIoU_on_drywall']:.3f} | "
           f"{r['centerline_F1_own_photo']:.3f} | {r['centerline_F1_on_drywall']:.3f} | {r['missed_own_photo']} | "
           f"{r['missed_on_drywall']} | {r['taping_mIoU_on_composite']:.3f} | {r['crack_fg_on_plain_drywall']:.4f} |" for r in rows]
    (args.out / "cracks_on_drywall.md").write_text("\n".join(md) + "\n")
    grid(pictures, ["composite", "crack label", *models], args.out / "cracks_on_drywall.png", cell=300)
    print("\n".join(md))


if __name__ == "__main__":
    main()
