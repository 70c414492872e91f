"""A second look at the day's changes (each test failed before its fix)."""

from pathlib import Path

from drywallqa.engine.config import TrainConfig


def test_pack_into_the_current_folder_is_written_there(write_train_config, tiny_kwargs, tmp_path, load_script,
                                                       monkeypatch):
    """``--out .`` (an empty folder made for the pack, or an earlier pack's, as the working one): the pack was encoded,
    then its rename into place failed ("PosixPath('.') has an empty name"), every photo encoded for nothing."""
    pack = load_script("pack_training_images").pack
    cfg = TrainConfig.from_yaml(write_train_config("film_unet", tiny_kwargs))
    here = tmp_path / "pack"
    here.mkdir()
    monkeypatch.chdir(here)
    result = pack(cfg, Path("."), size=48, quality=80)
    assert result["images"] > 0 and sorted(p.name for p in here.iterdir()) == ["chunk0"]
    monkeypatch.chdir(here)  # (the working folder was the one replaced)
    pack(cfg, Path("."), size=40, quality=80)  # again: the earlier pack there replaced
    assert sorted(p.name for p in here.iterdir()) == ["chunk0"]


def test_an_onnx_segmenter_whose_export_was_removed_is_refused_as_such_when_pickled(tiny_model_dir, tmp_path):
    """Its export folder removed since it loaded (a temporary export, cleaned up): pickling it said the graph "was
    changed since it was loaded"."""
    import pickle
    import shutil

    import pytest

    from drywallqa import Segmenter
    from drywallqa.export.onnx import export_onnx

    out = export_onnx(tiny_model_dir, tmp_path / "onnx")
    seg = Segmenter.load(out, runtime="onnx")
    shutil.rmtree(out)
    with pytest.raises(pickle.PicklingError, match=r"encoder\.onnx was removed since it was loaded"):
        pickle.dumps(seg)
