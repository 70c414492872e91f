"""Code-quality leftovers of the last review (private helpers imported across modules, process-global log
silencing, one train_files.json read twice, the pack's mask reader, strict_json's text fallback)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "drywallqa"


def _private_imports(relative: str) -> list[str]:
    """The ``_private`` names that the module ``relative`` (under src/drywallqa) imports from another module."""
    tree = ast.parse((SRC / relative).read_text())
    return [f"{node.module}.{alias.name}" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
            for alias in node.names if alias.name.startswith("_") and not alias.name.startswith("__")]


@pytest.mark.parametrize("module", ["cli/training.py", "engine/shipping.py"])
def test_no_private_helper_is_imported_from_another_module(module):
    """cli/training imported engine.config's _init_from_model_type, engine/shipping the trainer's _name_in: a
    helper another module needs is public, where it belongs."""
    assert _private_imports(module) == []


def test_reading_the_val_parts_quietly_holds_back_no_other_threads_warnings(synthetic_datasets, syn_splits,
                                                                          tmp_path, monkeypatch, caplog):
    """val_photos_trained_on (ship, calibrate-confidence) held back what its reading of the val parts finds wrong
    with logging.disable, which is process-wide: while it read, every other thread's warnings were lost too (a
    server's in the same process). Its own reading's warnings are held back still; another thread's pass."""
    import json
    import logging
    import threading

    from drywallqa.data import grouping
    from drywallqa.engine import shipping

    read = shipping.samples_of_part

    def reading(*args, **kwargs):
        grouping.logger.warning("h239: the reading's own")  # as samples_of_part says a photo is missing
        other = threading.Thread(target=lambda: grouping.logger.warning("h239: another thread's"))
        other.start()
        other.join()
        return read(*args, **kwargs)

    monkeypatch.setattr(shipping, "samples_of_part", reading)
    model = tmp_path / "model"
    model.mkdir()
    (model / "train_files.json").write_text(json.dumps({"train": [["crack/train/nothing.png"]]}))
    with caplog.at_level(logging.WARNING):
        assert shipping.val_photos_trained_on(model, ["syn_crack"], syn_splits, synthetic_datasets) == {}
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("h239")]
    assert said == ["h239: another thread's"]
    grouping.logger.warning("h239: after")  # held back only while it read
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("h239")][-1] == "h239: after"


def test_one_reading_of_the_training_files_each_caller_says_what_it_said(synthetic_datasets, syn_splits, tmp_path,
                                                                        caplog):
    """evaluate's trained_sources and ship's val_photos_trained_on each flattened train_files.json's ``train`` their
    own way: one reading (run_folder.trained_files) now. A record that is not the trainer's: evaluate warns once and
    writes no memory rows; ship's count refuses it, naming it (h255: it counted nothing and said nothing)."""
    import json
    import logging

    from drywallqa.engine.evaluator import trained_sources
    from drywallqa.engine.run_folder import trained_files
    from drywallqa.engine.shipping import val_photos_trained_on

    model = tmp_path / "model"
    model.mkdir()
    assert trained_files(model) is None and trained_sources(model) is None and trained_sources(None) is None
    (model / "train_files.json").write_text(json.dumps({"train": [["crack/train/a.rf.1.jpg", 3], "tape/b.jpg"]}))
    assert trained_files(model) == ["crack/train/a.rf.1.jpg", 3, "tape/b.jpg"]
    assert trained_sources(model) == {"a", "3", "b"}
    for bad in ("[]", "{", json.dumps({"train": 5}), json.dumps({"train": None})):
        (model / "train_files.json").write_text(bad)
        with pytest.raises(ValueError, match="is not a list of training files"):
            trained_files(model)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            with pytest.raises(ValueError, match="is not a list of training files"):
                val_photos_trained_on(model, ["syn_crack"], syn_splits, synthetic_datasets)
            assert caplog.records == []
            assert trained_sources(model) is None
        assert [r.getMessage() for r in caplog.records] == [
            f"{model / 'train_files.json'} is not a list of training files ({kind}): it is the record its training run "
            "writes (the photos, dataset files and split manifests the model was trained with); copy it again from "
            "the run's folder (RUN/train_files.json), or remove it (the model then records no training files, as one "
            "of an earlier release); the report leaves out how the model scores on photos it trained on" for kind in [
                {"[]": "a JSON list, not an object", "{": "JSONDecodeError"}.get(
                    bad, "its train entry is not a list of lists of files")]]


@pytest.mark.parametrize("kind", ["GIF", "TGA"])
def test_a_mask_read_for_training_here_is_packed_too(kind, tmp_path, load_script, monkeypatch):
    """The pack read a mask with OpenCV (after a look at its header with PIL), training here with PIL
    (Sample.load_mask): a GIF mask (an OpenCV without its GIF reader: before 4.11, or built without it) or a TGA
    mask (OpenCV reads none) named _masks/<stem>.png trains here and was left out of the pack as "not a readable
    mask image", its photo with it. The packed mask is the label training here reads, at the packed size."""
    import cv2
    import numpy as np
    from PIL import Image

    from drywallqa.data.sample import Sample
    from drywallqa.utils.image_io import read_mask

    script = load_script("pack_training_images")
    imread = cv2.imread
    # as an OpenCV without a GIF reader reads one (this one may have it)
    monkeypatch.setattr(script.cv2, "imread", lambda path, *a: None if Path(path).read_bytes()[:3] == b"GIF"
                        else imread(path, *a))
    photo, mask_path = tmp_path / "a.jpg", tmp_path / "_masks" / "a.png"
    mask_path.parent.mkdir()
    Image.fromarray(np.full((32, 48, 3), 128, np.uint8)).save(photo)
    label = np.zeros((32, 48), np.uint8)
    label[8:20, 10:30] = 255
    Image.fromarray(label).convert("1").save(mask_path, format=kind)  # (a GIF of mode L once read back)
    want = read_mask(mask_path, ignore=True)
    assert want.sum() == 240
    sample = Sample(photo, "h239", "train", 32, 48, mask_path=mask_path)
    for size in (64, 24):  # as it is, and shrunk
        files = script._encoded(sample, tmp_path / "out" / "a.jpg", size, 80)
        assert [f[0] for f in files] == [tmp_path / "out" / "a.jpg", tmp_path / "out" / "_masks" / "a.png"]
        packed = tmp_path / f"packed_{size}.png"
        packed.write_bytes(files[1][1])
        got = read_mask(packed, ignore=True)
        expected = want if size >= 48 else np.asarray(Image.fromarray(want).resize(got.shape[::-1], Image.NEAREST))
        assert got.shape == expected.shape and (got == expected).all(), (size, int(got.sum()), int(expected.sum()))


def test_a_config_value_json_cannot_give_back_is_refused_at_save_naming_its_key(tiny_model_dir, tmp_path):
    """save_pretrained wrote a config value JSON cannot hold (a date, a set: a Python caller's, a plugin model's dict
    option) as its text, without a word: the folder loaded as another model, or as none ("this version cannot build
    the model"), far from the cause. It is refused before anything is written, its key path named; a path is
    written as its text, a numpy number as the number, NaN as null, as before."""
    import datetime
    import json

    import numpy as np

    from drywallqa.models.base import PromptedSegmentationModel
    from drywallqa.utils.formats import strict_json

    model = PromptedSegmentationModel.from_pretrained(tiny_model_dir)
    model.config.encoder_options = {"when": datetime.date(2024, 5, 1)}  # (past the options' own check)
    with pytest.raises(ValueError, match=r"config\.encoder_options\.when: date '2024-05-01' cannot be written as JSON"):
        model.save_pretrained(tmp_path / "dated")
    assert not (tmp_path / "dated").exists()  # nothing written: no weights without their config
    model.config.encoder_options = {}
    with pytest.raises(ValueError, match=r"val\.classes\[1\]: set"):
        model.save_pretrained(tmp_path / "set", extra={"val": {"classes": ["crack", {"tape"}]}})
    with pytest.raises(ValueError, match=r"val: the key \('a', 1\) \(tuple\)"):
        model.save_pretrained(tmp_path / "key", extra={"val": {("a", 1): 0.5}})
    saved = model.save_pretrained(tmp_path / "ok", extra={"source": tmp_path / "x", "val": {"mIoU": np.float32(0.5),
                                                                                          "AUROC": float("nan")}})
    written = json.loads((saved / "config.json").read_text())
    assert written["source"] == str(tmp_path / "x") and written["val"] == {"mIoU": 0.5, "AUROC": None}
    assert PromptedSegmentationModel.from_pretrained(saved).config == model.config
    # a report (read, not built from) still gets a value's text rather than nothing
    assert json.loads(strict_json({"when": datetime.date(2024, 5, 1)})) == {"when": "2024-05-01"}
