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
    image, prompts = np.zeros((40, 60, 3), np.uint8), ["segment taping area", "segment crack"]
    raw = int((ell > 0).sum())
    r = seg.predict(image, prompts)  # by default the mask as the model sees it: the box is a label adapter
    assert r.masks["segment taping area"].sum() == raw and seg.postprocess_for("segment taping area") is None
    r = seg.predict(image, prompts, label_shape="box")  # scored against box labels: the box validation chose
    assert r.masks["segment taping area"].sum() == 30 * 30 and r.masks["segment taping area"][5:35, 10:40].all()
    assert r.masks["segment crack"].sum() == raw  # a prompt without an adapter is the same under any label shape
    boxed = Segmenter.load(tiny_model_dir, label_shape="box")  # the default of every call
    monkeypatch.setattr(boxed, "_logits", lambda encoded, prompts: (torch.stack([ell] * len(prompts)), None, {}))
    assert boxed.predict(image, prompts).masks["segment taping area"].sum() == 30 * 30
    assert boxed.settings()["label_shape"] == "box" != seg.settings()["label_shape"]  # batch resumes tell them apart
    with pytest.raises(ValueError, match="label_shape"):
        seg.predict(image, prompts, label_shape="polygon")
    with pytest.raises(ValueError, match="label_shape"):
        Segmenter.load(tiny_model_dir, label_shape="boxes")


def test_only_label_adapters_wait_for_their_label_shape():
    from drywallqa.postprocess import for_label_shape

    box, dilate = {"name": "boxes", "quantile": 0.02}, {"name": "dilate", "radius_fraction": 0.004}
    assert for_label_shape(box, None) is None and for_label_shape(box, "box") == box
    assert for_label_shape(dilate, None) == dilate == for_label_shape(dilate, "box")
    assert for_label_shape(None, "box") is None


def test_a_plain_option_and_an_adapter_side_by_side(tiny_model_dir):
    """Strips refined from box labels keep the dilation chosen on them for plain masks, and the boxes chosen on the
    box labels where boxes are asked for; a list without a plain option leaves plain masks as the model sees them."""
    from drywallqa.postprocess import for_label_shape

    box, dilate = {"name": "boxes", "quantile": 0.0, "min_area_fraction": 0.0}, {"name": "dilate", "radius_fraction": 0.05}
    assert for_label_shape([dilate, box], None) == dilate and for_label_shape([dilate, box], "box") == box
    assert for_label_shape([box], None) is None and for_label_shape([dilate], "box") == dilate
    cfg = tiny_model_dir / "config.json"
    cfg.write_text(json.dumps({**json.loads(cfg.read_text()), "postprocess": {"segment taping area": [dilate, box]}}))
    image = np.random.default_rng(0).integers(0, 255, (64, 80, 3), dtype=np.uint8)
    seg = Segmenter.load(tiny_model_dir)
    p = "segment taping area"
    prob = seg.predict(image, [p]).probabilities[p]
    cut = float(np.quantile(prob, 0.97))  # a few small regions, whatever the random weights give
    plain = seg.predict(image, [p], threshold=cut).masks[p]
    boxed = seg.predict(image, [p], threshold=cut, label_shape="box").masks[p]
    assert np.array_equal(plain, apply_postprocess(prob > cut, dilate)) and plain.sum() > (prob > cut).sum()
    assert np.array_equal(boxed, apply_postprocess(prob > cut, box))


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


def test_an_adapter_cuts_the_map_at_its_own_threshold_unless_the_caller_sets_one():
    from drywallqa.postprocess import make_mask

    ramp = np.tile(np.linspace(0, 1, 101, dtype=np.float32), (5, 1))  # probability 0 .. 1 along x
    spec = {"name": "boxes", "min_area_fraction": 0.0, "threshold": 0.8}
    assert make_mask(ramp, 0.5, spec)[0].sum() == 20                  # cut at the adapter's 0.8
    assert make_mask(ramp, 0.5, spec, explicit=True)[0].sum() == 50   # the caller's one threshold for all
    assert make_mask(ramp, 0.5, None)[0].sum() == 50
    assert np.array_equal(apply_postprocess(ramp > 0.5, spec), apply_postprocess(ramp > 0.5, {**spec, "threshold": None}))


def test_a_learnt_box_adapter_reads_its_own_prompts_map(tiny_model_dir, monkeypatch):
    """A model trained on strips and, under a prompt of its own, on the box labels: the plain answer is the strip,
    the box-shaped one (for scoring against box labels) the boxes of that prompt's map."""
    import torch

    cfg = tiny_model_dir / "config.json"
    adapter = {"name": "boxes", "min_area_fraction": 0.0, "prompt": "bounding box of taped joint", "threshold": 0.5}
    cfg.write_text(json.dumps({**json.loads(cfg.read_text()), "postprocess": {"segment taping area": adapter}}))
    strip, blob = torch.full((40, 60), -10.0), torch.full((40, 60), -10.0)
    strip[20:23, 5:55] = 10.0
    blob[10:30, 2:58] = 10.0
    blob[15, 30] = -10.0  # a hole the boxes fill
    maps = {"segment taping area": strip, "bounding box of taped joint": blob, "segment crack": strip}
    seg = Segmenter.load(tiny_model_dir, prompt_gate=False)
    monkeypatch.setattr(seg, "_logits", lambda encoded, prompts: (torch.stack([maps[p] for p in prompts]), None, {}))
    image = np.zeros((40, 60, 3), np.uint8)
    plain = seg.predict(image, ["segment taping area"])
    assert plain.masks["segment taping area"].sum() == 3 * 50
    boxed = seg.predict(image, ["segment taping area", "segment crack"], label_shape="box")
    assert boxed.masks["segment taping area"].sum() == 20 * 56 and boxed.probabilities["segment taping area"][15, 30] < 0.5
