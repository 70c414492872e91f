"""Choose the inference options of a trained model on the group-clean **val** part (never on a scored
split), at the original resolution, and write it as the package's default model (float16 weights).

    python scripts/ship_default_model.py runs/default [--dest src/drywallqa/weights/default]

Options swept: input scales (one or two sizes, logits averaged), horizontal-flip TTA, the threshold
of each dataset's prompts (and one shared threshold for any other prompt), and a post-processing per
dataset: for datasets labelled with boxes only (taping) whether masks become per-component boxes (and
whether crossing joints become strips), for the others (cracks) whether masks are dilated. A
combination is only eligible when its median time on 640x640 JPEGs from disk with 2 threads stays
within the speed budget (150 ms for the first prompt, 50 ms per extra prompt).
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
from drywallqa.engine.evaluator import build_eval_sets, measure_speed, threshold_sweep
from drywallqa.engine.predictor import EmbeddedSegmenter
from drywallqa.metrics import THRESHOLDS
from drywallqa.utils.image_io import read_image

BOX_OPTIONS = [None, {"name": "boxes", "quantile": 0.0}, {"name": "boxes", "quantile": 0.02}, {"name": "boxes", "quantile": 0.05},
               {"name": "boxes", "quantile": 0.0, "split_below_fill": 0.5}]  # crossing joints -> strips
DILATE_OPTIONS = [None] + [{"name": "dilate", "radius_fraction": f} for f in (0.002, 0.004, 0.008)]
CANDIDATE_SCALES = [(384,), (448,), (512,), (384, 512)]  # the default model's input size is 384
BUDGET_FIRST_MS, BUDGET_EXTRA_MS = 150.0, 50.0


def sweep(seg: EmbeddedSegmenter, sets) -> dict:
    """Canonical-prompt mIoU per dataset, post-processing option and threshold. Best: per dataset the
    (option, threshold) pair with the highest mIoU (its threshold holds for all that dataset's prompts);
    for other prompts, the one threshold that is best on the mean over datasets."""
    per_ds = {}
    for es in sets:
        cfg = get_dataset_config(es.dataset)
        options = BOX_OPTIONS if cfg.label_shape == "box" else DILATE_OPTIONS
        ious = {(k, th): [] for k in range(len(options)) for th in THRESHOLDS}
        for s in tqdm(es.samples, desc=f"{es.dataset} scales={seg.scales} tta={seg.tta}", leave=False):
            _, logits, _ = seg.predict_logits(read_image(s.image_path), [cfg.canonical_prompt])
            prob = torch.sigmoid(logits[0]).numpy()
            gt = s.load_mask()
            for k, opt in enumerate(options):
                for th, iou in zip(THRESHOLDS, threshold_sweep(prob, gt, opt)):
                    ious[(k, th)].append(iou)
        per_ds[es.dataset] = {"options": options, "mIoU": {f"{k}@{th}": float(np.mean(v)) for (k, th), v in ious.items()}}
    choice, thresholds, scores = {}, {}, {}
    for d, r in per_ds.items():
        key = max(r["mIoU"], key=r["mIoU"].get)
        k, th = key.split("@")
        choice[d], thresholds[d], scores[d] = r["options"][int(k)], float(th), r["mIoU"][key]
    shared = max(THRESHOLDS, key=lambda th: np.mean([per_ds[d]["mIoU"][f"0@{th}"] for d in per_ds]))
    best = {"threshold": float(shared), "dataset_thresholds": thresholds, "postprocess": choice,
            "val_mIoU": float(np.mean(list(scores.values()))), "val_mIoU_per_dataset": scores}
    return {"best": best, "per_dataset": per_ds}


def parse_scales(text: str) -> tuple:
    """``"448"`` -> ``(448,)``, ``"384,512"`` -> ``(384, 512)`` (multiples of 32)."""
    try:
        scales = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: sizes in pixels separated by commas, e.g. 448 or 384,512") from None
    if not scales or any(v <= 0 or v % 32 for v in scales):
        raise argparse.ArgumentTypeError(f"{text!r}: every size must be a positive multiple of 32")
    return scales


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--dest", type=Path, default=Path("src/drywallqa/weights/default"))
    ap.add_argument("--splits-dir", type=Path, default=None, help="default: ./splits, else the shipped manifests")
    ap.add_argument("--limit", type=int, default=None, help="images per dataset (smoke runs only)")
    ap.add_argument("--timing-images", type=int, default=20)
    ap.add_argument("--ignore-budget", action="store_true", help="smoke runs only (e.g. while the CPU is busy)")
    ap.add_argument("--scales", action="append", type=parse_scales, default=None, metavar="S[,S2]",
                    help="only these input scales (repeatable, e.g. --scales 448 --scales 384,512); default: all candidates")
    ap.add_argument("--tta", choices=("both", "on", "off"), default="both", help="flip TTA candidates to try")
    args = ap.parse_args()
    torch.set_num_threads(2)
    sets = build_eval_sets(("cracks", "taping"), which=("val",), splits_dir=args.splits_dir, limit=args.limit)
    timing_paths = [s.image_path for s in sets[0].samples[: args.timing_images]]
    candidates = []
    for scales in args.scales or CANDIDATE_SCALES:
        for tta in {"both": (False, True), "on": (True,), "off": (False,)}[args.tta]:
            seg = EmbeddedSegmenter.from_path(args.run / "best", tta=tta, scales=scales)
            speed = measure_speed(seg, timing_paths, ["segment crack", "segment taping area", "segment joint/tape"], warmup=3)
            first_ms, extra_ms = speed["median_ms_first_prompt"], speed["median_ms_per_extra_prompt"]
            entry = {"scales": list(scales), "tta": tta, "median_ms_first_prompt": first_ms, "median_ms_per_extra_prompt": extra_ms}
            entry["within_budget"] = args.ignore_budget or (first_ms <= BUDGET_FIRST_MS and extra_ms <= BUDGET_EXTRA_MS)
            if entry["within_budget"]:
                entry["val"] = sweep(seg, sets)
                entry.update(entry["val"]["best"])
            print(json.dumps({k: v for k, v in entry.items() if k != "val"}))
            candidates.append(entry)
    eligible = [c for c in candidates if c["within_budget"]]
    if not eligible:
        raise SystemExit("no inference option fits the speed budget")
    best = max(eligible, key=lambda c: c["val_mIoU"])
    print(f"chosen on group-clean val: scales={best['scales']} tta={best['tta']} thresholds={best['dataset_thresholds']} "
          f"(other prompts {best['threshold']}) post-processing={best['postprocess']} val mIoU={best['val_mIoU']:.4f}")
    postprocess = {p: spec for d, spec in best["postprocess"].items() if spec for p in get_dataset_config(d).prompts}
    prompt_thresholds = {p: th for d, th in best["dataset_thresholds"].items() for p in get_dataset_config(d).prompts}
    seg = EmbeddedSegmenter.from_path(args.run / "best")
    meta = {k: v for k, v in seg.metadata.items() if k not in ("model_type", "config")}
    meta.update(threshold=best["threshold"], prompt_thresholds=prompt_thresholds, tta=best["tta"],
                scales=best["scales"], postprocess=postprocess,
                selected_on="group-clean val part (src/drywallqa/splits/*.json), published valid/test images left out",
                selection=candidates)
    args.dest.mkdir(parents=True, exist_ok=True)
    seg.model.save_pretrained(args.dest, extra=meta, dtype=torch.float16)
    shutil.copy(args.run / "train_files.json", args.dest / "train_files.json")
    for name in ("metrics.csv", "curves.png", "config.yaml"):
        if (args.run / name).is_file():
            shutil.copy(args.run / name, args.dest / f"training_{name}")
    print(json.dumps({"dest": str(args.dest), "files": sorted(p.name for p in args.dest.iterdir())}))


if __name__ == "__main__":
    main()
