"""Paths too long for the file system: each command said one that is a model folder (or a zero-shot config) in
the project's words but echoed it whole (a 5,000-character line); the one message of the one check, shortened."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from drywallqa.cli import app

from conftest import says

LONG_NAME = "/tmp/" + "a" * 300  # a folder name over the 255 bytes most file systems allow
DEEP = "/tmp/" + "/".join(["b" * 200] * 25)  # a path over the 4096 bytes Linux allows
TOO_LONG = "bytes): the name is longer than the file system allows"


def _run(args):
    result = CliRunner().invoke(app, args, terminal_width=300)
    assert not (result.exception and not isinstance(result.exception, SystemExit)), repr(result.exception)
    return result


def _said_shortly(output: str) -> bool:
    return not any(c * 100 in output for c in "ab")


@pytest.mark.parametrize("model_path", [LONG_NAME, DEEP])
@pytest.mark.parametrize("command, hint", [(lambda p: ["ship", p, "--out", "sh"], "SOURCE"),
                                           (lambda p: ["export", "onnx", "--model-path", p, "--out", "o"],
                                            "--model-path"),
                                           (lambda p: ["train", "cfg.yaml", "--model-path", p], "--model-path")])
def test_ship_export_and_train_say_a_model_path_too_long_shortly(tmp_path, monkeypatch, command, hint, model_path):
    # resolve_model_dir returned a path too long as it was: "<the whole path>: neither a drywallqa model folder nor a
    # training run" (ship), "<the whole path> is not a drywallqa model folder" (export onnx), "no model folder <the
    # whole path>" (train)
    monkeypatch.chdir(tmp_path)
    Path("cfg.yaml").write_text("model: film_unet\ndata:\n  datasets: [cracks]\noutput_dir: run\n")
    result = _run(command(model_path))
    assert result.exit_code == 2, result.output
    assert says(result.output, f"Invalid value for {hint}: no model folder /tmp/", TOO_LONG), result.output
    assert _said_shortly(result.output), result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg.yaml"]


@pytest.mark.parametrize("model_path", [LONG_NAME, DEEP])
def test_the_python_api_of_ship_and_export_says_a_model_path_too_long_shortly(model_path, tmp_path):
    from drywallqa.engine.shipping import model_folder
    from drywallqa.export.onnx import export_onnx
    from drywallqa.models.shipped import resolve_model_dir

    for call in (resolve_model_dir, model_folder, lambda p: export_onnx(p, tmp_path / "o")):
        with pytest.raises(FileNotFoundError, match="the name is longer than the file system allows") as caught:
            call(model_path)
        assert len(str(caught.value)) < 200, str(caught.value)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("model_path", [LONG_NAME, DEEP, "c" * 300])
@pytest.mark.parametrize("command", ["calibrate-gate", "calibrate-confidence"])
def test_a_calibration_says_a_model_path_too_long_shortly(tmp_path, monkeypatch, command, model_path):
    # check_model_file said "<the whole path> is not a drywallqa model folder: there is no such folder"
    monkeypatch.chdir(tmp_path)
    result = _run([command, "--model-path", model_path])
    assert result.exit_code == 2, result.output
    assert says(result.output, "Invalid value for --model-path: no model folder", TOO_LONG), result.output
    assert _said_shortly(result.output) and "c" * 100 not in result.output, result.output


@pytest.mark.parametrize("model", ["film_unet", "clipseg"])
def test_a_bare_model_name_too_long_with_a_model_type_is_said_shortly(tmp_path, monkeypatch, model):
    # with --model (model=...) a bare name is not resolved: "[Errno 36] File name too long: '<the whole name>'"
    from drywallqa import Segmenter

    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="the name is longer than the file system allows") as caught:
        Segmenter.load("c" * 300, model=model)
    assert len(str(caught.value)) < 200, str(caught.value)
    result = _run(["predict", "a.jpg", "-p", "segment crack", "-o", "out", "--model", model, "--model-path", "c" * 300])
    assert result.exit_code == 2, result.output
    assert says(result.output, "Invalid value for --model-path / --model / --pipeline: no model folder", TOO_LONG)
    assert "c" * 100 not in result.output and "Errno" not in result.output, result.output


@pytest.mark.parametrize("config", [LONG_NAME, DEEP])
@pytest.mark.parametrize("command, hint", [(["zeroshot", "a.jpg", "-o", "zs", "--config"], "--config"),
                                           (["predict", "a.jpg", "-p", "segment crack", "-o", "out", "--pipeline",
                                             "zeroshot", "--model-path"], "--model-path / --model / --pipeline")])
def test_a_zero_shot_config_too_long_is_said_shortly(tmp_path, monkeypatch, command, hint, config):
    # "zero-shot config <the whole path> cannot be read (OSError: [Errno 36] File name too long: '<the whole path>')"
    from drywallqa.zeroshot.pipeline import ZeroShotConfig

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="cannot be read") as caught:
        ZeroShotConfig.from_yaml(config)
    assert len(str(caught.value)) < 250, str(caught.value)
    Path("a.jpg").write_bytes(b"")  # (never read: the config is refused first)
    result = _run([*command, config])
    assert result.exit_code == 2, result.output
    assert says(result.output, f"Invalid value for {hint}: zero-shot config /tmp/", "cannot be read (OSError: File name "
                "too long: the name is longer than the file system allows)"), result.output
    assert _said_shortly(result.output), result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg"]


@pytest.mark.parametrize("model_path", [LONG_NAME, DEEP, "c" * 300])
def test_refine_masks_says_a_sam_model_path_too_long_shortly(synthetic_datasets, tmp_path, monkeypatch, model_path):
    # "loading SAM (<the whole path>)...", then "cannot load SAM model from '<the whole path>': no such folder"
    from drywallqa.data.refine import SamRefiner

    monkeypatch.chdir(tmp_path)
    with pytest.raises(OSError, match="the name is longer than the file system allows") as caught:
        SamRefiner(model_path)
    assert len(str(caught.value)) < 200, str(caught.value)
    result = _run(["data", "refine-masks", "-d", "syn_tape", "--out", "refined", "--split", "valid", "--model-path",
                   model_path, "--datasets-dir", str(synthetic_datasets)])
    assert result.exit_code == 2, result.output
    assert says(result.output, "Invalid value for --model-path: cannot load SAM model from", "no such folder (the name "
                "is longer than the file system allows)"), result.output
    assert _said_shortly(result.output) and "c" * 100 not in result.output, result.output
    assert not Path("refined").exists()
