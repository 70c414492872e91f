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
