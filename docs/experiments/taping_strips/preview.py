import numpy as np, time
from drywallqa.data.sample import load_split
from drywallqa.data.coco import box_mask
from drywallqa.data.refine import EdgeRefiner, _outlines
from drywallqa.utils.image_io import read_image
from drywallqa.viz import grid, overlay
samples, _ = load_split("taping", "valid")
rng = np.random.default_rng(0)
pick = [samples[i] for i in sorted(rng.permutation(len(samples))[:8])]
ref = EdgeRefiner()
rows, counts = [], {"kept": 0, "refined": 0, "fell_back": 0}
for s in pick:
    img = read_image(s.image_path)
    boxes = [a["bbox"] for a in s.annotations if a["bbox"][2] > 0 and a["bbox"][3] > 0]
    t = time.time(); masks, outcomes = ref(img, boxes); dt = time.time() - t
    for o in outcomes: counts[o] += 1
    label = np.zeros(img.shape[:2], bool); mask = label.copy()
    for b in boxes: label |= box_mask([b], *img.shape[:2])
    for m in masks: mask |= m
    print(s.image_path.name[:30], img.shape, outcomes, f"{dt:.1f}s", "label frac %.2f mask frac %.2f" % (label.mean(), mask.mean()), flush=True)
    rows.append([_outlines(img, boxes), overlay(img, label, (0, 200, 0)), overlay(img, mask, (255, 40, 40))])
grid(rows, ["photo and boxes", "box label", "strips (--with edges)"], "docs/taping_strips.jpg")
print(counts)
