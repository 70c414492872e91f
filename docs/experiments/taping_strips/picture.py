"""12 random photos of the taping dataset's group-clean test part: the box label, the edges refiner's strips
(pseudo-labels, refined here as `drywallqa data refine-masks --with edges` does) and a model's raw
"segment taping area" mask, two photos per row.

    python docs/experiments/taping_strips/picture.py MODEL_DIR OUT.jpg [--seed 0]
"""

import argparse

import numpy as np

from drywallqa import Segmenter
from drywallqa.data.coco import box_mask
from drywallqa.data.grouping import samples_of_part
from drywallqa.data.refine import EdgeRefiner
from drywallqa.utils.image_io import read_image
from drywallqa.viz import grid, overlay

parser = argparse.ArgumentParser()
parser.add_argument("model")
parser.add_argument("out")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

samples = samples_of_part("taping", "test", None, None)
rng = np.random.default_rng(args.seed)
pick = [samples[i] for i in sorted(rng.permutation(len(samples))[:12])]
seg, refiner = Segmenter.load(args.model), EdgeRefiner()
cells = []
for s in pick:
    img = read_image(s.image_path)
    boxes = [a["bbox"] for a in s.annotations or [] if a["bbox"][2] > 0 and a["bbox"][3] > 0]
    label = box_mask(boxes, *img.shape[:2]) if boxes else np.zeros(img.shape[:2], bool)
    strips = np.zeros(img.shape[:2], bool)
    for m in refiner(img, boxes)[0]:
        strips |= m
    pred = seg.predict(img, ["segment taping area"]).masks["segment taping area"]
    cells += [overlay(img, label, (0, 200, 0)), overlay(img, strips, (255, 170, 0)), overlay(img, pred, (255, 40, 40))]
    print(s.image_path.name[:40], f"label {label.mean():.2f} strips {strips.mean():.2f} prediction {pred.mean():.2f}")
rows = [cells[i:i + 6] for i in range(0, len(cells), 6)]
grid(rows, ["box label", "strips (pseudo)", "prediction"] * 2, args.out, cell=160)
