"""Review of the too-long path and kill-window changes (and zero-shot naming by folder): cases their tests left out."""

import json

import numpy as np
from PIL import Image

from drywallqa.engine.batch import names_root, prepare_out_dir
from drywallqa.utils.output_folders import ZEROSHOT_JOB
from drywallqa.zeroshot.pipeline import ZeroShotConfig, earlier_job, zeroshot_job


def _photo(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)
    return path


def _zeroshot_out(out, photos, root):
    """An --out holding a zero-shot job's results: its record and one anomaly map."""
    prepare_out_dir(out)
    job = zeroshot_job(ZeroShotConfig(), photos, ["crack"], None, root)
    (out / ZEROSHOT_JOB).write_text(json.dumps(job))
    _photo(out / "x__anomaly.png")


def test_zeroshot_other_photos_and_naming_is_not_said_to_be_resumed_by_the_other_naming(tmp_path):
    """A job by file stem of c/IMG_9.jpg in --out; a job by folder of a/ and b/ (other photos too): the refusal said
    only that the names differ, "run it without --names-from-folders to resume that job", which refused it again
    (other photos) -> the other photos named too, and no resuming said."""
    photos = tmp_path / "photos"
    for p in ("a/IMG_1.jpg", "b/IMG_1.jpg", "c/IMG_9.jpg"):
        _photo(photos / p)
    out = tmp_path / "out"
    _zeroshot_out(out, [photos / "c" / "IMG_9.jpg"], None)
    paths = [photos / "a", photos / "b"]
    conflict = earlier_job(paths, out, ZeroShotConfig(), ["crack"], None, names_root(paths, True))[1]
    assert "photos" in conflict and "to resume that job" not in conflict, conflict
    # the same photos named by the other rule: the naming is what differs (of a/IMG_1, b/IMG_1 by stem only a/ is one)
    _zeroshot_out(out, [photos / "a" / "IMG_1.jpg"], None)
    conflict = earlier_job(paths, out, ZeroShotConfig(), ["crack"], None, names_root(paths, True))[1]
    assert "without --names-from-folders to resume that job" in conflict, conflict
    _zeroshot_out(out, [photos / "a" / "IMG_1.jpg", photos / "b" / "IMG_1.jpg"], str(photos))
    conflict = earlier_job(paths, out, ZeroShotConfig(), ["crack"], None, None)[1]
    assert "with --names-from-folders to resume that job" in conflict, conflict


def test_export_onnx_out_name_too_long_for_its_siblings_is_a_usage_error(tiny_model_dir, tmp_path):
    """export onnx --out of a 250-byte name (a name fits 255): its lock beside it (.<name>.export.lock) did not, an
    OSError traceback (ENAMETOOLONG) -> a usage error naming --out and the limit, as ship's; from Python a ValueError."""
    import pytest
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.export.onnx import export_onnx

    out = tmp_path / ("x" * 250)
    res = CliRunner().invoke(app, ["export", "onnx", "--model-path", str(tiny_model_dir), "--out", str(out)])
    assert res.exit_code == 2 and "at most 200 bytes" in " ".join(res.output.split()), (res.output, res.exception)
    with pytest.raises(ValueError, match="at most 200 bytes"):
        export_onnx(tiny_model_dir, out)
    assert not out.exists()


def test_ship_source_left_aside_by_a_killed_ship_in_place_is_named(tiny_model_dir, tmp_path):
    """ship OUT --out OUT (re-shipped in place) killed between replace_dir's two renames: no OUT, the model whole in
    the hidden .OUT.replaced; the same ship again said only 'neither a drywallqa model folder nor a training run'
    (the model seemed gone, and this ship fails before it would put it back) -> the hidden folder named."""
    from typer.testing import CliRunner

    from drywallqa.cli import app

    out = tmp_path / "shipped"
    tiny_model_dir.rename(tmp_path / ".shipped.replaced")
    res = CliRunner().invoke(app, ["ship", str(out), "--out", str(out)], env={"COLUMNS": "1000"})
    text = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and f"the model is whole in {tmp_path / '.shipped.replaced'}" in text, res.output


def test_a_model_path_of_a_long_name_given_as_a_path_is_no_model_folder(tmp_path):
    """h288 made a bare long name "no shipped model of that name"; given as a path (absolute, or of a name that fits but
    whose hidden .<name>.replaced does not) Segmenter.load raised ENAMETOOLONG from Path.exists / replaced_hint: an
    OSError from Python, "Invalid value for --model-path / ...: [Errno 36] File name too long" from predict -> "no
    model folder" (FileNotFoundError; a usage error)."""
    import pytest
    from typer.testing import CliRunner

    from drywallqa import Segmenter
    from drywallqa.cli import app

    for name in ("x" * 300, "y" * 250):
        with pytest.raises(FileNotFoundError, match="no model folder"):
            Segmenter.load(str(tmp_path / name))
        res = CliRunner().invoke(app, ["predict", str(_photo(tmp_path / "a.jpg")), "-p", "segment crack",
                                       "--model-path", str(tmp_path / name), "-o", str(tmp_path / "out")])
        assert res.exit_code == 2 and "no model folder" in " ".join(res.output.split()), (res.output, res.exception)


def test_an_onnx_model_path_of_a_long_name_is_no_model_folder(tmp_path):
    """The same on the onnx runtime: Path.is_file of its encoder.onnx raised ENAMETOOLONG ("Invalid value for
    --model-path / --model / --pipeline: [Errno 36] File name too long") -> 'is not a drywallqa model folder: there is
    no such folder, nor an ONNX export'."""
    import pytest

    from drywallqa import Segmenter
    from drywallqa.export.onnx_runtime import OnnxSegmenter

    with pytest.raises(FileNotFoundError, match="longer than the file system allows"):  # said by Segmenter.load
        Segmenter.load(str(tmp_path / ("x" * 300)), runtime="onnx")
    with pytest.raises(FileNotFoundError, match="longer than the file system allows"):  # the runtime itself, given
        OnnxSegmenter.from_path(str(tmp_path / ("x" * 300)))  # it directly (h301: resolve_model_dir's, was "no such folder")


def test_a_link_set_aside_by_a_replace_killed_between_its_renames_is_put_back(tmp_path):
    """OUT a link to a model folder (replace_dir replaces the link, not what it leads to), a ship or export killed
    between the two renames: no OUT, the link in .OUT.replaced. restore_replaced left it (it put back folders only):
    the next ship took OUT for a new folder (no model to check the new one against, its MODEL_CARD.md not kept), and
    loading OUT said only 'no model folder' -> the link is put back, and named."""
    from drywallqa.utils.files import replaced_hint, restore_replaced

    target = tmp_path / "models" / "v1"
    target.mkdir(parents=True)
    (target / "MODEL_CARD.md").write_text("notes")
    out, aside = tmp_path / "shipped", tmp_path / ".shipped.replaced"
    aside.symlink_to(target)  # as the kill left it
    assert str(aside) in replaced_hint(out)
    assert restore_replaced(out) and out.is_symlink() and (out / "MODEL_CARD.md").read_text() == "notes"
    assert not aside.is_symlink() and not restore_replaced(out)


def test_zeroshot_more_photos_and_another_naming_is_not_said_to_be_resumed_by_the_other_naming(tmp_path):
    """A job by file stem of a/IMG_1.jpg; a job by folder of a/, b/ and c/ (c/IMG_9.jpg a photo the first job never
    had): refused as of the other naming alone, 'run it without --names-from-folders to resume that job', which
    refused it again (other photos) -> the other photos named too."""
    photos = tmp_path / "photos"
    for p in ("a/IMG_1.jpg", "b/IMG_1.jpg", "c/IMG_9.jpg"):
        _photo(photos / p)
    out = tmp_path / "out"
    _zeroshot_out(out, [photos / "a" / "IMG_1.jpg"], None)
    paths = [photos / "a", photos / "b", photos / "c"]
    conflict = earlier_job(paths, out, ZeroShotConfig(), ["crack"], None, names_root(paths, True))[1]
    assert "photos" in conflict and "to resume that job" not in conflict, conflict


def test_an_export_put_back_that_holds_other_files_is_a_usage_error_of_out(tiny_model_dir, tmp_path):
    """export onnx after one killed between its two renames: the earlier export (a TensorRT engine built beside its
    graphs) put back and refused, as it should be, but the CLI said it as 'Invalid value for --model-path' -> of
    --out, as the same folder is refused when it was never set aside."""
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.export.onnx import export_onnx

    out = tmp_path / "onnx"
    export_onnx(tiny_model_dir, out)
    (out / "model.engine").write_bytes(b"engine")
    out.rename(tmp_path / ".onnx.replaced")  # as the kill left it
    res = CliRunner().invoke(app, ["export", "onnx", "--model-path", str(tiny_model_dir), "--out", str(out)],
                             env={"COLUMNS": "1000"})
    text = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and "Invalid value for --out" in text and "model.engine" in text, res.output
    assert (out / "model.engine").is_file()
