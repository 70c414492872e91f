"""Thin and small masks on a 12 MP map (4000x3000, subsample step 14): confidence with today's strided subsample,
the area-resized variants of run.py and every pixel ("full"), as (confidence, inside, components).

    PYTHONPATH=src python docs/experiments/confidence_scale/synthetic.py
"""
import math, sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from run import area_subsample
from drywallqa import confidence as C
model = C.ConfidenceModel.from_model_dir(Path(C.__file__).parent / "weights" / "fast")
today = C._subsample
def conf(p, m, concept="cracks"):
    out = {}
    for name in ["today", "area", "area_max", "full"]:
        C._subsample = today if name == "today" else area_subsample(name)
        try:
            st = C.mask_statistics(p, m, 0.45)
            out[name] = (round(C.mask_confidence(p, m, 0.45, model, concept), 3), round(st["inside"], 2), round(st["components"], 2))
        finally:
            C._subsample = today
    return out
H, W = 3000, 4000
print("step", math.ceil(math.sqrt(H * W / C.MAX_STAT_PIXELS)))
for off in (0, 1, 5):
    p = np.full((H, W), 0.02, np.float32); p[1400 + off:1412 + off, 2000 + off:2012 + off] = 0.9
    print("12x12 blob, offset", off, conf(p, p > 0.45))
for width in (2, 4, 8):
    p = np.full((H, W), 0.02, np.float32)
    cv2.line(p, (500, 500), (3500, 2300), 0.9, width)
    print(f"line {width}px", conf(p, p > 0.45))
