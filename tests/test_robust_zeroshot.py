"""The zeroshot command and pipeline under wrong inputs: configs out of range, model folders of another kind, an
--out an earlier run wrote, what the report says it used, references with no photos, photos too thin to detect in."""

import json

import numpy as np
import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from drywallqa.cli import app
from drywallqa.zeroshot.pipeline import ZeroShotConfig, ZeroShotSegmenter


def _text(result) -> str:
    return " ".join(result.output.replace("│", " ").split())


@pytest.mark.parametrize("line, key", [
    ("box_threshold: .nan", "box_threshold"), ("box_threshold: 5", "box_threshold"),
    ("text_threshold: .inf", "text_threshold"), ("max_box_fraction: .nan", "max_box_fraction"),
    ("max_box_fraction: .inf", "max_box_fraction"), ("max_box_fraction: -1", "max_box_fraction"),
    ("mask_threshold: .nan", "mask_threshold"), ("min_confidence: 2", "min_confidence"),
    ("min_confidence: .nan", "min_confidence"), ("tagger_options: {bogus: 1}", "tagger_options"),
    ("tagger_options: {material: 5}", "material"), ("prompt_generator_options: {max_prompts: 0}", "max_prompts"),
    ("prompt_source: weird", "prompt_source"), ("detector: yolo", "detector"), ("tagger: ram", "tagger"),
    ("sam_path: ''", "sam_path"),
])
def test_config_values_out_of_range_are_named_when_read(tmp_path, line, key):
    """They were accepted (NaN or Infinity in report.json, every box dropped, 'weird' read as 'generated') or
    failed later with a traceback (min_confidence, tagger_options)."""
    cfg = tmp_path / "zs.yaml"
    cfg.write_text(line + "\n")
    with pytest.raises(ValueError, match=key) as info:
        ZeroShotConfig.from_yaml(cfg)
    assert str(cfg) in str(info.value)
    with pytest.raises(ValueError, match=key):  # the Python API checks before loading a model
        ZeroShotSegmenter(ZeroShotConfig(**yaml.safe_load(line)))


def test_config_numbers_in_range_are_kept_as_floats(tmp_path):
    cfg = tmp_path / "zs.yaml"
    cfg.write_text("box_threshold: 1\ntext_threshold: 0\nmax_box_fraction: 3e-1\nmin_confidence: 0.5\n"
                   "prompt_source: fixed\nprompt_generator: llm\nprompt_generator_options: {base_url: 'http://x'}\n")
    config = ZeroShotConfig.from_yaml(cfg)
    assert config.box_threshold == 1.0 and isinstance(config.box_threshold, float) and config.max_box_fraction == 0.3


def test_cli_config_out_of_range_is_a_clean_error(tmp_path):
    (tmp_path / "imgs").mkdir()
    cfg = tmp_path / "zs.yaml"
    for line, key in (("min_confidence: 2", "min_confidence"), ("tagger_options: {bogus: 1}", "tagger_options"),
                      ("box_threshold: .nan", "box_threshold")):
        cfg.write_text(line + "\n")
        res = CliRunner().invoke(app, ["zeroshot", str(tmp_path / "imgs"), "--out", str(tmp_path / "o"), "--config", str(cfg)])
        assert res.exit_code == 2 and key in _text(res) and "Traceback" not in res.output, res.output
    assert not (tmp_path / "o").exists()
    res = CliRunner().invoke(app, ["zeroshot", str(tmp_path / "imgs"), "--out", str(tmp_path / "o"), "--material", " "])
    assert res.exit_code == 2 and "material" in _text(res), res.output
