"""Per crack photo of a group-clean part: the shipped model's "segment crack" probability map and mask and the
label, on the regular subsample the confidence statistics use (``drywallqa.confidence._subsample``), with the
mask's IoU at full resolution and the product's statistics; for trying new mask statistics offline.

    python docs/experiments/confidence_shape/dump.py OUT [--part train|val|test ...] [--limit N]

One .npz per part (object arrays of maps); a part already written is skipped."""
import argparse
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from drywallqa import Segmenter
from drywallqa.confidence import STATISTICS, _subsample, mask_statistics
from drywallqa.data.grouping import samples_of_part
from drywallqa.metrics import mask_iou
from drywallqa.utils.image_io import read_image

ap = argparse.ArgumentParser()
ap.add_argument("out", type=Path)
ap.add_argument("--part", action="append", default=None)
ap.add_argument("--limit", type=int, default=None, help="a seeded random sample of this many photos per part")
args = ap.parse_args()
torch.set_num_threads(2)
seg = Segmenter.load()
prompt = "segment crack"
threshold = seg.threshold_for(prompt)
args.out.mkdir(parents=True, exist_ok=True)
for part in args.part or ["val", "test", "train"]:
    f = args.out / f"cracks_{part}.npz"
    if f.exists():
        continue
    excl = () if part == "test" else ("valid", "test")
    samples = samples_of_part("cracks", part, None, None, exclude_published=excl)
    if args.limit and len(samples) > args.limit:
        samples = [samples[i] for i in sorted(np.random.default_rng(0).permutation(len(samples))[: args.limit])]
    rec = {k: [] for k in ("iou", "stats", "prob", "mask", "label", "shape", "names")}
    t = time.time()
    for s in tqdm(samples, desc=part):
        img = read_image(s.image_path)
        gt = s.load_mask()
        if gt.shape != img.shape[:2]:
            continue
        r = seg.predict(img, [prompt])
        p, m = _subsample(r.probabilities[prompt], r.masks[prompt])
        _, g = _subsample(r.probabilities[prompt], gt)
        st = mask_statistics(r.probabilities[prompt], r.masks[prompt], threshold)
        rec["stats"].append([st[k] for k in STATISTICS])
        rec["iou"].append(mask_iou(r.masks[prompt], gt))
        rec["prob"].append(p.astype(np.float16))
        rec["mask"].append(m)
        rec["label"].append(g)
        rec["shape"].append(img.shape[:2])
        rec["names"].append(str(s.image_path))
    arrays = {k: np.array(v) for k, v in rec.items() if k not in ("prob", "mask", "label")}
    for k in ("prob", "mask", "label"):
        arrays[k] = np.empty(len(rec[k]), object)
        arrays[k][:] = rec[k]
    np.savez_compressed(f, **arrays, allow_pickle=True)
    print("wrote", f, len(rec["iou"]), "photos in %.0f s" % (time.time() - t), flush=True)
