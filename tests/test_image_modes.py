"""Every way in of one photo gives the same pixels: a 16-bit file, a 16-bit array and the 8-bit photo; an RGBA file
and an RGBA array (both on white). A 16-bit photo is scaled by its bit depth, never stretched to its own min..max
(a plain grey wall stretched that way grew "cracks")."""

import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from drywallqa.utils.image_io import read_image, to_rgb_array


def test_a_16_bit_grey_photo_is_its_8_bit_self(tmp_path):
    rng = np.random.default_rng(0)
    wall16 = (30000 + rng.integers(0, 40, (32, 48))).astype(np.uint16)  # a plain wall: 0.06% of the range
    Image.fromarray(wall16).save(tmp_path / "wall16.png")
    assert Image.open(tmp_path / "wall16.png").mode.startswith("I")
    from_file = read_image(tmp_path / "wall16.png")
    assert from_file.shape == (32, 48, 3) and np.ptp(from_file) <= 1  # not stretched to 0..255
    assert abs(int(from_file.mean()) - 30000 // 257) <= 1
    assert np.array_equal(to_rgb_array(wall16), from_file)
    assert np.array_equal(to_rgb_array(Image.open(tmp_path / "wall16.png")), from_file)


def test_rgba_files_and_arrays_are_both_shown_on_white(tmp_path):
    rgba = np.zeros((10, 12, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, :6, 3] = 255  # the left half opaque red, the right half transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    from_file = read_image(tmp_path / "a.png")
    assert np.array_equal(to_rgb_array(rgba), from_file)
    assert (from_file[:, 6:] == 255).all() and (from_file[:, :6] == [200, 0, 0]).all()


def test_only_photo_formats_are_decoded(tmp_path, monkeypatch):
    """An EPS upload would make Pillow run Ghostscript on it: such formats are not even tried."""
    import pytest
    from PIL import EpsImagePlugin

    from drywallqa.utils.image_io import ImageReadError

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", lambda self: pytest.fail("the EPS decoder was run"))
    (tmp_path / "wall.jpg").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    with pytest.raises(ImageReadError, match="not one of the formats read"):
        read_image(tmp_path / "wall.jpg")


def test_values_are_read_by_the_range_they_fit():
    rng = np.random.default_rng(0)
    twelve = rng.integers(0, 4096, (8, 8))  # 12-bit data: its full range, not a dark 1/16 of 16 bits
    assert abs(to_rgb_array(twelve)[..., 0].astype(int) - np.rint(twelve * 255 / 4095)).max() == 0
    small = rng.integers(0, 256, (8, 8)).astype(np.uint16)  # 8-bit values in a wider type: as they are
    assert np.array_equal(to_rgb_array(small)[..., 0], small.astype(np.uint8))
    assert set(np.unique(to_rgb_array(np.eye(4, dtype=int)))) == {0, 255}  # a 0/1 array: black and white
    assert to_rgb_array(np.full((2, 2), 0.5)).max() == 128  # 0..1 floats
    bgra = np.zeros((4, 4, 4), np.uint8)
    bgra[..., 1] = 90  # alpha never set: the colours, not a white photo
    assert (to_rgb_array(bgra)[..., 1] == 90).all()


def test_a_12_bit_png_and_other_photo_formats_are_read(tmp_path):
    twelve = (np.arange(48 * 32).reshape(32, 48) * 4095 // (48 * 32 - 1)).astype(np.uint16)
    Image.fromarray(twelve).save(tmp_path / "twelve.png")
    assert read_image(tmp_path / "twelve.png").max() == 255
    photo = np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    for fmt in ("AVIF", "PPM", "TGA"):
        Image.fromarray(photo).save(tmp_path / f"p.{fmt.lower()}", format=fmt)
        assert read_image(tmp_path / f"p.{fmt.lower()}").shape == (24, 32, 3), fmt


def test_16_bit_colour_files_of_10_to_16_bits_read_as_their_arrays(tmp_path, caplog):
    """Pillow reads a 16-bit colour PNG or TIFF as 8-bit RGB(A) by each value's high byte: a 12-bit photo saved in 16
    bits (0..4095) was read nearly black, from a path and as an upload, and its empty masks got a confidence of 1.0.
    Now as its array is read (scaled by the bit depth its values fit), upright, a full 16-bit photo still right."""
    import io

    import cv2

    from drywallqa.utils.image_io import _ORIENTATIONS, decode_image

    photo = np.asarray(Image.open(Path(__file__).parents[1] / "src/drywallqa/examples/cracks_2363_jpg.jpg"))[:96, :128]
    photo = photo.astype(np.uint16)
    alpha = np.full(photo.shape[:2] + (1,), 4095, np.uint16)
    alpha[:, :40] = 2048  # the left part half transparent
    files = {"twelve.png": photo * 16, "ten.tif": photo * 4, "full.png": photo * 257,
             "twelve_rgba.png": np.concatenate([photo * 16, alpha], axis=2)}
    for name, arr in files.items():
        assert cv2.imwrite(str(tmp_path / name), arr[..., [2, 1, 0, 3][:arr.shape[2]]])  # BGR(A)
        assert Image.open(tmp_path / name).mode in ("RGB", "RGBA")  # what Pillow makes of it: 8 bits
    with caplog.at_level("WARNING", logger="drywallqa.utils.image_io"):
        for name, arr in files.items():
            expected = to_rgb_array(arr)
            assert abs(int(expected[..., 1].mean()) - int(photo[..., 1].mean())) <= 30, name  # no dark photo
            for got in (read_image(tmp_path / name),
                        decode_image(io.BytesIO((tmp_path / name).read_bytes()), "the upload")):  # as the server does
                assert got.shape == expected.shape and np.abs(got.astype(int) - expected).max() <= 1, name
        # held sideways (EXIF orientation 6): turned as an 8-bit photo is
        png = (tmp_path / "twelve.png").read_bytes()
        exif = Image.Exif()
        exif[0x0112] = 6
        data = exif.tobytes()
        data = data[6:] if data.startswith(b"Exif\0\0") else data
        chunk = len(data).to_bytes(4, "big") + b"eXIf" + data + zlib.crc32(b"eXIf" + data).to_bytes(4, "big")
        at = png.index(b"IDAT") - 4
        sideways = decode_image(io.BytesIO(png[:at] + chunk + png[at:]), "the upload")
        upright = np.asarray(Image.fromarray(to_rgb_array(files["twelve.png"])).transpose(_ORIENTATIONS[6]))
        assert np.array_equal(sideways, upright)
    assert not caplog.records


def test_16_bit_colour_files_damaged_smooth_or_with_an_opaque_alpha(tmp_path):
    """A review of the 16-bit reading: a damaged 16-bit PNG was read (its EXIF, read before its pixels, loaded it and
    hid the decoder's error) and came out as a half-decoded photo, done, where it had failed; a smooth 10-bit TIFF held
    upside down (orientation 3: every high byte alike, both turns fit) came out as stored; a 10-bit photo with a 16-bit
    opaque alpha (65535) read dark (the alpha set the bit depth)."""
    import cv2

    from drywallqa.utils.image_io import ImageReadError

    photo = (np.asarray(Image.open(Path(__file__).parents[1] / "src/drywallqa/examples/cracks_2363_jpg.jpg"))[:96, :128]
             .astype(np.uint16))
    assert cv2.imwrite(str(tmp_path / "good.png"), (photo * 16)[..., ::-1])
    data = bytearray((tmp_path / "good.png").read_bytes())
    at = data.index(b"IDAT") + 200
    data[at:at + 8] = b"\xff" * 8  # damaged in the middle of its pixels
    (tmp_path / "damaged.png").write_bytes(bytes(data))
    with pytest.raises(ImageReadError):
        read_image(tmp_path / "damaged.png")
    tifffile = pytest.importorskip("tifffile")
    ramp = np.broadcast_to((520 + np.arange(96) * 2)[:, None, None], (96, 128, 3)).astype(np.uint16)  # dark at the top
    tifffile.imwrite(tmp_path / "smooth.tif", ramp, photometric="rgb", extratags=[(274, "H", 1, 3, False)])
    turned = read_image(tmp_path / "smooth.tif")  # orientation 3: turned half round, the dark rows at the bottom
    assert np.array_equal(turned, to_rgb_array(ramp[::-1, ::-1]))
    opaque = np.concatenate([photo * 4, np.full(photo.shape[:2] + (1,), 65535, np.uint16)], axis=2)
    assert cv2.imwrite(str(tmp_path / "opaque.png"), opaque[..., [2, 1, 0, 3]])
    got = read_image(tmp_path / "opaque.png")
    assert np.abs(got.astype(int) - to_rgb_array(photo * 4)).max() <= 1  # not dark
    assert np.abs(to_rgb_array(opaque).astype(int) - to_rgb_array(photo * 4)).max() <= 1  # an array too


def test_heic_photos_as_phones_save_them_are_read_upright(tmp_path, tiny_model_dir):
    """iPhones save HEIC by default, and every such photo failed: "not a readable image" (Pillow reads HEIF only with
    pillow-heif's plugin registered). Read upright as the same photo saved as JPEG, in a batch, and as an upload."""
    import io

    import pillow_heif
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from drywallqa import Segmenter
    from drywallqa.cli import app
    from drywallqa.serve import ServeConfig, create_app

    photo = np.zeros((40, 80, 3), np.uint8)
    photo[:, :40] = (200, 30, 30)
    photo[:, 40:] = (30, 30, 200)
    exif = Image.Exif()
    exif[0x0112] = 6  # held sideways: shown turned a quarter
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(photo).save(tmp_path / "wall.jpg", quality=95, exif=exif.tobytes())
    # written by pillow-heif itself: its plugin left unregistered in Pillow, as a fresh process finds it
    pillow_heif.from_pillow(Image.fromarray(photo)).save(photos / "wall.heic", quality=95, exif=exif.tobytes())
    heic, jpeg = read_image(photos / "wall.heic"), read_image(tmp_path / "wall.jpg")
    assert heic.shape == jpeg.shape == (80, 40, 3) and np.abs(heic.astype(int) - jpeg).mean() < 4
    res = CliRunner().invoke(app, ["predict", str(photos), "-p", "segment crack", "--out", str(tmp_path / "out"),
                                   "--model-path", str(tiny_model_dir), "--no-report"], terminal_width=300)
    assert res.exit_code == 0 and "1 images done, 0 failed" in res.output, res.output
    assert Image.open(tmp_path / "out" / "wall__segment_crack.png").size == (40, 80)
    client = TestClient(create_app(ServeConfig(), Segmenter.load(tiny_model_dir)))
    buf = io.BytesIO((photos / "wall.heic").read_bytes())
    r = client.post("/v1/segment", files={"image": ("IMG_0001.HEIC", buf, "image/heic")}, data={"prompts": "segment crack"})
    assert r.status_code == 200 and r.json()["image"] == {"width": 40, "height": 80}, r.text


def test_heic_photos_of_a_dataset_are_read_in_a_fresh_process(tmp_path, monkeypatch):
    """A dataset's photo sizes were read with a bare Image.open: before anything had read a photo (a fresh `train` or
    `data stats`), Pillow had no HEIF plugin, and every HEIC photo was skipped as "unreadable image"."""
    import pillow_heif

    import drywallqa.utils.image_io as image_io
    from drywallqa.data.registry import DatasetConfig, SplitSource
    from drywallqa.data.sample import load_split

    folder = tmp_path / "walls" / "train"
    (folder / "_masks").mkdir(parents=True)
    pillow_heif.from_pillow(Image.fromarray(np.full((32, 48, 3), 90, np.uint8))).save(folder / "IMG_1.HEIC")
    Image.fromarray(np.zeros((32, 48), np.uint8)).save(folder / "_masks" / "IMG_1.png")
    Image.init()
    monkeypatch.delitem(Image.OPEN, "HEIF", raising=False)  # Pillow as a fresh process finds it
    monkeypatch.setattr(Image, "ID", [i for i in Image.ID if i != "HEIF"])
    image_io._heif_plugin.cache_clear()
    config = DatasetConfig("walls", "walls", ("segment crack",), {"train": SplitSource("mask_folder", "train")})
    samples, problems = load_split(config, "train", tmp_path)
    assert problems == [] and [(s.image_path.name, s.width, s.height) for s in samples] == [("IMG_1.HEIC", 48, 32)]


def test_a_heic_photo_without_pillow_heif_says_what_to_install(tmp_path, monkeypatch):
    import pillow_heif

    import drywallqa.utils.image_io as image_io

    pillow_heif.from_pillow(Image.fromarray(np.zeros((8, 8, 3), np.uint8))).save(tmp_path / "IMG_1.HEIC")
    monkeypatch.setattr(image_io, "image_formats", lambda: ("JPEG", "PNG"))  # a Pillow without the plugin
    with pytest.raises(image_io.ImageReadError, match="HEIC/HEIF photos need the pillow-heif package"):
        read_image(tmp_path / "IMG_1.HEIC")


def test_what_is_not_an_image_file_is_named_for_what_it_is(tmp_path):
    import os

    import pytest

    from drywallqa.utils.image_io import ImageReadError
    for path, says in ((tmp_path / "gone.jpg", "no such file"), (tmp_path, "a folder"),
                       (Path(os.devnull), "not a regular file")):
        with pytest.raises(ImageReadError, match=says):
            read_image(path)


@pytest.mark.parametrize("mode", ["L", "LA", "La", "P", "PA", "RGBa", "CMYK", "YCbCr", "1", "I", "F"])
def test_pil_images_of_every_mode_are_read(mode):
    image = Image.fromarray(np.full((6, 8, 3), 200, np.uint8)).convert(mode)
    arr = to_rgb_array(image)
    assert arr.shape == (6, 8, 3) and arr.dtype == np.uint8


@pytest.mark.parametrize("fmt", ["TIFF", "GIF", "WEBP", "PNG"])
def test_a_file_of_several_pages_or_frames_is_read_by_its_first_with_a_warning_saying_so(tmp_path, caplog, fmt):
    """A multi-page TIFF (an animated GIF, WebP, PNG) was segmented by its first page alone, the rest left without a
    word. One warning names the file and how many it holds; a photo of one page, and a phone's JPEG whose second image
    is its own preview (MPO), are read without one."""
    pages = [Image.new("RGB", (40, 30), (60 * i, 100, 100)) for i in range(3)]
    path = tmp_path / f"pages.{fmt.lower()}"
    pages[0].save(path, format=fmt, save_all=True, append_images=pages[1:])
    with caplog.at_level("WARNING", logger="drywallqa.utils.image_io"):
        first = read_image(path)
    assert first.shape == (30, 40, 3) and abs(int(first[..., 0].mean())) <= 2  # the first page's pixels
    kind = "pages" if fmt == "TIFF" else "frames"
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: 3 {kind}, of which only the first is read (segmented); save each as a file of its own to read the "
        "others"]
    caplog.clear()
    pages[0].save(tmp_path / "one.tif")
    pages[0].save(tmp_path / "phone.jpg", format="MPO", save_all=True, append_images=pages[1:2])
    with caplog.at_level("WARNING", logger="drywallqa.utils.image_io"):
        read_image(tmp_path / "one.tif"), read_image(tmp_path / "phone.jpg")
    assert not caplog.records


def test_what_was_read_otherwise_than_the_file_holds_is_in_the_result_and_the_batch_records(tiny_model_dir, tmp_path):
    """An animated GIF's first frame alone was segmented: the server's answer said so in its warnings, but a batch
    job's results.json, results.csv and report.html and ``Segmenter.predict``'s result did not (only a log line that
    scrolled by among hundreds of photos)."""
    import csv
    import json

    from typer.testing import CliRunner

    from drywallqa import Segmenter
    from drywallqa.cli import app

    photos = tmp_path / "photos"
    photos.mkdir()
    frames = [Image.new("RGB", (40, 30), (60 * i, 100, 100)) for i in range(2)]
    frames[0].save(photos / "walk.gif", save_all=True, append_images=frames[1:])
    frames[0].save(photos / "still.png")
    said = f"{photos / 'walk.gif'}: 2 frames, of which only the first is read (segmented); save each as a file of its " \
           "own to read the others"
    seg = Segmenter.load(tiny_model_dir)
    assert seg.predict(photos / "walk.gif", "segment crack").warnings[:1] == [said]
    assert not any("frames" in w for w in seg.predict(photos / "still.png", "segment crack").warnings)
    encoded = seg.encode(str(photos / "walk.gif"))  # encode once, decode each prompt: the notes are the encoding's
    assert encoded.notes == [said] and seg.decode(encoded, ["segment crack"]).masks["segment crack"].shape == (30, 40)

    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["predict", str(photos), "-p", "segment crack", "--out", str(out), "--model-path",
                                   str(tiny_model_dir)], terminal_width=300)
    assert res.exit_code == 0 and "1 photo was read otherwise than the file holds" in res.output, res.output
    images = {Path(e["image"]).name: e for e in json.loads((out / "results.json").read_text())["images"]}
    assert images["walk.gif"]["warnings"] == [said] and "warnings" not in images["still.png"]
    with open(out / "results.csv", newline="", encoding="utf-8-sig") as f:
        rows = {Path(r["image"]).name: r for r in csv.DictReader(f)}
    assert rows["walk.gif"]["warnings"] == said and rows["still.png"]["warnings"] == ""
    assert "2 frames, of which only the first is read" in (out / "report.html").read_text()
    again = CliRunner().invoke(app, ["predict", str(photos), "-p", "segment crack", "--out", str(out), "--model-path",
                                     str(tiny_model_dir)], terminal_width=300)  # the records kept: skipped, as they are
    assert again.exit_code == 0 and "2 skipped (done before)" in again.output, again.output
    assert "1 photo was read otherwise than the file holds" in again.output
    assert {Path(e["image"]).name: e for e in json.loads((out / "results.json").read_text())["images"]} == images


def test_a_file_of_a_format_read_but_of_a_kind_pillow_lacks_is_not_called_another_format(tmp_path):
    """A 16-bit grey TIFF with alpha failed "not one of the formats read: JPEG, PNG, BMP, TIFF, ...": it is a TIFF."""
    import io

    import tifffile  # scikit-image's: installed with the package

    from drywallqa.utils.image_io import ImageReadError, decode_image

    la = np.zeros((20, 30, 2), np.uint16)
    la[..., 0], la[..., 1] = 30000, 65535
    tifffile.imwrite(tmp_path / "la16.tif", la, photometric="minisblack", extrasamples=["unassalpha"])
    with pytest.raises(ImageReadError, match=r"la16.tif: not a readable image \(its first bytes say TIFF, but it cannot "
                                             r"be decoded: damaged, or a kind of TIFF .* 16-bit grey with alpha"):
        read_image(tmp_path / "la16.tif")
    with pytest.raises(ImageReadError, match="its first bytes say PNG"):  # an upload too, and a damaged header
        decode_image(io.BytesIO(b"\x89PNG\r\n\x1a\n" + bytes(5)), "the upload")
    (tmp_path / "text.jpg").write_text("a photo, said the name")
    with pytest.raises(ImageReadError, match="not one of the formats read"):
        read_image(tmp_path / "text.jpg")
