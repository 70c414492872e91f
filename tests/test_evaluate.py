import json

import pytest

from drywallqa import Segmenter
from drywallqa.data.grouping import make_group_split
from drywallqa.engine.evaluator import evaluate


def test_evaluate_writes_reports_for_every_split_and_prompt(synthetic_datasets, tiny_model_dir, tmp_path):
    splits = tmp_path / "splits"
    for ds in ("syn_crack", "syn_tape"):
        make_group_split(ds, synthetic_datasets, seed=0).to_json(splits / f"{ds}.json")
    seg = Segmenter.load(tiny_model_dir)
    out = tmp_path / "eval"
    report = evaluate(seg, out, datasets=("syn_crack", "syn_tape"), splits_dir=splits, datasets_dir=synthetic_datasets,
                      speed_images=2, model_dir=tiny_model_dir, progress=False)
    rows = {(r["split"], r["dataset"], r["prompt"]) for r in report["metrics"]}
    assert ("published valid", "syn_tape", "segment joint/tape") in rows
    assert ("group-clean test", "syn_crack", "segment crack") in rows
    assert len(rows) == 2 * 3
    cross = {(r["dataset"], r["prompt"]) for r in report["cross_prompt"]}
    assert ("syn_crack", "segment taping area") in cross and ("syn_tape", "segment crack") in cross
    for r in report["metrics"]:
        assert 0 <= r["mIoU"] <= 1 and r["images"] > 0
    assert report["speed"]["images"] == 2 and report["speed"]["median_ms_first_prompt"] > 0
    assert report["model"]["parameters"] > 0 and report["model"]["threshold"] == 0.5
    assert json.loads((out / "report.json").read_text())["metrics"] == report["metrics"]
    md = (out / "report.md").read_text()
    assert "| published valid | syn_tape | segment taping area |" in md
    assert (out / "examples.png").stat().st_size > 0
    qa = {(r["split"], r["dataset"], r["masks"]): r for r in report["qa_measures"]}
    gt = qa[("published valid", "syn_tape", "ground truth")]
    assert gt["components"] == 1 and gt["area_fraction"] == pytest.approx(200 / 4096)  # one 10x20 box per 64x64 image
    assert ("published valid", "syn_tape", "segment taping area") in qa
    assert "## QA measures" in md
    for r in report["metrics"]:
        assert 0 <= r["pixel_AP"] <= 1 and 0 <= r["pixel_F1max"] <= 1
    auroc = {(r["split"], r["prompt"]): r for r in report["image_level"]}
    crack = auroc[("published valid", "segment crack")]
    assert crack["positives"] == 4 and crack["negatives"] == 4  # syn_crack valid vs syn_tape valid images
    assert "AUROC" in md
