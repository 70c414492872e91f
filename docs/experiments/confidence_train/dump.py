"""Per crack photo of the group-clean train / val / test parts (published valid/test photos left out of train and
val): the shipped model's "segment crack" mask, its IoU with the label, the product's confidence statistics, and
pooled decoder features (stride-4 level over the photo / inside / outside the mask; stride-8 and stride-32 levels).

    python docs/experiments/confidence_train/dump.py OUT [--part train|val|test ...] [--limit N]

One .npz per part; a part already written is skipped, so a stopped run goes on where it stopped."""
import argparse, time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from drywallqa import Segmenter
from drywallqa.confidence import STATISTICS, mask_statistics
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
feats = {}
seg.model.blocks[3].register_forward_hook(lambda m, i, o: feats.__setitem__("x", o.detach()))
seg.model.blocks[1].register_forward_hook(lambda m, i, o: feats.__setitem__("b1", o.detach()))
seg.model.laterals[0].register_forward_hook(lambda m, i, o: feats.__setitem__("l0", o.detach()))
args.out.mkdir(parents=True, exist_ok=True)
for part in args.part or ["val", "test", "train"]:
    f = args.out / f"cracks_{part}.npz"
    if f.exists():
        continue
    excl = () if part == "test" else ("valid", "test")
    samples = samples_of_part("cracks", part, None, None, exclude_published=excl)
    if args.limit and len(samples) > args.limit:
        samples = [samples[i] for i in sorted(np.random.default_rng(0).permutation(len(samples))[: args.limit])]
    rec = {k: [] for k in ("iou", "stats", "feat_mean", "feat_in", "feat_out", "b1", "l0", "names", "fg")}
    t = time.time()
    for s in tqdm(samples, desc=part):
        img = read_image(s.image_path); gt = s.load_mask()
        if gt.shape != img.shape[:2]:
            continue
        r = seg.predict(img, [prompt])
        x = feats["x"][0]
        m = torch.from_numpy(r.masks[prompt].astype(np.float32))[None, None]
        ms = torch.nn.functional.interpolate(m, size=x.shape[-2:], mode="area")[0, 0]
        rec["feat_mean"].append(x.mean((1, 2)).numpy())
        rec["feat_in"].append(((x * ms).sum((1, 2)) / ms.sum().clamp(min=1e-6)).numpy())
        rec["feat_out"].append(((x * (1 - ms)).sum((1, 2)) / (1 - ms).sum().clamp(min=1e-6)).numpy())
        rec["b1"].append(feats["b1"][0].mean((1, 2)).numpy()); rec["l0"].append(feats["l0"][0].mean((1, 2)).numpy())
        st = mask_statistics(r.probabilities[prompt], r.masks[prompt], threshold)
        rec["stats"].append([st[k] for k in STATISTICS])
        rec["iou"].append(mask_iou(r.masks[prompt], gt)); rec["fg"].append(float(r.masks[prompt].mean()))
        rec["names"].append(str(s.image_path))
    np.savez_compressed(f, **{k: np.array(v) for k, v in rec.items()})
    print("wrote", f, len(rec["iou"]), "photos in %.0f s" % (time.time() - t), flush=True)
