"""Summary of run.py's records.csv: how much confidence moves with the photo's pixel size, per variant.

    python docs/experiments/confidence_scale/summarize.py /tmp/confidence_scale/records.csv
"""
import sys

import pandas as pd
from scipy.stats import spearmanr

df = pd.read_csv(sys.argv[1])
variants = ["confidence"] + [c for c in df.columns if c.startswith("conf_")]
whole = df[df.arm == "whole"]
scales = sorted(whole.scale.unique())
key = ["dataset", "image"]
for ds in [None, "cracks", "taping"]:
    part = whole if ds is None else whole[whole.dataset == ds]
    base = part[part.scale == 1].set_index(key)
    print(f"\n== {ds or 'all'} ({len(base)} photos) ==")
    print("variant          | at x1 vs today: mean|d| max|d| | " + " | ".join(
        f"x{s} vs x1: mean|d| max|d| mean d" for s in scales[1:]) + " | Spearman with IoU at " + " ".join(f"x{s}" for s in scales))
    for v in variants:
        cells = []
        at1 = (base[v] - base["confidence"]).abs()
        cells.append(f"{at1.mean():.3f} {at1.max():.3f}")
        for s in scales[1:]:
            other = part[part.scale == s].set_index(key).loc[base.index]
            d = other[v] - base[v]
            cells.append(f"{d.abs().mean():.3f} {d.abs().max():.3f} {d.mean():+.3f}")
        rho = []
        for s in scales:
            x = part[part.scale == s]
            rho.append(f"{spearmanr(x[v], x.iou).statistic:.3f}")
        print(f"{v:16s} | " + " | ".join(cells) + " | " + " ".join(rho))
    iou = " ".join(f"x{s} {part[part.scale == s].iou.mean():.3f}" for s in scales)
    d_iou = " ".join(f"x{s} {(part[part.scale == s].set_index(key).loc[base.index].iou - base.iou).abs().mean():.3f}"
                     for s in scales[1:])
    print(f"mean IoU: {iou}; mean |IoU change| vs x1: {d_iou}")
tiled = df[df.arm != "whole"]
if len(tiled):
    for ds in ["cracks", "taping"]:
        t = tiled[tiled.dataset == ds].set_index(key)
        w = whole[(whole.dataset == ds)].set_index(key)
        for s in sorted(t.scale.unique()):
            ts, ws = t[t.scale == s], w[w.scale == s].loc[t[t.scale == s].index]
            print(f"\n{ds} x{s} {tiled.arm.iloc[0]} (tiles {ts.tiles.iloc[0]}) vs whole: conf {ts.confidence.mean():.3f} vs "
                  f"{ws.confidence.mean():.3f}, IoU {ts.iou.mean():.3f} vs {ws.iou.mean():.3f}, "
                  f"mean (conf - IoU) {(ts.confidence - ts.iou).mean():+.3f} vs {(ws.confidence - ws.iou).mean():+.3f}, "
                  f"Spearman {spearmanr(ts.confidence, ts.iou).statistic:.3f} vs {spearmanr(ws.confidence, ws.iou).statistic:.3f}")
            stats = [c for c in df.columns if c.startswith("s_")]
            print("  mean statistic tiled vs whole: " + ", ".join(
                f"{c[2:]} {ts[c].mean():.3f}/{ws[c].mean():.3f}" for c in stats))
