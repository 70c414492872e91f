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
