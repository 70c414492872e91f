import json

import numpy as np
import pytest
from PIL import Image

from drywallqa.engine.batch_report import THUMB_SIZE, write_batch_report
from drywallqa.measures import mask_measures


def _job(tmp_path, mm_per_px=None):
    """A batch output folder by hand: two photos with known masks, one failed file."""
    out = tmp_path / "out"
    out.mkdir()
    prompts = ["segment crack", "segment <taping> area"]
    entries = []
    for stem, crack_rows in (("small", 2), ("large", 40)):
        image = np.full((200, 400, 3), 128, np.uint8)
        Image.fromarray(image).save(tmp_path / f"{stem}.jpg")
        entry = {"image": str(tmp_path / f"{stem}.jpg"), "height": 200, "width": 400, "prompts": {}}
        for p, slug in zip(prompts, ("segment_crack", "segment_taping_area")):
            mask = np.zeros((200, 400), bool)
            if slug == "segment_crack":
                mask[100:100 + crack_rows, 20:380] = True
            Image.fromarray(mask.astype(np.uint8) * 255).save(out / f"{stem}__{slug}.png")
            entry["prompts"][p] = {"mask": f"{stem}__{slug}.png", **mask_measures(mask, mm_per_px)}
        entries.append(entry)
    failed = [[str(tmp_path / "bad<1>.jpg"), "not a readable image"]]
    (out / "results.json").write_text(json.dumps({"prompts": prompts, "images": entries, "failed": failed}))
    return out


def test_report_lists_every_photo_most_affected_first_with_thumbnails(tmp_path):
    out = _job(tmp_path)
    page = write_batch_report(out).read_text()
    assert page.index("large.jpg") < page.index("small.jpg")        # 40 rows of crack before 2
    assert "segment &lt;taping&gt; area" in page and "<taping>" not in page  # prompts and names are escaped
    assert "bad&lt;1&gt;.jpg: not a readable image" in page
    assert "2 of 2" in page and "0 of 2" in page                      # photos with a finding, per prompt
    assert page.count("nothing found") == 2
    for stem in ("large", "small"):
        thumb = Image.open(out / "report_files" / f"{stem}.jpg")
        assert max(thumb.size) == THUMB_SIZE and thumb.size == (THUMB_SIZE, THUMB_SIZE // 2)
        assert f'src="./report_files/{stem}.jpg"' in page
    # the crack is tinted in the first prompt's colour (red) in the thumbnail
    pixel = np.asarray(Image.open(out / "report_files" / "large.jpg"))[int(0.6 * THUMB_SIZE // 2), THUMB_SIZE // 2]
    assert pixel[0] > pixel[1] + 40


def test_report_uses_millimetres_when_the_job_had_a_scale_and_needs_results(tmp_path):
    out = _job(tmp_path, mm_per_px=0.5)
    page = write_batch_report(out).read_text()
    assert "length 180.0 mm, max width 20.00 mm" in page              # the 360 x 40 px band at 0.5 mm/px
    assert "<td>360 mm</td>" in page                                  # total crack length of both photos (2 x 180)
    with pytest.raises(FileNotFoundError, match="results.json"):
        write_batch_report(tmp_path / "nothing_here")


def test_thumbnails_are_reused_until_a_mask_changes(tmp_path):
    import os

    out = _job(tmp_path)
    write_batch_report(out)
    thumb = out / "report_files" / "large.jpg"
    os.utime(thumb, (1e9 + 100, 1e9 + 100))              # pretend: made after the masks ...
    for m in out.glob("*.png"):
        os.utime(m, (1e9, 1e9))
    write_batch_report(out)
    assert thumb.stat().st_mtime == 1e9 + 100               # ... so it is kept
    os.utime(out / "large__segment_crack.png", (1e9 + 200, 1e9 + 200))  # a mask rewritten by a later run
    write_batch_report(out)
    assert thumb.stat().st_mtime > 1e9 + 200                # ... so it is made again



def test_a_thumbnail_tinted_in_other_colours_is_made_again(tmp_path):
    """A thumbnail newer than its masks was kept whatever colours it was tinted in: one of an earlier version (its
    sixth prompt in the first's red) stayed beside a legend of the new colours."""
    import os

    out = _job(tmp_path)
    write_batch_report(out)
    thumb = out / "report_files" / "large.jpg"
    Image.fromarray(np.asarray(Image.open(thumb))).save(thumb, format="JPEG")  # as an earlier version wrote it
    os.utime(thumb, (2e9, 2e9))  # newer than the masks
    write_batch_report(out)
    assert thumb.stat().st_mtime != 2e9 and Image.open(thumb).info.get("comment")  # made again, its colours noted
    made = thumb.stat().st_mtime
    write_batch_report(out)
    assert thumb.stat().st_mtime == made  # the same colours: kept


def test_report_survives_a_photo_that_is_gone(tmp_path):
    out = _job(tmp_path)
    (tmp_path / "small.jpg").unlink()
    page = write_batch_report(out).read_text()
    assert "photo not readable" in page and "large.jpg" in page


def test_report_shows_the_taped_share_of_the_joints(tmp_path):
    out = _job(tmp_path)
    results = json.loads((out / "results.json").read_text())
    entry = results["images"][0]["prompts"]["segment crack"]
    entry["joints"] = [{"length_px": 300.0, "mean_width_px": 20.0, "coverage": 0.5, "angle_deg": 0.0},
                       {"length_px": 100.0, "mean_width_px": 20.0, "coverage": 1.0, "angle_deg": 90.0}]
    (out / "results.json").write_text(json.dumps(results))
    page = write_batch_report(out).read_text()
    assert page.count("joint(s)") == 1 and "2 joint(s), 62% of their length taped" in page  # (150 + 100) / 400


@pytest.mark.parametrize("stem", ["Unit #4B", "c%20d", "q?x=1", "site:A", "javascript:alert(1);x", "ü ñ"])
def test_every_link_of_the_report_opens_its_file_whatever_the_name(tmp_path, stem):
    """Names are URL-encoded and relative to the page: '#' is no anchor, 'site:' and 'javascript:' no scheme."""
    from html.parser import HTMLParser
    from urllib.parse import unquote, urlsplit

    out = tmp_path / "out"
    out.mkdir()
    Image.fromarray(np.full((20, 30, 3), 128, np.uint8)).save(tmp_path / f"{stem}.png")
    mask = np.zeros((20, 30), bool)
    mask[5:10, 5:20] = True
    Image.fromarray(mask.astype(np.uint8) * 255).save(out / f"{stem}__segment_crack.png")
    entry = {"image": str(tmp_path / f"{stem}.png"), "height": 20, "width": 30,
             "prompts": {"segment crack": {"mask": f"{stem}__segment_crack.png", **mask_measures(mask)}}}
    (out / "results.json").write_text(json.dumps({"prompts": ["segment crack"], "images": [entry], "failed": []}))
    links = []

    class Links(HTMLParser):
        def handle_starttag(self, tag, attrs):
            links.extend(v for k, v in attrs if k in ("href", "src") and v and not v.startswith(("http", "data:")))

    Links().feed(write_batch_report(out).read_text())
    assert len(links) == 3  # the thumbnail (link and image) and the mask
    for link in links:
        parts = urlsplit(link)
        assert not parts.scheme and not parts.fragment and not parts.query, link
        assert (out / unquote(parts.path)).is_file(), link


def test_a_rerun_says_which_outputs_are_an_earlier_runs(tiny_model_dir, tmp_path):
    import numpy as np
    from PIL import Image
    from typer.testing import CliRunner

    from drywallqa.cli import app

    Image.fromarray(np.full((40, 60, 3), 128, np.uint8)).save(tmp_path / "wall.jpg")
    base = ["predict", str(tmp_path / "wall.jpg"), "-p", "segment crack", "--out", str(tmp_path / "o"),
            "--model-path", str(tiny_model_dir)]
    assert CliRunner().invoke(app, [*base, "--coco", "rle"]).exit_code == 0
    res = CliRunner().invoke(app, [*base, "--no-report"])
    text = " ".join(res.output.split())
    assert "report.html is an earlier run's (--no-report now)" in text
    assert "predictions.coco.json is an earlier run's (no --coco now)" in text
    assert "earlier run's" not in " ".join(CliRunner().invoke(app, [*base, "--coco", "rle"]).output.split())


def test_taped_joints_are_drawn_numbered_and_listed(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    Image.fromarray(np.full((200, 400, 3), 128, np.uint8)).save(tmp_path / "wall.jpg")
    mask = np.zeros((200, 400), bool)
    mask[40:52, 20:380] = True    # a joint 360 px long ...
    mask[40:52, 200:290] = False  # ... 90 px of it untaped
    mask[80:190, 388:398] = True  # and a vertical one, 110 px
    Image.fromarray(mask.astype(np.uint8) * 255).save(out / "wall__tape.png")
    entry = {"image": str(tmp_path / "wall.jpg"), "height": 200, "width": 400,
             "prompts": {"segment taping area": {"mask": "wall__tape.png", **mask_measures(mask, joints=True)}}}
    (out / "results.json").write_text(json.dumps({"prompts": ["segment taping area"], "images": [entry], "failed": []}))
    page = write_batch_report(out).read_text()
    assert "2 joint(s)" in page and "1: 360.0 px, 75%; 2: 110.0 px, 100%" in page  # numbered as on the picture
    thumb = np.asarray(Image.open(out / "report_files" / "wall.jpg")).astype(int)
    scale = THUMB_SIZE / 400
    rows = slice(int(38 * scale), int(53 * scale) + 1)  # across the first joint's tape
    on_line, in_gap = thumb[rows, round(120 * scale)], thumb[rows, round(245 * scale)]
    assert (on_line.min(axis=1) > 200).any(), on_line      # its line drawn white on the tape
    assert (in_gap.min(axis=1) > 200).any(), in_gap        # and across its gap: the line runs on
    assert (thumb[rows, round(10 * scale)].min(axis=1) < 200).all()  # and not before the tape starts


def test_a_hand_edited_record_with_spoilt_joints_still_makes_a_report(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    Image.fromarray(np.full((100, 200, 3), 128, np.uint8)).save(tmp_path / "wall.jpg")
    mask = np.zeros((100, 200), bool)
    mask[40:50, 10:190] = True
    Image.fromarray(mask.astype(np.uint8) * 255).save(out / "wall__tape.png")
    measures = mask_measures(mask, joints=True)
    measures["joints"] = [{"length_px": "long", "coverage": 1}, {"start_xy": "here"}, *measures["joints"]]
    entry = {"image": str(tmp_path / "wall.jpg"), "height": 100, "width": 200,
             "prompts": {"segment taping area": {"mask": "wall__tape.png", **measures}}}
    (out / "results.json").write_text(json.dumps({"prompts": ["segment taping area"], "images": [entry], "failed": []}))
    page = write_batch_report(out).read_text()
    assert "1 joint(s), 100% of their length taped" in page and "3: 180.0 px, 100%" in page  # numbered as drawn


def test_a_prompt_the_model_does_not_know_reads_not_answered_not_nothing_found(tmp_path):
    """The prompt gate leaves the mask of a prompt the model does not know empty ("segment the window"): the report
    read "nothing found, confidence 0.00" on every photo, as if the model had looked for windows and seen none (the
    table said "answered: no")."""
    out = tmp_path / "out"
    out.mkdir()
    Image.fromarray(np.full((40, 60, 3), 128, np.uint8)).save(tmp_path / "wall.jpg")
    empty = np.zeros((40, 60), bool)
    Image.fromarray(empty.astype(np.uint8)).save(out / "wall__window.png")
    concept = {"concept": "cracks", "nearest_prompt": "segment crack", "similarity": 0.58, "margin": -0.42, "known": False}
    entry = {"image": str(tmp_path / "wall.jpg"), "height": 40, "width": 60, "prompts": {"segment the window": {
        "mask": "wall__window.png", **mask_measures(empty), "confidence": 0.0, "concept": concept}}}
    (out / "results.json").write_text(json.dumps({"prompts": ["segment the window"], "images": [entry], "failed": []}))
    page = write_batch_report(out).read_text()
    assert "nothing found" not in page and "confidence 0.00" not in page
    assert '">not answered</a>: not a thing this model knows (nearest: cracks)' in page
    assert "0 of 1 (not answered on 1 photo(s): not a thing this model knows)" in page


def test_a_large_photos_thumbnail_is_tinted_small(tmp_path):
    """The thumbnail tinted the photo at its full size, in float32 copies of it, then shrank it: 2 GB and over a
    minute for one 60 MP photo (a photo larger still, allowed by --max-pixels, could end the report in a
    MemoryError). Now each mask is tinted on the thumbnail by the share of its pixels it covers: a crack a pixel wide
    still shows."""
    import tracemalloc

    out = tmp_path / "out"
    out.mkdir()
    h, w = 1500, 4000
    Image.fromarray(np.full((h, w, 3), 100, np.uint8)).save(tmp_path / "wall.png")
    mask = np.zeros((h, w), bool)
    mask[700, 100:3900] = True  # a hairline crack: a thirtieth of a thumbnail pixel high
    mask[900:1400, 1000:2000] = True
    Image.fromarray(mask.astype(np.uint8) * 255).save(out / "wall__segment_crack.png")
    entry = {"image": str(tmp_path / "wall.png"), "height": h, "width": w, "prompts": {"segment crack": {
        "mask": "wall__segment_crack.png", "components": 2, "area_px": int(mask.sum()), "area_fraction": float(mask.mean()),
        "length_px": 3800.0, "mean_width_px": 1.0, "max_width_px": 500.0, "confidence": 0.5}}}
    (out / "results.json").write_text(json.dumps({"prompts": ["segment crack"], "images": [entry], "failed": []}))
    tracemalloc.start()
    try:
        write_batch_report(out)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * h * w, peak  # bytes: the photo, its mask and a few copies of the mask (not float32 photos)
    thumb = np.asarray(Image.open(out / "report_files" / "wall.jpg")).astype(int)
    assert thumb.shape == (135, 360, 3)
    assert thumb[105, 135, 0] > 160 and abs(thumb[105, 135, 1] - 70) < 15  # the block: half red, half the grey
    crack = thumb[61:66, 20:340]  # the hairline crack's row of the thumbnail (700 / 4000 x 360 = 63)
    assert (crack[..., 0] - crack[..., 1]).max(axis=0).min() >= 2  # tinted, faintly, all along
    assert (thumb[20, :, 0] - thumb[20, :, 1]).max() <= 2  # and nothing where there is no mask


def test_a_mask_min_confidence_emptied_is_said_to_be_emptied_not_nothing_found(tiny_model_dir, tmp_path):
    """--min-confidence empties the masks scored lower: the report read "nothing found" beside their confidence, the
    table "components 0", as if the model had seen nothing there, where it found something it did not trust (the
    photos a person should look at first)."""
    import csv

    from typer.testing import CliRunner

    from drywallqa.cli import app
    from conftest import write_photos

    photos = write_photos(tmp_path / "photos", 1)
    out = tmp_path / "out"
    base = ["predict", str(photos), "-p", "segment crack", "--out", str(out), "--model-path", str(tiny_model_dir)]
    assert CliRunner().invoke(app, [*base, "--min-confidence", "0.99"]).exit_code == 0
    (entry,) = json.loads((out / "results.json").read_text())["images"]
    mask = entry["prompts"]["segment crack"]
    assert mask["components"] == 0 and mask["confidence"] < 0.99 and mask["emptied_below"] == 0.99
    page = (out / "report.html").read_text()
    assert "nothing found" not in page and '">emptied</a>: its confidence below --min-confidence 0.99' in page
    with open(out / "results.csv", newline="", encoding="utf-8-sig") as f:
        (row,) = csv.DictReader(f)
    assert row["answered"] == "no: mask emptied, its confidence below --min-confidence 0.99"
    assert CliRunner().invoke(app, [*base, "--min-confidence", "0"]).exit_code == 0  # another setting: predicted again
    (entry,) = json.loads((out / "results.json").read_text())["images"]
    assert "emptied_below" not in entry["prompts"]["segment crack"] and "emptied" not in (out / "report.html").read_text()


def test_a_mask_found_empty_is_not_said_to_be_emptied_by_min_confidence(tiny_model_dir, tmp_path):
    """A mask in which nothing was found (here: --threshold 1, which no probability reaches) and whose confidence is
    below --min-confidence was recorded as emptied by it ("emptied_below"; the table: "mask emptied, its confidence
    below ..."), as if the model had found something it did not trust."""
    import csv

    from typer.testing import CliRunner

    from drywallqa.cli import app
    from conftest import write_photos

    photos = write_photos(tmp_path / "photos", 1)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["predict", str(photos), "-p", "segment crack", "--out", str(out), "--model-path",
                                   str(tiny_model_dir), "--threshold", "1", "--min-confidence", "0.99"])
    assert res.exit_code == 0, res.output
    (entry,) = json.loads((out / "results.json").read_text())["images"]
    mask = entry["prompts"]["segment crack"]
    assert mask["components"] == 0 and mask["confidence"] < 0.99 and "emptied_below" not in mask, mask
    with open(out / "results.csv", newline="", encoding="utf-8-sig") as f:
        (row,) = csv.DictReader(f)
    assert "emptied" not in row["answered"] and "emptied" not in (out / "report.html").read_text()


def test_keep_confident_records_only_the_masks_it_emptied():
    from drywallqa.engine.segmenter import SegmentationResult

    full, empty = np.ones((4, 5), bool), np.zeros((4, 5), bool)
    result = SegmentationResult(masks={"a": full, "b": empty, "c": full, "d": full},
                                confidence={"a": 0.2, "b": 0.2, "c": 0.9})  # "d": no confidence, kept
    assert result.keep_confident(None) is result and result.emptied == {}
    result.keep_confident(0.5)
    assert dict(result.emptied) == {"a": 0.5} and result.emptied[" a\n"] == 0.5  # a prompt as typed finds it
    assert not result.masks["a"].any() and not result.masks["b"].any()
    assert result.masks["c"].all() and result.masks["d"].all() and result.masks["a"].shape == (4, 5)
    odd = SegmentationResult(masks={"n": full.copy()}, confidence={"n": float("nan")}).keep_confident(0.1)
    assert not odd.masks["n"].any() and dict(odd.emptied) == {"n": 0.1}  # a NaN confidence is no trust


def test_a_small_finding_on_a_large_photo_is_no_zero_percent(tmp_path):
    """A crack of 300 pixels on a 12 MP photo read "1 region(s), 0.00% of the photo"."""
    out = tmp_path / "out"
    out.mkdir()
    Image.fromarray(np.full((60, 80, 3), 128, np.uint8)).save(tmp_path / "wall.jpg")
    mask = np.zeros((60, 80), bool)
    mask[30, 10:70] = True
    Image.fromarray(mask.astype(np.uint8) * 255).save(out / "wall__segment_crack.png")
    measures = {**mask_measures(mask), "area_fraction": 300 / 12_000_000}  # as on a 12 MP photo
    entry = {"image": str(tmp_path / "wall.jpg"), "height": 60, "width": 80,
             "prompts": {"segment crack": {"mask": "wall__segment_crack.png", **measures}}}
    (out / "results.json").write_text(json.dumps({"prompts": ["segment crack"], "images": [entry], "failed": []}))
    page = write_batch_report(out).read_text()
    assert "1 region(s)</a><br>&lt; 0.01% of the photo" in page and "0.00%" not in page


def test_each_of_many_prompts_has_its_own_colour_in_thumbnails_overlays_and_legend(tmp_path):
    """The colours repeated after five prompts: the sixth prompt's mask was tinted as the first's, on one thumbnail."""
    import re

    from drywallqa.engine.batch import overlay_row

    out = tmp_path / "out"
    out.mkdir()
    prompts = [f"segment thing {k}" for k in range(20)]
    image = np.full((80, 160, 3), 128, np.uint8)
    Image.fromarray(image).save(tmp_path / "wall.png")
    entry = {"image": str(tmp_path / "wall.png"), "height": 80, "width": 160, "prompts": {}}
    masks = []
    for k, p in enumerate(prompts):
        mask = np.zeros((80, 160), bool)
        mask[:, 8 * k:8 * k + 8] = True                                    # each prompt a band of its own
        masks.append(mask)
        Image.fromarray(mask.astype(np.uint8) * 255).save(out / f"wall__{k}.png")
        entry["prompts"][p] = {"mask": f"wall__{k}.png", **mask_measures(mask)}
    (out / "results.json").write_text(json.dumps({"prompts": prompts, "images": [entry], "failed": []}))
    page = write_batch_report(out).read_text()
    legend = re.findall(r'background:rgb(\([0-9, ]+\))', page.split("<table>")[0])
    assert len(legend) == 20 and len(set(legend)) == 20                  # 20 prompts, 20 colours in the legend
    assert page.count('class="chip"') == 40                               # and the same chip atop each prompt's column
    thumb = np.asarray(Image.open(out / "report_files" / "wall.jpg").convert("RGB")).astype(int)
    scale = thumb.shape[1] / 160
    tints = [tuple(thumb[thumb.shape[0] // 2, int((8 * k + 4) * scale)]) for k in range(20)]
    for k in range(20):                                                  # each band shows on the grey wall
        assert max(abs(c - 128) for c in tints[k]) > 40, (k, tints[k])
    for k in range(5, 20):                                               # no band like the one five or ten before
        for j in range(k):
            assert max(abs(a - b) for a, b in zip(tints[k], tints[j])) > 12, (k, j, tints[k], tints[j])
    panels = overlay_row(image, masks, entry, prompts)[1:]
    strips = [tuple(panels[k][40, 8 * k + 4]) for k in range(20)]
    assert len(set(strips)) == 20                                         # --overlay's panels too
