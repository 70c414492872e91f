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
    monkeypatch.setattr(seg, "_logits", lambda encoded, prompts: (torch.stack([ell] * len(prompts)), None, {}))
    r = seg.predict(np.zeros((40, 60, 3), np.uint8), ["segment taping area", "segment crack"])
    assert r.masks["segment taping area"].sum() == 30 * 30 and r.masks["segment taping area"][5:35, 10:40].all()
    assert r.masks["segment crack"].sum() == int((ell > 0).sum())


def test_dilate_grows_by_a_fraction_of_the_shorter_side():
    from drywallqa.postprocess import dilate

    m = np.zeros((100, 200), bool)
    m[50, 20:180] = True  # a one-pixel crack
    out = dilate(m, radius_fraction=0.03)  # 3 px at a shorter side of 100
    assert out[47:54, 20:180].all() and not out[46].any() and not out[54].any()
    assert out[m].all()
    assert dilate(m, radius_fraction=0.0).sum() > m.sum()  # at least one pixel
    assert np.array_equal(apply_postprocess(m, {"name": "dilate", "radius_fraction": 0.03}), out)


def test_prompt_thresholds_from_metadata_and_explicit_override(tiny_model_dir, monkeypatch):
    import torch

    cfg = tiny_model_dir / "config.json"
    meta = json.loads(cfg.read_text())
    meta["prompt_thresholds"] = {"segment crack": 0.2}
    cfg.write_text(json.dumps(meta))
    ramp = torch.logit(torch.linspace(0.01, 0.99, 100)).repeat(10, 1)  # probabilities 0.01 .. 0.99 along x

    def predict(seg, prompts, threshold=None):
        monkeypatch.setattr(seg, "_logits", lambda encoded, p: (torch.stack([ramp] * len(p)), None, {}))
        r = seg.predict(np.zeros((10, 100, 3), np.uint8), prompts, threshold=threshold)
        return {p: int(r.masks[p][0].sum()) for p in prompts}

    seg = Segmenter.load(tiny_model_dir)
    assert seg.threshold_for("segment crack") == 0.2 and seg.threshold_for("segment taping area") == 0.5
    counts = predict(seg, ["segment crack", "segment taping area"])
    assert counts["segment crack"] > counts["segment taping area"]  # 0.2 keeps more of the ramp than 0.5
    assert predict(seg, ["segment crack"], threshold=0.5)["segment crack"] == counts["segment taping area"]
    fixed = Segmenter.load(tiny_model_dir, threshold=0.5)  # an explicit threshold holds for every prompt
    assert fixed.prompt_thresholds == {} and predict(fixed, ["segment crack"]) == {"segment crack": counts["segment taping area"]}


def test_boxes_split_crossing_joints_into_strips():
    m = np.zeros((100, 100), bool)
    m[40:46, 0:100] = True       # a horizontal joint across the photo
    m[0:100, 70:74] = True       # crossed by a vertical one: one '+'-shaped component
    m[80:95, 5:20] = True        # a solid blob fills its box: stays a box
    whole = boxes(m, min_area_fraction=0.0)
    assert whole[0:100, 0:100].all()  # one bounding box over the whole photo
    split = boxes(m, min_area_fraction=0.0, split_below_fill=0.5)
    assert np.array_equal(split[:, 70:74], np.ones((100, 4), bool)) and split[40:46].all()
    assert not split[10, 10] and not split[60, 30] and split[80:95, 5:20].all()
    assert split.sum() == 100 * 6 + 100 * 4 - 6 * 4 + 15 * 15
    # a sparse component that no joint crosses (a diagonal) keeps its box
    d = np.eye(50, dtype=bool)
    assert boxes(d, min_area_fraction=0.0, split_below_fill=0.5).all()
