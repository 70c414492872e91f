"""An adversarial probe of 0.6.9's less travelled commands: a text encoder that cannot be loaded (each photo waited
for the hub client's retries, a minute, before failing), an empty training config (the whole default recipe trained),
a dataset file that is not there (said to be a missing start folder), a whole config section replaced by an override,
a damaged model folder given to ship or calibrate-gate, and file names whose bytes are no UTF-8 (a traceback in a
preview grid, an evaluation's CSV and the training cache's key). The refine-masks reruns are in test_refine.py."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from drywallqa.cli import app
from drywallqa.engine.config import TrainConfig

from conftest import says


def _run(args):
    return CliRunner().invoke(app, args, terminal_width=300)


def _said(res) -> str:
    return " ".join(res.output.replace("\u2502", " ").split())


def _with_text_encoder(model_dir, tmp_path, name):
    folder = tmp_path / "model"
    shutil.copytree(model_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "text_encoder": name}))
    return folder


def test_a_text_encoder_that_cannot_load_fails_once_and_the_command_says_so(tiny_model_dir, tmp_path, monkeypatch):
    """predict with a model naming an encoder that is not here: refused before any photo (exit 2, no output folder);
    the encoder, asked again, fails at once (it retried the hub per photo)."""
    from drywallqa.text.encoder import TextEncoder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("DRYWALLQA_CACHE", str(tmp_path / "cache"))
    folder = _with_text_encoder(tiny_model_dir, tmp_path, "no-such-org/no-such-encoder")
    photo = tmp_path / "a.png"
    Image.fromarray(np.zeros((32, 48, 3), np.uint8)).save(photo)
    res = _run(["predict", str(photo), "-p", "segment crack", "--model-path", str(folder), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "text encoder 'no-such-org/no-such-encoder' could not be loaded" in _said(res), res.output
    assert "HF_HUB_OFFLINE=1 is set" in _said(res) and not (tmp_path / "o").exists()
    import sentence_transformers

    tries = []
    real = sentence_transformers.SentenceTransformer
    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", lambda *a, **k: tries.append(a) or real(*a, **k))
    encoder = TextEncoder("no-such-org/no-such-encoder", cache_dir=False)
    for prompt in ("hairline cracks", "joint tape", "crack"):
        with pytest.raises(OSError, match="could not be loaded"):
            encoder.encode([prompt])
    assert len(tries) == 1  # tried once: a hub id online waited for the client's retries each time


def test_serve_refuses_to_start_without_its_text_encoder(tiny_model_dir, tmp_path, monkeypatch):
    """Any prompt may come to a server: an encoder that cannot load was a 500 per request."""
    import uvicorn

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("the server started"))
    folder = _with_text_encoder(tiny_model_dir, tmp_path, "no-such-org/no-such-encoder")
    for tile in ([], ["--tile", "64"]):  # --tile wraps the model's segmenter
        res = _run(["serve", "--model-path", str(folder), "--port", "0", *tile])
        assert res.exit_code == 2 and "could not be loaded" in _said(res), res.output


@pytest.mark.parametrize("text", ["", "# only a comment\n"])
def test_an_empty_training_config_is_refused_not_the_default_recipe(tmp_path, text):
    path = tmp_path / "empty.yaml"
    path.write_text(text)
    res = _run(["train", str(path), "--out", str(tmp_path / "run")])
    assert res.exit_code == 2 and "the file is empty" in _said(res) and not (tmp_path / "run").exists(), res.output


def test_a_dataset_file_that_is_not_there_is_named_as_the_configs(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text(f"data:\n  datasets: [{tmp_path / 'my_wals.yaml'}]\n")
    res = _run(["train", str(path), "--out", str(tmp_path / "run")])
    assert res.exit_code == 2 and says(res.output, "data.datasets", "my_wals.yaml not found"), res.output
    assert "--model-path" not in _said(res)


@pytest.mark.parametrize("override", ["data=null", "optim={}", "loss=null"])
def test_an_override_of_a_whole_section_is_refused(override):
    """data=null reset the section to its defaults: every dataset, the default cache, whatever the file said."""
    with pytest.raises(ValueError, match="would replace the whole"):
        TrainConfig.from_yaml("configs/default.yaml").with_overrides([override])


def test_ship_says_a_model_folders_config_is_damaged(tmp_path):
    from drywallqa.models.shipped import shipped_model_dir

    folder = tmp_path / "model"
    shutil.copytree(shipped_model_dir("fast"), folder)
    (folder / "config.json").write_text((folder / "config.json").read_text()[:200])
    res = _run(["ship", str(folder), "--out", str(tmp_path / "shipped")])
    assert res.exit_code == 2 and "config.json is damaged, not JSON" in _said(res), res.output


def test_calibrate_gate_refuses_a_folder_without_its_weights(tiny_model_dir, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "model.safetensors").unlink()
    res = _run(["calibrate-gate", "--model-path", str(folder), "-d", "cracks"])
    assert res.exit_code == 2 and "model.safetensors" in _said(res) and not (folder / "prompt_gate.npz").exists()


def test_file_names_that_are_no_utf8_are_shown_escaped_and_written_as_on_disk(tmp_path):
    """A photo named ``caf\\xe9.jpg`` (a Windows zip unpacked on Linux) in a preview grid's label, a CSV and the
    training cache's key: each was a traceback."""
    from drywallqa.data.cache import cache_key
    from drywallqa.data.sample import Sample
    from drywallqa.utils.files import write_csv_atomic
    from drywallqa.utils.slug import shown
    from drywallqa.viz import grid

    name = "caf\udce9.jpg"  # how Python reads the byte 0xe9 of a file name
    assert shown(name) == "caf\\udce9.jpg"
    grid([[np.zeros((8, 8, 3), np.uint8)]], [name], tmp_path / "grid.png", row_labels=[name])
    assert Image.open(tmp_path / "grid.png").size[0] > 0
    write_csv_atomic([{"image": name}], ["image"], tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_bytes().splitlines()[1] == b"caf\xe9.jpg"
    sample = Sample(image_path=tmp_path / name, dataset="d", split="train", height=4, width=4, annotations=[])
    assert len(cache_key([sample], 64)) == 16


def test_a_url_and_a_weights_folder_are_said_as_what_they_are(tiny_model_dir, tmp_path):
    """'http://example.com/a.jpg' was 'http:/example.com/a.jpg: no such file'; a folder named model.safetensors was
    'no model.safetensors'."""
    from drywallqa import Segmenter
    from drywallqa.utils.image_io import ImageReadError, read_image

    with pytest.raises(ImageReadError, match="a URL; photos are read from files, not fetched"):
        read_image("http://example.com/a.jpg")
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(str(tmp_path / "C:" / "a.jpg"))  # a drive letter is no URL
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "model.safetensors").unlink()
    (folder / "model.safetensors").mkdir()
    with pytest.raises(FileNotFoundError, match="model.safetensors is no file"):
        Segmenter.load(folder)


def test_a_damaged_text_encoder_is_an_error_of_its_own_not_a_traceback(monkeypatch, tmp_path):
    """A local encoder folder with its weights cut short raised a SafetensorError, which predict did not catch."""
    import sentence_transformers

    from drywallqa.text.encoder import TextEncoder

    def damaged(*args, **kwargs):
        raise RuntimeError("Error while deserializing header: incomplete metadata")

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", damaged)
    encoder = TextEncoder(str(tmp_path), cache_dir=False)  # a folder: read as it is
    with pytest.raises(OSError, match="could not be loaded \\(RuntimeError: Error while deserializing"):
        encoder.encode(["crack"])


def test_calibrate_gate_makes_a_damaged_gate_again(tiny_model_dir, tmp_path):
    """The weights check must not read the gate it is asked to make again (it sent the user round in a loop)."""
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "prompt_gate.npz").write_bytes(b"garbage")
    res = _run(["calibrate-gate", "--model-path", str(folder), "-d", "cracks"])
    assert res.exit_code == 0, res.output
    assert (folder / "prompt_gate.npz").read_bytes()[:2] == b"PK"  # an npz (a zip) again
