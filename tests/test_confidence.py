"""Mask confidence: the statistics, the fitted model, and the value in every output format."""

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from drywallqa import Segmenter
from drywallqa.cli import app
from drywallqa.confidence import (CONFIDENCE_FILE, STATISTICS, ConfidenceModel, fit_confidence_model, mask_confidence,
                                  mask_statistics)
from drywallqa.engine.batch_report import write_batch_report
from drywallqa.engine.tiling import TiledSegmenter
from drywallqa.metrics import confidence_ranking
from drywallqa.serve import ServeConfig, create_app


def _blob(sharpness: float, size=(96, 128)) -> np.ndarray:
    """A probability map: a bright rectangle whose edges are sharp (large ``sharpness``) or blurred."""
    y, x = np.mgrid[: size[0], : size[1]]
    d = np.minimum.reduce([x - 30, 90 - x, y - 20, 70 - y]).astype(np.float32)
    return 1 / (1 + np.exp(np.clip(-sharpness * d, -50, 50)))


def test_statistics_of_clear_and_doubtful_maps():
    sharp, soft = _blob(5.0), _blob(0.15)
    clear, doubtful = mask_statistics(sharp, sharp > 0.5, 0.5), mask_statistics(soft, soft > 0.5, 0.5)
    assert set(clear) == set(STATISTICS) and all(np.isfinite(v) for v in clear.values())
    assert clear["expected_iou"] > 0.9 > doubtful["expected_iou"]
    assert clear["stability"] > doubtful["stability"] and clear["inside"] > doubtful["inside"]
    empty = mask_statistics(np.zeros((40, 40), np.float32), np.zeros((40, 40), bool), 0.5)
    assert empty["expected_iou"] == 1.0 and empty["inside"] == 0.0  # nothing there, nothing found: right
    with pytest.raises(ValueError, match="differ in size"):
        mask_statistics(sharp, sharp[:10] > 0.5, 0.5)
    # uncalibrated default: the expected IoU itself
    assert mask_confidence(sharp, sharp > 0.5, 0.5) == pytest.approx(clear["expected_iou"])


def _records(n, rng, concept):
    """Masks whose IoU follows their expected_iou statistic (plus noise), the other statistics noise."""
    out = []
    for _ in range(n):
        stats = {k: float(rng.normal()) for k in STATISTICS}
        iou = float(np.clip(0.5 + 0.2 * stats["expected_iou"] + 0.05 * rng.normal(), 0, 1))
        out.append({"concept": concept, "stats": stats, "iou": iou})
    return out


def test_fit_chooses_what_ranks_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    model = fit_confidence_model(_records(60, rng, "cracks") + _records(40, rng, "taping"), {"segment crack": "cracks"})
    assert model.selection["cv_spearman"][model.selection["chosen"]] > 0.8
    held_out = _records(200, rng, "cracks")
    ranking = confidence_ranking([model(r["stats"], "cracks") for r in held_out], [r["iou"] for r in held_out])
    assert ranking["spearman"] > 0.8 and ranking["gain_at_80"] > 0.03
    assert model.concept_of("segment crack") == "cracks" and model.concept_of("segment a window") == "*"
    model.save(tmp_path)
    again = ConfidenceModel.from_model_dir(tmp_path)
    stats = held_out[0]["stats"]
    assert again(stats, "cracks") == model(stats, "cracks") and 0 < again(stats) < 1
    with pytest.raises(ValueError, match="too few"):
        fit_confidence_model(_records(8, rng, "cracks") + _records(3, rng, "taping"))



def test_a_fit_with_nothing_to_rank_is_said(caplog):
    """A review: validation photos whose labels were all empty (every mask IoU 1.0), or statistics that rank nothing,
    wrote a confidence.json fitted on nothing (every candidate's Spearman 0) without a word."""
    rng = np.random.default_rng(0)
    flat = [{**r, "iou": 1.0} for r in _records(30, rng, "taping")]
    with caplog.at_level("WARNING", logger="drywallqa.confidence"):
        fit_confidence_model(_records(30, rng, "cracks") + flat)
    assert "'taping' all score the same IoU" in caplog.text and "'cracks'" not in caplog.text
    caplog.clear()
    blind = [{**r, "stats": {k: 0.0 for k in STATISTICS}} for r in _records(40, rng, "cracks")]  # nothing told apart
    with caplog.at_level("WARNING", logger="drywallqa.confidence"):
        fit_confidence_model(blind)
    assert "better than chance" in caplog.text


@pytest.mark.parametrize("bad", [{"weights": [float("nan")]}, {"features": ["colour"]}, {"scales": [0.0]},
                                 {"calibration": {"cracks": [1, 0]}}])
def test_a_broken_confidence_file_is_named(tmp_path, bad):
    good = {"features": ["inside"], "weights": [1.0], "means": [0.5], "scales": [0.2], "calibration": {"*": [1.0, 0.0]}}
    (tmp_path / CONFIDENCE_FILE).write_text(json.dumps({**good, **bad}))
    with pytest.raises(ValueError, match=CONFIDENCE_FILE):
        ConfidenceModel.from_model_dir(tmp_path)
    (tmp_path / CONFIDENCE_FILE).write_text("{not json")
    with pytest.raises(ValueError, match=CONFIDENCE_FILE):
        ConfidenceModel.from_model_dir(tmp_path)


def _calibrated(model_dir, a=3.0, b=0.5):
    ConfidenceModel(features=["expected_iou"], weights=[1.0], means=[0.5], scales=[0.25],
                    calibration={"*": [a, b]}).save(model_dir)
    return model_dir


def _photo(seed=0, size=(48, 64)):
    return np.random.default_rng(seed).integers(0, 255, (*size, 3), dtype=np.uint8)


def test_every_prediction_has_a_confidence_and_the_calibration_is_used(tiny_model_dir):
    prompts = ["segment crack", "segment taping area"]
    raw = Segmenter.load(tiny_model_dir).predict(_photo(), prompts)
    assert raw.scores is raw.confidence and set(raw.confidence) == set(prompts) and all(0 <= v <= 1 for v in raw.confidence.values())
    for p in prompts:  # uncalibrated: the map's expected IoU with the mask
        assert raw.confidence[p] == pytest.approx(mask_statistics(raw.probabilities[p], raw.masks[p], 0.5)["expected_iou"])
    _calibrated(tiny_model_dir)
    seg = Segmenter.load(tiny_model_dir)
    calibrated = seg.predict(_photo(), prompts)
    for p in prompts:
        stats = mask_statistics(calibrated.probabilities[p], calibrated.masks[p], 0.5)
        assert calibrated.confidence[p] == pytest.approx(seg.confidence_model(stats)) and calibrated.confidence[p] != raw.confidence[p]


def test_min_confidence_empties_exactly_the_masks_below_it(tiny_model_dir):
    prompts = ["segment crack", "segment taping area"]
    scores = Segmenter.load(tiny_model_dir, threshold=0.3).predict(_photo(), prompts).confidence
    low, high = sorted(scores.values())
    assert low < high, scores
    for bar, emptied in ((0.0, set()), ((low + high) / 2, {min(scores, key=scores.get)}), (1.0, set(prompts))):
        res = Segmenter.load(tiny_model_dir, threshold=0.3, min_confidence=bar).predict(_photo(), prompts)
        assert res.confidence == pytest.approx(scores)
        assert {p for p in prompts if not res.masks[p].any()} >= emptied
        assert all(res.masks[p].any() for p in set(prompts) - emptied if
                   Segmenter.load(tiny_model_dir, threshold=0.3).predict(_photo(), [p]).masks[p].any())


def test_tiled_confidence_is_measured_on_the_stitched_map(tiny_model_dir):
    seg = TiledSegmenter(Segmenter.load(tiny_model_dir), tile=64)
    res = seg.predict(_photo(size=(100, 150)), ["segment crack"])
    p = "segment crack"
    assert res.tiles > 1
    assert res.confidence[p] == pytest.approx(mask_confidence(res.probabilities[p], res.masks[p], 0.5))


def test_confidence_in_results_json_report_http_and_cli(tiny_model_dir, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(2):
        Image.fromarray(_photo(i)).save(photos / f"wall{i}.jpg")
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["predict", str(photos), "--prompt", "segment crack", "--out", str(out),
                                 "--model-path", str(tiny_model_dir), "--threshold", "0.3"])
    assert r.exit_code == 0, r.output
    results = json.loads((out / "results.json").read_text())
    confidences = [e["prompts"]["segment crack"]["confidence"] for e in results["images"]]
    # named for review only below 0.3 (the tiny model's masks are above it): else the run says none is
    low = any(round(c, 2) < 0.3 for c in confidences)
    assert ("least confident masks (review these first" in _flat(r.output)) == low
    assert ("no mask with confidence below 0.30" in _flat(r.output)) == (not low)
    assert all(0 <= c <= 1 for c in confidences)
    page = write_batch_report(out).read_text()
    assert page.count("confidence 0.") + page.count("confidence 1.") == 2 and "review these first" in page
    first = min(results["images"], key=lambda e: e["prompts"]["segment crack"]["confidence"])
    other = max(results["images"], key=lambda e: e["prompts"]["segment crack"]["confidence"])
    if first is not other:  # least confident first
        assert page.index(f"{first['image']}") < page.index(f"{other['image']}")

    client = TestClient(create_app(ServeConfig(), Segmenter.load(tiny_model_dir, threshold=0.3)))
    import io

    buf = io.BytesIO()
    Image.fromarray(_photo()).save(buf, format="PNG")
    files = {"image": ("w.png", buf.getvalue(), "image/png")}
    body = client.post("/v1/segment", files=files, data={"prompts": ["segment crack"]}).json()
    item = body["results"][0]
    assert 0 <= item["confidence"] <= 1 and item["measures"]["area_px"] > 0
    body = client.post("/v1/segment", files=files, data={"prompts": ["segment crack"], "min_confidence": "1"}).json()
    assert body["results"][0]["measures"]["area_px"] == 0  # nothing is that sure: emptied for this caller
    assert body["results"][0]["emptied_below"] == 1 and "emptied_below" not in item  # said, as in results.json
    assert client.post("/v1/segment", files=files, data={"prompts": ["segment crack"], "min_confidence": "2"}).status_code == 422


def _flat(output: str) -> str:
    return " ".join(output.replace("\u2502", " ").split())


def test_calibrate_confidence_command(tiny_model_dir, synthetic_datasets, syn_splits, tmp_path):
    from drywallqa.data.grouping import make_group_split

    def calibrate(splits):
        return CliRunner().invoke(app, ["calibrate-confidence", "--model-path", str(tiny_model_dir), "-d", "syn_crack",
                                        "-d", "syn_tape", "--splits-dir", str(splits), "--datasets-dir", str(synthetic_datasets)])

    r = CliRunner().invoke(app, ["calibrate-confidence", "--model-path", str(tmp_path / "nowhere")])
    assert r.exit_code == 2 and "not a drywallqa model folder" in _flat(r.output)
    r = calibrate(syn_splits)  # 2 and 3 val photos: too few to say anything
    assert r.exit_code == 2 and "too few scored masks" in _flat(r.output)
    assert not (tiny_model_dir / CONFIDENCE_FILE).exists()
    wide = tmp_path / "wide_val"
    for ds in ("syn_crack", "syn_tape"):
        make_group_split(ds, synthetic_datasets, {"train": 0.2, "val": 0.6, "test": 0.2}, seed=0).to_json(wide / f"{ds}.json")
    r = calibrate(wide)
    assert r.exit_code == 0, r.output
    model = ConfidenceModel.from_model_dir(tiny_model_dir)
    assert model.selection["chosen"] in model.selection["cv_spearman"] and model.prompts["segment crack"] == "syn_crack"
    res = Segmenter.load(tiny_model_dir).predict(_photo(), ["segment crack"])
    stats = mask_statistics(res.probabilities["segment crack"], res.masks["segment crack"], 0.5)
    assert res.confidence["segment crack"] == pytest.approx(model(stats, "syn_crack"))


def test_nothing_found_on_a_quiet_map_is_a_confident_answer():
    quiet = np.full((60, 80), 0.02, np.float32)  # a real model never gives exact zeros
    assert mask_confidence(quiet, np.zeros((60, 80), bool), 0.5) == pytest.approx(0.98)
    doubtful = quiet.copy()
    doubtful[10:20, 10:20] = 0.45  # something just under the threshold
    assert mask_confidence(doubtful, np.zeros((60, 80), bool), 0.5) == pytest.approx(0.55)
    model = ConfidenceModel(features=["expected_iou"], weights=[1.0], means=[0.5], scales=[0.25], calibration={"*": [3.0, 0.0]})
    assert mask_confidence(quiet, np.zeros((60, 80), bool), 0.5, model) == pytest.approx(0.98)  # the same with a model


def test_min_confidence_holds_for_the_onnx_runtime(tiny_model_dir):
    seg = Segmenter.load(tiny_model_dir, runtime="onnx", threshold=0.3, min_confidence=1.0)
    res = seg.predict(_photo(), ["segment crack"])
    assert not res.masks["segment crack"].any() and 0 <= res.confidence["segment crack"] < 1


def test_calibrate_confidence_replaces_a_broken_file(tiny_model_dir, synthetic_datasets, tmp_path):
    from drywallqa.data.grouping import make_group_split

    (tiny_model_dir / CONFIDENCE_FILE).write_text('{"calibration": "*x"}')
    with pytest.raises(ValueError, match=CONFIDENCE_FILE):
        Segmenter.load(tiny_model_dir)
    wide = tmp_path / "wide_val"
    for ds in ("syn_crack", "syn_tape"):
        make_group_split(ds, synthetic_datasets, {"train": 0.2, "val": 0.6, "test": 0.2}, seed=0).to_json(wide / f"{ds}.json")
    r = CliRunner().invoke(app, ["calibrate-confidence", "--model-path", str(tiny_model_dir), "-d", "syn_crack", "-d", "syn_tape",
                                 "--splits-dir", str(wide), "--datasets-dir", str(synthetic_datasets)])
    assert r.exit_code == 0, r.output
    assert ConfidenceModel.from_model_dir(tiny_model_dir) is not None
    counts = ConfidenceModel.from_model_dir(tiny_model_dir).selection["masks"]  # per concept: said so, not as a dict
    assert "on masks: " + ", ".join(f"{n} of {c}" for c, n in counts.items()) in _flat(r.output) and "{" not in r.output
    r = CliRunner().invoke(app, ["calibrate-confidence", "--model-path", str(tiny_model_dir), "-d", "syn_crack", "-d", "syn_tape",
                                 "--splits-dir", str(tmp_path / "no_manifests"), "--datasets-dir", str(synthetic_datasets)])
    assert r.exit_code == 2 and "split manifest" in _flat(r.output) and "--splits-dir" in _flat(r.output)


def test_calibrate_confidence_keeps_what_the_model_knows(tiny_model_dir, synthetic_datasets, tmp_path):
    """A calibration on a subset of the model's datasets (its other concept would lose its calibration) is refused;
    --limit is a look that leaves the folder's file as it was."""
    from drywallqa.data.grouping import make_group_split

    wide = tmp_path / "wide_val"
    for ds in ("syn_crack", "syn_tape"):
        make_group_split(ds, synthetic_datasets, {"train": 0.2, "val": 0.6, "test": 0.2}, seed=0).to_json(wide / f"{ds}.json")
    args = ["calibrate-confidence", "--model-path", str(tiny_model_dir), "--splits-dir", str(wide), "--datasets-dir",
            str(synthetic_datasets)]
    assert CliRunner().invoke(app, [*args, "-d", "syn_crack", "-d", "syn_tape"]).exit_code == 0
    before = (tiny_model_dir / CONFIDENCE_FILE).read_bytes()
    r = CliRunner().invoke(app, [*args, "-d", "syn_crack"])
    assert r.exit_code == 2 and "syn_tape" in _flat(r.output)
    r = CliRunner().invoke(app, [*args, "-d", "syn_crack", "-d", "syn_tape", "--limit", "10"])
    assert r.exit_code == 0 and "left as it was" in _flat(r.output)
    assert (tiny_model_dir / CONFIDENCE_FILE).read_bytes() == before


def test_a_concept_shared_by_box_labels_and_strips_is_calibrated_on_the_strips(tiny_model_dir, monkeypatch):
    """Where two datasets label one thing, confidence is fitted on the masks users get (the region-labelled
    dataset's), keyed by the concept, and every prompt of the concept (the box adapter's too) takes it."""
    import drywallqa.engine.calibrate as calibrate
    from drywallqa.data import registry
    from drywallqa.data.registry import DatasetConfig, answer_datasets

    configs = [DatasetConfig("syn_strips", "s", ("segment taping area",), concept="tape"),
               DatasetConfig("syn_boxes", "b", ("bounding box of taped joint",), label_shape="box", concept="tape"),
               DatasetConfig("syn_box_only", "o", ("segment box",), label_shape="box")]
    for c in configs:
        registry.register_dataset(c)
    asked = []

    def fake_sets(datasets, which, **kw):
        asked.extend(datasets)
        return []

    rng = np.random.default_rng(0)
    records = [{"concept": c, "prompt": "p", "image": str(i), "iou": float(i % 5) / 5,
                "stats": {s: float(i % 5) + rng.random() for s in STATISTICS}}
               for c in ("tape", "syn_box_only") for i in range(10)]
    monkeypatch.setattr(calibrate, "build_eval_sets", fake_sets)
    monkeypatch.setattr(calibrate, "confidence_records", lambda seg, sets, progress: (records, []))
    try:
        assert answer_datasets(["syn_boxes", "syn_strips", "syn_box_only"]) == {"tape": ["syn_strips"],
                                                                               "syn_box_only": ["syn_box_only"]}
        model = calibrate.calibrate_model_confidence(tiny_model_dir, ("syn_strips", "syn_boxes", "syn_box_only"),
                                                     progress=False)
    finally:
        for c in configs:
            registry.DATASETS.remove(c.name)
    assert asked == ["syn_strips", "syn_box_only"]
    assert model.prompts == {"segment taping area": "tape", "bounding box of taped joint": "tape",
                             "segment box": "syn_box_only"}
    assert set(model.calibration) == {"tape", "syn_box_only", "*"}


def test_the_0_5_0_names_still_work(tiny_model_dir):
    """``scores`` (the result's confidence) and ``Segmenter.confidence`` (the calibration) were 0.5.0's names."""
    import dataclasses

    from drywallqa.engine.segmenter import SegmentationResult

    res = SegmentationResult(scores={"segment crack": 0.5})
    assert res.confidence == res.scores == {"segment crack": 0.5}
    res.scores = {"segment crack": 0.25}
    assert res.confidence == {"segment crack": 0.25}
    assert dataclasses.replace(res, scores={"segment crack": 0.75}).confidence == {"segment crack": 0.75}
    assert dataclasses.replace(res, confidence={"segment crack": 0.1}).scores == {"segment crack": 0.1}
    seg = Segmenter.load(tiny_model_dir)
    assert seg.confidence is seg.confidence_model


def test_confidence_png_says_n_a_where_spearman_is_undefined(tmp_path, monkeypatch):
    """confidence.png's legend read "Spearman nan" where every confidence (or every IoU) of a split is the same, beside
    report.md's "n/a" and its note on what that means."""
    import matplotlib.axes

    from drywallqa.viz import plot_confidence_curves

    labels = []
    plot = matplotlib.axes.Axes.plot
    monkeypatch.setattr(matplotlib.axes.Axes, "plot",
                        lambda self, *a, **k: (labels.append(k.get("label")), plot(self, *a, **k))[1])
    kept = {1.0: 0.5, 0.8: 0.5}
    plot_confidence_curves({"published valid walls": {"kept": kept, "oracle_kept": kept, "spearman": float("nan")},
                            "group-clean test walls": {"kept": kept, "oracle_kept": kept, "spearman": 0.4567}},
                           tmp_path / "confidence.png")
    assert [x for x in labels if x] == ["published valid walls (Spearman n/a)", "group-clean test walls (Spearman 0.46)"]
    assert (tmp_path / "confidence.png").stat().st_size > 0


def test_confidence_png_gives_each_curve_its_own_colour(tmp_path, monkeypatch):
    """Six or more splits x datasets: the sixth curve took the first's colour (five colours, repeated)."""
    import matplotlib.axes

    from drywallqa.viz import plot_confidence_curves

    colors = []
    plot = matplotlib.axes.Axes.plot
    monkeypatch.setattr(matplotlib.axes.Axes, "plot",
                        lambda self, *a, **k: (k.get("label") and colors.append(tuple(k["color"])), plot(self, *a, **k))[1])
    kept = {1.0: 0.5, 0.8: 0.6}
    plot_confidence_curves({f"split {i}": {"kept": kept, "oracle_kept": kept, "spearman": 0.5} for i in range(7)},
                           tmp_path / "confidence.png")
    assert len(colors) == 7 and len(set(colors)) == 7, colors
