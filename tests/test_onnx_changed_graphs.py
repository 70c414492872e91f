"""ONNX exports whose graphs were changed since they were written, as tools change them (found by an adversarial
pass): converted to float16 at their inputs and outputs, or made of fixed shapes. Each was loaded with the warning
that its graphs are used as they are, then every photo failed on its own in onnxruntime."""

import numpy as np
import pytest

from drywallqa import Segmenter
from drywallqa.export.onnx import export_onnx

onnx = pytest.importorskip("onnx")


def to_float16_io(path):
    """The graph at ``path`` taking and giving float16 tensors (a Cast at each input and output), as a float16
    conversion that does not keep the input and output types writes it."""
    from onnx import TensorProto, helper

    model = onnx.load(str(path))
    graph = model.graph
    casts = []
    for value in graph.input:
        for node in graph.node:
            node.input[:] = [f"{value.name}.f32" if n == value.name else n for n in node.input]
        casts.append(helper.make_node("Cast", [value.name], [f"{value.name}.f32"], to=TensorProto.FLOAT))
        value.type.tensor_type.elem_type = TensorProto.FLOAT16
    for value in graph.output:
        for node in graph.node:
            node.output[:] = [f"{value.name}.f32" if n == value.name else n for n in node.output]
        graph.node.append(helper.make_node("Cast", [f"{value.name}.f32"], [value.name], to=TensorProto.FLOAT16))
        value.type.tensor_type.elem_type = TensorProto.FLOAT16
    for cast in reversed(casts):
        graph.node.insert(0, cast)
    onnx.save(model, str(path))


def test_an_export_converted_to_float16_runs(tiny_model_dir, tmp_path):
    """It failed every photo with "Unexpected input data type. Actual: (tensor(float)), expected: (tensor(float16))"."""
    onnx_dir = export_onnx(tiny_model_dir, tmp_path / "onnx")
    img = np.random.default_rng(0).integers(0, 255, (50, 60, 3), dtype=np.uint8)
    prompts = ["segment crack", "segment taping area"]
    want = Segmenter.load(onnx_dir, runtime="onnx", tta=True).predict(img, prompts).probabilities
    for graph in ("encoder.onnx", "decoder.onnx"):
        to_float16_io(onnx_dir / graph)
    got = Segmenter.load(onnx_dir, runtime="onnx", tta=True).predict(img, prompts).probabilities
    for p in prompts:
        assert got[p].dtype == np.float32 and np.abs(got[p] - want[p]).max() < 5e-3


def fix_shapes(folder, batch=None, size=None):
    """The graphs of the export ``folder`` with their batch axis fixed at ``batch`` and their photos at ``size`` px
    (as ``onnxruntime.tools.make_dynamic_shape_fixed`` or ``onnxsim --overwrite-input-shape`` write them)."""
    for graph in ("encoder.onnx", "decoder.onnx"):
        model = onnx.load(str(folder / graph))
        for value in [*model.graph.input, *model.graph.output]:
            stride = int(value.name[len("lateral_"):]) if value.name.startswith("lateral_") else \
                1 if value.name in ("pixel_values", "logits") else None  # text_embeddings: no spatial axes
            for axis, dim in enumerate(value.type.tensor_type.shape.dim):
                if axis == 0 and batch:
                    dim.dim_value = batch
                if axis >= 2 and size and stride:
                    dim.dim_value = size // stride
        onnx.save(model, str(folder / graph))


def test_an_export_of_fixed_shapes_runs_where_they_fit_and_is_refused_on_load_where_not(tiny_model_dir, tmp_path):
    """A batch fixed at 1 failed every photo asked two prompts (or with tta): "Got invalid dimensions for input:
    text_embeddings ... Got: 2 Expected: 1"; a size fixed at another than the scales failed every photo likewise."""
    import shutil

    from typer.testing import CliRunner

    from conftest import says, write_photos
    from drywallqa.cli import app

    dynamic = export_onnx(tiny_model_dir, tmp_path / "onnx")
    img = np.random.default_rng(0).integers(0, 255, (50, 60, 3), dtype=np.uint8)
    prompts = ["segment crack", "segment taping area"]
    want = Segmenter.load(dynamic, runtime="onnx", tta=True).predict(img, prompts).probabilities
    fixed = shutil.copytree(dynamic, tmp_path / "fixed")
    fix_shapes(fixed, batch=1, size=64)  # the model's own size: it runs, each prompt and view on its own
    got = Segmenter.load(fixed, runtime="onnx", tta=True).predict(img, prompts).probabilities
    for p in prompts:
        np.testing.assert_allclose(got[p], want[p], atol=1e-5)
    with pytest.raises(ValueError, match=r"its graphs take photos of 64x64 px only .* scales asked are \[64, 96\]"):
        Segmenter.load(fixed, runtime="onnx", scales=(64, 96))
    fix_shapes(fixed, size=96)
    res = CliRunner().invoke(app, ["predict", str(write_photos(tmp_path / "photos", 1)), "-p", "segment crack", "--out",
                                   str(tmp_path / "masks"), "--runtime", "onnx", "--model-path", str(fixed)])
    assert res.exit_code == 2 and says(res.output, "--model-path", "take photos of 96x96 px only"), res.output
    fix_shapes(fixed, batch=2)
    with pytest.raises(ValueError, match="not a loadable ONNX export .*encoder.onnx takes pixel_values in batches of 2"):
        Segmenter.load(fixed, runtime="onnx")
