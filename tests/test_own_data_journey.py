"""Found walking the documented journey of fine-tuning on photos of one's own (docs/data.md "Your own dataset",
docs/training.md, configs/finetune_own_data.yaml) through the command line."""

import types

import torch

from drywallqa.engine import trainer as trainer_module
from drywallqa.engine.config import TrainConfig
from drywallqa.engine.trainer import Trainer


def _config(root, splits, out, tiny_kwargs):
    return TrainConfig.from_dict({
        "model_config": tiny_kwargs,
        "data": {"datasets": ["syn_crack", "syn_tape"], "datasets_dir": str(root), "splits_dir": str(splits),
                 "cache_size": 72, "cache_dir": None, "negative_ratio": 0.5},
        "optim": {"lr": 3e-3, "batch_size": 4, "epochs": 1, "warmup_steps": 2},
        "output_dir": str(out), "checkpoint_every": 100, "bf16": False, "device": "cpu",
    })


def test_elapsed_counts_the_steps_of_an_epoch_stopped_and_resumed(synthetic_datasets, syn_splits, tmp_path, tiny_kwargs,
                                                                  monkeypatch):
    """An epoch trained in several sittings (--max-minutes, Ctrl-C, each resumed) recorded as its elapsed_s only the
    last sitting's seconds (8 s in metrics.csv for an epoch of minutes): the time of a sitting that ended before the
    epoch did was kept nowhere."""
    clock = {"t": 0.0, "tick": 1000.0}

    def fake_time():
        clock["t"] += clock["tick"]
        return clock["t"]

    monkeypatch.setattr(trainer_module, "time", types.SimpleNamespace(time=fake_time))
    cfg = _config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs)
    assert Trainer(cfg, progress=False).train(max_minutes=1e-9)["stopped"] == "time"  # one step: >= 1000 s by the clock
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=False)["step"] == 1
    clock["tick"] = 1.0  # the rest of the epoch in a few seconds
    final = Trainer(cfg, progress=False).train(resume=True)
    assert final["epoch"] == 1
    assert final["elapsed_s"] >= 1000  # the first sitting's seconds too


def _run_trained_on(tmp_path, tiny_model_dir, synthetic_datasets, datasets):
    import shutil

    import yaml

    run = tmp_path / "run"
    shutil.copytree(tiny_model_dir, run / "best")
    (run / "config.yaml").write_text(yaml.safe_dump({"data": {"datasets": datasets,
                                                               "datasets_dir": str(synthetic_datasets)}}))
    (run / "metrics.csv").write_text("epoch,val_score\n1,0.5\n")
    return run


def test_ship_refuses_to_leave_out_a_dataset_the_run_was_trained_on(tiny_model_dir, synthetic_datasets, syn_splits,
                                                                    tmp_path, monkeypatch):
    """A run fine-tuned on a dataset of one's own ([water_stains.yaml, cracks, taping], as
    configs/finetune_own_data.yaml trains), shipped with ship's default -d (cracks, taping): the gate was calibrated on
    those alone and the shipped model refused "segment water stain", the prompt it was fine-tuned on, as "not something
    this model was trained to find", without a word from ship."""
    import pytest
    from typer.testing import CliRunner

    import drywallqa.engine.shipping as shipping
    from drywallqa.cli import app

    own = tmp_path / "water_stains.yaml"  # (the crack photos, labelled as stains)
    own.write_text(f"name: water_stains\nfolder: {synthetic_datasets / 'crack'}\nprompts: [segment water stain]\n")
    run = _run_trained_on(tmp_path, tiny_model_dir, synthetic_datasets, [str(own), "syn_crack", "syn_tape"])

    class Swept(Exception):
        pass

    def swept(*_a, **_k):
        raise Swept

    monkeypatch.setattr(shipping, "select", swept)
    kwargs = dict(splits_dir=syn_splits, datasets_dir=synthetic_datasets, confidence=False, progress=False,
                  report=lambda *_: None)
    with pytest.raises(shipping.ShipRefused, match="water_stains.*segment water stain"):
        shipping.ship(run, tmp_path / "out", datasets=("syn_crack", "syn_tape"), **kwargs)
    res = CliRunner().invoke(app, ["ship", str(run), "--out", str(tmp_path / "out"), "-d", "syn_crack", "-d", "syn_tape",
                                   "--splits-dir", str(syn_splits), "--datasets-dir", str(synthetic_datasets)])
    assert res.exit_code == 2 and "water_stains" in res.output and "--dataset" in res.output, res.output
    assert not (tmp_path / "out").exists()
    (tmp_path / "b").mkdir()
    plain = _run_trained_on(tmp_path / "b", tiny_model_dir, synthetic_datasets, ["syn_crack", "syn_tape"])
    with pytest.raises(Swept):  # every dataset it was trained on given: shipped as before
        shipping.ship(plain, tmp_path / "out", datasets=("syn_crack", "syn_tape"), **kwargs)
