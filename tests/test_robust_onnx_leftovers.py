"""Leftovers of the ONNX runtime found by an adversarial pass (each test failed before its fix): calibrations made on
an export and a re-export, pickling an ONNX segmenter, ..."""

import json
import logging
import shutil

import numpy as np
import pytest
import torch

from drywallqa import Segmenter
from drywallqa.confidence import CONFIDENCE_FILE, ConfidenceModel
from drywallqa.export.onnx import export_onnx
from drywallqa.models import create_model

from conftest import TINY_MODEL

CALIBRATION = ConfidenceModel(features=["inside"], weights=[1.0], means=[0.5], scales=[0.2],
                              calibration={"*": [2.0, -0.5]}, selection={"fitted_on": "the export's maps"})


def _other_weights(model_dir, tmp_path):
    torch.manual_seed(7)
    other = create_model("film_unet", **TINY_MODEL).save_pretrained(tmp_path / "other_weights")
    shutil.copy(other / "model.safetensors", model_dir / "model.safetensors")


def test_a_re_export_of_the_same_model_keeps_the_calibrations_made_on_the_export(tiny_model_dir, tmp_path, caplog):
    out = export_onnx(tiny_model_dir, tmp_path / "onnx")
    CALIBRATION.save(out)  # calibrate-confidence --model-path out: fitted on onnxruntime's maps
    meta = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**meta, "threshold": 0.3}))  # a threshold chosen on the export
    written = (out / CONFIDENCE_FILE).read_bytes()
    with caplog.at_level(logging.WARNING, logger="drywallqa.export.onnx"):
        export_onnx(tiny_model_dir, out)  # again (a new drywallqa, graphs damaged): the same model
    assert (out / CONFIDENCE_FILE).read_bytes() == written  # it was gone: the uncalibrated confidence
    seg = Segmenter.load(out, runtime="onnx")
    assert seg.confidence_model == CALIBRATION and seg.threshold == 0.3
    assert "kept confidence.json, config.json's settings" in caplog.text


def test_a_re_export_of_another_model_names_the_calibrations_it_drops(tiny_model_dir, tmp_path, caplog):
    out = export_onnx(tiny_model_dir, tmp_path / "onnx")
    CALIBRATION.save(out)
    _other_weights(tiny_model_dir, tmp_path)  # trained on: the export's calibration is of the weights before
    with caplog.at_level(logging.WARNING, logger="drywallqa.export.onnx"):
        export_onnx(tiny_model_dir, out)
    assert not (out / CONFIDENCE_FILE).exists()
    assert "dropped confidence.json" in caplog.text and "calibrate-confidence" in caplog.text  # it went silently


def test_a_re_export_replaces_the_copy_of_the_model_folders_calibration(tiny_model_dir, tmp_path, caplog):
    """The model folder's own calibration, copied, is no calibration of the export's: a new one of the model's wins."""
    CALIBRATION.save(tiny_model_dir)
    out = export_onnx(tiny_model_dir, tmp_path / "onnx")
    newer = ConfidenceModel(**{**CALIBRATION.to_dict(), "calibration": {"*": [3.0, 0.0]}})
    newer.save(tiny_model_dir)
    with caplog.at_level(logging.WARNING, logger="drywallqa.export.onnx"):
        export_onnx(tiny_model_dir, out)
    assert ConfidenceModel.from_model_dir(out) == newer and "kept" not in caplog.text and "dropped" not in caplog.text


def _as_an_earlier_release_wrote_it(out):
    meta = json.loads((out / "config.json").read_text())
    meta.pop("exported_from", None)  # 0.6.23 recorded nothing of what it copied
    (out / "config.json").write_text(json.dumps(meta))


def test_a_re_export_over_an_export_of_an_earlier_release_takes_the_models_calibration_and_names_the_one_replaced(
        tiny_model_dir, tmp_path, caplog):
    """An export of 0.6.23 records not what it copied: its calibration kept where the graphs were the same kept a stale
    copy of the model's own (the model calibrated again since, same weights) and said it was made on the export."""
    CALIBRATION.save(tiny_model_dir)
    out = export_onnx(tiny_model_dir, tmp_path / "onnx")
    _as_an_earlier_release_wrote_it(out)
    newer = ConfidenceModel(**{**CALIBRATION.to_dict(), "calibration": {"*": [3.0, 0.0]}})
    newer.save(tiny_model_dir)  # the model calibrated again; its weights as they were
    with caplog.at_level(logging.WARNING, logger="drywallqa.export.onnx"):
        export_onnx(tiny_model_dir, out)
    assert ConfidenceModel.from_model_dir(out) == newer
    assert "replaced confidence.json by the model's" in caplog.text and "kept" not in caplog.text
    _as_an_earlier_release_wrote_it(out)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="drywallqa.export.onnx"):
        export_onnx(tiny_model_dir, out)  # the same as the model's: nothing to say
    assert ConfidenceModel.from_model_dir(out) == newer and "replaced" not in caplog.text


def _photo():
    return np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)


def test_an_onnx_segmenter_pickled_and_unpickled_predicts_the_same_masks_without_its_folder(tiny_model_dir, tmp_path):
    """It raised "cannot pickle '_thread.lock' object": no Ray actor, multiprocessing worker or deepcopy of one."""
    import copy
    import pickle

    out = export_onnx(tiny_model_dir, tmp_path / "onnx")
    seg = Segmenter.load(out, runtime="onnx")
    want = seg.predict(_photo(), ["segment crack"])
    data = pickle.dumps(seg)
    shutil.rmtree(out)  # sent to another machine: the folder is not there
    got = pickle.loads(data).predict(_photo(), ["segment crack"])
    np.testing.assert_array_equal(got.masks["segment crack"], want.masks["segment crack"])
    np.testing.assert_allclose(got.probabilities["segment crack"], want.probabilities["segment crack"], atol=1e-6)
    again = copy.deepcopy(pickle.loads(data))  # twice over, and on another thread count than it was loaded on
    threads = torch.get_num_threads()
    torch.set_num_threads(1 if threads != 1 else 2)
    try:
        got = again.predict(_photo(), ["segment crack"])
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_allclose(got.probabilities["segment crack"], want.probabilities["segment crack"], atol=1e-5)


def test_an_onnx_segmenter_whose_graphs_changed_since_it_loaded_is_not_pickled_with_the_new_ones(tiny_model_dir, tmp_path):
    import pickle

    out = export_onnx(tiny_model_dir, tmp_path / "onnx")
    seg = Segmenter.load(out, runtime="onnx")
    _other_weights(tiny_model_dir, tmp_path)
    export_onnx(tiny_model_dir, out)  # another model's graphs in its folder now
    with pytest.raises(pickle.PicklingError, match="changed since it was loaded"):
        pickle.dumps(seg)


def test_bfloat16_on_the_onnx_runtime_is_refused_before_the_model_is_exported(tiny_model_dir, tmp_path, monkeypatch):
    import drywallqa.export.onnx_cache as onnx_cache

    monkeypatch.setenv("DRYWALLQA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(onnx_cache, "_write_onnx", lambda *a, **k: pytest.fail("exported, to be refused after"))
    with pytest.raises(ValueError, match="precision 'bfloat16' runs the torch runtime only"):
        Segmenter.load(tiny_model_dir, runtime="onnx", precision="bfloat16")
    with pytest.raises(ValueError, match="precision must be one of float32, bfloat16, got 'float16'"):
        Segmenter.load(tiny_model_dir, runtime="onnx", precision="float16")


@pytest.mark.parametrize("runtime", ["onnx", "torch"])
def test_a_segmenter_unpickled_where_its_folder_is_not_names_its_weights_as_they_were(tiny_model_dir, tmp_path, caplog,
                                                                                       runtime):
    """Its weights' stamp (a batch job's and an evaluation's record) said "replaced since loaded", with a warning."""
    import pickle

    folder = export_onnx(tiny_model_dir, tmp_path / "onnx") if runtime == "onnx" else tiny_model_dir
    seg = Segmenter.load(folder, runtime=runtime)
    data = pickle.dumps(seg)
    want = seg.weights_stamp()
    shutil.rmtree(folder)  # sent to another machine
    with caplog.at_level(logging.WARNING):
        assert pickle.loads(data).weights_stamp() == want
    assert "replaced or written over" not in caplog.text


def test_an_onnx_segmenters_copy_and_another_load_of_the_export_decode_its_encodings(tiny_model_dir, tmp_path):
    """They were refused ("encoded by another segmenter"): the onnx runtime's encodings were keyed by the object's
    id, where a torch segmenter's are by its weights."""
    import pickle

    out = export_onnx(tiny_model_dir, tmp_path / "onnx")
    seg = Segmenter.load(out, runtime="onnx")
    encoded = seg.encode(_photo())
    want = seg.decode(encoded, ["segment crack"]).probabilities["segment crack"]
    for other in (pickle.loads(pickle.dumps(seg)), Segmenter.load(out, runtime="onnx")):
        np.testing.assert_allclose(other.decode(encoded, ["segment crack"]).probabilities["segment crack"], want,
                                   atol=1e-6)
    _other_weights(tiny_model_dir, tmp_path)
    another = Segmenter.load(export_onnx(tiny_model_dir, tmp_path / "another"), runtime="onnx")
    with pytest.raises(ValueError, match="encoded by another segmenter"):  # another model's graphs: still refused
        another.decode(encoded, ["segment crack"])


def test_an_onnx_segmenter_unpickled_makes_its_sessions_on_the_threads_it_runs_on_there(tiny_model_dir, tmp_path):
    """It made the sender's thread count's sessions, never used where torch's count differs, then its own."""
    import pickle

    seg = Segmenter.load(export_onnx(tiny_model_dir, tmp_path / "onnx"), runtime="onnx")
    threads = torch.get_num_threads()
    torch.set_num_threads(1 if threads != 1 else 2)  # a worker's
    try:
        copy = pickle.loads(pickle.dumps(seg))
        copy.predict(_photo(), ["segment crack"])
        assert list(copy.model.sessions_by_threads) == [torch.get_num_threads()]
    finally:
        torch.set_num_threads(threads)
