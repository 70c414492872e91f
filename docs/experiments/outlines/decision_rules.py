"""Can a better decision rule on the shipped model's probability maps move mIoU? (record: README.md here)

Scores, on the group-clean val part (or other parts with ``--which``), the canonical prompt of each
dataset under:

- ``fixed``: the shipped setting (the model's threshold and post-processing per prompt), and
  ``best single threshold`` (the shipped post-processing, the threshold of the sweep grid best on the part);
- ``expected-IoU``: per image, the mask that maximises the expected IoU under the map read as independent
  pixel probabilities (Nowozin, "Optimal decisions from probabilistic models: the intersection-over-union
  case", CVPR 2014): the top-k pixels with the largest ratio sum(p_top-k) / (k + sum(p) - sum(p_top-k)),
  after an optional recalibration ``sigmoid(a * logit(p) + b)``; then the shipped post-processing;
- ``darker-than-background`` (cracks): pixels near the mask that are darker than the photo's local
  median by a fraction of the mask's own darkness are added, i.e. the outline snapped to the photo;
- other input sizes: ``--scale 576`` etc. (the shipped model is run at that size instead);
- an oracle of output resolution: the ground truth itself, averaged onto the grid of stride 4 (the
  decoder's finest) or 2 of the input size, upsampled bilinearly and thresholded at 0.5 (no model), i.e.
  what that resolution alone costs a perfect probability map.

    python docs/experiments/outlines/decision_rules.py [--model-path DIR [--settings-from DIR]] [--scale 512] [--which val]
"""

from __future__ import annotations

import argparse
import json

import cv2
import numpy as np
import torch
from tqdm import tqdm

from drywallqa.data.registry import get_dataset_config
from drywallqa.engine.evaluator import build_eval_sets
from drywallqa.engine.validator import threshold_sweep
from drywallqa.engine.torch_runtime import TorchSegmenter as EmbeddedSegmenter
from drywallqa.metrics import THRESHOLDS, mask_iou
from drywallqa.models.base import read_model_metadata
from drywallqa.postprocess import apply_postprocess
from drywallqa.utils.image_io import read_image

CALIBRATIONS = ((1.0, 0.0), (2.0, 0.0), (0.5, 0.0), (1.0, -1.0), (1.0, 1.0))
DARKNESS = ((0.2, 0.6), (0.3, 0.6), (0.2, 1.0))  # (lowest probability added, fraction of the mask's darkness)


def expected_iou_mask(prob: np.ndarray, a: float = 1.0, b: float = 0.0) -> np.ndarray:
    """``(H, W)`` probabilities -> the ``(H, W)`` bool mask maximising expected IoU (ratio of expectations)."""
    p = np.clip(prob.astype(np.float64), 1e-4, 1 - 1e-4)
    q = 1 / (1 + np.exp(-(a * np.log(p / (1 - p)) + b)))
    s = np.sort(q.ravel())[::-1]
    c = np.cumsum(s)
    k = int(np.argmax(c / (np.arange(1, s.size + 1) + c[-1] - c)))
    return q >= s[k]


def darker_than_background(prob: np.ndarray, mask: np.ndarray, grey: np.ndarray, lowest: float, fraction: float) -> np.ndarray:
    """``mask`` plus the pixels with probability above ``lowest`` whose darkness (local 31 px median minus
    the pixel) exceeds ``fraction`` of the median darkness inside ``mask``."""
    darkness = cv2.medianBlur(grey, 31).astype(np.float32) - grey
    reference = np.median(darkness[mask]) if mask.any() else 0.0
    return mask | ((prob > lowest) & (darkness > fraction * reference))


def through_grid(gt: np.ndarray, cells: int) -> np.ndarray:
    """``(H, W)`` bool ground truth averaged onto ``cells x cells`` and back (bilinear), thresholded at 0.5."""
    small = cv2.resize(gt.astype(np.float32), (cells, cells), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, gt.shape[::-1], interpolation=cv2.INTER_LINEAR) > 0.5


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-path", default=None)
    ap.add_argument("--settings-from", default=None,
                    help="take thresholds, post-processing, scales and TTA from this model folder (e.g. the shipped one, "
                         "for a training run's weights that carry none)")
    ap.add_argument("--scale", type=int, default=None, help="input size (default: the model's)")
    ap.add_argument("--which", default="val", help="comma-separated: val, group, published")
    ap.add_argument("--thresholds-only", action="store_true", help="only the fixed and best single thresholds (fast)")
    ap.add_argument("--out", default=None, help="write the scores as JSON here")
    args = ap.parse_args()
    torch.set_num_threads(2)
    scales = {"scales": (args.scale,)} if args.scale else {}
    seg = EmbeddedSegmenter.from_path(args.model_path, **scales)
    if args.settings_from:  # the same weights, with the other folder's inference settings
        meta = read_model_metadata(args.settings_from)
        seg = EmbeddedSegmenter(seg.model, seg.text_encoder, meta.get("threshold", 0.5), metadata=meta,
                                tta=meta.get("tta", False), scales=scales.get("scales") or meta.get("scales"))
    results = {}
    for es in build_eval_sets(("cracks", "taping"), which=tuple(args.which.split(","))):
        cfg = get_dataset_config(es.dataset)
        prompt = cfg.canonical_prompt
        post, threshold = seg.postprocess.get(prompt), seg.threshold_for(prompt)
        scores, sweeps = {}, []
        for s in tqdm(es.samples, desc=f"{es.name} {es.dataset}"):
            image = read_image(s.image_path)
            _, logits, _ = seg.predict_logits(image, [prompt])
            prob, gt = torch.sigmoid(logits[0]).numpy(), s.load_mask()
            rules = {"fixed": lambda: prob > threshold}
            size = seg.scales[0]
            oracles = {f"oracle: ground truth through the stride-{k} grid": through_grid(gt, size // k) for k in (4, 2)}
            if not args.thresholds_only:
                rules.update({f"expected-IoU a={a:g} b={b:g}": (lambda a=a, b=b: expected_iou_mask(prob, a, b))
                              for a, b in CALIBRATIONS})
                if cfg.label_shape != "box":
                    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
                    rules.update({f"darker-than-background p>{lo:g} x{fr:g}": (lambda lo=lo, fr=fr: darker_than_background(
                        prob, prob > threshold, grey, lo, fr)) for lo, fr in DARKNESS})
            for name, rule in rules.items():
                scores.setdefault(name, []).append(mask_iou(apply_postprocess(rule(), post), gt))
            for name, mask in oracles.items():
                scores.setdefault(name, []).append(mask_iou(mask, gt))
            sweeps.append(threshold_sweep(prob, gt, post))
        results[f"{es.name} / {es.dataset}"] = {name: float(np.mean(v)) for name, v in scores.items()}
        mean_sweep = np.mean(sweeps, axis=0)
        results[f"{es.name} / {es.dataset}"][f"best single threshold ({THRESHOLDS[int(mean_sweep.argmax())]:g})"] = float(mean_sweep.max())
        print(json.dumps({f"{es.name} / {es.dataset}": results[f"{es.name} / {es.dataset}"]}, indent=1), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"scale": args.scale or list(seg.scales), "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
