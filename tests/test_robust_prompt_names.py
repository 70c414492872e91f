"""Robustness, classes 3 and 4: prompt text makes file names. Any non-empty text a person types works;
two prompts never share a file; names stay short; the full prompt is kept in results.json."""

import io
import json
import os
import re

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from drywallqa.cli import app
from drywallqa.engine.batch import mask_name, predict_paths
from drywallqa.engine.segmenter import SegmentationResult, Segmenter
from drywallqa.utils.image_io import read_mask
from drywallqa.utils.slug import prompt_slug


class PerPromptMasks(Segmenter):
    """A segmenter whose mask for each prompt has a different, known area (so a mix-up shows)."""

    def predict(self, image, prompts, threshold=None, label_shape=None):
        h, w = image.shape[:2]
        masks = {}
        for i, p in enumerate(prompts):
            m = np.zeros((h, w), bool)
            m[: i + 1, :] = True
            masks[p] = m
        return SegmentationResult(masks=masks, probabilities={p: m.astype(np.float32) for p, m in masks.items()})


def _photo(path, stem="w"):
    path.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (20, 10), (120, 120, 120)).save(path / f"{stem}.jpg")
    return path / f"{stem}.jpg"


def test_prompts_with_one_slug_get_their_own_files_and_measures(tmp_path):
    img = _photo(tmp_path / "in")
    prompts = ["segment crack", "segment-crack", "Segment Crack", "segment  crack"]
    summary = predict_paths(PerPromptMasks(), [img], prompts, tmp_path / "out", progress=False)
    assert summary.ok
    entry = json.loads((tmp_path / "out" / "results.json").read_text())["images"][0]
    names = [entry["prompts"][p]["mask"] for p in prompts]
    assert len(set(names)) == len(prompts)
    for i, p in enumerate(prompts):
        assert entry["prompts"][p]["area_px"] == 20 * (i + 1)
        assert read_mask(tmp_path / "out" / names[i]).sum() == 20 * (i + 1)  # the file holds that prompt's mask
    assert names[0] == "w__segment_crack.png"  # the plain prompt keeps its plain name


def test_any_text_makes_a_short_valid_name(tiny_model_dir, tmp_path):
    img = _photo(tmp_path / "in", stem="IMG_" + "x" * 200)  # a long file name too
    prompts = ["segment " + "very " * 42 + "long crack", "裂缝", "!!!", "fissure à l'angle"]
    assert len(prompts[0]) > 200
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["predict", str(img), *sum((["-p", p] for p in prompts), []), "--out", str(out),
                                   "--model-path", str(tiny_model_dir)])
    assert res.exit_code == 0, res.output
    results = json.loads((out / "results.json").read_text())
    assert results["prompts"] == prompts  # the full text, as typed
    entry = results["images"][0]
    for p in prompts:
        name = entry["prompts"][p]["mask"]
        assert (out / name).is_file() and len(name.encode()) <= 200 and name.isascii()
        assert name == mask_name(img, p)
    assert prompt_slug("裂缝").startswith("prompt-") and prompt_slug("!!!").startswith("prompt-")
    assert len({prompt_slug(p) for p in prompts}) == len(prompts)
    # the rerun finds the work done
    again = CliRunner().invoke(app, ["predict", str(img), *sum((["-p", p] for p in prompts), []), "--out", str(out),
                                     "--model-path", str(tiny_model_dir)])
    assert again.exit_code == 0 and "1 skipped" in again.output


def test_a_photo_named_by_bytes_of_another_encoding_is_segmented_and_resumed(tiny_model_dir, tmp_path):
    """A file name that is no UTF-8 (b"caf\\xe9.jpg", Latin-1) ended the job in a UnicodeEncodeError traceback."""
    folder = tmp_path / "in"
    folder.mkdir()
    src = _photo(tmp_path / "src")
    try:
        os.rename(os.fsencode(src), os.path.join(os.fsencode(folder), b"caf\xe9.jpg"))
    except (OSError, UnicodeError):
        pytest.skip("this file system takes no such name")
    out = tmp_path / "out"
    args = ["predict", str(folder), "-p", "segment crack", "--out", str(out), "--model-path", str(tiny_model_dir)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    entry = json.loads((out / "results.json").read_text(errors="surrogateescape"))["images"][0]
    assert entry["prompts"]["segment crack"]["mask"].startswith("caf_-") and (out / "report.html").is_file()
    assert read_mask(out / entry["prompts"]["segment crack"]["mask"]).shape == (10, 20)
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and "1 skipped" in again.output


def test_a_repeated_prompt_is_asked_once(tmp_path):
    img = _photo(tmp_path / "in")
    summary = predict_paths(PerPromptMasks(), [img], ["segment crack", " segment crack "], tmp_path / "out", progress=False)
    assert list(summary.results[0]["prompts"]) == ["segment crack"]


@pytest.mark.parametrize("prompt", ["\x01\x02", "\u200b", "\u200b \u2060", "\ufeff\t"])
def test_a_prompt_with_nothing_visible_is_refused_everywhere(tiny_model_dir, prompt):
    from fastapi.testclient import TestClient

    from drywallqa.engine.segmenter import validate_prompts
    from drywallqa.serve import ServeConfig, create_app

    with pytest.raises(ValueError, match="visible character"):
        validate_prompts([prompt])
    assert validate_prompts(["seg\u200bment crack"]) == ["seg\u200bment crack"]  # visible text with an odd character stays
    client = TestClient(create_app(ServeConfig(str(tiny_model_dir))))
    buf = io.BytesIO()
    Image.new("RGB", (20, 20)).save(buf, format="PNG")
    r = client.post("/v1/segment", files={"image": ("w.png", buf.getvalue(), "image/png")}, data={"prompts": prompt})
    assert r.status_code == 422 and "visible" in r.text


@pytest.mark.parametrize("prompt", ["segment\x00crack", "segment \x1b[31mcrack", "segment \u202ekcarc", "a\x07b"])
def test_control_characters_inside_a_prompt_are_refused(prompt):
    """NUL or an escape sequence in a prompt was accepted and echoed into warnings and the console."""
    from drywallqa.engine.segmenter import validate_prompts

    with pytest.raises(ValueError, match="control characters"):
        validate_prompts([prompt])
    assert validate_prompts(["segment\tcrack"]) == ["segment\tcrack"]  # a tab is white space, as it always was
    wrapped = ["\u202bסדק בקיר\u202c", "\u2067افصل الشق\u2069"]  # right-to-left text as chats and forms paste it
    assert validate_prompts(wrapped) == wrapped


@pytest.mark.parametrize("prompt, read", [
    ("segment\ncrack", "segment; crack"), ("include: cracks\r\nexclude: joint_tape", "include: cracks; exclude: joint_tape"),
    ("Hallway.\nMark the cracks", "Hallway. Mark the cracks"), ("cracks\u2028tape\u2029seams", "cracks; tape; seams"),
    ("  segment \n\n crack \n", "segment; crack")])
def test_a_prompt_of_several_lines_is_read_as_one(tiny_model_dir, prompt, read):
    """A note of two lines ("Hallway ceiling" / "mark the cracks") or a program's CSV lines were refused as holding
    control characters: each end of a line is the end of a clause, and the prompt is answered under its one-line form."""
    from fastapi.testclient import TestClient

    from drywallqa.engine.segmenter import validate_prompts
    from drywallqa.serve import ServeConfig, create_app

    assert validate_prompts([prompt]) == [read]
    client = TestClient(create_app(ServeConfig(str(tiny_model_dir))))
    buf = io.BytesIO()
    Image.new("RGB", (20, 20)).save(buf, format="PNG")
    r = client.post("/v1/segment", files={"image": ("w.png", buf.getvalue(), "image/png")}, data={"prompts": prompt})
    assert r.status_code == 200 and [x["prompt"] for x in r.json()["results"]] == [read], r.text


@pytest.mark.parametrize("tile", [None, 32])
def test_a_result_finds_a_prompt_as_it_was_typed(tiny_model_dir, tile):
    """The result was keyed by the one-line, stripped form only: ``result.masks[typed]`` of a prompt of two lines or
    with spaces around it was a KeyError, for every runtime's result (here the torch model, whole and tiled)."""
    seg = Segmenter.load(tiny_model_dir, tile=tile)
    typed = ["include: cracks\nexclude: joint tape", "  segment taping area "]
    result = seg.predict(np.zeros((40, 48, 3), np.uint8), typed)
    assert list(result.masks) == ["include: cracks; exclude: joint tape", "segment taping area"]
    for p in typed:
        assert p in result.masks and result.masks[p].shape == (40, 48) and result.probabilities[p].shape == (40, 48)
        assert result.confidence.get(p) is not None and result.confidence[p] == result.scores[p]
    with pytest.raises(KeyError):
        result.masks["segment crack"]  # a prompt not asked is still missing
    assert result.masks.get("segment crack") is None


@pytest.mark.parametrize("typed", ["\ufeffsegment crack", "segment crack\u200b", " \ufeff\u200b segment crack\n"])
def test_a_byte_order_mark_or_zero_width_space_around_a_prompt_is_not_part_of_it(tiny_model_dir, typed):
    """A prompt read from a UTF-8 file saved with a byte-order mark was answered under "\ufeffsegment crack" (results
    and results.json keys that look like "segment crack" and are not: a program's lookup failed), and read by the
    text encoder with the mark: the mark and zero-width spaces around a prompt are stripped as white space is."""
    from fastapi.testclient import TestClient

    from drywallqa.engine.segmenter import validate_prompts
    from drywallqa.serve import ServeConfig, create_app

    assert validate_prompts([typed]) == ["segment crack"]
    result = Segmenter.load(tiny_model_dir).predict(np.zeros((40, 48, 3), np.uint8), [typed])
    assert list(result.masks) == ["segment crack"] and result.masks[typed].shape == (40, 48)
    client = TestClient(create_app(ServeConfig(str(tiny_model_dir))))
    buf = io.BytesIO()
    Image.new("RGB", (20, 20)).save(buf, format="PNG")
    r = client.post("/v1/segment", files={"image": ("w.png", buf.getvalue(), "image/png")}, data={"prompts": typed})
    assert r.status_code == 200 and [x["prompt"] for x in r.json()["results"]] == ["segment crack"], r.text


def test_tile_zero_is_an_error_not_a_quiet_no_tiling(tiny_model_dir):
    with pytest.raises(ValueError, match="at least 32"):
        Segmenter.load(tiny_model_dir, tile=0)


def test_a_prompt_named_like_another_output_of_the_photo_gets_a_file_of_its_own(tmp_path, monkeypatch):
    """The prompt "overlay" with --overlay wrote its mask to <stem>__overlay.png, the overlay strip's name, which then
    replaced it (zeroshot's prompt "anomaly" likewise its anomaly map): every other prompt keeps its name."""
    img = _photo(tmp_path / "in")
    out = tmp_path / "out"
    prompts = ["overlay", "segment crack"]
    summary = predict_paths(PerPromptMasks(), [img], prompts, out, overlay_images=True, progress=False)
    assert summary.ok
    results = json.loads((out / "results.json").read_text())
    entry = results["images"][0]
    assert entry["overlay"] == "w__overlay.png" and entry["prompts"]["segment crack"]["mask"] == "w__segment_crack.png"
    name = entry["prompts"]["overlay"]["mask"]
    assert re.fullmatch(r"w__overlay-[0-9a-f]{8}\.png", name) and name == mask_name(img, "overlay")
    assert results["prompt_files"] == {"overlay": name[len("w__"):-len(".png")], "segment crack": "segment_crack"}
    assert read_mask(out / name).sum() == 20 and read_mask(out / name).shape == (10, 20)  # the mask, not the strip
    assert np.asarray(Image.open(out / "w__overlay.png")).shape == (10, 60, 3)  # the strip: photo + two masks
    again = predict_paths(PerPromptMasks(), [img], prompts, out, overlay_images=True, progress=False)
    assert again.skipped == [str(img)]  # a rerun finds it done
    assert mask_name(img, "segment overlay") == "w__segment_overlay.png"  # other prompts: named as before
    assert mask_name(img, "Overlay") == f"w__{prompt_slug('Overlay')}.png" != name


CONTROL_NAMES = ["a\nb", "tab\there", "cr\rhere", "esc\x1b[31mred", "rtl\u202egpj.exe", "bell\x07"]


def _control_named_photos(folder):
    for stem in CONTROL_NAMES:
        try:
            _photo(folder, stem)
        except OSError:
            pytest.skip("this file system takes no such name")
    (folder / "bro\nken.jpg").write_bytes(b"not an image")
    return folder


def test_a_photo_named_with_control_characters_is_segmented_named_and_resumed(tiny_model_dir, tmp_path, caplog,
                                                                              monkeypatch):
    """A newline, tab, carriage return, escape or right-to-left override in a photo's name went into its output
    names and, raw, into the console and log lines (a name split over two lines, a terminal coloured, a name shown
    reversed). Now its outputs are named by a slug and a hash, every line names it escaped ("a\\nb.jpg"), and
    results.json and the COCO file keep the name as it is."""
    from drywallqa.engine import batch_report
    from drywallqa.utils.slug import CONTROL

    monkeypatch.setattr(batch_report, "REVIEW_BELOW", 1.01)  # every mask in the review line (the tiny model's: ~0.56)
    folder = _control_named_photos(tmp_path / "in")
    out = tmp_path / "out"
    args = ["predict", str(folder), "-p", "segment crack", "--out", str(out), "--model-path", str(tiny_model_dir),
            "--overlay", "--coco", "polygon"]
    res = CliRunner().invoke(app, args, terminal_width=400)
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output  # the file that is no image fails
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f\u202e]", res.output), repr(res.output)  # bars in lines too
    failed = [line for line in res.output.splitlines() if line.startswith("failed")]
    assert len(failed) == 1 and "bro\\nken.jpg: " in failed[0] and "not a readable image" in failed[0], failed
    assert "a\\nb.jpg 'segment crack'" in res.output and "esc\\x1b[31mred.jpg" in res.output
    assert all(not CONTROL.search(f.name) for f in out.rglob("*")), sorted(f.name for f in out.rglob("*"))
    results = json.loads((out / "results.json").read_text())
    assert sorted(os.path.basename(e["image"])[:-4] for e in results["images"]) == sorted(CONTROL_NAMES)
    assert [os.path.basename(p) for p, _ in results["failed"]] == ["bro\nken.jpg"]
    for e in results["images"]:
        assert read_mask(out / e["prompts"]["segment crack"]["mask"]).shape == (10, 20) and (out / e["overlay"]).is_file()
    page = (out / "report.html").read_text()
    assert "a\\nb.jpg" in page and "rtl\\u202egpj.exe.jpg" in page and "bro\\nken.jpg" in page
    assert "\x1b" not in page and "\u202e" not in page and "\r" not in page
    coco = json.loads((out / "predictions.coco.json").read_text())
    assert sorted(i["file_name"] for i in coco["images"]) == sorted(f"{s}.jpg" for s in CONTROL_NAMES)
    logged = [r.getMessage() for r in caplog.records if r.name == "drywallqa.engine.batch"]
    assert logged and all(not CONTROL.search(m) for m in logged), logged  # one line each, from Python too
    again = CliRunner().invoke(app, args, terminal_width=400)
    assert again.exit_code == 1 and f"{len(CONTROL_NAMES)} skipped" in again.output, again.output


def test_control_characters_in_a_log_line_are_escaped_on_the_command_line():
    """Any message logged while a command runs (a data problem naming a file) is one line on the console."""
    import logging

    from drywallqa.cli.common import OneLine

    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "%s: skipped", ("photo\nERROR forged.jpg",), None)
    assert OneLine().filter(record) and record.getMessage() == "photo\\nERROR forged.jpg: skipped"


def test_a_folder_an_older_version_named_by_the_raw_name_is_resumed_listing_each_photo_once(tiny_model_dir, tmp_path,
                                                                                           monkeypatch):
    """Outputs an earlier version wrote under a name holding a newline: the photo is done again under its slug, and
    results.json and the report list it once (the old record is not taken for another job's photo; its files, left
    beside, are said once)."""
    import drywallqa.engine.batch as batch

    folder = tmp_path / "in"
    _photo(folder, "a\nb")
    _photo(folder, "plain")
    out = tmp_path / "out"
    args = ["predict", str(folder), "-p", "segment crack", "--out", str(out), "--model-path", str(tiny_model_dir)]
    monkeypatch.setattr(batch, "file_stem", lambda stem: stem)  # as before: the stem as it is
    assert CliRunner().invoke(app, args).exit_code == 0
    assert (out / "a\nb__results.json").is_file()
    monkeypatch.undo()
    res = CliRunner().invoke(app, args, terminal_width=400)
    assert res.exit_code == 0 and "1 images done, 1 skipped" in res.output, res.output
    # the old files are left beside, and said so (not taken for another job's photo: no "other prompts" warning)
    said = [line for line in res.output.splitlines() if line.startswith("warning")]
    assert len(said) == 1 and "1 photos of this job have results" in said[0] and "older drywallqa" in said[0], said
    images = json.loads((out / "results.json").read_text())["images"]
    assert sorted(os.path.basename(e["image"]) for e in images) == ["a\nb.jpg", "plain.jpg"]


def test_a_rule_names_a_prompt_of_several_lines_as_it_was_typed():
    """A review: `--flag $'segment crack\\nwide ones: area_px > 5'` was malformed; only the "; " form was taken."""
    from drywallqa.engine.segmenter import validate_prompts
    from drywallqa.rules import parse_rules

    prompts = validate_prompts(["segment crack\nwide ones"])
    (rule,) = parse_rules(["segment crack\nwide ones: area_px > 5"], prompts, None)
    assert rule.prompt == prompts[0] == "segment crack; wide ones"


@pytest.mark.parametrize("prompt", ["\u0301", " \u0301\u0308 ", "\u200b\u20dd"])
def test_a_prompt_of_marks_alone_is_refused_and_a_letter_with_a_mark_is_taken(prompt):
    """A prompt of a lone combining accent (nothing for it to sit on) was taken as a prompt and answered."""
    from drywallqa.text.prompts import check_prompt

    with pytest.raises(ValueError, match="visible character"):
        check_prompt(prompt)
    assert check_prompt("segment cre\u0301pi crack") == "segment cre\u0301pi crack"
