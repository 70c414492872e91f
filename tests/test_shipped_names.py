"""Shipped models by name: ``fast`` (the default; ``default`` is its alias) works wherever a model folder does,
a folder of the same spelling wins, and an unknown name is a clear error listing the shipped ones."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from drywallqa import Segmenter
from drywallqa.cli import app
from drywallqa.engine.config import TrainConfig
from drywallqa.engine.shipping import model_folder
from drywallqa.engine.trainer import Trainer
from drywallqa.models.shipped import DEFAULT_MODEL, resolve_model_dir, shipped_model_dir, shipped_model_names


def test_names_resolve_to_folders_in_the_package():
    assert DEFAULT_MODEL == "fast" and "fast" in shipped_model_names() and "default" not in shipped_model_names()
    fast = shipped_model_dir("fast")
    assert (fast / "config.json").is_file() and (fast / "MODEL_CARD.md").is_file()
    assert resolve_model_dir() == resolve_model_dir("fast") == resolve_model_dir("default") == shipped_model_dir() == fast
    assert model_folder("fast") == fast  # ship can start from a shipped model too
    with pytest.raises(KeyError, match="shipped models: fast"):
        shipped_model_dir("accurate-ish")


def test_segmenter_load_by_name_is_the_default_model():
    image = np.full((48, 64, 3), 180, np.uint8)
    image[20:24] = 40  # a dark line
    by_name, default = Segmenter.load("fast"), Segmenter.load()
    a, b = (s.predict(image, ["segment crack"]) for s in (by_name, default))
    assert np.array_equal(a.probabilities["segment crack"], b.probabilities["segment crack"])
    assert by_name.threshold == default.threshold


@pytest.mark.parametrize("runtime", ["torch", "onnx"])
def test_an_unknown_name_is_a_clear_error_listing_the_names(runtime, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no model folder 'acurate'.*shipped models: fast \(the default\)"):
        Segmenter.load("acurate", runtime=runtime)


def test_a_folder_of_the_same_spelling_wins(tiny_model_dir, tmp_path, monkeypatch):
    shutil.copytree(tiny_model_dir, tmp_path / "fast")
    monkeypatch.chdir(tmp_path)
    assert resolve_model_dir("fast") == Path("fast")
    assert Segmenter.load("fast").image_size == 64  # the tiny model, not the shipped one
    assert resolve_model_dir("runs/none") == Path("runs/none")  # a path is left to its loader
    with pytest.raises((FileNotFoundError, OSError)):
        Segmenter.load("runs/none")


def test_training_can_start_from_a_shipped_name():
    shipped = Trainer.build_model(TrainConfig(init_from="fast", device="cpu")).state_dict()
    old_spelling = Trainer.build_model(TrainConfig(init_from="default", device="cpu")).state_dict()
    assert shipped.keys() == old_spelling.keys()
    assert all(np.array_equal(shipped[k].numpy(), old_spelling[k].numpy()) for k in shipped)


@pytest.mark.parametrize("command", [
    ["predict", "{photo}", "-p", "segment crack", "--out", "{out}"],
    ["evaluate", "--out", "{out}"],
    ["export", "onnx", "--out", "{out}"],
    ["serve"],
])
def test_cli_names_the_shipped_models_for_an_unknown_one(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    photo = tmp_path / "w.png"
    from PIL import Image

    Image.new("RGB", (40, 30), (120, 120, 120)).save(photo)
    args = [a.format(photo=photo, out=tmp_path / "o") for a in command] + ["--model-path", "acurate"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2, (res.exit_code, res.output)
    assert "acurate" in res.output and "fast" in res.output, res.output
    assert not (tmp_path / "o" / "results.json").exists() and not (tmp_path / "o" / "report.md").exists()


@pytest.mark.parametrize("command", ["calibrate-confidence", "calibrate-gate"])
def test_calibration_never_writes_into_a_shipped_model_by_name(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in shipped_model_dir("fast").iterdir()}
    res = CliRunner().invoke(app, [command, "--model-path", "fast"])
    text = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and "fast is a shipped model" in text and "calibrate a copy: cp -r" in text, res.output
    assert str(shipped_model_dir("fast")) in res.output.replace("│", "").replace("\n", "").replace(" ", "")
    assert {p.name: p.stat().st_mtime_ns for p in shipped_model_dir("fast").iterdir()} == before


def test_a_name_also_works_with_the_model_type_named(tmp_path):
    seg = Segmenter.load("fast", model="film_unet")
    assert seg.predict(np.zeros((30, 40, 3), np.uint8), ["segment crack"]).masks["segment crack"].shape == (30, 40)


def test_train_names_the_shipped_models_for_an_unknown_start(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["train", str(Path(__file__).parents[1] / "configs" / "default.yaml"),
                                   "--model-path", "acurate", "--output-dir", str(tmp_path / "run")])
    assert res.exit_code == 2 and "shipped models: fast" in " ".join(res.output.split()), res.output


@pytest.mark.parametrize("spelling", ["./fast", "fast/"])
@pytest.mark.parametrize("command", [
    ["predict", "{photo}", "-p", "segment crack", "--out", "{out}"],
    ["evaluate", "--out", "{out}"],
    ["export", "onnx", "--out", "{out}"],
    ["serve"],
    ["train", "{config}", "--out", "{out}"],
])
def test_a_path_spelling_is_a_folder_never_the_shipped_model(command, spelling, tmp_path, monkeypatch):
    """``./fast`` names a local folder; with none there it is an error, not the shipped ``fast``."""
    monkeypatch.chdir(tmp_path)
    photo = tmp_path / "w.png"
    from PIL import Image

    Image.new("RGB", (40, 30), (120, 120, 120)).save(photo)
    config = Path(__file__).parents[1] / "configs" / "default.yaml"
    args = [a.format(photo=photo, out=tmp_path / "o", config=config) for a in command] + ["--model-path", spelling]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2, (res.exit_code, res.output)
    assert "fast" in res.output and "Traceback" not in res.output, res.output
    assert "write it without a path: fast" in " ".join(res.output.replace("\u2502", " ").split()), res.output  # a hint
    assert not (tmp_path / "o" / "results.json").exists() and not (tmp_path / "o" / "onnx").exists()
    assert not (tmp_path / "o" / "report.md").exists() and not (tmp_path / "o" / "best").exists()


def test_a_shipped_name_given_as_model_type_points_to_model_path(tmp_path):
    res = CliRunner().invoke(app, ["predict", str(tmp_path), "-p", "segment crack", "--out", str(tmp_path / "o"),
                                   "--model", DEFAULT_MODEL], terminal_width=300)
    text = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and f"--model-path {DEFAULT_MODEL}" in text
    res = CliRunner().invoke(app, ["predict", str(tmp_path), "-p", "segment crack", "--out", str(tmp_path / "o"),
                                   "--model", "nope"], terminal_width=300)
    text = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and "unknown model 'nope'; registered:" in text and "\"unknown" not in text
