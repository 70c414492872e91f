"""``evaluate`` names the group-clean split manifest it read (report.json's ``split_manifests``, a line of
report.md): a ``./splits`` folder is read before the manifests shipped in the package, so a ``data split`` run in
the working folder gave other group-clean numbers than the README's, and no report said which split it had scored."""

import json

from drywallqa import Segmenter
from drywallqa.engine import evaluator
from drywallqa.engine.evaluator import evaluate


def _evaluate(tiny_model_dir, synthetic_datasets, syn_splits, out):
    return evaluate(Segmenter.load(tiny_model_dir), out, datasets=("syn_crack",), which=("group",), splits_dir=syn_splits,
                    datasets_dir=synthetic_datasets, limit=2, speed_images=0, progress=False)


def test_the_report_names_the_manifest_and_whether_it_is_the_shipped_split(
        synthetic_datasets, syn_splits, tiny_model_dir, tmp_path, monkeypatch):
    manifest = syn_splits / "syn_crack.json"
    report = _evaluate(tiny_model_dir, synthetic_datasets, syn_splits, tmp_path / "a")
    [row] = report["split_manifests"]
    assert row["dataset"] == "syn_crack" and row["manifest"] == str(manifest.resolve())
    assert row["shipped"] is False and row["same_as_shipped"] is None  # none shipped for this dataset
    assert json.loads((tmp_path / "a" / "report.json").read_text())["split_manifests"] == [row]
    assert f"Group-clean parts read from: syn_crack: `{manifest.resolve()}`" in (tmp_path / "a" / "report.md").read_text()

    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "syn_crack.json").write_text(manifest.read_text().replace("}", ' }', 1))  # another split's file
    monkeypatch.setattr(evaluator, "SHIPPED_SPLITS_DIR", shipped)
    report = _evaluate(tiny_model_dir, synthetic_datasets, syn_splits, tmp_path / "b")
    assert report["split_manifests"][0]["same_as_shipped"] is False
    said = (tmp_path / "b" / "report.md").read_text()
    assert "**not the shipped split**" in said and "not comparable with those of the shipped split" in said

    (shipped / "syn_crack.json").write_text(manifest.read_text())
    report = _evaluate(tiny_model_dir, synthetic_datasets, syn_splits, tmp_path / "c")
    assert report["split_manifests"][0]["same_as_shipped"] is True
    assert "not comparable" not in (tmp_path / "c" / "report.md").read_text()


def test_a_published_only_evaluation_names_no_manifest(synthetic_datasets, syn_splits, tiny_model_dir, tmp_path):
    report = evaluate(Segmenter.load(tiny_model_dir), tmp_path / "p", datasets=("syn_crack",), which=("published",),
                      datasets_dir=synthetic_datasets, limit=2, speed_images=0, progress=False)
    assert report["split_manifests"] == [] and "Group-clean parts read from" not in (tmp_path / "p" / "report.md").read_text()
