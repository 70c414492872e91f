"""Dump per-image canonical-prompt probability maps, masks, true IoU and pooled decoder features (stride-4 level
averaged over the photo, inside and outside the mask; stride-8 and stride-32 levels): python dump.py OUT"""
import sys, numpy as np, torch, time
from pathlib import Path
from drywallqa import Segmenter
from drywallqa.engine.evaluator import build_eval_sets
from drywallqa.data.registry import get_dataset_config
from drywallqa.metrics import mask_iou
from drywallqa.utils.image_io import read_image
torch.set_num_threads(2)
seg = Segmenter.load()
feats = {}
def hook(m, i, o): feats["x"] = o.detach()
seg.model.blocks[3].register_forward_hook(hook)
seg.model.blocks[1].register_forward_hook(lambda m, i, o: feats.__setitem__("b1", o.detach()))
seg.model.laterals[0].register_forward_hook(lambda m, i, o: feats.__setitem__("l0", o.detach()))
out = Path(sys.argv[1]); out.mkdir(exist_ok=True, parents=True)
for ds in ["cracks", "taping"]:
    p = get_dataset_config(ds).canonical_prompt
    for es in build_eval_sets([ds], which=("val", "group")):
        tag = es.name.split()[-1]
        f = out / f"{ds}_{tag}.npz"
        if f.exists(): continue
        rec = {"iou": [], "probs": [], "gts": [], "masks": [], "feat_mean": [], "feat_in": [], "names": [], "feat_out": [], "b1": [], "l0": []}
        t = time.time()
        for i, s in enumerate(es.samples):
            img = read_image(s.image_path); gt = s.load_mask()
            if gt.shape != img.shape[:2]: continue
            r = seg.predict(img, [p])
            x = feats["x"][0]  # (C, h, w)
            m = torch.from_numpy(r.masks[p].astype(np.float32))[None, None]
            ms = torch.nn.functional.interpolate(m, size=x.shape[-2:], mode="area")[0, 0]
            rec["feat_mean"].append(x.mean((1, 2)).numpy())
            rec["feat_in"].append(((x * ms).sum((1, 2)) / ms.sum().clamp(min=1e-6)).numpy())
            rec["feat_out"].append(((x * (1 - ms)).sum((1, 2)) / (1 - ms).sum().clamp(min=1e-6)).numpy())
            rec["b1"].append(feats["b1"][0].mean((1, 2)).numpy()); rec["l0"].append(feats["l0"][0].mean((1, 2)).numpy())
            rec["iou"].append(mask_iou(r.masks[p], gt))
            rec["probs"].append(np.round(r.probabilities[p] * 255).astype(np.uint8))
            rec["gts"].append(np.packbits(gt)); rec["masks"].append(np.packbits(r.masks[p]))
            rec["names"].append(f"{s.image_path}|{gt.shape[0]}|{gt.shape[1]}")
            if i % 50 == 0: print(ds, tag, i, len(es.samples), time.time() - t, flush=True)
        np.savez_compressed(f, feat_out=np.array(rec["feat_out"]), b1=np.array(rec["b1"]), l0=np.array(rec["l0"]), iou=np.array(rec["iou"]), feat_mean=np.array(rec["feat_mean"]), feat_in=np.array(rec["feat_in"]),
                            names=np.array(rec["names"]), probs=np.array(rec["probs"], dtype=object),
                            gts=np.array(rec["gts"], dtype=object), masks=np.array(rec["masks"], dtype=object))
        print("wrote", f, flush=True)
