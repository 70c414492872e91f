"""Small things: a --model-path the file system refuses as too long said in the project's words, without the
whole path."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from drywallqa.cli import app

from conftest import says

LONG_NAME = "/tmp/" + "a" * 300  # a folder name over the 255 bytes most file systems allow
DEEP = "/tmp/" + "/".join(["b" * 200] * 25)  # a path over the 4096 bytes Linux allows


def _run(args):
    result = CliRunner().invoke(app, args, terminal_width=300)
    assert not (result.exception and not isinstance(result.exception, SystemExit)), repr(result.exception)
    return result


@pytest.mark.parametrize("model_path", [LONG_NAME, DEEP])
@pytest.mark.parametrize("command", [["predict", "a.jpg", "-p", "segment crack", "-o", "out"],
                                     ["predict", "a.jpg", "-p", "segment crack", "-o", "out", "--runtime", "onnx"],
                                     ["evaluate", "--out", "ev"], ["serve"]])
def test_a_model_path_too_long_for_the_file_system_is_said_so_shortly(tmp_path, monkeypatch, command, model_path):
    # was "Invalid value for --model-path / --model / --pipeline: [Errno 36] File name too long: '<the whole path>'"
    # (predict, serve), an OSError traceback (evaluate, from reading its train_files.json)
    monkeypatch.chdir(tmp_path)
    result = _run([*command, "--model-path", model_path])
    assert result.exit_code == 2, result.output
    assert says(result.output, "Invalid value for --model-path", "no model folder /tmp/",
                "bytes): the name is longer than the file system allows"), result.output
    assert "Errno" not in result.output and "a" * 100 not in result.output and "b" * 100 not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_bare_model_name_too_long_is_said_shortly_with_the_shipped_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _run(["predict", "a.jpg", "-p", "segment crack", "-o", "out", "--model-path", "c" * 300])
    assert result.exit_code == 2, result.output
    assert says(result.output, "(300 bytes) here (the name is longer than the file system allows), and no shipped "
                "model of that name; shipped models: fast"), result.output
    assert "c" * 100 not in result.output


@pytest.mark.parametrize("model_path", [LONG_NAME, DEEP, Path(DEEP)])
def test_loading_a_model_path_too_long_from_python_is_a_file_not_found_error(model_path):
    from drywallqa.engine.segmenter import Segmenter
    from drywallqa.models.base import PromptedSegmentationModel

    for load in (Segmenter.load, PromptedSegmentationModel.from_pretrained):
        with pytest.raises(FileNotFoundError, match="the name is longer than the file system allows") as caught:
            load(model_path)
        assert len(str(caught.value)) < 200, str(caught.value)


@pytest.mark.parametrize("splits_dir", [LONG_NAME, DEEP])
def test_a_splits_dir_too_long_is_not_told_to_write_it_there(tmp_path, monkeypatch, tiny_model_dir, splits_dir):
    # the reason was right, then "run `drywallqa data split -d cracks --out <that same path>` first", which the file
    # system refuses as well; and the path was said whole, twice
    from drywallqa.data.grouping import check_split_manifest

    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as caught:
        check_split_manifest("cracks", splits_dir)
    said = str(caught.value)
    assert "no split manifest (cannot be looked at (File name too long))" in said, said
    assert "data split" not in said and "give a --splits-dir (a training config's data.splits_dir) whose name the " \
        "file system allows" in said and len(said) < 300, said
    result = _run(["evaluate", "--model-path", str(tiny_model_dir), "--splits", "val", "--splits-dir", splits_dir,
                   "--out", "ev"])
    assert result.exit_code == 2, result.output
    assert says(result.output, "give a --splits-dir") and not says(result.output, "data split"), result.output


def test_a_splits_dir_that_can_be_written_is_still_told_how_to_write_it(tmp_path):
    from drywallqa.data.grouping import check_split_manifest

    with pytest.raises(FileNotFoundError, match=r"run `drywallqa data split -d cracks --out .*` first"):
        check_split_manifest("cracks", tmp_path / "splits")


def _low_confidence(monkeypatch, value=0.17):
    """Every mask's confidence ``value`` (a tiled taping mask reads ~0.17), whatever the tiny model's statistic."""
    from drywallqa.engine.torch_runtime import TorchSegmenter

    monkeypatch.setattr(TorchSegmenter, "_confidence", lambda self, *a, **k: value)


def _photos(folder):
    from PIL import Image

    Image.new("RGB", (96, 64), (150, 150, 150)).save(folder / "big.png")  # tiled by --tile 64
    Image.new("RGB", (48, 40), (120, 120, 120)).save(folder / "small.png")  # whole: no side over 64


def test_the_review_line_says_once_that_tiled_photos_read_low(tmp_path, monkeypatch, tiny_model_dir):
    # with --tile nearly every tiled mask was listed for review (0.17 for an IoU of 0.43), said as if each were doubtful
    monkeypatch.chdir(tmp_path)
    _low_confidence(monkeypatch)
    _photos(tmp_path)
    result = _run(["predict", "big.png", "small.png", "-p", "segment crack", "-p", "segment taping area",
                   "--model-path", str(tiny_model_dir), "--tile", "64", "-o", "out"])
    assert result.exit_code == 0, result.output
    line = next(s for s in result.output.splitlines() if s.startswith("least confident masks"))
    assert "big.png 'segment crack' 0.17" in line, line  # the values as they are
    assert line.count("tiled photos' confidences read low: the calibration is of whole photos, docs/confidence.md") == 1
    page = Path("out/report.html").read_text()
    assert page.count("Tiled photos&#x27; confidences read low: the calibration is of whole photos, "
                      "docs/confidence.md") == 1, page


def test_the_review_line_says_nothing_of_tiles_where_none_listed_was_tiled(tmp_path, monkeypatch, tiny_model_dir):
    monkeypatch.chdir(tmp_path)
    _low_confidence(monkeypatch)
    _photos(tmp_path)
    for tile, out in (([], "whole"), (["--tile", "64"], "tiled")):
        photos = ["big.png", "small.png"] if not tile else ["small.png"]  # --tile 64: small.png is seen whole
        result = _run(["predict", *photos, "-p", "segment crack", "--model-path", str(tiny_model_dir), *tile, "-o", out])
        assert result.exit_code == 0, result.output
        line = next(s for s in result.output.splitlines() if s.startswith("least confident masks"))
        assert "0.17" in line and "tiled" not in line and "docs/confidence.md" not in line, line
        assert "docs/confidence.md" not in Path(out, "report.html").read_text()


@pytest.fixture
def tiling_server(tiny_model_dir, monkeypatch):
    """The tiny model served tiling photos wider or taller than 32 px, every mask's confidence 0.17."""
    from drywallqa.engine.segmenter import Segmenter
    from drywallqa.serve import ServeConfig, create_app
    from test_browser import serving

    _low_confidence(monkeypatch)
    yield from serving(create_app(ServeConfig(), Segmenter.load(tiny_model_dir, tile=32)))


def test_the_web_page_says_once_that_a_tiled_photo_reads_low(tiling_server, tmp_path):
    # "review" beside every mask of a tiled photo, said as if each were doubtful
    from PIL import Image
    from test_browser import _need_browser, run_page_script

    _need_browser()
    Image.new("RGB", (64, 48), (150, 150, 150)).save(tmp_path / "tiled.png")
    Image.new("RGB", (30, 24), (120, 120, 120)).save(tmp_path / "whole.png")
    out = run_page_script("tiled_note.mjs", tiling_server, tmp_path, timeout=240)
    assert out["consoleErrors"] == [], out
    said = "tiled photos' confidences read low: the calibration is of whole photos (docs/confidence.md)"
    whole, tiled = out["whole.png"], out["tiled.png"]
    assert all(c.startswith("0.17 \u00b7 review") for c in whole["confidence"] + tiled["confidence"]), out  # unchanged
    assert not any("tiled" in w for w in whole["warnings"]), whole
    assert [w for w in tiled["warnings"] if said in w] == [f"Predicted in 6 tiles; {said}"], tiled
    assert out["list"] == [["whole.png", "done"], ["tiled.png", "done"]], out
    assert said not in out["lines"][0] and out["lines"][1].count(said) == 1, out["lines"]
