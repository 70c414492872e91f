import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from drywallqa import Segmenter
from drywallqa.cli import app
from drywallqa.engine.batch import predict_paths
from drywallqa.utils.image_io import ImageReadError, read_image
from drywallqa.utils.slug import prompt_slug, slugify


def test_slug():
    assert slugify("segment joint/tape") == "segment_joint_tape"
    assert slugify("  Segment  Taping-Area!! ") == "segment_taping_area"
    # file names: a plain lower-case prompt is its own slug; any other text gets a hash of the whole text
    assert prompt_slug("segment crack") == "segment_crack"
    assert prompt_slug("segment joint/tape").startswith("segment_joint_tape-")


@pytest.fixture
def odd_images(tmp_path):
    d = tmp_path / "imgs"
    d.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (50, 80, 3), dtype=np.uint8)).save(d / "rgb.jpg")
    Image.fromarray(rng.integers(0, 255, (33, 47), dtype=np.uint8)).save(d / "grey.png")
    Image.fromarray(rng.integers(0, 255, (40, 30, 4), dtype=np.uint8), "RGBA").save(d / "rgba.png")
    Image.fromarray(rng.integers(0, 65535, (20, 25), dtype=np.uint16)).save(d / "deep16.png")
    Image.fromarray(rng.integers(0, 255, (30, 30, 3), dtype=np.uint8)).convert("P").save(d / "palette.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    Image.fromarray(rng.integers(0, 255, (20, 60, 3), dtype=np.uint8)).save(d / "exif.jpg", exif=exif)
    (d / "broken.jpg").write_bytes(b"not an image at all")
    return d


def test_read_image_modes_and_exif(odd_images):
    assert read_image(odd_images / "grey.png").shape == (33, 47, 3)
    assert read_image(odd_images / "deep16.png").dtype == np.uint8
    assert read_image(odd_images / "exif.jpg").shape == (60, 20, 3)
    with pytest.raises(ImageReadError, match="broken.jpg"):
        read_image(odd_images / "broken.jpg")


def test_predict_writes_named_and_sized_masks_and_goes_on_after_bad_files(tiny_model_dir, odd_images, tmp_path):
    seg = Segmenter.load(tiny_model_dir)
    out = tmp_path / "out"
    summary = predict_paths(seg, [odd_images], ["segment crack", "segment joint/tape"], out, overlay_images=True, progress=False)
    assert [p for p, _ in summary.failed] == [str(odd_images / "broken.jpg")]
    assert len(summary.done) == 6
    expected = {"rgb": (50, 80), "grey": (33, 47), "rgba": (40, 30), "deep16": (20, 25), "palette": (30, 30), "exif": (60, 20)}
    for stem, shape in expected.items():
        for slug in ("segment_crack", prompt_slug("segment joint/tape")):
            m = np.asarray(Image.open(out / f"{stem}__{slug}.png"))
            assert m.shape == shape and m.dtype == np.uint8
            assert set(np.unique(m)) <= {0, 255}
    assert (out / "overlay_grid.png").is_file() and (out / "rgb__overlay.png").is_file()
    assert not list(out.glob("*.tmp"))


def test_segmenter_api_returns_masks_and_probabilities(tiny_model_dir):
    seg = Segmenter.load(tiny_model_dir)
    img = np.zeros((70, 90, 3), np.uint8)
    r = seg.predict(img, ["segment crack", "segment taping area"])
    assert set(r.masks) == {"segment crack", "segment taping area"}
    p = r.probabilities["segment crack"]
    assert p.shape == (70, 90) and p.dtype == np.float32 and 0 <= p.min() <= p.max() <= 1
    assert np.array_equal(r.masks["segment crack"], p > seg.threshold)
    # the image is encoded once: two prompts together equal each prompt alone
    alone = seg.predict(img, ["segment taping area"]).probabilities["segment taping area"]
    np.testing.assert_allclose(alone, r.probabilities["segment taping area"], atol=1e-5)


@pytest.mark.parametrize("prompts", [[], [""], ["   "]])
def test_empty_prompt_is_a_clear_error(tiny_model_dir, prompts):
    seg = Segmenter.load(tiny_model_dir)
    with pytest.raises(ValueError, match="prompt"):
        seg.predict(np.zeros((8, 8, 3), np.uint8), prompts)


def test_cli_predict_exit_code_and_summary(tiny_model_dir, odd_images, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli_out"
    res = runner.invoke(app, ["predict", str(odd_images / "rgb.jpg"), str(odd_images / "broken.jpg"), str(tmp_path / "nope.jpg"),
                              "--prompt", "segment crack", "--out", str(out), "--model-path", str(tiny_model_dir)])
    assert res.exit_code == 1, res.output
    assert "1 images done, 2 failed" in res.output and "broken.jpg" in res.output
    assert (out / "rgb__segment_crack.png").is_file()
    page = (out / "report.html").read_text()  # written by default, failures listed
    assert "rgb.jpg" in page and "broken.jpg" in page and (out / "report_files" / "rgb.jpg").is_file()
    ok = runner.invoke(app, ["predict", str(odd_images / "rgb.jpg"), "--prompt", "segment crack", "--out", str(out),
                             "--model-path", str(tiny_model_dir)])
    assert ok.exit_code == 0, ok.output
    empty = runner.invoke(app, ["predict", str(odd_images / "rgb.jpg"), "--prompt", " ", "--out", str(out),
                                "--model-path", str(tiny_model_dir)])
    assert empty.exit_code == 2 and "prompt" in empty.output.lower()


def test_flip_tta_matches_a_flipped_input(tiny_model_dir):
    seg = Segmenter.load(tiny_model_dir, tta=True)
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    a = seg.predict(img, ["segment crack", "segment taping area"]).probabilities
    b = seg.predict(np.ascontiguousarray(img[:, ::-1]), ["segment crack", "segment taping area"]).probabilities
    for p in a:
        np.testing.assert_allclose(a[p], b[p][:, ::-1], atol=1e-5)


def test_results_json_has_qa_measures(tiny_model_dir, odd_images, tmp_path):
    import json

    from drywallqa.measures import joint_measures

    seg = Segmenter.load(tiny_model_dir)
    out = tmp_path / "m"
    predict_paths(seg, [odd_images / "rgb.jpg"], ["segment crack", "segment taping area"], out, progress=False,
                  mm_per_px=0.2)
    res = json.loads((out / "results.json").read_text())
    entry = res["images"][0]["prompts"]["segment crack"]
    mask = np.asarray(Image.open(out / entry["mask"])) > 0
    assert entry["area_px"] == int(mask.sum()) and entry["area_mm2"] == pytest.approx(mask.sum() * 0.04)
    taping = res["images"][0]["prompts"]["segment taping area"]
    tape = np.asarray(Image.open(out / taping["mask"])) > 0
    assert "joints" not in entry and taping["joints"] == joint_measures(tape, 0.2)  # per joint for taping prompts only


def test_rerun_skips_finished_images_and_redoes_unfinished(tiny_model_dir, odd_images, tmp_path):
    seg = Segmenter.load(tiny_model_dir)
    out = tmp_path / "r"
    first = predict_paths(seg, [odd_images / "rgb.jpg", odd_images / "grey.png"], ["segment crack"], out, progress=False)
    assert len(first.done) == 2
    # simulate a run killed after grey's mask but before its record
    (out / "grey__results.json").unlink()
    again = predict_paths(seg, [odd_images / "rgb.jpg", odd_images / "grey.png"], ["segment crack"], out, progress=False)
    assert again.skipped == [str(odd_images / "rgb.jpg")] and again.done == [str(odd_images / "grey.png")]
    import json

    assert len(json.loads((out / "results.json").read_text())["images"]) == 2
    # other prompts are not "done"
    third = predict_paths(seg, [odd_images / "rgb.jpg"], ["segment crack", "segment taping area"], out, progress=False)
    assert third.done == [str(odd_images / "rgb.jpg")]


def test_multi_scale_averages_the_logits_of_each_scale(tiny_model_dir):
    import torch

    rng = np.random.default_rng(1)
    img = rng.integers(0, 255, (50, 70, 3), dtype=np.uint8)
    both = Segmenter.load(tiny_model_dir, scales=(64, 96))
    _, logits, _ = both.predict_logits(img, ["segment crack"])
    _, l64, _ = Segmenter.load(tiny_model_dir, scales=(64,)).predict_logits(img, ["segment crack"])
    _, l96, _ = Segmenter.load(tiny_model_dir, scales=(96,)).predict_logits(img, ["segment crack"])
    torch.testing.assert_close(logits, (l64 + l96) / 2)
    with pytest.raises(ValueError, match="multiple of 32"):
        Segmenter.load(tiny_model_dir, scales=(50,))


def test_inputs_with_one_stem_do_not_overwrite_each_other(tiny_model_dir, tmp_path):
    import json

    rng = np.random.default_rng(0)
    for folder in ("day1", "day2"):
        (tmp_path / folder).mkdir()
        Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(tmp_path / folder / "IMG_1.jpg")
    Image.fromarray(rng.integers(0, 255, (30, 30, 3), dtype=np.uint8)).save(tmp_path / "day2" / "img_1.png")
    Image.fromarray(rng.integers(0, 255, (30, 30, 3), dtype=np.uint8)).save(tmp_path / "day2" / "IMG_2.jpg")
    seg = Segmenter.load(tiny_model_dir)
    out = tmp_path / "out"
    # the same file twice is done once; of three inputs with the stem IMG_1 only the first is done
    summary = predict_paths(seg, [tmp_path / "day1", tmp_path / "day2", tmp_path / "day1" / "IMG_1.jpg"],
                            ["segment crack"], out, progress=False)
    assert summary.done == [str(tmp_path / "day1" / "IMG_1.jpg"), str(tmp_path / "day2" / "IMG_2.jpg")]
    failed = dict(summary.failed)
    assert set(failed) == {str(tmp_path / "day2" / "IMG_1.jpg"), str(tmp_path / "day2" / "img_1.png")}
    assert all("same file stem" in why and "day1" in why for why in failed.values())
    assert not summary.ok
    assert Image.open(out / "IMG_1__segment_crack.png").size == (50, 40)  # day1's mask, not overwritten
    # a rerun with only day2 must neither take day1's record for its own IMG_1 nor overwrite it unasked
    again = predict_paths(seg, [tmp_path / "day2" / "IMG_1.jpg"], ["segment crack"], out, progress=False)
    assert not again.done and not again.skipped and "another photo of the same name" in again.failed[0][1]
    assert json.loads((out / "IMG_1__results.json").read_text())["image"] == str(tmp_path / "day1" / "IMG_1.jpg")
    again = predict_paths(seg, [tmp_path / "day2" / "IMG_1.jpg"], ["segment crack"], out, progress=False, overwrite=True)
    assert again.done == [str(tmp_path / "day2" / "IMG_1.jpg")] and not again.skipped
    assert json.loads((out / "IMG_1__results.json").read_text())["image"] == str(tmp_path / "day2" / "IMG_1.jpg")


def _jpeg_cut_at(fraction: float) -> bytes:
    import io

    whole = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8)).save(whole, format="JPEG")
    return whole.getvalue()[:int(len(whole.getvalue()) * fraction)]


@pytest.mark.parametrize("damaged", [b"\xff\xd8\xff\xe0 cut short", _jpeg_cut_at(0.5)], ids=["header", "data"])
def test_of_two_photos_of_one_stem_a_damaged_first_one_does_not_take_the_stem(damaged, tiny_model_dir, tmp_path):
    """A damaged IMG_1.jpg (a copy cut short) beside IMG_1.png took the stem: the PNG failed as "another input has the
    same file stem" and the JPEG as unreadable, so neither was segmented. Now the photo that decodes takes it, whether
    the JPEG was cut in its header or, its header whole, in its data (that one opened as an image and took the stem
    before it was decoded to its end)."""
    rng = np.random.default_rng(0)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "IMG_1.jpg").write_bytes(damaged)
    Image.fromarray(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)).save(tmp_path / "in" / "IMG_1.png")
    summary = predict_paths(Segmenter.load(tiny_model_dir), [tmp_path / "in"], ["segment crack"], tmp_path / "out",
                            progress=False)
    assert summary.done == [str(tmp_path / "in" / "IMG_1.png")]
    assert [(p, "same file stem" in why) for p, why in summary.failed] == [(str(tmp_path / "in" / "IMG_1.jpg"), True)]


def test_a_stem_twin_over_the_pixel_limit_is_not_decoded_to_choose_the_stem(tmp_path, monkeypatch):
    """Choosing which of two photos of one stem takes it decodes them; one over the pixel limit (a 100 MP scan) is not
    decoded there whole (its memory): taken as it opens, and the reader then says what it says of its size."""
    import io

    from drywallqa.engine import batch

    buf = io.BytesIO()
    Image.fromarray(np.full((20, 20, 3), 90, np.uint8)).save(buf, format="PNG")
    (tmp_path / "big.png").write_bytes(buf.getvalue()[:-30])  # cut short: decoding it would fail
    assert not batch._opens(tmp_path / "big.png")
    monkeypatch.setattr(batch, "DEFAULT_MAX_PIXELS", 100)  # 400 pixels: over it
    assert batch._opens(tmp_path / "big.png")


def test_inputs_of_one_stem_listed_in_another_order_keep_the_photo_done_before(tiny_model_dir, tmp_path):
    """day1/IMG_1 done by a job of ``day1 day2``; the same job as ``day2 day1`` named day1/IMG_1 failed ("another
    input has the same stem") while results.json still listed its results: one photo both done and failed. Now the
    photo whose results the folder holds is the one of its stem, whatever the order: skipped, day2's named failed."""
    import json

    rng = np.random.default_rng(0)
    for folder in ("day1", "day2"):
        (tmp_path / folder).mkdir()
        Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(tmp_path / folder / "IMG_1.jpg")
    seg, out = Segmenter.load(tiny_model_dir), tmp_path / "out"
    first = predict_paths(seg, [tmp_path / "day1", tmp_path / "day2"], ["segment crack"], out, progress=False)
    assert first.done == [str(tmp_path / "day1" / "IMG_1.jpg")]
    again = predict_paths(seg, [tmp_path / "day2", tmp_path / "day1"], ["segment crack"], out, progress=False)
    assert again.skipped == [str(tmp_path / "day1" / "IMG_1.jpg")] and not again.done
    assert [p for p, _ in again.failed] == [str(tmp_path / "day2" / "IMG_1.jpg")]
    assert "same file stem" in again.failed[0][1] and "day1" in again.failed[0][1]
    results = json.loads((out / "results.json").read_text())
    assert [e["image"] for e in results["images"]] == [str(tmp_path / "day1" / "IMG_1.jpg")]
    assert [p for p, _ in results["failed"]] == [str(tmp_path / "day2" / "IMG_1.jpg")]


def test_label_shape_box_writes_the_box_adapters_masks(tiny_model_dir, odd_images, tmp_path):
    """By default a mask is what the model sees; --label-shape box writes, for prompts whose model stores a box adapter,
    that adapter's boxes of the same mask (for scorers that compare with box labels); a bad value is a clean error."""
    import json

    from drywallqa.postprocess import boxes

    cfg = tiny_model_dir / "config.json"
    spec = {"name": "boxes", "min_area_fraction": 0.0}
    cfg.write_text(json.dumps({**json.loads(cfg.read_text()), "postprocess": {"segment taping area": spec}}))
    prob = Segmenter.load(tiny_model_dir).predict(odd_images / "rgb.jpg", ["segment taping area"]).probabilities
    cut = float(np.quantile(prob["segment taping area"], 0.7))  # a partial mask, whatever the random weights give
    base = ["predict", str(odd_images / "rgb.jpg"), "--prompt", "segment taping area", "--prompt", "segment crack",
            "--model-path", str(tiny_model_dir), "--threshold", f"{cut:.6f}", "--no-report"]
    assert CliRunner().invoke(app, [*base, "--out", str(tmp_path / "raw")]).exit_code == 0
    assert CliRunner().invoke(app, [*base, "--out", str(tmp_path / "box"), "--label-shape", "box"]).exit_code == 0

    def mask(run, prompt):
        return np.asarray(Image.open(tmp_path / run / f"rgb__{prompt_slug(prompt)}.png")) > 0

    raw, boxed = mask("raw", "segment taping area"), mask("box", "segment taping area")
    assert raw.any() and not raw.all()  # the check below means something only for a partial mask
    assert np.array_equal(boxed, boxes(raw, min_area_fraction=0.0)) and not np.array_equal(boxed, raw)
    assert np.array_equal(mask("raw", "segment crack"), mask("box", "segment crack"))  # no adapter: the same mask
    bad = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "bad"), "--label-shape", "boxes"])
    assert bad.exit_code == 2 and "--label-shape" in bad.output and not (tmp_path / "bad").exists()


def test_outputs_are_never_read_as_photos(tiny_model_dir, tmp_path):
    """``--out`` the input folder itself is refused (the rerun read its masks as photos); an earlier job's output
    folder inside an input folder is left out of the input, with the reason."""
    photos = tmp_path / "site"
    photos.mkdir()
    Image.fromarray(np.full((40, 60, 3), 128, np.uint8)).save(photos / "wall.jpg")
    seg = Segmenter.load(tiny_model_dir)
    with pytest.raises(ValueError, match="is also an input folder"):
        predict_paths(seg, [photos], ["segment crack"], photos, progress=False)
    res = CliRunner().invoke(app, ["predict", str(photos), "-p", "segment crack", "--out", str(photos)])
    text = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and "is also an input folder" in text and not (photos / "results.json").exists()
    predict_paths(seg, [photos], ["segment crack"], photos / "v1", progress=False, overlay_images=True)
    (photos / "v1" / "day2").mkdir()  # the user's photos inside an output folder are still read
    Image.fromarray(np.full((40, 60, 3), 90, np.uint8)).save(photos / "v1" / "day2" / "later.jpg")
    second = predict_paths(seg, [photos], ["segment crack"], tmp_path / "v2", progress=False)
    assert sorted(second.done) == [str(photos / "v1" / "day2" / "later.jpg"), str(photos / "wall.jpg")]
    assert not second.failed
    assert [(p, r.split(":")[0]) for p, r in second.ignored] == [(str(photos / "v1"), "an earlier job's output folder")]
    # a job killed before its results.json (only a record and a mask there), and a folder given as input itself
    killed = tmp_path / "killed"
    predict_paths(seg, [photos / "wall.jpg"], ["segment crack"], killed, progress=False)
    (killed / "results.json").unlink()
    (killed / ".drywallqa-output").unlink()
    third = predict_paths(seg, [killed], ["segment crack"], tmp_path / "v3", progress=False)
    assert third.done == [] and [p for p, _ in third.ignored] == [str(killed)]


def test_a_rerun_with_overlay_writes_the_overlays_an_earlier_run_did_not(tiny_model_dir, odd_images, tmp_path):
    seg = Segmenter.load(tiny_model_dir)
    paths, out = [odd_images / "rgb.jpg", odd_images / "grey.png"], tmp_path / "o"
    predict_paths(seg, paths[:1], ["segment crack"], out, progress=False, overlay_images=True)
    again = predict_paths(seg, paths, ["segment crack"], out, progress=False, overlay_images=True)
    assert again.skipped == [str(paths[0])] and again.done == [str(paths[1])]  # its overlay is there: not redone
    plain = tmp_path / "plain"
    predict_paths(seg, paths, ["segment crack"], plain, progress=False)
    redo = predict_paths(seg, paths, ["segment crack"], plain, progress=False, overlay_images=True)
    assert not redo.done and sorted(redo.skipped) == sorted(map(str, paths))  # done before without overlays: the
    # overlays drawn from the masks there (predicting them again wrote over masks corrected by hand since)
    assert all((plain / f"{p.stem}__overlay.png").is_file() for p in paths)
    grid_of_two = np.asarray(Image.open(out / "overlay_grid.png"))
    assert grid_of_two.shape == np.asarray(Image.open(plain / "overlay_grid.png")).shape  # skipped ones in the grid too
    # an overlay left by a run with other prompts is stale: the record made since holds none, so it is made again
    two = ["segment crack", "segment taping area"]
    assert predict_paths(seg, paths[:1], two, out, progress=False).done == [str(paths[0])]
    stale = predict_paths(seg, paths[:1], two, out, progress=False, overlay_images=True)
    assert stale.skipped == [str(paths[0])] and not stale.failed  # drawn again from the two masks
    assert np.asarray(Image.open(out / "rgb__overlay.png")).shape[1] % 3 == 0  # photo + two prompts


def test_refused_prompts_do_not_take_the_review_order():
    from drywallqa.engine.batch_report import _least_confidence, review_confidence

    refused = {"confidence": 0.0, "concept": {"known": False}}
    answered = {"confidence": 0.4, "concept": {"known": True}}
    assert review_confidence(refused) is None and review_confidence(answered) == 0.4
    assert _least_confidence({"prompts": {"a": refused, "b": answered}}) == 0.4
    assert _least_confidence({"prompts": {"a": refused}}) == 1.0


@pytest.mark.parametrize("bad", [["--flag", "x"], ["--coco", "json"], ["--executor", "dask"], ["--tile", "5"],
                                 ["--runtime", "tf"]])
def test_a_refused_option_makes_no_output_folder(tiny_model_dir, odd_images, tmp_path, bad):
    out = tmp_path / "new" / "sub"
    res = CliRunner().invoke(app, ["predict", str(odd_images / "rgb.jpg"), "-p", "segment crack", "--out", str(out),
                                   "--model-path", str(tiny_model_dir), *bad])
    assert res.exit_code == 2, res.output
    assert not (tmp_path / "new").exists()


def test_a_rerun_measures_again_what_an_older_version_measured_another_way(tiny_model_dir, odd_images, tmp_path):
    import json

    from drywallqa.measures import MEASURES_VERSION, mask_measures

    seg = Segmenter.load(tiny_model_dir)
    out = tmp_path / "old"
    prompts = ["segment crack", "segment taping area"]
    predict_paths(seg, [odd_images / "rgb.jpg"], prompts, out, progress=False, overlay_images=True)
    record = out / "rgb__results.json"
    entry = json.loads(record.read_text())
    assert entry["measures_version"] == MEASURES_VERSION
    del entry["measures_version"]  # as an earlier version wrote it, with its numbers
    for m in entry["prompts"].values():
        m["length_px"], m["max_width_px"] = 1.0, 1.0
    record.write_text(json.dumps(entry))
    again = predict_paths(seg, [odd_images / "rgb.jpg"], prompts, out, progress=False)
    assert again.skipped == [str(odd_images / "rgb.jpg")] and not again.done  # the masks are kept ...
    fresh = json.loads(record.read_text())
    assert fresh["measures_version"] == MEASURES_VERSION and "overlay" not in fresh  # ... the numbers are not
    for p in prompts:
        mask = np.asarray(Image.open(out / fresh["prompts"][p]["mask"])) > 0
        expected = mask_measures(mask, joints=p == "segment taping area")
        assert {k: fresh["prompts"][p][k] for k in expected} == expected
        assert fresh["prompts"][p]["confidence"] == entry["prompts"][p]["confidence"]
    results = json.loads((out / "results.json").read_text())
    assert results["images"][0]["prompts"]["segment crack"]["length_px"] == fresh["prompts"]["segment crack"]["length_px"]


def _as_an_older_version_wrote(out, stem: str, change=lambda entry: None) -> dict:
    """Rewrite a photo's record in ``out`` as an earlier drywallqa would have left it (no ``measures_version``),
    changed by ``change``; returns it."""
    import json

    record = out / f"{stem}__results.json"
    entry = json.loads(record.read_text())
    del entry["measures_version"]
    change(entry)
    record.write_text(json.dumps(entry))
    return entry


def test_older_records_of_other_photos_are_measured_again_and_a_spoilt_one_is_predicted_again(
        tiny_model_dir, odd_images, tmp_path):
    import json

    from drywallqa.measures import MEASURES_VERSION

    seg = Segmenter.load(tiny_model_dir)
    out = tmp_path / "old"
    predict_paths(seg, [odd_images / "rgb.jpg", odd_images / "grey.png"], ["segment crack"], out, progress=False)
    _as_an_older_version_wrote(out, "rgb", lambda e: e["prompts"]["segment crack"].update(length_px=1.0))
    _as_an_older_version_wrote(out, "grey", lambda e: e["prompts"]["segment crack"].update(
        length_px=1.0, concept="crack"))  # a record not as any version writes them
    again = predict_paths(seg, [odd_images / "grey.png"], ["segment crack"], out, progress=False)
    assert again.done == [str(odd_images / "grey.png")]  # spoilt: predicted again, not a traceback
    results = json.loads((out / "results.json").read_text())
    assert len(results["images"]) == 2 and all(e["measures_version"] == MEASURES_VERSION for e in results["images"])
    assert all(e["prompts"]["segment crack"]["length_px"] != 1.0 or not e["prompts"]["segment crack"]["area_px"]
               for e in results["images"])  # rgb, another job's photo in the folder, measured again too


@pytest.mark.parametrize("spoil", [lambda e: e.update(prompts=list(e["prompts"])),
                                   lambda e: e["prompts"].update({"segment crack": "done"})])
def test_a_record_of_odd_shape_is_predicted_again_not_a_traceback(tiny_model_dir, odd_images, tmp_path, spoil):
    import json

    seg = Segmenter.load(tiny_model_dir)
    out = tmp_path / "odd"
    predict_paths(seg, [odd_images / "rgb.jpg"], ["segment crack"], out, progress=False)
    record = out / "rgb__results.json"
    entry = json.loads(record.read_text())
    spoil(entry)
    record.write_text(json.dumps(entry))
    again = predict_paths(seg, [odd_images / "rgb.jpg"], ["segment crack"], out, progress=False, overwrite=False)
    assert again.done == [str(odd_images / "rgb.jpg")] or again.failed, (again.done, again.failed)
    assert not any("Traceback" in why for _, why in again.failed)


def test_an_older_record_whose_mask_is_not_the_photos_size_is_not_measured_as_if_it_were(
        tiny_model_dir, odd_images, tmp_path):
    seg = Segmenter.load(tiny_model_dir)
    out = tmp_path / "sized"
    predict_paths(seg, [odd_images / "rgb.jpg", odd_images / "grey.png"], ["segment crack"], out, progress=False)
    for stem in ("rgb", "grey"):
        mask_file = out / _as_an_older_version_wrote(out, stem)["prompts"]["segment crack"]["mask"]
        with Image.open(mask_file) as mask:
            mask.resize((mask.width // 2, mask.height // 2)).save(mask_file)
    again = predict_paths(seg, [odd_images / "grey.png"], ["segment crack"], out, progress=False)
    # this job's photo: its mask was written over since at another size (a correction exported smaller?): the photo
    # fails, naming it, and the mask is left as it is (--overwrite predicts it again)
    assert [p for p, _ in again.failed] == [str(odd_images / "grey.png")] and "written over since" in again.failed[0][1]
    assert any("cannot be read or measured again" in w for w in again.warnings)  # rgb's record: not covered, said so
    again = predict_paths(seg, [odd_images / "grey.png"], ["segment crack"], out, overwrite=True, progress=False)
    assert again.done == [str(odd_images / "grey.png")]


def test_a_record_another_job_measured_meanwhile_is_taken_as_it_is_now(tiny_model_dir, odd_images, tmp_path):
    import json

    from drywallqa.engine.batch import remeasured

    seg = Segmenter.load(tiny_model_dir)
    out = tmp_path / "race"
    predict_paths(seg, [odd_images / "rgb.jpg"], ["segment crack"], out, progress=False)
    record = out / "rgb__results.json"
    now = json.loads(record.read_text())  # what the other job wrote: this version's numbers
    old = {**now, "measures_version": 1}  # what this job read a moment before
    assert remeasured(out, odd_images / "rgb.jpg", old, None) == now  # not overwritten, not dropped
    record.write_text(json.dumps({**now, "measures_version": 0}))  # rewritten by a job of yet another version
    assert remeasured(out, odd_images / "rgb.jpg", old, None) is None


def test_many_older_records_are_measured_again_in_threads(tiny_model_dir, tmp_path):
    import json

    from drywallqa.measures import MEASURES_VERSION

    rng = np.random.default_rng(1)
    photos = tmp_path / "many"
    photos.mkdir()
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (40, 56, 3), dtype=np.uint8)).save(photos / f"p{i}.png")
    seg = Segmenter.load(tiny_model_dir)
    out = tmp_path / "out"
    predict_paths(seg, [photos], ["segment crack", "segment taping area"], out, progress=False)
    first = {i: json.loads((out / f"p{i}__results.json").read_text()) for i in range(12)}
    for i in range(12):
        _as_an_older_version_wrote(out, f"p{i}", lambda e: [m.update(length_px=-1.0) for m in e["prompts"].values()])
    again = predict_paths(seg, [photos], ["segment crack", "segment taping area"], out, progress=False, workers=4)
    assert not again.done and len(again.skipped) == 12  # measured again, not predicted again
    for i in range(12):
        record = json.loads((out / f"p{i}__results.json").read_text())
        assert record["measures_version"] == MEASURES_VERSION and record == first[i]  # the numbers back as they were
