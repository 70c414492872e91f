import numpy as np, pickle, time
from drywallqa.confidence import mask_statistics, fit_confidence_model
from drywallqa.metrics import confidence_ranking
T = {"cracks": 0.45, "taping": 0.85}
def records(ds, tag):
    z = np.load(f"out/conf_exp/{ds}_{tag}.npz", allow_pickle=True)
    out = []; t = time.perf_counter()
    for prob, mb, name, iou in zip(z["probs"], z["masks"], z["names"], z["iou"]):
        _, h, w = name.split("|"); h, w = int(h), int(w)
        p = np.asarray(prob).astype(np.float32).reshape(h, w) / 255
        m = np.unpackbits(np.asarray(mb).astype(np.uint8))[: h * w].reshape(h, w).astype(bool)
        out.append({"concept": ds, "stats": mask_statistics(p, m, T[ds]), "iou": float(iou)})
    print(ds, tag, "ms per mask %.2f" % (1e3 * (time.perf_counter() - t) / len(out)), flush=True)
    return out
R = {(ds, tag): records(ds, tag) for ds in T for tag in ("val", "test")}
pickle.dump(R, open("out/conf_exp/records.pkl", "wb"))
model = fit_confidence_model(R["cracks", "val"] + R["taping", "val"])
print(model.selection)
print(model.features, np.round(model.weights, 3), model.calibration)
for ds in T:
    for tag in ("val", "test"):
        r = R[ds, tag]
        c = [model(x["stats"], ds) for x in r]
        cr = confidence_ranking(c, [x["iou"] for x in r])
        print(ds, tag, "spearman %.3f gain80 %+.3f oracle %+.3f mean conf %.3f mIoU %.3f" % (cr["spearman"], cr["gain_at_80"], cr["oracle_kept"][0.8]-cr["oracle_kept"][1.0], np.mean(c), np.mean([x["iou"] for x in r])))
