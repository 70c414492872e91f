"""The onnx runtime and ONNX export cover film_unet models only: another model type is a clean error, never a
traceback from deep inside the export, nor a torch model run under the onnx runtime's name."""

import pytest
from typer.testing import CliRunner

from conftest import says, write_photos
from drywallqa import Segmenter
from drywallqa.cli import app
from drywallqa.export.onnx import export_onnx
from drywallqa.models import create_model


@pytest.fixture
def clipseg_model_dir(tiny_clipseg_dir, tmp_path):
    """A drywallqa model folder of a (tiny) clipseg model, as a training run's best/ holds one."""
    model = create_model("clipseg", pretrained=str(tiny_clipseg_dir))
    return model.save_pretrained(tmp_path / "clipseg_model", extra={"threshold": 0.5})


def test_a_model_folder_of_another_type_is_refused_by_export_and_the_onnx_runtime(clipseg_model_dir, tmp_path,
                                                                                  monkeypatch):
    monkeypatch.setenv("DRYWALLQA_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ValueError, match="is a clipseg model; ONNX export"):  # was AttributeError: no text_dim
        export_onnx(clipseg_model_dir, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="is a clipseg model; ONNX export"):
        Segmenter.load(clipseg_model_dir, runtime="onnx")
    assert not (tmp_path / "cache" / "onnx").is_dir() or not any((tmp_path / "cache" / "onnx").iterdir())
    photos = write_photos(tmp_path / "photos", 1)
    r = CliRunner().invoke(app, ["predict", str(photos), "-p", "segment crack", "--runtime", "onnx",
                                 "--model-path", str(clipseg_model_dir), "--out", str(tmp_path / "pred")])
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output  # was a traceback (exit 1)
    assert says(r.output, "is a clipseg model", "--model-path"), r.output


def test_a_hub_model_type_is_not_run_on_torch_under_the_onnx_runtimes_name(tiny_clipseg_dir):
    with pytest.raises(ValueError, match="model 'clipseg' runs on the torch runtime"):
        Segmenter.load(tiny_clipseg_dir, runtime="onnx", model="clipseg")  # was a torch ClipSegModel, runtime "onnx"


def test_an_encoder_of_another_model_with_the_same_outputs_is_refused_on_load(tiny_model_dir, tiny_kwargs, tmp_path):
    import shutil

    other = create_model("film_unet", **{**tiny_kwargs, "encoder_channels": (8, 8, 16, 32, 32),
                                         "decoder_channels": (32, 16, 8, 8)}).save_pretrained(tmp_path / "other")
    ours, theirs = export_onnx(tiny_model_dir, tmp_path / "ours"), export_onnx(other, tmp_path / "theirs")
    shutil.copy(theirs / "encoder.onnx", ours / "encoder.onnx")  # the same names, other channels
    # was loaded (with a warning), then every photo failed on its own ("Got invalid dimensions for input")
    with pytest.raises(ValueError, match=r"not a loadable ONNX export .*gives laterals of \[32, 16, 8, 8\] channels "
                                         r"and decoder.onnx takes \[16, 16, 8, 8\]"):
        Segmenter.load(ours, runtime="onnx")
