import numpy as np, pickle, warnings
warnings.filterwarnings("ignore")
from scipy.stats import spearmanr
from drywallqa.confidence import STATISTICS, fit_confidence_model, _ridge
from drywallqa.metrics import confidence_ranking
R = pickle.load(open("out/conf_exp/records.pkl", "rb"))
X = {}
for ds in ("cracks", "taping"):
    for tag in ("val", "test"):
        z = np.load(f"out/conf_exp/{ds}_{tag}.npz")
        X[ds, tag] = np.hstack([z["feat_mean"], z["feat_in"], z["feat_out"], z["b1"], z["l0"]])
        assert np.allclose(z["iou"], [r["iou"] for r in R[ds, tag]])
def design(ds, tag, use_dec, use_stats=True):
    parts = []
    if use_stats: parts.append(np.array([[r["stats"][k] for k in STATISTICS] for r in R[ds, tag]]))
    if use_dec: parts.append(X[ds, tag])
    return np.hstack(parts), np.array([r["iou"] for r in R[ds, tag]])
for use_stats, use_dec in ((True, False), (False, True), (True, True)):
    for alpha in (10, 100, 1000, 10000):
        xs = [design(ds, "val", use_dec, use_stats) for ds in ("cracks", "taping")]
        xv = np.vstack([x for x, _ in xs]); yv = np.concatenate([y for _, y in xs])
        mu, sd = xv.mean(0), xv.std(0) + 1e-9
        # 5-fold CV per concept
        rng = np.random.default_rng(0); concept = np.repeat([0, 1], [len(xs[0][1]), len(xs[1][1])])
        fold = np.zeros(len(yv), int)
        for c in (0, 1):
            idx = np.flatnonzero(concept == c); fold[idx] = rng.permutation(np.arange(len(idx)) % 5)
        z = (xv - mu) / sd; pred = np.zeros(len(yv))
        for k in range(5):
            w = _ridge(z[fold != k], yv[fold != k], alpha); pred[fold == k] = z[fold == k] @ w
        cv = [spearmanr(pred[concept == c], yv[concept == c]).statistic for c in (0, 1)]
        w = _ridge(z, yv, alpha)
        res = []
        for ds in ("cracks", "taping"):
            xt, yt = design(ds, "test", use_dec, use_stats)
            r = confidence_ranking(((xt - mu) / sd) @ w, yt)
            res.append(f"{ds} test rho {r['spearman']:.3f} gain {r['gain_at_80']:+.3f}")
        print(f"stats={use_stats} dec={use_dec} alpha={alpha}: cv {cv[0]:.3f}/{cv[1]:.3f} mean {np.mean(cv):.3f} | " + " | ".join(res))
