"""Does a mask's confidence depend on the photo's pixel size? (experiment, not part of the package)

    DRYWALLQA_DATASETS=/path/to/shared/datasets PYTHONPATH=src python docs/experiments/confidence_scale/run.py \
        --per-dataset 20 --out /tmp/confidence_scale

Takes ``--per-dataset`` photos of each published valid split (cracks, taping; evenly spaced through the split),
predicts each with the shipped default model (``Segmenter.load()``, whole photo) at its own size and enlarged
``--scales`` times (cv2.INTER_CUBIC; the label enlarged with INTER_NEAREST), and records per photo and scale the
confidence, the mask's IoU with the label (scored as ``evaluate`` scores it: taping masks as boxes) and whether the
photo was tiled. ``--tile N`` adds the same at every scale with ``Segmenter.load(tile=N)``.

For each mask it also recomputes the confidence from the same map and mask with the statistics measured on an
area-resized copy instead of today's strided subsample (``--variants``), the rest of ``mask_statistics`` unchanged:

- ``area``: the probability map resized with cv2.INTER_AREA to the grid today's subsample has (ceil(H/step) x
  ceil(W/step), step as today), the mask as the resized mask fraction > 0.5;
- ``area_max``: the same map, the mask max-pooled (a cell is in the mask when any pixel of it is);
- ``full``: no subsample (every pixel; a diagnostic: the 9x9 ring of ``band`` is then 4 px of the photo, not
  4 steps, and the calibration was fitted on subsampled statistics).

Writes ``records.csv`` (one row per photo, scale, arm) and prints the summary of README.md.
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from pathlib import Path

import cv2
import numpy as np


def grid(shape, step):
    return math.ceil(shape[0] / step), math.ceil(shape[1] / step)


def area_subsample(mode):
    from drywallqa import confidence as C

    def _subsample(probability, mask):
        p = np.asarray(probability, np.float32)
        m = np.asarray(mask, bool)
        step = max(1, int(math.ceil(math.sqrt(p.size / C.MAX_STAT_PIXELS))))
        if step == 1 or mode == "full":
            return p, m
        h, w = grid(p.shape, step)
        ps = cv2.resize(p, (w, h), interpolation=cv2.INTER_AREA)
        if mode == "area":
            ms = cv2.resize(m.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) > 0.5
        else:  # max-pool: pad to a multiple of step, then any() per cell
            H, W = h * step, w * step
            pad = np.zeros((H, W), bool)
            pad[:m.shape[0], :m.shape[1]] = m
            ms = pad.reshape(h, step, w, step).any(axis=(1, 3))
        return ps, ms
    return _subsample


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-dataset", type=int, default=20)
    ap.add_argument("--scales", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--tile", type=int, default=None)
    ap.add_argument("--tile-scales", type=int, nargs="+", default=[2])
    ap.add_argument("--variants", nargs="*", default=["area", "area_max", "full"])
    ap.add_argument("--out", default="/tmp/confidence_scale")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import torch
    torch.set_num_threads(args.threads)
    from drywallqa import Segmenter
    from drywallqa import confidence as C
    from drywallqa.data.registry import get_dataset_config
    from drywallqa.data.sample import photo_and_label
    from drywallqa.engine.evaluator import build_eval_sets, scoring_label_shape
    from drywallqa.metrics import label_and_valid, mask_iou

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    arms = {"whole": Segmenter.load()}
    if args.tile:
        arms[f"tile{args.tile}"] = Segmenter.load(tile=args.tile)
    today = C._subsample
    variants = {v: area_subsample(v) for v in args.variants}
    rows = []
    t0 = time.time()
    for es in build_eval_sets(["cracks", "taping"], which=("published",)):
        config = get_dataset_config(es.dataset)
        prompt, shape = config.canonical_prompt, scoring_label_shape(es.dataset)
        n = len(es.samples)
        picks = [es.samples[round(i * (n - 1) / max(args.per_dataset - 1, 1))] for i in range(args.per_dataset)]
        for sample in picks:
            image, target = photo_and_label(sample, target=True)
            gt0, valid0 = label_and_valid(target)
            for scale in sorted(set(args.scales) | set(args.tile_scales if args.tile else [])):
                if scale == 1:
                    img, gt, valid = image, gt0, valid0
                else:
                    h, w = image.shape[:2]
                    img = cv2.resize(image, (w * scale, h * scale), interpolation=cv2.INTER_CUBIC)
                    near = lambda a: cv2.resize(a.astype(np.uint8), (w * scale, h * scale),
                                                interpolation=cv2.INTER_NEAREST).astype(bool)
                    gt, valid = near(gt0), (None if valid0 is None else near(valid0))
                    copy = Path("/tmp/h294_data") / f"{es.dataset}_{Path(sample.image_path).stem}_x{scale}.png"
                    if not copy.exists():
                        cv2.imwrite(str(copy), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
                for arm, seg in arms.items():
                    if arm == "whole" and scale not in args.scales:
                        continue
                    if arm != "whole" and scale not in args.tile_scales:
                        continue
                    t = time.time()
                    r = seg.predict(img, [prompt], label_shape=shape)
                    prob, mask = r.probabilities[prompt], r.masks[prompt]
                    row = {"dataset": es.dataset, "image": Path(sample.image_path).name, "scale": scale, "arm": arm,
                           "size": f"{img.shape[1]}x{img.shape[0]}", "tiles": r.tiles,
                           "confidence": r.confidence[prompt], "iou": mask_iou(mask, gt, valid),
                           "mask_px": int(mask.sum()), "step": max(1, math.ceil(math.sqrt(prob.size / C.MAX_STAT_PIXELS))),
                           "seconds": round(time.time() - t, 2)}
                    if mask.any():  # today's statistics, for seeing which of them move
                        stats = C.mask_statistics(prob, mask, seg.threshold_for(prompt))
                        row.update({f"s_{k}": round(v, 5) for k, v in stats.items()})
                    check = seg.mask_confidence(prompt, prob, mask)
                    assert abs(check - row["confidence"]) < 1e-9, (check, row["confidence"])
                    for name, sub in variants.items():
                        C._subsample = sub
                        try:
                            row[f"conf_{name}"] = seg.mask_confidence(prompt, prob, mask)
                        finally:
                            C._subsample = today
                    rows.append(row)
                    print(f"{time.time() - t0:7.1f}s {es.dataset:7s} {row['image'][:30]:30s} x{scale} {arm:8s} "
                          f"conf {row['confidence']:.3f} iou {row['iou']:.3f} "
                          + " ".join(f"{v} {row[f'conf_{v}']:.3f}" for v in variants), flush=True)
    with open(out / "records.csv", "w", newline="") as f:
        fields = list(dict.fromkeys(k for r in rows for k in r))
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    print("wrote", out / "records.csv")


if __name__ == "__main__":
    main()
