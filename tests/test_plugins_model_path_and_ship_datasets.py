"""A broken plugin's words kept from the server's clients; ``train --model-path`` of a CLIPSeg folder with its
model_config overrides; ``ship``'s check of the datasets a run was trained on, from another working folder."""

from __future__ import annotations

import yaml


def _train_yaml(tmp_path, synthetic_datasets, syn_splits):
    """A one-epoch training YAML that names no model (film_unet, the default)."""
    path = tmp_path / "nomodel.yaml"
    path.write_text(yaml.safe_dump({
        "data": {"datasets": ["syn_crack", "syn_tape"], "datasets_dir": str(synthetic_datasets),
                 "splits_dir": str(syn_splits), "cache_size": 72, "cache_dir": None},
        "optim": {"lr": 1e-3, "batch_size": 4, "epochs": 1, "warmup_steps": 1},
        "output_dir": str(tmp_path / "run"), "device": "cpu"}))
    return path


def test_model_path_of_a_clipseg_folder_takes_its_model_config_overrides(tiny_clipseg_dir, tmp_path, monkeypatch,
                                                                         synthetic_datasets, syn_splits):
    """``train YAML model_config.freeze_backbone=true --model-path <a CLIPSeg model folder>`` with a YAML that names no
    model was refused ("no key freeze_backbone for model film_unet"): the overrides were checked before --model-path
    set init_from. Now they are checked as keys of the folder's model; a key it has not is still refused, naming it."""
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.engine.trainer import Trainer
    from drywallqa.models import create_model

    folder = tmp_path / "ours"
    create_model("clipseg", pretrained=str(tiny_clipseg_dir), image_size=64).save_pretrained(folder)
    config = _train_yaml(tmp_path, synthetic_datasets, syn_splits)
    seen = []
    monkeypatch.setattr(Trainer, "__init__", lambda self, cfg, **kwargs: seen.append(cfg))
    monkeypatch.setattr(Trainer, "train", lambda self, **kwargs: {"trained": True})
    res = CliRunner().invoke(app, ["train", str(config), "model_config.freeze_backbone=true", "--model-path",
                                   str(folder)], terminal_width=400)
    assert res.exit_code == 0, res.output
    assert seen[0].init_from == str(folder) and seen[0].model_config == {"freeze_backbone": True}, seen[0]
    bad = CliRunner().invoke(app, ["train", str(config), "model_config.freeze_backbones=true", "--model-path",
                                   str(folder)], terminal_width=400)
    said = " ".join(bad.output.replace("│", " ").split())
    assert bad.exit_code == 2 and "no key freeze_backbones for model clipseg" in said, bad.output
    assert "Traceback" not in bad.output and len(seen) == 1


def _fake_run(folder, tiny_model_dir, synthetic_datasets, datasets, dataset_files=None):
    """A training run's folder (best/, config.yaml, metrics.csv, train_files.json) trained on ``datasets``."""
    import json
    import shutil

    shutil.copytree(tiny_model_dir, folder / "best")
    (folder / "config.yaml").write_text(yaml.safe_dump({"data": {"datasets": datasets,
                                                                 "datasets_dir": str(synthetic_datasets)}}))
    (folder / "metrics.csv").write_text("epoch,val_score\n1,0.5\n")
    record = {"train": [], "val": [], **({"dataset_files": dataset_files} if dataset_files else {})}
    (folder / "train_files.json").write_text(json.dumps(record))
    return folder


def test_ship_checks_a_dataset_file_the_run_named_by_a_relative_path_from_another_folder(
        tiny_model_dir, tiny_kwargs, synthetic_datasets, syn_splits, tmp_path, monkeypatch):
    """A run trained on ``own/water_stains.yaml`` (relative: from the folder it was trained in), shipped from another
    folder with -d syn_crack -d syn_tape: the file was not found from there and the check skipped it without a word,
    and the model shipped refused "segment water stain". Now the run records where it read each dataset file
    (train_files.json), which ship reads; a run that does not record it, its file not found from here, is said."""
    import json

    import pytest

    import drywallqa.engine.shipping as shipping
    from drywallqa.engine.config import TrainConfig
    from drywallqa.engine.trainer import Trainer

    trained_in, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    (trained_in / "own").mkdir(parents=True)
    elsewhere.mkdir()
    (trained_in / "own" / "water_stains.yaml").write_text(
        f"name: water_stains\nfolder: {synthetic_datasets / 'crack'}\nprompts: [segment water stain]\n"
        "manifest: syn_crack\n")  # (the crack photos, labelled as stains)

    monkeypatch.chdir(trained_in)  # the trainer records where it read the file
    cfg = TrainConfig.from_dict({
        "model_config": tiny_kwargs,
        "data": {"datasets": ["own/water_stains.yaml", "syn_tape"], "datasets_dir": str(synthetic_datasets),
                 "splits_dir": str(syn_splits), "cache_size": 64, "cache_dir": None, "max_images": 4},
        "optim": {"lr": 1e-3, "batch_size": 2, "epochs": 1, "warmup_steps": 1},
        "output_dir": str(tmp_path / "trained"), "bf16": False, "device": "cpu"})
    Trainer(cfg, progress=False).train()
    recorded = json.loads((tmp_path / "trained" / "train_files.json").read_text())
    assert recorded["dataset_files"] == {"own/water_stains.yaml": str(trained_in / "own" / "water_stains.yaml")}
    assert json.loads((tmp_path / "trained" / "best" / "train_files.json").read_text()) == recorded  # as best/ has it

    class Swept(Exception):
        pass

    def swept(*_a, **_k):
        raise Swept

    monkeypatch.setattr(shipping, "select", swept)
    said = []
    kwargs = dict(splits_dir=syn_splits, datasets_dir=synthetic_datasets, confidence=False, progress=False,
                  report=said.append)
    datasets = ["own/water_stains.yaml", "syn_crack", "syn_tape"]
    run = _fake_run(tmp_path / "run", tiny_model_dir, synthetic_datasets, datasets,
                    {"own/water_stains.yaml": str(trained_in / "own" / "water_stains.yaml")})
    monkeypatch.chdir(elsewhere)
    with pytest.raises(shipping.ShipRefused, match="water_stains.*segment water stain"):
        shipping.ship(run, tmp_path / "out", datasets=("syn_crack", "syn_tape"), **kwargs)
    older = _fake_run(tmp_path / "older", tiny_model_dir, synthetic_datasets, datasets)  # no record of where
    with pytest.raises(Swept):
        shipping.ship(older, tmp_path / "out", datasets=("syn_crack", "syn_tape"), **kwargs)
    warned = [line for line in said if isinstance(line, str) and "own/water_stains.yaml" in line]
    assert warned and "WARNING" in warned[0] and "not checked" in warned[0] and "relative" in warned[0], said
    monkeypatch.chdir(trained_in)  # from the folder it was trained in: found, and refused
    with pytest.raises(shipping.ShipRefused, match="water_stains"):
        shipping.ship(older, tmp_path / "out", datasets=("syn_crack", "syn_tape"), **kwargs)


def test_a_broken_plugins_words_stay_in_the_server_log(tiny_model_dir, tmp_path, monkeypatch, caplog):
    """A name of a plugin that could not be imported, met while a request is answered (a segmenter given to
    create_app that asks a registry for a plugin's post-processor by name), was answered 422 with the plugin's
    exception in its detail: a local file path of the server sent to any client. Now the client is told the unknown
    name, the known ones and that a plugin failed to load; the server's log keeps the plugin's words."""
    import io
    import logging

    import numpy as np
    from fastapi.testclient import TestClient
    from PIL import Image

    from drywallqa import Segmenter
    from drywallqa.postprocess import POSTPROCESSORS
    from drywallqa.serve import ServeConfig, create_app
    from drywallqa.utils.plugins import load_plugins

    secret = tmp_path / "home" / "me" / "secret_plugins"
    secret.mkdir(parents=True)
    (secret / "dq_h225_broken.py").write_text(f"raise RuntimeError('needs {secret}/libgpu.so')\n")
    monkeypatch.syspath_prepend(str(secret))
    monkeypatch.setenv("DRYWALLQA_PLUGINS", "dq_h225_broken")
    load_plugins.cache_clear()
    inner = Segmenter.load(tiny_model_dir)

    class PluginPost(Segmenter):
        threshold = 0.5

        def predict(self, image, prompts, threshold=None, label_shape=None):
            try:
                POSTPROCESSORS.get("plugin_smooth")
            except KeyError as exc:  # said as the photo's or prompt's: a ValueError
                raise ValueError(f"post-processing: {exc}") from None
            return inner.predict(image, prompts)

    buf = io.BytesIO()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(buf, format="JPEG")
    try:
        with caplog.at_level(logging.WARNING):
            res = TestClient(create_app(ServeConfig(), PluginPost())).post(
                "/v1/segment", files={"image": ("w.jpg", buf.getvalue(), "image/jpeg")},
                data={"prompts": ["segment crack"]})
    finally:
        load_plugins.cache_clear()
    detail = res.json()["detail"]
    assert res.status_code == 422 and "unknown post-processor 'plugin_smooth'" in detail and "dilate" in detail, detail
    assert "a plugin failed to load; see the server log" in detail, detail
    assert str(secret) not in detail and "RuntimeError" not in detail, detail
    assert str(secret) in caplog.text and "plugin_smooth" in caplog.text
