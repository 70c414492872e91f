"""The torch runtime in bfloat16 (``precision``): the same masks within bf16's rounding, its name in the settings
that resumed jobs match, and a clear error where it cannot run."""

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from drywallqa import Segmenter
from drywallqa.cli import app


def test_bfloat16_gives_the_float32_maps_within_rounding(tiny_model_dir):
    photo = np.random.default_rng(0).integers(0, 255, (48, 56, 3), dtype=np.uint8)
    full = Segmenter.load(tiny_model_dir)
    half = Segmenter.load(tiny_model_dir, precision="bfloat16")
    a, b = full.predict(photo, ["segment crack"]), half.predict(photo, ["segment crack"])
    pa, pb = a.probabilities["segment crack"], b.probabilities["segment crack"]
    assert pb.dtype == np.float32 and pb.shape == pa.shape == (48, 56)
    assert 0 < np.abs(pa - pb).max() < 0.05  # computed in bf16 (not the same numbers), rounding apart
    assert isinstance(b.confidence["segment crack"], float)
    conv = next(m for m in half.inference_model.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size[0] > 1)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)  # bf16 convolutions' fast layout
    # what a resumed batch job or evaluation matches: float32 results are not taken for bfloat16 ones
    assert half.settings()["precision"] == "bfloat16" and "precision" not in full.settings()
    assert half.describe()["precision"] == "bfloat16"


def test_precision_errors_are_clear(tiny_model_dir, tmp_path):
    with pytest.raises(ValueError, match="precision must be one of float32, bfloat16"):
        Segmenter.load(tiny_model_dir, precision="float16")
    from drywallqa.export.onnx import export_onnx

    with pytest.raises(ValueError, match="torch runtime only"):
        Segmenter.load(export_onnx(tiny_model_dir, tmp_path / "onnx"), runtime="onnx", precision="bfloat16")
    photo = tmp_path / "a.png"
    from PIL import Image

    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(photo)
    base = ["predict", str(photo), "-p", "segment crack", "--model-path", str(tiny_model_dir), "--out", str(tmp_path / "o")]
    for extra, says in ((["--precision", "half"], "one of float32, bfloat16"),
                        (["--precision", "bfloat16", "--runtime", "onnx"], "torch runtime only (not --runtime onnx")):
        res = CliRunner().invoke(app, base + extra)
        assert res.exit_code == 2 and says in " ".join(res.output.replace("│", "").split()), res.output
    ok = CliRunner().invoke(app, base + ["--precision", "bfloat16", "--no-report"])
    assert ok.exit_code == 0, ok.output


def test_the_precision_is_reported_and_refused_where_it_cannot_run(tiny_model_dir):
    from fastapi.testclient import TestClient

    from drywallqa.engine.evaluator import model_facts
    from drywallqa.serve import ServeConfig, create_app

    full = Segmenter.load(tiny_model_dir)
    photo = np.random.default_rng(1).integers(0, 255, (40, 44, 3), dtype=np.uint8)
    before = full.predict(photo, ["segment crack"]).probabilities["segment crack"]
    from drywallqa.engine.torch_runtime import TorchSegmenter

    half = TorchSegmenter(full.model, full.text_encoder, precision="bfloat16")  # the module shared
    assert np.array_equal(full.predict(photo, ["segment crack"]).probabilities["segment crack"], before)  # untouched
    assert model_facts(None, half)["precision"] == "bfloat16" and model_facts(None, full)["precision"] == "float32"
    app = create_app(ServeConfig(model_path=str(tiny_model_dir), precision="bfloat16"))
    assert TestClient(app).get("/v1/models").json()["models"][0]["precision"] == "bfloat16"
    with pytest.raises(ValueError, match="not the zeroshot pipeline"):
        Segmenter.load(None, pipeline="zeroshot", precision="bfloat16")
