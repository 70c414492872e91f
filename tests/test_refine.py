"""Box annotations -> SAM masks, on a tiny random SAM."""

import json

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from drywallqa.cli import app
from drywallqa.data.registry import DatasetConfig, SplitSource
from drywallqa.data.sample import load_split


def test_refine_masks_keeps_or_falls_back_and_writes_a_mask_dataset(synthetic_datasets, tiny_sam_dir, tmp_path):
    runner = CliRunner()
    strict = tmp_path / "strict"
    res = runner.invoke(app, ["data", "refine-masks", "-d", "syn_tape", "--out", str(strict), "--model-path", str(tiny_sam_dir),
                              "--min-iou", "1e9", "--split", "valid", "--datasets-dir", str(synthetic_datasets)])
    assert res.exit_code == 0, res.output
    rep = json.loads((strict / "report.json").read_text())["splits"]["valid"]
    assert rep["images"] == 4 and rep["boxes"] == 4 and rep["fell_back_to_box"] == 4 and rep["sam_masks_kept"] == 0
    # every box fell back: the masks equal the rasterised boxes
    originals, _ = load_split("syn_tape", "valid", synthetic_datasets)
    for s in originals:
        m = np.asarray(Image.open(strict / "valid" / "_masks" / f"{s.image_path.stem}.png")) > 0
        assert np.array_equal(m, s.load_mask())
    lenient = tmp_path / "lenient"
    res = runner.invoke(app, ["data", "refine-masks", "-d", "syn_tape", "--out", str(lenient), "--model-path", str(tiny_sam_dir),
                              "--min-iou", "-1e9", "--split", "valid", "--datasets-dir", str(synthetic_datasets)])
    assert res.exit_code == 0, res.output
    rep = json.loads((lenient / "report.json").read_text())["splits"]["valid"]
    assert rep["sam_masks_kept"] + rep["fell_back_to_box"] == 4  # empty SAM masks still fall back
    # the output reads back as an image/mask-folder dataset
    cfg = DatasetConfig("refined", "lenient", ("segment taping area",), {"valid": SplitSource("mask_folder", "valid")})
    samples, problems = load_split(cfg, "valid", tmp_path)
    assert len(samples) == 4 and not problems


def test_refine_masks_with_an_uncached_hub_id_is_a_clear_error(monkeypatch, tmp_path, synthetic_datasets):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty"))
    res = CliRunner().invoke(app, ["data", "refine-masks", "-d", "syn_tape", "--out", str(tmp_path / "o"),
                                   "--datasets-dir", str(synthetic_datasets)])
    assert res.exit_code == 2 and "facebook/sam-vit-base" in res.output
