"""How the masks were made is readable from a job's outputs: ``evaluate --tile`` names its tiling in report.json and
report.md, and ``predict --tile`` in results.json's top level (and report.html), not only inside a settings hash."""

import json

from drywallqa import Segmenter
from drywallqa.engine.eval_report import render_markdown
from drywallqa.engine.evaluator import evaluate, model_facts


def test_an_evaluation_of_a_tiled_model_names_its_tiling_in_both_reports(synthetic_datasets, tiny_model_dir, tmp_path):
    # the report named the model (threshold, precision, ...) but not --tile / its overlap / --enlarge-tiles: two
    # evaluations of one model, tiled and whole, read alike
    tiled = Segmenter.load(tiny_model_dir, tile=32, tile_overlap=0.5, tile_enlarge=True)
    assert model_facts(tiny_model_dir, tiled)["tiling"] == {"tile": 32, "overlap": 0.5, "enlarge": True, "scales": [64]}
    own = model_facts(None, Segmenter.load(tiny_model_dir, tile=32))["tiling"]
    assert own == {"tile": 32, "overlap": 0.25, "enlarge": False, "scales": [32]}
    assert "tiling" not in model_facts(tiny_model_dir, Segmenter.load(tiny_model_dir))  # whole photos: as it was
    out = tmp_path / "eval"
    report = evaluate(tiled, out, datasets=("syn_crack",), which=("published",), datasets_dir=synthetic_datasets,
                      speed_images=0, model_dir=tiny_model_dir, progress=False)
    assert json.loads((out / "report.json").read_text())["model"]["tiling"] == report["model"]["tiling"] == \
        {"tile": 32, "overlap": 0.5, "enlarge": True, "scales": [64]}
    md = (out / "report.md").read_text()
    assert "- tiled: 32 px tiles, overlap 0.5, each seen at 64 px, enlarged to the input size (--enlarge-tiles)" in md
    whole = dict(report, model={k: v for k, v in report["model"].items() if k != "tiling"})
    assert "tiled" not in render_markdown(whole)  # a report.json of an untiled model (or an older one) reads as before
    report["model"]["tiling"] = own
    assert "- tiled: 32 px tiles, overlap 0.25, each seen at 32 px, not enlarged" in render_markdown(report)
