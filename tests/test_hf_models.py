"""What the Hugging Face backends (CLIPSeg, SAM prompted by text) share: a clear error for an uncached
hub id offline, and train -> evaluate -> predict through the CLI on a tiny local model."""

import json

import pytest
from PIL import Image
from typer.testing import CliRunner

from drywallqa.cli import app
from drywallqa.models import create_model

HUB_MODELS = {  # model type -> (default hub id, fixture of a tiny local save_pretrained dir, model_config)
    "clipseg": ("CIDAS/clipseg-rd64-refined", "tiny_clipseg_dir", {"image_size": 64, "freeze_backbone": True}),
    "sam_text": ("facebook/sam-vit-base", "tiny_sam_dir", {"image_size": 64}),
}


@pytest.mark.parametrize("model", HUB_MODELS)
def test_uncached_hub_id_offline_is_a_clear_error(model, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty_cache"))
    with pytest.raises(OSError, match=rf"{HUB_MODELS[model][0]}.*`hf download .*--local-dir DIR`.*DIR in place of"):
        create_model(model)


def test_a_local_folder_that_is_not_there_is_named_as_such(tmp_path):
    with pytest.raises(OSError, match="no such folder") as err:
        create_model("sam_text", pretrained=str(tmp_path / "sam"))
    assert "hf download" not in str(err.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(OSError, match="not a folder written by save_pretrained"):
        create_model("sam_text", pretrained=str(tmp_path / "empty"))


@pytest.mark.parametrize("model", HUB_MODELS)
def test_cli_train_evaluate_predict_with_a_local_model(model, request, synthetic_datasets, syn_splits,
                                                       write_train_config, tmp_path):
    _, fixture, model_config = HUB_MODELS[model]
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
        if model == "sam_text":  # SAM's predicted IoU comes back as the mask's confidence
            assert "confidence" in json.loads((out / "w__results.json").read_text())["prompts"]["segment crack"]


@pytest.mark.parametrize("model", HUB_MODELS)
def test_a_model_fills_in_its_own_copy_of_the_config(model, request):
    """What a hub model fills in (its Hugging Face config, SAM's fixed input size) stays off the caller's config."""
    from drywallqa.models import get_model_class

    _, fixture, _ = HUB_MODELS[model]
    cls = get_model_class(model)
    given = cls.config_class(pretrained=str(request.getfixturevalue(fixture)), image_size=1024)
    built = cls(given)
    assert given.hf_config in (None, {}) and given.image_size == 1024
    assert built.config.hf_config and built.config is not given
