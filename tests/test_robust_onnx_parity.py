"""The onnx runtime against the torch model it was exported from: threads, and what an export carries."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from drywallqa import Segmenter
from drywallqa.export.onnx import export_onnx


@pytest.fixture
def torch_threads():
    """torch's thread count as it was before the test, whatever the test sets."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _session_threads(segmenter) -> list[int]:
    """The threads of the sessions the onnx runtime runs now."""
    model = segmenter.model
    now = model._sessions_now() if hasattr(model, "_sessions_now") else (model.encoder, model.decoder)
    return [s.get_session_options().intra_op_num_threads for s in now]


def test_the_onnx_runtime_follows_torch_threads_set_after_loading(tiny_model_dir, tmp_path, torch_threads, caplog):
    """measure_speed (evaluate's speed section) sets torch's threads after the segmenter is loaded: its report said
    "threads: 2" while onnxruntime ran on the count at load (all the cores under `evaluate --runtime onnx`)."""
    from PIL import Image

    from drywallqa.engine.speed import measure_speed

    onnx_dir = export_onnx(tiny_model_dir, tmp_path / "onnx")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(tmp_path / "w.jpg")
    torch.set_num_threads(1)
    seg = Segmenter.load(onnx_dir, runtime="onnx")
    assert _session_threads(seg) == [1, 1]
    want = seg.predict(tmp_path / "w.jpg", ["segment crack"]).probabilities["segment crack"]
    report = measure_speed(seg, [tmp_path / "w.jpg"], ["segment crack"], threads=2, repeats=1)
    assert report["threads"] == 2 and sorted(seg.model.sessions_by_threads) == [1, 2]  # timed on sessions of 2 threads
    assert [s.get_session_options().intra_op_num_threads for s in seg.model.sessions_by_threads[2]] == [2, 2]
    assert torch.get_num_threads() == 1 and _session_threads(seg) == [1, 1]  # measure_speed gave the count back
    torch.set_num_threads(2)
    assert _session_threads(seg) == [2, 2]
    np.testing.assert_allclose(seg.predict(tmp_path / "w.jpg", ["segment crack"]).probabilities["segment crack"], want,
                               atol=1e-6)
    torch.set_num_threads(1)  # back to the count at load: its sessions
    assert _session_threads(seg) == [1, 1] and len(seg.model.sessions_by_threads) == 2
    # graphs replaced since they were loaded are not read in their place (their checks were of those loaded)
    (onnx_dir / "decoder.onnx").write_bytes((onnx_dir / "decoder.onnx").read_bytes())
    torch.set_num_threads(3)
    with caplog.at_level("WARNING", logger="drywallqa.export.onnx_runtime"):
        seg.predict(tmp_path / "w.jpg", ["segment crack"])
        seg.predict(tmp_path / "w.jpg", ["segment crack"])
    assert _session_threads(seg) == [1, 1]  # the sessions loaded
    assert [r.getMessage() for r in caplog.records] == [
        f"{onnx_dir}: its graphs were changed since they were loaded; the ones loaded run, on their threads, not on "
        "torch's 3 (load it again to run the new ones)"]


def test_an_export_carries_the_list_of_files_its_model_trained_on(tiny_model_dir, tmp_path):
    """The export left out the model's train_files.json: `evaluate --runtime onnx --model-path EXPORT` wrote no seen
    and unseen rows (report.md's "Seen and unseen source photos"), and every record's source_in_training null, where
    the torch folder's report had them."""
    import json

    from drywallqa.engine.evaluator import trained_sources

    (tiny_model_dir / "train_files.json").write_text(json.dumps({"train": [[], ["x/tape/train/t0_jpg.rf.99.jpg"]]}))
    onnx_dir = export_onnx(tiny_model_dir, tmp_path / "onnx")
    assert trained_sources(onnx_dir) == trained_sources(tiny_model_dir) == {"t0_jpg"}
    export_onnx(tiny_model_dir, onnx_dir)  # an earlier export holding it is replaced as one (a file an export writes)


def test_a_model_folder_written_over_while_it_is_exported_is_not_exported_half_and_half(tiny_model_dir, tmp_path,
                                                                                        monkeypatch):
    """The graphs were traced from the weights read first and config.json (thresholds), the gate and the calibration
    copied after: a training run writing best/ meanwhile gave an export of the old weights with the new settings."""
    import json

    from typer.testing import CliRunner

    import drywallqa.export.onnx as onnx_module
    from drywallqa.cli import app
    from drywallqa.models.base import PromptedSegmentationModel

    class Meanwhile:  # the weights are read, then the folder's settings are written over (a newer best/)
        @staticmethod
        def from_pretrained(path):
            model = PromptedSegmentationModel.from_pretrained(path)
            meta = json.loads((tiny_model_dir / "config.json").read_text())
            (tiny_model_dir / "config.json").write_text(json.dumps({**meta, "threshold": 0.9}))
            return model

    monkeypatch.setattr(onnx_module, "PromptedSegmentationModel", Meanwhile)
    with pytest.raises(ValueError, match="was written over while it was exported"):
        export_onnx(tiny_model_dir, tmp_path / "onnx")
    assert not (tmp_path / "onnx").exists()
    res = CliRunner().invoke(app, ["export", "onnx", "--out", str(tmp_path / "o"), "--model-path", str(tiny_model_dir)])
    said = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and "--model-path" in said and "export it again once it is written" in said, said
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny_model"]  # nothing left beside it
