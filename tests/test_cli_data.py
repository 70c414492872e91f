import json

from typer.testing import CliRunner

from drywallqa.cli import app


def test_data_split_and_stats(synthetic_datasets, tmp_path):
    runner = CliRunner()
    out = tmp_path / "splits"
    res = runner.invoke(app, ["data", "split", "-d", "syn_tape", "--out", str(out), "--datasets-dir", str(synthetic_datasets)])
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "syn_tape.json").read_text())
    assert set(manifest["parts"]) == {"train", "val", "test"}
    assert sum(len(v) for v in manifest["parts"].values()) == 16
    res = runner.invoke(app, ["data", "stats", "-d", "syn_tape", "--datasets-dir", str(synthetic_datasets),
                              "--json", str(tmp_path / "stats.json")])
    assert res.exit_code == 0, res.output
    stats = json.loads((tmp_path / "stats.json").read_text())[0]
    assert stats["splits"]["train"]["images"] == 12 and stats["splits"]["valid"]["images"] == 4
    assert stats["splits"]["train"]["source_groups"] == 4
    # stems t0 is in both train and valid
    assert stats["source_groups_shared_between_splits"]["train&valid"] == 1


def test_bad_split_fractions_are_refused(tmp_path):
    res = CliRunner().invoke(app, ["data", "split", "--val", "0.6", "--test", "0.5", "--out", str(tmp_path)])
    assert res.exit_code == 2


def test_stats_measure_label_stroke_widths_and_save_a_preview(synthetic_datasets, tmp_path):
    import numpy as np
    import yaml
    from PIL import Image

    from drywallqa.data import registry

    folder = tmp_path / "bands" / "train"
    (folder / "_masks").mkdir(parents=True)
    for i, width in enumerate((3, 5, 5, 7)):  # cracks drawn 3, 5, 5 and 7 px wide
        Image.fromarray(np.full((64, 96, 3), 90 + 20 * i, np.uint8)).save(folder / f"p{i}.jpg")
        mask = np.zeros((64, 96), np.uint8)
        mask[20:20 + width, 10:86] = 255
        Image.fromarray(mask).save(folder / "_masks" / f"p{i}.png")
    decl = tmp_path / "bands.yaml"
    decl.write_text(yaml.safe_dump({"name": "bands", "folder": "bands", "prompts": ["segment crack"]}))
    runner = CliRunner()
    try:
        res = runner.invoke(app, ["data", "stats", "-d", str(decl), "-d", "syn_tape", "--datasets-dir", str(synthetic_datasets),
                                  "--json", str(tmp_path / "s.json"), "--preview", str(tmp_path / "pre")])
        assert res.exit_code == 0, res.output
        bands, tape = json.loads((tmp_path / "s.json").read_text())
        assert abs(bands["splits"]["train"]["stroke_width_px"]["median"] - 5) < 0.2  # skeleton ends are a bit thinner
        assert bands["splits"]["train"]["stroke_width_px"]["p10"] < 5 < bands["splits"]["train"]["stroke_width_px"]["p90"]
        assert "stroke_width_px" not in tape["splits"]["train"]  # box labels have no stroke width
        assert "stroke width" in res.output
        for name in ("bands", "syn_tape"):
            assert Image.open(tmp_path / "pre" / f"{name}_preview.png").size[0] > 100
    finally:
        registry.DATASETS.remove("bands")
