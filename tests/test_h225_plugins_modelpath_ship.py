"""h225: a broken plugin's words kept from the server's clients; ``train --model-path`` of a CLIPSeg folder with its
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
