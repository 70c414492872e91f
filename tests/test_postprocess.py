import json

import numpy as np
import pytest

from drywallqa import Segmenter
from drywallqa.postprocess import apply_postprocess, boxes


def test_boxes_fill_each_component_and_drop_specks():
    m = np.zeros((100, 100), bool)
    m[10:50, 20:25] = True
    m[30, 10:30] = True          # a side spur widens the first component's box
    m[70:90, 60:80] = np.eye(20, dtype=bool)  # a diagonal line -> its square box
    m[95, 95] = True             # a speck below the minimum area
    out = boxes(m, min_area_fraction=0.0005)
    assert out[10:50, 10:30].all() and out[70:90, 60:80].all()
    assert not out[95, 95] and out.sum() == 40 * 20 + 20 * 20
    robust = boxes(m, quantile=0.1)
    assert robust.sum() < out.sum()  # the spur is clipped by the quantiles
    assert apply_postprocess(m, None) is m
    with pytest.raises(KeyError, match="post-processor"):
        apply_postprocess(m, {"name": "nope"})


def test_model_metadata_selects_postprocess_per_prompt(tiny_model_dir, monkeypatch):
    import torch

    cfg = tiny_model_dir / "config.json"
    meta = json.loads(cfg.read_text())
    meta["postprocess"] = {"segment taping area": {"name": "boxes"}}
    cfg.write_text(json.dumps(meta))
    seg = Segmenter.load(tiny_model_dir)
    ell = torch.full((40, 60), -10.0)
    ell[5:35, 10:14] = 10.0   # an L-shaped region
    ell[31:35, 10:40] = 10.0
    monkeypatch.setattr(seg, "_forward", lambda image, prompts: (None, torch.stack([ell] * len(prompts)), None, {}))
    r = seg.predict(np.zeros((40, 60, 3), np.uint8), ["segment taping area", "segment crack"])
    assert r.masks["segment taping area"].sum() == 30 * 30 and r.masks["segment taping area"][5:35, 10:40].all()
    assert r.masks["segment crack"].sum() == int((ell > 0).sum())
