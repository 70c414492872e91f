"""Adversarial inputs: what a person or a program sends that got a wrong answer, a traceback or a loss."""

import os

import numpy as np
import pytest
from PIL import Image

from drywallqa.utils.image_io import find_images


def test_a_folder_read_through_a_link_first_is_not_called_a_link_loop(tmp_path):
    """photos/a and photos/b link to photos/c, a real folder: a was walked first (by name) and c was then listed as
    "a link back to a folder already read (link loop)": a real folder named a link, and a loop where there is none;
    b the same. Each is said for what it is, naming the path its photos were read by; a real loop still as a loop."""
    photos = tmp_path / "photos"
    (photos / "c").mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(photos / "c" / "p.jpg")
    os.symlink(photos / "c", photos / "a")
    os.symlink(photos / "c", photos / "b")
    os.symlink(photos, photos / "c" / "up")  # a loop
    listing = find_images([photos])
    assert listing.images == [photos / "a" / "p.jpg"]
    why = {os.path.relpath(p, photos): reason for p, reason in listing.skipped}
    assert set(why) == {"b", "c", "a/up"}
    assert "loop" not in why["c"] and "a link back" not in why["c"] and str(photos / "a") in why["c"]
    assert "loop" not in why["b"] and why["b"].startswith("a link to a folder already read") and str(photos / "a") in why["b"]
    assert "link loop" in why["a/up"]


def test_a_tiff_whose_first_page_is_a_preview_is_not_read_as_the_photo(tmp_path):
    """A TIFF whose first page is marked a reduced-resolution copy (NewSubfileType 1: a DNG's preview, the photo in a
    sub-page Pillow does not read) was segmented as the photo, without a word: masks and measures of the preview
    (64x48 here, of a 640x480 photo). Refused, saying so, from a file and an upload; a multi-page TIFF is read."""
    from fastapi import HTTPException

    from drywallqa.serve.app import read_upload
    from drywallqa.utils.image_io import ImageReadError, read_image

    tifffile = pytest.importorskip("tifffile")  # (scikit-image's dependency, here)
    full = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    with tifffile.TiffWriter(tmp_path / "raw.dng") as tif:
        tif.write(full[::10, ::10].copy(), photometric="rgb", subfiletype=1, subifds=1)
        tif.write(full, photometric="rgb")
    with pytest.raises(ImageReadError, match="first page is a reduced-resolution copy"):
        read_image(tmp_path / "raw.dng")
    with pytest.raises(HTTPException) as refused:
        read_upload((tmp_path / "raw.dng").read_bytes())
    assert refused.value.status_code == 400 and "reduced-resolution" in refused.value.detail
    with tifffile.TiffWriter(tmp_path / "pages.tif") as tif:  # the photo first, then a page of another kind
        tif.write(full, photometric="rgb")
        tif.write(full[::10, ::10].copy(), photometric="rgb", subfiletype=1)
    assert read_image(tmp_path / "pages.tif").shape == (480, 640, 3)


@pytest.mark.parametrize("args, said", [
    (["--mm-per-pixel", ""], "No such option: --mm-per-pixel"), (["--mm-per-pixel="], "No such option: --mm-per-pixel"),
    (["--out", ""], "--out: must not be empty"), (["-p", "-x", ""], "an argument: must not be empty")])
def test_an_empty_value_of_an_option_no_command_has_is_named_as_no_such_option(tmp_path, monkeypatch, args, said):
    """``--mm-per-pixel "$SCALE"`` with SCALE unset said "Invalid value for --mm-per-pixel: must not be empty", sending
    the user to set the value of an option there is none of (click's own word, "No such option", with the options
    of a name near it, came only once it was set). An empty value after another option's value (``-p -x ""``) is still
    refused, as an argument: it was read as a path, the current folder."""
    from typer.testing import CliRunner

    from drywallqa.cli import app

    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["predict", "x.jpg", "-p", "segment crack", "-o", "out", *args], terminal_width=300)
    assert res.exit_code == 2 and said in " ".join(res.output.replace("│", " ").split()), res.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["PNG", "TIFF", "TGA", "WEBP"])
def test_a_photo_file_whose_alpha_was_never_set_is_read_by_its_colours_as_its_array_is(tmp_path, fmt):
    """An RGBA file whose alpha is 0 everywhere (a 32-bit TGA or a GL screenshot that never set it) was composited on
    white, whole: the model saw a blank white photo and answered empty masks, where the same pixels as an array are
    read by their colours (an unset channel). Read as the array is; a partly transparent file still on white."""
    from drywallqa.utils.image_io import read_image, to_rgb_array

    rgba = np.zeros((10, 12, 4), np.uint8)
    rgba[..., :3] = np.random.default_rng(0).integers(0, 255, (10, 12, 3))
    path = tmp_path / f"a.{fmt.lower()}"
    Image.fromarray(rgba, "RGBA").save(path, fmt, **({"lossless": True, "exact": True} if fmt == "WEBP" else {}))
    assert Image.open(path).mode == "RGBA"
    assert np.array_equal(read_image(path), to_rgb_array(rgba)) and np.array_equal(read_image(path), rgba[..., :3])
    assert np.array_equal(to_rgb_array(Image.open(path)), rgba[..., :3])
    rgba[:, 6:, 3] = 255  # half opaque: the transparent half on white
    Image.fromarray(rgba, "RGBA").save(path, fmt, **({"lossless": True, "exact": True} if fmt == "WEBP" else {}))
    assert (read_image(path)[:, :6] == 255).all() and np.array_equal(read_image(path)[:, 6:], rgba[:, 6:, :3])


def test_an_out_holding_another_programs_results_is_refused_not_written_over(tiny_model_dir, tmp_path):
    """``predict site/a.jpg -o site``, site holding a labelling tool's results.json, a spreadsheet's results.csv and
    a report.html of the user's: all three were replaced by the job's, exit 0, without a word (another job's results
    are refused unless --overwrite; another program's were not). Refused the same, naming them; --overwrite writes."""
    import json

    from typer.testing import CliRunner

    from drywallqa import Segmenter
    from drywallqa.cli import app
    from drywallqa.engine.batch import predict_paths

    site = tmp_path / "site"
    site.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(site / "a.jpg")
    theirs = {"results.json": '{"labels": [1, 2]}', "results.csv": "wall,crack\n1,2\n", "report.html": "<p>mine</p>"}
    for name, text in theirs.items():
        (site / name).write_text(text)
    args = ["predict", str(site / "a.jpg"), "-p", "segment crack", "-o", str(site), "--model-path", str(tiny_model_dir)]
    res = CliRunner().invoke(app, args, terminal_width=300)
    said = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and "results.json, results.csv, report.html that no drywallqa job wrote" in said, said
    assert {p.name: p.read_text() for p in site.iterdir() if p.name != "a.jpg"} == theirs  # nothing else written
    with pytest.raises(ValueError, match="results.json that no drywallqa job wrote"):
        predict_paths(Segmenter.load(tiny_model_dir), [site / "a.jpg"], ["segment crack"], site, progress=False)
    assert sorted(p.name for p in site.iterdir()) == ["a.jpg", *sorted(theirs)]
    res = CliRunner().invoke(app, [*args, "--no-report", "--no-table"], terminal_width=300)  # writes results.json only
    said = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and "holds results.json that no drywallqa job wrote" in said, said
    res = CliRunner().invoke(app, [*args, "--overwrite"], terminal_width=300)
    assert res.exit_code == 0, res.output
    assert json.loads((site / "results.json").read_text())["prompts"] == ["segment crack"]
    res = CliRunner().invoke(app, args, terminal_width=300)  # the job's folder now: run again as any other
    assert res.exit_code == 0 and "1 skipped" in res.output, res.output
