"""Shape statistics of the crack mask for its confidence: ridge and gradient-boosted trees fitted on the training
photos' masks, on the product's statistics with and without the new ones; settings chosen by Spearman on the
group-clean val part; the test part read once (``--test``) for the rows chosen on val.

    python docs/experiments/confidence_shape/fit.py OUT [--test]   (OUT: dump.py's folder)"""
import argparse
import json
import math
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
from skimage.morphology import skeletonize
from sklearn.ensemble import HistGradientBoostingRegressor

from drywallqa.confidence import STATISTICS, _ridge
from drywallqa.metrics import confidence_ranking

SHAPE = ("log_length", "log_width", "width_cv", "endpoints", "branches", "edge_grad", "core", "ring", "log_pixels")


def shape_statistics(p: np.ndarray, m: np.ndarray, pixels: int) -> list[float]:
    """Shape of the mask on the subsample: skeleton length and mean width (area / length) and how much the width
    varies, end and branch points of the skeleton per unit length, the map's gradient on the mask's outline, the
    share of the mask above 0.8, the mean map just outside it (3 px), and the photo's size."""
    p = p.astype(np.float32)
    area = float(m.sum())
    if not area:
        return [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, float(p.mean()), math.log(pixels)]
    sk = skeletonize(m)
    length = max(float(sk.sum()), 1.0)
    dist = cv2.distanceTransform(m.astype(np.uint8), cv2.DIST_L2, 3)
    widths = 2 * dist[sk] if sk.any() else np.array([1.0])
    neighbours = cv2.filter2D(sk.astype(np.uint8), -1, np.ones((3, 3), np.float32)) - 1
    ends, branches = float(((neighbours == 1) & sk).sum()), float(((neighbours >= 3) & sk).sum())
    mu = m.astype(np.uint8)
    outline = mu.astype(bool) & ~cv2.erode(mu, np.ones((3, 3), np.uint8)).astype(bool)
    gy, gx = np.gradient(p)
    ring = cv2.dilate(mu, np.ones((7, 7), np.uint8)).astype(bool) & ~m
    return [math.log(length / max(m.shape)), math.log(area / length), float(widths.std() / (widths.mean() + 1e-6)),
            ends / length, branches / length, float(np.hypot(gx, gy)[outline].mean()), float((p[m] > 0.8).mean()),
            float(p[ring].mean()) if ring.any() else 0.0, math.log(pixels)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--test", action="store_true", help="also score the test part (once, at the end)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    parts = ("train", "val", "test") if args.test else ("train", "val")
    Z = {p: np.load(args.out / f"cracks_{p}.npz", allow_pickle=True) for p in parts}
    t = time.time()
    S = {p: np.array([shape_statistics(pr, m, int(np.prod(sh))) for pr, m, sh in zip(Z[p]["prob"], Z[p]["mask"], Z[p]["shape"])])
         for p in parts}
    n = sum(len(S[p]) for p in parts)
    print(f"shape statistics: {1000 * (time.time() - t) / n:.1f} ms per mask")
    y = {p: Z[p]["iou"] for p in parts}
    print({p: len(y[p]) for p in y}, "mIoU", {p: round(float(y[p].mean()), 3) for p in y})

    def X(p, what):
        return np.hstack([Z[p]["stats"]] + ([S[p]] if what == "stats+shape" else []))

    def report(name, score):
        r = {p: confidence_ranking(score(p), y[p]) for p in parts if p != "train"}
        print(f"{name:40s} " + " | ".join(f"{p} rho {r[p]['spearman']:.3f} gain {r[p]['gain_at_80']:+.3f}" for p in r), flush=True)
        return r

    for k, name in enumerate(SHAPE):  # each new statistic alone, on val
        rho = confidence_ranking(S["val"][:, k], y["val"])["spearman"]
        print(f"  alone on val: {name:12s} rho {rho:+.3f}")
    rows, best = {}, {}
    for what in ("stats", "stats+shape"):
        xt = X("train", what)
        mu, sd = xt.mean(0), xt.std(0) + 1e-9
        for alpha in (1, 10, 100, 1000):
            w = _ridge((xt - mu) / sd, y["train"], alpha)
            name = f"ridge {what} alpha={alpha}"
            rows[name] = report(name, lambda p: ((X(p, what) - mu) / sd) @ w)
            if rows[name]["val"]["spearman"] > best.get("ridge " + what, (None, -1))[1]:
                best["ridge " + what] = (name, rows[name]["val"]["spearman"])
        for depth, lr in ((2, 0.05), (3, 0.05), (3, 0.1)):
            gb = HistGradientBoostingRegressor(max_depth=depth, learning_rate=lr, max_iter=300, l2_regularization=1.0,
                                               random_state=0).fit(X("train", what), y["train"])
            name = f"trees {what} depth={depth} lr={lr}"
            rows[name] = report(name, lambda p: gb.predict(X(p, what)))
            if rows[name]["val"]["spearman"] > best.get("trees " + what, (None, -1))[1]:
                best["trees " + what] = (name, rows[name]["val"]["spearman"])
    for p in parts[1:]:
        print(f"oracle {p}: gain at 80% {confidence_ranking(y[p], y[p])['gain_at_80']:+.3f}")
    print("chosen on val per family:", {k: v[0] for k, v in best.items()})
    json.dump({"chosen_on_val": {k: v[0] for k, v in best.items()},
               "rows": {k: {p: {m: v[p][m] for m in ("spearman", "gain_at_80")} for p in v} for k, v in rows.items()}},
              open(args.out / ("fit_test.json" if args.test else "fit_val.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
