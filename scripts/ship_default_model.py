"""Choose the threshold and flip-TTA of a trained model on the group-clean **val** part (never on a
scored split) at the original resolution, and write it as the package's default model (float16).

    python scripts/ship_default_model.py runs/default [--dest src/drywallqa/weights/default]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from drywallqa.data.registry import get_dataset_config
from drywallqa.engine.evaluator import build_eval_sets
from drywallqa.engine.predictor import EmbeddedSegmenter
from drywallqa.utils.image_io import read_image

THRESHOLDS = np.round(np.arange(0.2, 0.81, 0.05), 2)


def sweep(seg: EmbeddedSegmenter, sets) -> dict:
    """mIoU of each dataset's canonical prompt per threshold -> {threshold: mean over datasets}."""
    per_ds = {}
    for es in sets:
        prompt = get_dataset_config(es.dataset).canonical_prompt
        ious = {th: [] for th in THRESHOLDS}
        for s in tqdm(es.samples, desc=f"{es.dataset} tta={seg.tta}"):
            _, logits, _ = seg.predict_logits(read_image(s.image_path), [prompt])
            prob = torch.sigmoid(logits[0]).numpy()
            gt = s.load_mask()
            for th in THRESHOLDS:
                pred = prob > th
                union = np.count_nonzero(pred | gt)
                ious[th].append(np.count_nonzero(pred & gt) / union if union else 1.0)
        per_ds[es.dataset] = {float(th): float(np.mean(v)) for th, v in ious.items()}
    return {float(th): float(np.mean([per_ds[d][float(th)] for d in per_ds])) for th in THRESHOLDS} | {"per_dataset": per_ds}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("--dest", type=Path, default=Path("src/drywallqa/weights/default"))
    ap.add_argument("--splits-dir", type=Path, default=Path("splits"))
    ap.add_argument("--limit", type=int, default=None, help="images per dataset (smoke runs only)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    sets = build_eval_sets(("cracks", "taping"), which=("val",), splits_dir=args.splits_dir, limit=args.limit)
    results = {}
    for tta in (False, True):
        seg = EmbeddedSegmenter.from_path(args.run / "best", tta=tta)
        results[tta] = sweep(seg, sets)
    best = max(((tta, th) for tta in results for th in THRESHOLDS), key=lambda k: results[k[0]][float(k[1])])
    tta, th = best[0], float(best[1])
    print(f"chosen on group-clean val: tta={tta} threshold={th} val mIoU={results[tta][th]:.4f}")
    seg = EmbeddedSegmenter.from_path(args.run / "best")
    meta = dict(seg.metadata)
    meta.pop("model_type", None)
    meta.pop("config", None)
    meta.update(threshold=th, tta=tta, selected_on="group-clean val part (splits/*.json), published valid/test left out",
                selection_sweep={str(k): {str(t): v for t, v in r.items()} for k, r in results.items()})
    seg.model.save_pretrained(args.dest, extra=meta, dtype=torch.float16)
    shutil.copy(args.run / "train_files.json", args.dest / "train_files.json")
    for name in ("metrics.csv", "curves.png", "config.yaml"):
        if (args.run / name).is_file():
            shutil.copy(args.run / name, args.dest / f"training_{name}")
    print(json.dumps({"dest": str(args.dest), "files": sorted(p.name for p in args.dest.iterdir())}))


if __name__ == "__main__":
    main()
