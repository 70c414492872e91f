"""Robustness: an output path through a symbolic link that loops or leads nowhere, a prompt holding bytes that are no
character, training configs that could not train (every loss weight 0, a misspelt dataset in data.dataset_repeats,
a few lines of YAML aliases that expand to billions of items) and a COCO annotation file that is a pipe: each a clean
error naming it, before any work; none a traceback, a hang or a silent no-op."""

import os
import threading
import time

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from drywallqa.cli import app
from drywallqa.engine.config import TrainConfig
from drywallqa.text.prompts import check_prompt

EXAMPLE = "src/drywallqa/examples/cracks_2363_jpg.jpg"


@pytest.fixture
def links(tmp_path):
    """``(loop, dangling)``: two links that lead to each other, and one to a path that does not exist."""
    os.symlink(tmp_path / "loop2", tmp_path / "loop1")
    os.symlink(tmp_path / "loop1", tmp_path / "loop2")
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    return tmp_path / "loop1", tmp_path / "dangling"


def _run(args):
    return CliRunner().invoke(app, args, terminal_width=300)


def _said(res) -> str:
    """The output as one line of words: an error box wraps its message at 80 columns."""
    return " ".join(res.output.replace("\u2502", " ").split())


@pytest.mark.parametrize("which", ["loop", "loop/sub", "dangling", "dangling/sub"])
def test_predict_to_a_link_that_loops_or_leads_nowhere_is_a_clean_error(links, tiny_model_dir, which):
    """predict -o LOOP was a RuntimeError traceback ("Symlink loop"); -o DANGLING said it "is a file"."""
    loop, dangling = links
    out = {"loop": loop, "loop/sub": loop / "sub", "dangling": dangling, "dangling/sub": dangling / "sub"}[which]
    res = _run(["predict", EXAMPLE, "-p", "segment crack", "-o", str(out), "--model-path", str(tiny_model_dir)])
    assert res.exit_code == 2, res.output
    assert ("leads back to itself" if which.startswith("loop") else "which does not exist") in _said(res), res.output
    assert not (links[0].parent / "nowhere").exists()  # nothing written through the link


def test_other_commands_name_a_link_that_loops_before_any_work(links, tiny_model_dir):
    """export onnx, data split and ship raised the RuntimeError too (data split after reading the whole dataset)."""
    loop, dangling = links
    for args in (["export", "onnx", "--out", str(loop), "--model-path", str(tiny_model_dir)],
                 ["data", "split", "-d", "taping", "--out", str(dangling)],
                 ["ship", str(tiny_model_dir), "--out", str(loop)]):
        res = _run(args)
        assert res.exit_code == 2 and "symbolic link" in res.output, (args, res.output)


def test_a_prompt_with_bytes_that_are_no_character_is_refused():
    """A shell passes undecodable bytes as lone surrogates ("segment \\udcffcrack"): the prompt cache's UTF-8 encoding
    raised a UnicodeEncodeError traceback (the tokenizer a TypeError without the cache)."""
    with pytest.raises(ValueError, match="bytes that are no character") as err:
        check_prompt("segment \udcffcrack")
    assert "segment \ufffdcrack" in str(err.value)  # shown as an editor shows it
    assert check_prompt("segment fissure \u00e9") == "segment fissure \u00e9"
    res = _run(["predict", EXAMPLE, "-p", "segment \udcffcrack", "-o", "unused_out"])
    assert res.exit_code == 2 and "no character" in res.output and not os.path.exists("unused_out"), res.output


def test_a_segmenter_refuses_such_a_prompt_with_a_value_error(tiny_model_dir):
    from drywallqa import Segmenter

    with pytest.raises(ValueError, match="no character"):
        Segmenter.load(tiny_model_dir).predict(np.zeros((16, 16, 3), np.uint8), ["segment \udcffcrack"])


@pytest.mark.parametrize("loss, distill, ok", [
    ({"bce": 0, "dice": 0, "focal": 0, "lovasz": 0}, {}, False),
    ({"bce": 0, "dice": 0, "focal": 0, "lovasz": 0}, {"teacher": "fast", "weight": 1.0}, True),
    ({"bce": 1}, {"teacher": "fast", "weight": 0.0, "label_weight": 0.0}, False),
    ({"bce": 0, "dice": 0, "focal": 0, "lovasz": 0}, {"teacher": "fast", "weight": 0.0}, False),
    ({"bce": 0, "dice": 0.5, "focal": 0, "lovasz": 0}, {}, True)])
def test_a_config_whose_loss_weighs_nothing_is_refused(loss, distill, ok):
    """loss.bce=0 loss.dice=0 loss.focal=0 passed the range checks and crashed the first step ('int' object has no
    attribute 'backward'), after the data had loaded, leaving a lock and a config behind."""
    config = {"loss": {"bce": 0, "dice": 0, "focal": 0, "lovasz": 0, **loss}, "distill": distill}
    if ok:
        TrainConfig.from_dict(config)
    else:
        with pytest.raises(ValueError, match="nothing"):
            TrainConfig.from_dict(config)


def test_train_with_every_loss_weight_0_writes_nothing(tmp_path):
    res = _run(["train", "configs/default.yaml", "loss.bce=0", "loss.dice=0", "loss.focal=0", "loss.lovasz=0",
                "--out", str(tmp_path / "run")])
    assert res.exit_code == 2 and "learn nothing" in res.output and not (tmp_path / "run").exists(), res.output


def test_a_misspelt_dataset_in_dataset_repeats_is_named_before_any_photo_is_read(write_train_config, tiny_kwargs,
                                                                                tmp_path, monkeypatch):
    """data.dataset_repeats={tapping: 2} trained with no repeat at all, silently (composite_pairs already refused an
    unknown name, but only once the photos were read)."""
    from drywallqa.engine import trainer

    monkeypatch.setattr(trainer.Trainer, "build_data", lambda self: pytest.fail("the photos were read"))
    for override in ("data.dataset_repeats={syn_tap: 2}", "data.composite_pairs=[[syn_crack, syn_tap]]"):
        res = _run(["train", str(write_train_config("film_unet", tiny_kwargs)), override,
                    "--out", str(tmp_path / "run")])
        assert res.exit_code != 0 and "'syn_tap', which is" in _said(res), res.output


def test_a_misspelt_registered_dataset_is_a_config_error_of_the_command_line(tmp_path):
    """With registered names in data.datasets, a misspelt dataset_repeats / composite_pairs name is refused with the
    config (exit 2, as any bad setting), not as a failure of the run (exit 1) once the trainer was built."""
    for override, words in (("data.dataset_repeats.tapping=2", "'tapping', which is no dataset"),
                            ("data.composite_pairs=[[cracks, tapping]]", "'tapping', which is not one of data.datasets")):
        with pytest.raises(ValueError, match=words):
            TrainConfig().with_overrides([override]).validate()
        res = _run(["train", "configs/default.yaml", override, "--out", str(tmp_path / "run")])
        assert res.exit_code == 2 and words in _said(res), res.output
        assert not (tmp_path / "run").exists()
    assert TrainConfig().with_overrides(["data.dataset_repeats.taping=2"]).validate()  # a dataset it trains on
    # a registered dataset the run does not train on weighs nothing in it: the config's repeats need no override
    assert TrainConfig.from_yaml("configs/default.yaml").with_overrides(["data.datasets=[cracks]"]).validate()


def test_yaml_aliases_that_expand_to_billions_of_items_are_refused_at_once(tmp_path):
    """Eight lines of YAML aliases make a list of 9**8 items: its whole repr in the error message took minutes and
    gigabytes (train was still running after 60 s at 650 MB)."""
    levels = ["&a [x, x, x, x, x, x, x, x, x]"] + [f"&{b} [{', '.join(['*' + a] * 9)}]"
                                                   for a, b in zip("abcdefg", "bcdefgh")]
    path = tmp_path / "bomb.yaml"
    path.write_text("data:\n  datasets: [" + ", ".join(f"[{x}]" if i == 0 else x for i, x in enumerate(levels)) + "]\n")
    assert yaml.safe_load(path.read_text())  # a valid YAML file
    started = time.perf_counter()
    res = _run(["train", str(path), "--out", str(tmp_path / "run")])
    assert res.exit_code == 2 and "data.datasets must be a list" in res.output, res.output
    assert time.perf_counter() - started < 30 and len(res.output) < 5000


def test_a_coco_annotation_file_that_is_a_pipe_is_a_problem_not_a_wait(tmp_path):
    """A pipe in place of _annotations.coco.json was read for ever (a link to /dev/zero until memory ran out)."""
    from drywallqa.data import registry
    from drywallqa.data.sample import load_split

    valid = tmp_path / "ds" / "valid"
    valid.mkdir(parents=True)
    os.mkfifo(valid / "_annotations.coco.json")
    path = tmp_path / "piped.yaml"
    path.write_text(yaml.safe_dump({"name": "piped", "folder": str(tmp_path / "ds"), "prompts": ["segment crack"],
                                    "splits": {"valid": {"kind": "coco", "folder": "valid"}}}))
    result = {}
    try:
        reader = threading.Thread(target=lambda: result.update(
            out=load_split(registry.get_dataset_config(str(path)), "valid")), daemon=True)
        reader.start()
        reader.join(20)
        assert "out" in result, "the reader waited on the pipe"
        samples, problems = result["out"]
        assert samples == [] and "not a regular file" in str(problems[0]), problems
    finally:
        if "piped" in registry.DATASETS:
            registry.DATASETS.remove("piped")
        if "out" not in result:  # free the waiting reader
            with open(valid / "_annotations.coco.json", "w") as pipe:
                pipe.write("{}")
