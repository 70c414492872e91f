"""Crack confidence fitted on the training photos instead of the val part: ridge on the product's statistics,
on pooled decoder features, on both, and gradient-boosted trees on both; each family's setting chosen by
Spearman on the group-clean val part, then scored once on the test part, beside the shipped confidence.

    python docs/experiments/confidence_train/fit.py OUT   (OUT: dump.py's folder)"""
import json, sys, warnings
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from drywallqa.confidence import STATISTICS, _ridge
from drywallqa.metrics import confidence_ranking

warnings.filterwarnings("ignore")
out = Path(sys.argv[1])
Z = {p: np.load(out / f"cracks_{p}.npz") for p in ("train", "val", "test")}
def X(p, what):
    z = Z[p]; parts = []
    if "stats" in what: parts.append(z["stats"])
    if "dec" in what: parts.append(np.hstack([z["feat_mean"], z["feat_in"], z["feat_out"], z["b1"], z["l0"]]))
    return np.hstack(parts)
y = {p: Z[p]["iou"] for p in Z}
print({p: len(y[p]) for p in y}, "mIoU", {p: round(float(y[p].mean()), 3) for p in y})
conf = json.load(open("src/drywallqa/weights/default/confidence.json"))
assert conf["features"] == list(STATISTICS)
def shipped(p):  # the ridge combination in confidence.json (its sigmoid is monotone: same ranking)
    return ((Z[p]["stats"] - np.array(conf["means"])) / np.array(conf["scales"])) @ np.array(conf["weights"])
def report(name, score):
    r = {p: confidence_ranking(score(p), y[p]) for p in ("val", "test")}
    print(f"{name:40s} val rho {r['val']['spearman']:.3f} gain {r['val']['gain_at_80']:+.3f} | "
          f"test rho {r['test']['spearman']:.3f} gain {r['test']['gain_at_80']:+.3f}", flush=True)
    return r
rows = {"shipped (fitted on val)": report("shipped (fitted on val)", shipped)}
for p in ("val", "test"):
    o = confidence_ranking(y[p], y[p]); print(f"oracle {p}: gain at 80% {o['gain_at_80']:+.3f}")
best = {}
for what in ("stats", "dec", "stats+dec"):
    xt = X("train", what); mu, sd = xt.mean(0), xt.std(0) + 1e-9
    for alpha in (1, 10, 100, 1000, 10000):
        w = _ridge((xt - mu) / sd, y["train"], alpha)
        name = f"ridge {what} alpha={alpha}"
        rows[name] = report(name, lambda p: ((X(p, what) - mu) / sd) @ w)
        if rows[name]["val"]["spearman"] > best.get(what, (None, -1))[1]:
            best[what] = (name, rows[name]["val"]["spearman"])
for what in ("stats", "stats+dec"):
    for depth, lr in ((2, 0.05), (3, 0.05), (3, 0.1)):
        gb = HistGradientBoostingRegressor(max_depth=depth, learning_rate=lr, max_iter=300, l2_regularization=1.0,
                                           random_state=0).fit(X("train", what), y["train"])
        name = f"trees {what} depth={depth} lr={lr}"
        rows[name] = report(name, lambda p: gb.predict(X(p, what)))
        if rows[name]["val"]["spearman"] > best.get("trees " + what, (None, -1))[1]:
            best["trees " + what] = (name, rows[name]["val"]["spearman"])
print("chosen on val per family:", {k: v[0] for k, v in best.items()})
json.dump({k: {p: {m: v[p][m] for m in ("spearman", "gain_at_80")} for p in v} for k, v in rows.items()},
          open(out / "fit.json", "w"), indent=1)
