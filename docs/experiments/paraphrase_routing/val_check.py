"""Should a paraphrase the gate answers ("where is the crack", "drywall joint") be asked of the model as written,
or as the canonical prompt of its concept ("segment crack", "segment taping area", with their validated threshold
and post-processing)? Scored on the group-clean val part only: cracks against their labels, taping against the
refined strips (the masks users get), with the same 8 val paraphrases per concept (seed 0) as
docs/experiments/paraphrase_settings.

    python docs/experiments/paraphrase_routing/val_check.py [N_PARAPHRASES] [--out FILE]
"""
import argparse
import json
import random

import numpy as np
import torch
from tqdm import tqdm

from drywallqa import Segmenter
from drywallqa.data.grouping import samples_of_part
from drywallqa.data.registry import resolve_dataset
from drywallqa.metrics import mask_iou
from drywallqa.text import vocabulary
from drywallqa.utils.files import write_text_atomic
from drywallqa.utils.formats import strict_json
from drywallqa.utils.image_io import read_image

ap = argparse.ArgumentParser()
ap.add_argument("n", nargs="?", type=int, default=8)
ap.add_argument("--out", default="docs/experiments/paraphrase_routing/val_check.json")
args = ap.parse_args()
torch.set_num_threads(2)
seg = Segmenter.load()
STRIPS = "docs/experiments/taping_strips/taping_strips.dataset.yaml"
out = {}
for ds, data, splits_dir in (("cracks", "cracks", None), ("taping", STRIPS, "runs/strips_splits")):
    paras = vocabulary.paraphrases(ds, "val")
    matches = seg.match_prompts(paras)
    paras = random.Random(0).sample([p for p in paras if matches[p].known], args.n)
    canon = seg.gate.canonical[ds]
    samples = samples_of_part(resolve_dataset(data), "val", splits_dir, None, exclude_published=("valid", "test"))
    iou = {"as written": [], "as the canonical prompt": []}
    empty_alone = 0  # a paraphrase's mask empty where the canonical prompt's is not
    worst = {p: [] for p in paras}
    for s in tqdm(samples, desc=ds):
        img, gt = read_image(s.image_path), s.load_mask()
        r = seg.predict(img, [canon, *paras])
        c = mask_iou(r.masks[canon], gt)
        for p in paras:
            iou["as written"].append(mask_iou(r.masks[p], gt))
            iou["as the canonical prompt"].append(c)
            worst[p].append(iou["as written"][-1])
            empty_alone += int(not r.masks[p].any() and r.masks[canon].any())
    out[ds] = {"photos": len(samples), "paraphrases": paras, "canonical": canon,
               **{f"val_mIoU {k}": float(np.mean(v)) for k, v in iou.items()},
               "paraphrase masks empty where the canonical's is not": empty_alone,
               "per paraphrase val mIoU as written": {p: float(np.mean(v)) for p, v in worst.items()}}
    print(ds, json.dumps({k: v for k, v in out[ds].items() if k.startswith("val") or k.startswith("paraphrase m")}),
          flush=True)
write_text_atomic(strict_json(out, indent=1), args.out)
