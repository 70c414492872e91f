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


def test_a_tiled_batch_job_records_its_tiling_in_results_json_and_the_report(tiny_model_dir, tmp_path):
    # results.json kept each photo's settings as a 16-character hash only: whether tiles were enlarged, their size and
    # overlap were readable only through the warning of a tile smaller than the input size (none for a larger one)
    from conftest import write_photos
    from drywallqa.engine.batch import predict_paths
    from drywallqa.engine.batch_report import write_batch_report
    from drywallqa.engine.batch_results import read_batch_results

    photos = write_photos(tmp_path / "imgs", 2, shape=lambda i: (70, 90))
    out = tmp_path / "out"
    tiled = Segmenter.load(tiny_model_dir, tile=32, tile_enlarge=True)
    predict_paths(tiled, [photos], ["segment crack"], out, progress=False)
    results = json.loads((out / "results.json").read_text())
    assert results["tiling"] == {"tile": 32, "overlap": 0.25, "enlarge": True, "scales": [64]}
    page = write_batch_report(out).read_text()
    assert "predicted tile by tile: 32 px tiles, overlap 0.25, each seen at 64 px, enlarged to the input size" in page
    # a tile as large as the input size warns of nothing: its tiling was said nowhere
    predict_paths(Segmenter.load(tiny_model_dir, tile=64), [photos], ["segment crack"], tmp_path / "big", progress=False)
    big = json.loads((tmp_path / "big" / "results.json").read_text())
    assert big["tiling"] == {"tile": 64, "overlap": 0.25, "enlarge": False, "scales": [64]} and not big["warnings"]
    predict_paths(Segmenter.load(tiny_model_dir), [photos], ["segment crack"], tmp_path / "whole", progress=False)
    assert json.loads((tmp_path / "whole" / "results.json").read_text())["tiling"] is None  # said: predicted whole
    assert "tile by tile" not in write_batch_report(tmp_path / "whole").read_text()
    # a results.json an earlier version wrote (no 'tiling'), or one edited by hand, is read and resumed as before
    del results["tiling"]
    (out / "results.json").write_text(json.dumps(results))
    assert "tiling" not in read_batch_results(out)
    assert "tile by tile" not in write_batch_report(out).read_text()
    results["tiling"] = "big"
    (out / "results.json").write_text(json.dumps(results))
    assert "tile by tile" not in write_batch_report(out).read_text()
    again = predict_paths(tiled, [photos], ["segment crack"], out, progress=False)
    assert len(again.skipped) == 2 and not again.done
    assert json.loads((out / "results.json").read_text())["tiling"]["enlarge"] is True


def test_a_tiled_job_on_ray_records_its_tiling_as_the_local_one_does(tiny_model_dir, tmp_path):
    from conftest import write_photos
    from drywallqa.engine.batch_ray import predict_paths_ray

    photos = write_photos(tmp_path / "imgs", 2, shape=lambda i: (70, 90))
    predict_paths_ray(tiny_model_dir, [photos], ["segment crack"], tmp_path / "ray",
                      load_kwargs={"tile": 32, "tile_overlap": 0.5}, batch_size=2)
    assert json.loads((tmp_path / "ray" / "results.json").read_text())["tiling"] == \
        {"tile": 32, "overlap": 0.5, "enlarge": False, "scales": [32]}
