"""What the Hugging Face backends (CLIPSeg, SAM prompted by text) share: a clear error for an uncached
hub id offline, and train -> evaluate -> predict through the CLI on a tiny local model."""

import json

import pytest
from PIL import Image
from typer.testing import CliRunner

from drywallqa.cli import app
from drywallqa.models import create_model

BACKENDS = {  # model type -> (default hub id, fixture of a tiny local save_pretrained dir, model_config)
    "clipseg": ("CIDAS/clipseg-rd64-refined", "tiny_clipseg_dir", {"image_size": 64, "freeze_backbone": True}),
    "sam-text": ("facebook/sam-vit-base", "tiny_sam_dir", {"image_size": 64}),
}


@pytest.mark.parametrize("model", BACKENDS)
def test_uncached_hub_id_offline_is_a_clear_error(model, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty_cache"))
    with pytest.raises(OSError, match=rf"{BACKENDS[model][0]}.*--model-path"):
        create_model(model)


@pytest.mark.parametrize("model", BACKENDS)
def test_cli_train_evaluate_predict_with_a_local_model(model, request, synthetic_datasets, syn_splits,
                                                       write_train_config, tmp_path):
    _, fixture, model_config = BACKENDS[model]
    local = request.getfixturevalue(fixture)
    runner = CliRunner()
    res = runner.invoke(app, ["train", str(write_train_config(model, model_config)), "--model", model,
                              "--model-path", str(local)])
    assert res.exit_code == 0, res.output
    best = tmp_path / "run" / "best"
    assert json.loads((best / "config.json").read_text())["model_type"] == model
    res = runner.invoke(app, ["evaluate", "--model", model, "--model-path", str(best), "--out", str(tmp_path / "eval"),
                              "--splits-dir", str(syn_splits), "--datasets-dir", str(synthetic_datasets),
                              "--speed-images", "2", "-d", "syn_crack", "-d", "syn_tape"])
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert {"metrics", "cross_prompt", "qa_measures", "speed", "model"} <= set(report)

    (tmp_path / "in").mkdir()
    Image.new("RGB", (40, 30)).save(tmp_path / "in" / "w.png")
    for name, source in (("trained", ["--model-path", str(best)]), ("hub_dir", ["--model", model, "--model-path", str(local)])):
        out = tmp_path / f"pred_{name}"
        res = runner.invoke(app, ["predict", str(tmp_path / "in"), *source, "--prompt", "segment crack", "--out", str(out)])
        assert res.exit_code == 0, res.output
        with Image.open(out / "w__segment_crack.png") as mask:
            assert mask.size == (40, 30)
        if model == "sam-text":  # SAM's predicted IoU comes back as the mask's confidence
            assert "confidence" in json.loads((out / "w__results.json").read_text())["prompts"]["segment crack"]
