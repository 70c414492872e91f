"""Where an ONNX export may go and what its cache is keyed on (found by an adversarial pass): an earlier export
holding the source model, the package version, a model folder changed while it is exported, huge ship scales."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from drywallqa import Segmenter
from drywallqa.cli import app
from drywallqa.export.onnx import export_onnx

from conftest import TINY_MODEL


def test_export_refuses_an_earlier_export_that_holds_the_source_model(tiny_model_dir, tmp_path):
    out = export_onnx(tiny_model_dir, tmp_path / "onnx")
    inner = out / "my_model"
    shutil.copytree(tiny_model_dir, inner)
    res = CliRunner().invoke(app, ["export", "onnx", "--out", str(out), "--model-path", str(inner)])
    assert res.exit_code == 2 and "holds the source folder" in " ".join(res.output.replace("│", " ").split()), res.output
    assert (inner / "model.safetensors").is_file()  # the model was deleted with the export it lay in


def test_the_cached_export_is_keyed_on_the_package_version(tiny_model_dir, tmp_path, monkeypatch):
    import drywallqa
    from drywallqa.export.onnx_cache import exported_onnx_dir

    first = exported_onnx_dir(tiny_model_dir, tmp_path / "cache")
    monkeypatch.setattr(drywallqa, "__version__", "99.0")  # graphs traced by another version's code
    assert exported_onnx_dir(tiny_model_dir, tmp_path / "cache") != first


def test_a_model_changed_while_it_is_exported_leaves_no_wrong_cached_export(tiny_model_dir, tmp_path, monkeypatch):
    import torch

    import drywallqa.export.onnx_cache as onnx_cache
    from drywallqa.models import create_model

    monkeypatch.setenv("DRYWALLQA_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(1)
    other = create_model("film_unet", **TINY_MODEL).save_pretrained(tmp_path / "other", extra={"threshold": 0.5})
    original = (tiny_model_dir / "model.safetensors").read_bytes()
    img = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    want = Segmenter.load(tiny_model_dir).predict(img, ["segment crack"]).probabilities["segment crack"]
    real = onnx_cache._write_onnx

    def meanwhile(model_dir, out, opset=17, **kwargs):  # a training run writes new weights into the folder during the export
        shutil.copy(other / "model.safetensors", tiny_model_dir / "model.safetensors")
        return real(model_dir, out, opset, **kwargs)

    monkeypatch.setattr(onnx_cache, "_write_onnx", meanwhile)
    Segmenter.load(tiny_model_dir, runtime="onnx")
    monkeypatch.setattr(onnx_cache, "_write_onnx", real)
    (tiny_model_dir / "model.safetensors").write_bytes(original)  # the original weights again: their cached export
    got = Segmenter.load(tiny_model_dir, runtime="onnx").predict(img, ["segment crack"]).probabilities["segment crack"]
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_ship_refuses_huge_scales():
    from drywallqa.engine.shipping import parse_scales

    assert parse_scales("2048") == (2048,)
    for bad in ("65536", "384,100000"):
        with pytest.raises(ValueError, match="at most"):
            parse_scales(bad)


@pytest.mark.parametrize("damage", ["missing", "cut"])
def test_calibrate_confidence_names_the_model_folder_for_damaged_weights(tiny_model_dir, tmp_path, damage):
    folder = tmp_path / "m"
    shutil.copytree(tiny_model_dir, folder)
    weights = folder / "model.safetensors"
    if damage == "missing":
        weights.unlink()
    else:
        weights.write_bytes(weights.read_bytes()[:100])
    res = CliRunner().invoke(app, ["calibrate-confidence", "--model-path", str(folder), "-d", "cracks"])
    out = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and "Invalid value for --model-path" in out and "Traceback" not in out, out


def test_the_export_cache_sheds_exports_long_unused_but_keeps_the_recent_ones(tiny_model_dir, tmp_path):
    import os
    import time

    from drywallqa.export.onnx_cache import CACHE_KEEP, exported_onnx_dir

    root = tmp_path / "cache" / "onnx"
    root.mkdir(parents=True)
    day = 86400
    old = [f"{k:016x}" for k in range(6)]  # exports (named by hash) unused for 40, 41, ... days
    ages = {name: (40 + k) * day for k, name in enumerate(old)} | {"ab" * 8: 2 * day, "mine": 400 * day}
    for name, age in ages.items():
        (root / name).mkdir()
        (root / name / "encoder.onnx").write_bytes(b"x")
        os.utime(root / name, (time.time() - age, time.time() - age))
    made = exported_onnx_dir(tiny_model_dir, tmp_path / "cache")  # a new export prunes the cache
    left = sorted(p.name for p in root.iterdir() if p.is_dir())
    # the new export, the recent one and the most recently used old ones, CACHE_KEEP in all; a folder that is no
    # export (its name no hash) is someone else's
    assert left == sorted([made.name, "ab" * 8, *old[:CACHE_KEEP - 2], "mine"]), left
    os.utime(made, (time.time() - 90 * day, time.time() - 90 * day))
    assert exported_onnx_dir(tiny_model_dir, tmp_path / "cache") == made  # reused: marked used now
    assert time.time() - made.stat().st_mtime < 60


def test_an_export_that_cannot_be_marked_used_is_still_used(tiny_model_dir, tmp_path, monkeypatch):
    from drywallqa.export import onnx_cache

    made = onnx_cache.exported_onnx_dir(tiny_model_dir, tmp_path / "cache")
    stamp = (made / "encoder.onnx").stat().st_mtime_ns

    def read_only(path, *args, **kwargs):
        raise OSError(30, "Read-only file system", str(path))

    monkeypatch.setattr(onnx_cache.os, "utime", read_only)  # a read-only mount, or another user's export
    assert onnx_cache.exported_onnx_dir(tiny_model_dir, tmp_path / "cache") == made
    assert (made / "encoder.onnx").stat().st_mtime_ns == stamp  # not exported again


def test_an_export_cache_that_cannot_be_used_exports_for_the_run_with_a_warning(tiny_model_dir, tmp_path, monkeypatch,
                                                                                caplog):
    """DRYWALLQA_CACHE naming a file made `--runtime onnx` fail with "Invalid value for --model-path ...: Not a
    directory: '<file>/onnx'", blaming the model folder (the torch runtime warned and went on)."""
    from drywallqa.export import onnx_cache

    monkeypatch.setattr(onnx_cache, "_EXPORTS_FOR_THIS_RUN", {})  # another test's export for its run not found here
    (tmp_path / "cache").write_text("a file, not a folder")
    monkeypatch.setenv("DRYWALLQA_CACHE", str(tmp_path / "cache"))
    img = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    want = Segmenter.load(tiny_model_dir).predict(img, ["segment crack"]).probabilities["segment crack"]
    with caplog.at_level("WARNING"):
        seg = Segmenter.load(tiny_model_dir, runtime="onnx")
        Segmenter.load(tiny_model_dir, runtime="onnx")  # exported once in a process, however often it is loaded
    assert caplog.text.count("the ONNX export cache") == 1 and "DRYWALLQA_CACHE" in caplog.text
    np.testing.assert_allclose(seg.predict(img, ["segment crack"]).probabilities["segment crack"], want, atol=1e-5)
    res = CliRunner().invoke(app, ["predict", str(tmp_path / "none.jpg"), "-p", "segment crack", "--runtime", "onnx",
                                   "--out", str(tmp_path / "out"), "--model-path", str(tiny_model_dir)],
                             terminal_width=300)
    assert "--model-path" not in res.output, res.output


@pytest.mark.parametrize("lock", ["a folder", "a link loop"])
def test_an_export_cache_lock_that_cannot_be_opened_exports_for_the_run(tiny_model_dir, tmp_path, monkeypatch, caplog,
                                                                        lock):
    """The cache's .cache.lock a folder (or a link to itself) failed `--runtime onnx` with "Invalid value for
    --model-path ...: [Errno 21] Is a directory: '.../onnx/.cache.lock'", blaming the model folder."""
    from drywallqa.export import onnx_cache

    monkeypatch.setattr(onnx_cache, "_EXPORTS_FOR_THIS_RUN", {})  # another test's export for its run not found here
    monkeypatch.setenv("DRYWALLQA_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "cache" / "onnx" / onnx_cache.CACHE_LOCK
    path.parent.mkdir(parents=True)
    path.mkdir() if lock == "a folder" else path.symlink_to(path.name)
    with caplog.at_level("WARNING"):
        seg = Segmenter.load(tiny_model_dir, runtime="onnx")
    assert f"{path}: " in caplog.text and "for this run only" in caplog.text
    img = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    want = Segmenter.load(tiny_model_dir).predict(img, ["segment crack"]).probabilities["segment crack"]
    np.testing.assert_allclose(seg.predict(img, ["segment crack"]).probabilities["segment crack"], want, atol=1e-5)


def test_a_file_in_a_cached_exports_place_is_replaced_and_not_left_in_the_cache(tiny_model_dir, tmp_path):
    """A file where an export's folder goes was set aside as .<key>.damaged.<pid>.<thread> and left there for good."""
    from drywallqa.export import onnx_cache

    made = onnx_cache.exported_onnx_dir(tiny_model_dir, tmp_path / "cache")
    shutil.rmtree(made)
    made.write_text("not an export")
    assert onnx_cache.exported_onnx_dir(tiny_model_dir, tmp_path / "cache") == made
    assert (made / "encoder.onnx").is_file()
    assert sorted(p.name for p in made.parent.iterdir()) == sorted([made.name, onnx_cache.CACHE_LOCK])


def test_a_damaged_export_in_a_cache_that_cannot_change_is_exported_for_the_run(tiny_model_dir, tmp_path, monkeypatch,
                                                                                 caplog):
    """A review: a read-only cache holding a damaged export (a truncated graph) said "exporting it again", could not
    set it aside, found it again and failed, blamed on --model-path."""
    from drywallqa.export import onnx_cache

    monkeypatch.setattr(onnx_cache, "_EXPORTS_FOR_THIS_RUN", {})  # another test's export for its run not found here
    monkeypatch.setenv("DRYWALLQA_CACHE", str(tmp_path / "cache"))
    made = onnx_cache.exported_onnx_dir(tiny_model_dir)
    (made / "encoder.onnx").write_bytes((made / "encoder.onnx").read_bytes()[:1000])
    monkeypatch.setattr(onnx_cache.Path, "rename", lambda self, target: (_ for _ in ()).throw(OSError(30, "Read-only")))
    img = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    with caplog.at_level("WARNING"):
        seg = Segmenter.load(tiny_model_dir, runtime="onnx")
    assert "cannot be replaced" in caplog.text
    want = Segmenter.load(tiny_model_dir).predict(img, ["segment crack"]).probabilities["segment crack"]
    np.testing.assert_allclose(seg.predict(img, ["segment crack"]).probabilities["segment crack"], want, atol=1e-5)


@pytest.mark.parametrize("damage", ["missing", "cut"])
@pytest.mark.parametrize("cache", ["usable", "a file"])
def test_onnx_runtime_names_the_users_model_folder_for_damaged_weights(tiny_model_dir, tmp_path, monkeypatch, damage,
                                                                        cache):
    """The export is made from a copy of the folder in a temporary place; the error named that copy (gone by the time
    it was read), not the --model-path given."""
    folder = tmp_path / "m"
    shutil.copytree(tiny_model_dir, folder)
    weights = folder / "model.safetensors"
    weights.unlink() if damage == "missing" else weights.write_bytes(weights.read_bytes()[:100])
    if cache == "a file":
        (tmp_path / "cache").write_text("")
    monkeypatch.setenv("DRYWALLQA_CACHE", str(tmp_path / "cache"))
    with pytest.raises((ValueError, OSError)) as info:
        Segmenter.load(folder, runtime="onnx")
    assert str(info.value).startswith(f"{folder}: ") and ".source" not in str(info.value), info.value
    (tmp_path / "w.png").write_bytes(b"")
    res = CliRunner().invoke(app, ["predict", str(tmp_path / "w.png"), "-p", "segment crack", "--out", str(tmp_path / "o"),
                                   "--runtime", "onnx", "--model-path", str(folder)], terminal_width=400)
    said = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and "--model-path" in said and ".source" not in said and str(folder) in said, said


def test_export_refuses_a_mount_point_as_out_before_the_export(tiny_model_dir, tmp_path, monkeypatch):
    """An --out a volume is mounted on (docker run -v ...:/out) failed after the whole export: "cannot write /out:
    [Errno 16] Device or resource busy: '/out' -> '/.out.replaced'" (a mount point cannot be renamed aside)."""
    import os

    import drywallqa.export.onnx as onnx_module
    from conftest import says

    volume = tmp_path / "volume"
    volume.mkdir()
    real = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda p: Path(p) == volume or real(p))
    monkeypatch.setattr(onnx_module, "_write_onnx", lambda *a, **k: pytest.fail("exported before --out was checked"))
    res = CliRunner().invoke(app, ["export", "onnx", "--out", str(volume), "--model-path", str(tiny_model_dir)])
    assert res.exit_code == 2 and says(res.output, "--out", "is a mount point", "give a folder inside it"), res.output
    assert list(volume.iterdir()) == []


@pytest.mark.parametrize("cache", ["usable", "a file"])
def test_a_full_disk_while_the_onnx_runtime_exports_names_where(tiny_model_dir, tmp_path, monkeypatch, cache):
    """It said "error: cannot write: No space left on device; ... free some space" of no place: the export cache (or
    the temporary folder of an export for the run), not --out, is what filled up."""
    import errno

    import drywallqa.export.onnx_cache as onnx_cache
    from conftest import write_photos

    def full(model_dir, out, opset=17, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(onnx_cache, "_write_onnx", full)
    monkeypatch.setattr(onnx_cache, "_EXPORTS_FOR_THIS_RUN", {})
    if cache == "a file":
        (tmp_path / "cache").write_text("")
    monkeypatch.setenv("DRYWALLQA_CACHE", str(tmp_path / "cache"))
    res = CliRunner().invoke(app, ["predict", str(write_photos(tmp_path / "photos", 1)), "-p", "segment crack", "--out",
                                   str(tmp_path / "masks"), "--runtime", "onnx", "--model-path", str(tiny_model_dir)],
                             terminal_width=400)
    said = " ".join(res.output.split())
    where = str(tmp_path / "cache" / "onnx") if cache == "usable" else "drywallqa-onnx-"
    assert res.exit_code == 1 and "No space left on device (" in said and where in said, said


def test_export_into_the_current_folder(tiny_model_dir, tmp_path, monkeypatch):
    """'--out .' in an empty folder (mkdir onnx && cd onnx && drywallqa export onnx --out .) failed after the whole
    export with "Invalid value for --model-path: PosixPath('.') has an empty name", as ship's did before 0.6.20."""
    here = tmp_path / "onnx"
    here.mkdir()
    for _ in range(2):  # into the empty folder, then over the export there
        monkeypatch.chdir(here)  # the folder of that name now (the one the shell was in is replaced: "cd $PWD")
        res = CliRunner().invoke(app, ["export", "onnx", "--out", ".", "--model-path", str(tiny_model_dir)])
        assert res.exit_code == 0, res.output
        assert sorted(p.name for p in here.iterdir()) == ["config.json", "decoder.onnx", "encoder.onnx"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["onnx", "tiny_model"]  # nothing left beside it
    assert Segmenter.load(here, runtime="onnx").describe()["runtime"] == "onnx"


@pytest.mark.parametrize("folder", ["damaged config", "training run"])
def test_the_onnx_runtime_says_why_a_folder_is_no_model(tiny_model_dir, tmp_path, folder):
    """It said "neither an ONNX export (encoder.onnx) nor a drywallqa model folder" where the torch runtime named the
    cause: a config.json that is no JSON, or a training run's folder (its model is its best/)."""
    from conftest import says, write_photos

    if folder == "damaged config":
        model, why = shutil.copytree(tiny_model_dir, tmp_path / "m"), "its config.json is damaged, not JSON text"
        (model / "config.json").write_text('{"model_type": "film_unet", "config": {')
    else:
        model, why = tmp_path / "run", "a training run's model is its best/"
        shutil.copytree(tiny_model_dir, model / "best")
        (model / "config.yaml").write_text("model: {}\n")
    res = CliRunner().invoke(app, ["predict", str(write_photos(tmp_path / "photos", 1)), "-p", "segment crack", "--out",
                                   str(tmp_path / "masks"), "--runtime", "onnx", "--model-path", str(model)])
    assert res.exit_code == 2 and says(res.output, "--model-path", why, "nor an ONNX export"), res.output


def test_the_export_cache_sheds_the_half_made_exports_of_killed_runs(tiny_model_dir, tmp_path):
    """A run killed while it exported (a server stopped during its first start) left '.<hash>.<pid>-...' with a few
    tens of MB; only a later export of the same model removed it, so one of a model never used again stayed for good.
    One still being made (its lock held) is left alone."""
    from filelock import FileLock

    from drywallqa.export.onnx_cache import exported_onnx_dir

    root = tmp_path / "cache" / "onnx"
    root.mkdir(parents=True)
    killed, live = root / f".{'a' * 16}.123-x", root / f".{'b' * 16}.456-y"
    for half in (killed, live):
        half.mkdir()
        (half / "encoder.onnx").write_bytes(b"half")
        (half.parent / f"{half.name}.lock").touch()
    with FileLock(str(root / f"{live.name}.lock")):  # another process still exporting
        exported_onnx_dir(tiny_model_dir, tmp_path / "cache")
        assert not killed.exists() and not (root / f"{killed.name}.lock").exists()
        assert (live / "encoder.onnx").is_file()
