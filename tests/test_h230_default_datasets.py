"""h230: ``train --model`` applied before the ``key=value`` overrides (its model_config keys are that model's); ``ship``,
``calibrate-gate`` and ``calibrate-confidence`` default ``-d`` to the datasets the model was trained on."""

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


def test_model_option_takes_the_model_config_overrides_of_its_model(tiny_clipseg_dir, tmp_path, monkeypatch,
                                                                    synthetic_datasets, syn_splits):
    """``train YAML model_config.freeze_backbone=true --model clipseg`` with a YAML that names no model was refused
    ("no key freeze_backbone for model film_unet"): --model was applied after the overrides were checked, and then
    threw them away with the YAML's model options. Now --model comes first: the overrides are its model's keys, kept;
    a key it has not is still refused, naming it."""
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.engine.trainer import Trainer

    config = _train_yaml(tmp_path, synthetic_datasets, syn_splits)
    seen = []
    monkeypatch.setattr(Trainer, "__init__", lambda self, cfg, **kwargs: seen.append(cfg))
    monkeypatch.setattr(Trainer, "train", lambda self, **kwargs: {"trained": True})
    offline = f"model_config.pretrained={tiny_clipseg_dir}"  # (nothing downloaded)
    res = CliRunner().invoke(app, ["train", str(config), "model_config.freeze_backbone=true", offline,
                                   "--model", "clipseg"], terminal_width=400)
    assert res.exit_code == 0, res.output
    assert seen[0].model == "clipseg", seen[0]
    assert seen[0].model_config == {"freeze_backbone": True, "pretrained": str(tiny_clipseg_dir)}, seen[0]
    bad = CliRunner().invoke(app, ["train", str(config), "model_config.freeze_backbones=true", offline,
                                   "--model", "clipseg"], terminal_width=400)
    said = " ".join(bad.output.replace("│", " ").split())
    assert bad.exit_code == 2 and "freeze_backbones" in said and "clipseg" in said, bad.output
    assert "Traceback" not in bad.output and len(seen) == 1
    both = CliRunner().invoke(app, ["train", str(config), "model=film_unet", "--model", "clipseg"], terminal_width=400)
    assert both.exit_code == 2 and "both set model" in " ".join(both.output.replace("│", " ").split()), both.output
