"""Robustness, class 2: images that would take the machine down (decompression bombs, huge photos) or that
fail in a way nobody planned for are reported per file; the batch goes on and the server answers 413."""

import io
import json
import struct
import warnings
import zlib

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from drywallqa import Segmenter
from drywallqa.cli import app
from drywallqa.engine.batch import predict_paths
from drywallqa.serve import ServeConfig, create_app
from drywallqa.utils.image_io import ImageTooLargeError, read_image, read_mask, to_rgb_array


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` pixels (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def _jpeg_bytes(w=40, h=30):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


@pytest.mark.parametrize("side", [50_000, 9_000])  # above Pillow's own bomb limit, and between it and ours
def test_bombs_are_named_errors(tmp_path, side):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_declaring(side, side))
    with pytest.raises(ImageTooLargeError, match="bomb.png"):
        read_image(path)


def _bomb_warnings(caught) -> list:
    return [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]


def test_pillows_bomb_warning_does_not_reach_the_terminal_where_the_project_checks_pixels(tmp_path):
    """A photo of 89 to 179 MP (Pillow's warning size to its error size) made Pillow print its two-line
    DecompressionBombWarning ("... warnings.warn(") before the project refused it cleanly by its own limit."""
    from drywallqa.data.sample import _image_size

    path = tmp_path / "huge.png"
    path.write_bytes(png_declaring(10_000, 10_000))  # 100 MP
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ImageTooLargeError, match="huge.png"):
            read_image(path)
        with pytest.raises(ImageTooLargeError):
            read_mask(path)
        assert _image_size(path) == (10_000, 10_000)
    assert not _bomb_warnings(caught), [str(w.message) for w in caught]
    with pytest.warns(Image.DecompressionBombWarning):  # Pillow's own, where the project opens nothing: as it was
        Image.open(path).close()


@pytest.mark.parametrize("fmt, pages", [("PNG", 1), ("TIFF", 1), ("TIFF", 2), ("GIF", 1), ("GIF", 2), ("WEBP", 1)])
def test_a_photo_over_pillows_warning_size_is_read_without_its_warning(tmp_path, monkeypatch, fmt, pages):
    """With the project's limit raised past Pillow's warning size, the photo is read, and Pillow warned (at the open,
    and a TIFF again as it loads), of one page or of several. Pillow's sizes are lowered here: a 40x30 photo stands in
    for a 120-MP one."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)  # warned above 1,000 pixels, refused above 2,000
    path = tmp_path / f"big.{fmt.lower()}"
    photos = [Image.new("RGB", (40, 30), (90, 90 + 50 * i, 90)) for i in range(pages)]
    photos[0].save(path, format=fmt, save_all=True, append_images=photos[1:])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert read_image(path, max_pixels=None).shape == (30, 40, 3)
        with pytest.raises(ImageTooLargeError):
            read_image(path, max_pixels=1_000)
    assert not _bomb_warnings(caught), [str(w.message) for w in caught]


def test_the_cap_can_be_raised(tmp_path):
    path = tmp_path / "big.png"
    Image.new("RGB", (300, 200)).save(path)
    with pytest.raises(ImageTooLargeError, match="60,000 pixels"):
        read_image(path, max_pixels=50_000)
    assert read_image(path, max_pixels=60_000).shape == (200, 300, 3)


def test_a_bomb_in_a_batch_is_reported_and_the_rest_done(tiny_model_dir, tmp_path):
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    (imgs / "bomb.png").write_bytes(png_declaring(50_000, 50_000))
    (imgs / "big.png").write_bytes(png_declaring(9_000, 9_000))
    (imgs / "ok.jpg").write_bytes(_jpeg_bytes())
    out = tmp_path / "out"
    cmd = ["predict", str(imgs), "-p", "segment crack", "--out", str(out), "--model-path", str(tiny_model_dir)]
    for attempt in range(2):  # the rerun too: no crash, the same answer
        res = CliRunner().invoke(app, cmd)
        assert res.exit_code == 1 and "Traceback" not in res.output, res.output
        assert res.exception is None or isinstance(res.exception, SystemExit)
        results = json.loads((out / "results.json").read_text())
        failed = dict(results["failed"])
        assert set(failed) == {str(imgs / "bomb.png"), str(imgs / "big.png")}
        assert all("pixels" in why for why in failed.values())
        assert "--max-pixels" in failed[str(imgs / "big.png")]
        assert [e["image"] for e in results["images"]] == [str(imgs / "ok.jpg")]
    # raised above the big one's size, it is no longer refused for its size (its pixels are not there: unreadable)
    res = CliRunner().invoke(app, cmd + ["--max-pixels", "100000000"])
    failed = dict(json.loads((out / "results.json").read_text())["failed"])
    assert "not a readable image" in failed[str(imgs / "big.png")] and "limit" not in failed[str(imgs / "big.png")]
    assert "than the limit of 100,000,000" in failed[str(imgs / "bomb.png")]
    bad = CliRunner().invoke(app, cmd + ["--max-pixels", "0"])
    assert bad.exit_code == 2 and "--max-pixels" in bad.output


def test_any_failure_of_one_file_is_reported_and_the_batch_goes_on(tiny_model_dir, tmp_path):
    inner = Segmenter.load(tiny_model_dir)

    class Flaky(Segmenter):
        def predict(self, image, prompts, threshold=None, label_shape=None):
            if image.shape[1] == 41:
                raise RuntimeError("something nobody planned for")
            return inner.predict(image, prompts, threshold)

    imgs = tmp_path / "imgs"
    imgs.mkdir()
    (imgs / "a.jpg").write_bytes(_jpeg_bytes(40))
    (imgs / "b.jpg").write_bytes(_jpeg_bytes(41))
    summary = predict_paths(Flaky(), [imgs], ["segment crack"], tmp_path / "out", progress=False)
    assert summary.done == [str(imgs / "a.jpg")]
    assert summary.failed == [(str(imgs / "b.jpg"), "RuntimeError: something nobody planned for")]
    assert json.loads((tmp_path / "out" / "results.json").read_text())["failed"] == [[str(imgs / "b.jpg"),
                                                                                      "RuntimeError: something nobody planned for"]]


def test_server_answers_413_for_bombs_and_stays_up(tiny_model_dir):
    client = TestClient(create_app(ServeConfig(max_pixels=1_000_000), Segmenter.load(tiny_model_dir)))
    for side in (50_000, 2_000):
        r = client.post("/v1/segment", files={"image": ("b.png", png_declaring(side, side), "image/png")},
                        data={"prompts": ["segment crack"]})
        assert r.status_code == 413 and "pixels" in r.json()["detail"], r.text
        # what a client can do, and who can raise the limit; not the command line's option, not Python
        assert "send a smaller photo" in r.json()["detail"] and "drywallqa serve --max-pixels" in r.json()["detail"]
        assert "read_image" not in r.json()["detail"]
    ok = client.post("/v1/segment", files={"image": ("w.jpg", _jpeg_bytes(), "image/jpeg")}, data={"prompts": ["segment crack"]})
    assert ok.status_code == 200 and client.get("/healthz").json() == {"status": "ok"}


def test_arrays_too_large_are_refused_before_work():
    with pytest.raises(ImageTooLargeError):
        to_rgb_array(np.zeros((100, 100, 3), np.uint8), max_pixels=5_000)


def test_a_photo_over_the_default_limit_let_in_by_max_pixels_is_read_back_in_full(tiny_model_dir, tmp_path):
    """A job's own masks were read back under the default 64 MP limit whatever its --max-pixels: a 65 MP photo let in
    by --max-pixels was left out of the COCO file ("raise it with --max-pixels", which it was), its report said
    "photo not readable", and a rerun predicted over a mask corrected by hand (its overlay could not be drawn either)."""
    imgs, out = tmp_path / "imgs", tmp_path / "out"
    imgs.mkdir()
    photo = np.full((8000, 8200, 3), 128, np.uint8)  # 65.6 MP
    photo[3000:3100, :] = 40
    Image.fromarray(photo).save(imgs / "big.png", compress_level=1)
    cmd = ["predict", str(imgs), "-p", "segment crack", "--out", str(out), "--model-path", str(tiny_model_dir),
           "--max-pixels", "70000000", "--threshold", "1"]  # empty masks: quick to measure at 65 MP
    res = CliRunner().invoke(app, cmd + ["--coco", "rle"])
    assert res.exit_code == 0, res.output
    coco = json.loads((out / "predictions.coco.json").read_text())
    assert coco["info"]["masks_not_read"] == [] and len(coco["images"]) == 1
    assert "photo not readable" not in (out / "report.html").read_text()
    assert list((out / "report_files").glob("big.jpg"))
    corrected = np.zeros((8000, 8200), np.uint8)
    corrected[10:20, 10:30] = 255  # a correction by hand, at the photo's size
    Image.fromarray(corrected).save(out / "big__segment_crack.png")
    res = CliRunner().invoke(app, cmd)
    assert res.exit_code == 0 and "measured again as they are" in res.output, res.output
    assert np.array_equal(read_mask(out / "big__segment_crack.png", max_pixels=None), corrected > 0)  # kept
    entry = json.loads((out / "results.json").read_text())["images"][0]
    assert entry["prompts"]["segment crack"]["area_px"] == 200


def test_a_dataset_photo_over_the_limit_is_not_told_of_an_option_its_command_lacks(tmp_path):
    """``data stats``, ``data split``, refine-masks and training said "raise it with --max-pixels" of a dataset
    photo over the limit: none of them has that option. They say what can be done instead; predict's reading keeps
    its advice."""
    from drywallqa.data.grouping import thumbnail

    path = tmp_path / "huge.png"
    path.write_bytes(png_declaring(9_000, 9_000))
    with pytest.raises(ImageTooLargeError) as caught:
        thumbnail(path)
    assert "--max-pixels" not in str(caught.value) and "scale the photo down" in str(caught.value)
    with pytest.raises(ImageTooLargeError, match="--max-pixels"):
        read_image(path)


def test_the_shapes_named_in_a_refusal_are_the_shapes_taken():
    """A refused array was told "(H, W), (H, W, 3) or (H, W, 4)", where (H, W, 1) is taken too."""
    assert to_rgb_array(np.zeros((4, 5, 1), np.uint8)).shape == (4, 5, 3)
    with pytest.raises(ValueError, match=r"\(H, W, 1\)"):
        to_rgb_array(np.zeros((4, 5, 2), np.uint8))
