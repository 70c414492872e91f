"""Should a paraphrase (a prompt the gate maps to a known concept) be thresholded like the default ("any other
text") or like the known prompt it is nearest to (its threshold and plain post-processing)? Scored on the group-clean val part only: cracks against their
labels, taping against the refined strips (the masks users get), with the val lists of generated paraphrases.

    python docs/experiments/paraphrase_settings/val_check.py [N_PARAPHRASES]"""
import json, random, sys

import numpy as np
import torch
from tqdm import tqdm

from drywallqa import Segmenter
from drywallqa.data.grouping import samples_of_part
from drywallqa.data.registry import resolve_dataset
from drywallqa.metrics import mask_iou
from drywallqa.postprocess import apply_postprocess
from drywallqa.text import vocabulary
from drywallqa.utils.image_io import read_image

torch.set_num_threads(2)
n = int(sys.argv[1]) if len(sys.argv) > 1 else 8
seg = gated = Segmenter.load()
STRIPS = "docs/experiments/taping_strips/taping_strips.dataset.yaml"
out = {}
for ds, data, splits_dir in (("cracks", "cracks", None), ("taping", STRIPS, "runs/strips_splits")):
    paras = [p for p in vocabulary.paraphrases(ds, "val")]
    matches = gated.match_prompts(paras)
    paras = [p for p in paras if matches[p].known]
    paras = random.Random(0).sample(paras, min(n, len(paras)))
    nearest = {p: matches[p].nearest_prompt for p in paras}
    default_t = seg.threshold
    tuned = {p: seg.threshold_for(nearest[p]) for p in paras}
    post = {p: seg.postprocess_for(nearest[p]) for p in paras}  # the plain mask's post-processing (no box adapter)
    samples = samples_of_part(resolve_dataset(data), "val", splits_dir, None, exclude_published=("valid", "test"))
    iou = {"default": [], "nearest": []}
    for s in tqdm(samples, desc=ds):
        img, gt = read_image(s.image_path), s.load_mask()
        r = seg.predict(img, paras)
        for p in paras:
            prob = r.probabilities[p]
            iou["default"].append(mask_iou(prob >= default_t, gt))
            iou["nearest"].append(mask_iou(apply_postprocess(prob >= tuned[p], post[p]), gt))
    out[ds] = {"paraphrases": paras, "default_threshold": default_t, "nearest_thresholds": tuned, "nearest_postprocess": post,
               "val_mIoU_default": float(np.mean(iou["default"])), "val_mIoU_nearest": float(np.mean(iou["nearest"]))}
    print(ds, json.dumps({k: v for k, v in out[ds].items() if k.startswith("val") or k == "default_threshold"}), flush=True)
json.dump(out, open("docs/experiments/paraphrase_settings/val_check.json", "w"), indent=1)
