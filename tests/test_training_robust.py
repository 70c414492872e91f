"""Training runs that once failed silently, lost work or ended in a traceback: a diverged run, the config file a run
is trained from, two runs in one folder, values no run can use, a resume on other data, a kill mid-write, Ctrl-C."""

from __future__ import annotations

import json

import pytest

from drywallqa.engine.config import TrainConfig
from drywallqa.models.base import PromptedSegmentationModel


@pytest.mark.parametrize("override, words", [
    ("model_config.head_dim=-1", "model_config.*head_dim must be a whole number"),
    ("model_config.encoder_channels=[0,0,0,0,0]", "model_config.*encoder_channels must be 5 whole numbers"),
    ("model_config.encoder_channels=[8,8,16,16,1e9]", "model_config.*encoder_channels must be 5 whole numbers"),
    ("model_config.decoder_channels=[8,8,8,100000]", "model_config.*decoder_channels must be 4 whole numbers"),
    ("model_config.encoder_depths=[1,1,1,-1]", "model_config.*encoder_depths must be 4 whole numbers"),
    ("model_config.refine_channels=-2", "model_config.*refine_channels must be a whole number"),
    ("model_config.std=[0,1,1]", "model_config.*std must be 3 numbers"),
    ("data.cache_size=100000", r"data.cache_size must be a whole number in \[32, 4096\]"),
    ("seed=-5", "seed must be a whole number"), ("optim.ema_decay=0", "optim.ema_decay"),
    ("optim.ema_decay=1", "optim.ema_decay"), ("optim.ema_decay=1.0", "optim.ema_decay")])
def test_values_no_run_can_use_are_named_before_anything_runs(override, words):
    with pytest.raises(ValueError, match=words):
        TrainConfig().with_overrides([override]).validate()


def test_a_model_folder_whose_config_no_model_can_have_is_a_clean_error(tiny_model_dir):
    meta = json.loads((tiny_model_dir / "config.json").read_text())
    meta["config"]["head_dim"] = -1
    (tiny_model_dir / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="head_dim must be a whole number"):
        PromptedSegmentationModel.from_pretrained(tiny_model_dir)
