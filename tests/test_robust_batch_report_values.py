"""report.html (and results.csv) of a batch job: what it says of a mask file gone since the job, the digits of the
values a QA rule judged."""

import json

import numpy as np
from PIL import Image

from drywallqa.engine.batch_report import write_batch_report
from drywallqa.measures import mask_measures
from test_browser import server  # noqa: F401 (the page's server, for the browser test)


def _job(tmp_path, mm_per_px=None, rows=4):
    """A batch output folder by hand: one photo, a crack mask (a band ``rows`` px wide) and an empty taping mask."""
    out = tmp_path / "out"
    out.mkdir()
    prompts = ["segment crack", "segment taping area"]
    Image.fromarray(np.full((200, 400, 3), 128, np.uint8)).save(tmp_path / "wall.jpg")
    entry = {"image": str(tmp_path / "wall.jpg"), "height": 200, "width": 400, "prompts": {}}
    for p, slug in zip(prompts, ("segment_crack", "segment_taping_area")):
        mask = np.zeros((200, 400), bool)
        if slug == "segment_crack":
            mask[100:100 + rows, 20:380] = True
        Image.fromarray(mask.astype(np.uint8) * 255).save(out / f"wall__{slug}.png")
        entry["prompts"][p] = {"mask": f"wall__{slug}.png", **mask_measures(mask, mm_per_px)}
    (out / "results.json").write_text(json.dumps({"prompts": prompts, "images": [entry], "failed": []}))
    return out


def test_a_deleted_or_unreadable_mask_is_named_and_the_photo_still_shown(tmp_path):
    """A mask file deleted (or spoilt) after the job made the report say "photo not readable", with no picture,
    although the photo was fine: now the photo is shown (its other masks tinted) and the mask file named."""
    out = _job(tmp_path)
    (out / "wall__segment_crack.png").unlink()
    page = write_batch_report(out).read_text()
    assert "photo not readable" not in page
    assert 'src="./report_files/wall.jpg"' in page and (out / "report_files" / "wall.jpg").is_file()
    assert "segment crack: its mask file wall__segment_crack.png is missing" in page
    (out / "wall__segment_taping_area.png").write_bytes(b"not a png")
    page = write_batch_report(out).read_text()
    assert "photo not readable" not in page and 'src="./report_files/wall.jpg"' in page
    assert "wall__segment_taping_area.png is not readable" in page


def test_a_thumbnail_drawn_without_a_mask_is_drawn_again_when_it_is_back(tmp_path):
    """The thumbnail drawn while a mask was gone is newer than the mask put back (a copy keeping its time): it must
    not be kept as if the mask were tinted on it."""
    import os
    import shutil

    out = _job(tmp_path, rows=40)
    crack = out / "wall__segment_crack.png"
    shutil.move(crack, tmp_path / "kept.png")
    write_batch_report(out)
    shutil.copy2(tmp_path / "kept.png", crack)
    os.utime(crack, (1e9, 1e9))
    page = write_batch_report(out).read_text()
    assert "missing" not in page
    pixel = np.asarray(Image.open(out / "report_files" / "wall.jpg"))[int(0.6 * 180), 180]
    assert pixel[0] > pixel[1] + 40  # the crack tinted red again


def _with_rules(out, rules, **measures):
    """``out``'s results.json with ``rules`` and the crack mask's measures set to ``measures``, flagged as the job
    would flag them."""
    from drywallqa.rules import flags, parse_rules

    results = json.loads((out / "results.json").read_text())
    results["rules"] = rules
    entry = results["images"][0]
    entry["prompts"]["segment crack"].update(measures)
    entry["flags"] = flags(entry, parse_rules(rules, results["prompts"], 0.1))
    (out / "results.json").write_text(json.dumps(results))
    return entry["flags"]


def test_a_value_beside_a_rule_never_reads_as_its_limit(tmp_path):
    """0.3004 mm read "0.30 mm" beside the broken rule "max_width_mm > 0.3" (a value equal to the limit marked as
    failing); 33.59 mm read "33.6 mm" beside an unbroken "length_mm >= 33.6"; 4.996% read "5.00%" beside an
    unbroken "area_fraction >= 0.05". Now each has the digits to read on its side of the limit."""
    out = _job(tmp_path, mm_per_px=0.1)
    assert _with_rules(out, ["segment crack: max_width_mm > 0.3", "segment crack: length_mm >= 33.6",
                             "segment crack: area_fraction >= 0.05"],
                       max_width_mm=0.3004, length_mm=33.59, area_fraction=0.04996) == [
        "segment crack: max_width_mm > 0.3"]
    page = write_batch_report(out).read_text()
    assert "max width 0.3004 mm" in page and "0.30 mm" not in page
    assert "length 33.59 mm" in page
    assert "4.996% of the photo" in page
    # a value at the limit reads as it, one far from it as before
    _with_rules(out, ["segment crack: max_width_mm >= 0.3", "segment crack: length_mm > 100"],
                max_width_mm=0.30000000000000004, length_mm=36.04, area_fraction=0.0722)
    page = write_batch_report(out).read_text()
    assert "length 36.0 mm, max width 0.30 mm" in page and "7.22% of the photo" in page


def test_the_table_never_rounds_a_value_onto_a_rules_limit(tmp_path):
    """results.csv keeps 6 significant digits: 0.3000004 read 0.3 beside the broken "max_width_mm > 0.3"."""
    import csv

    from drywallqa.engine.batch_table import write_batch_table

    out = _job(tmp_path, mm_per_px=0.1)
    assert _with_rules(out, ["segment crack: max_width_mm > 0.3"], max_width_mm=0.3000004, mean_width_mm=0.2000004)
    rows = list(csv.DictReader(write_batch_table(out).read_text(encoding="utf-8-sig").splitlines()))
    crack = next(r for r in rows if r["prompt"] == "segment crack")
    assert crack["max_width_mm"] == "0.3000004" and crack["flags"] == "segment crack: max_width_mm > 0.3"
    assert crack["mean_width_mm"] == "0.2"  # no rule on it: 6 digits as before


def test_browser_joint_lines_lie_on_the_pixels_they_join(server, tmp_path):
    """The page drew a joint's ends (the API's pixel-centre coordinates) at ``x * scale``: on a photo drawn larger
    than its pixels a line sat half a drawn pixel up and left of the pixels it joins (``tests/browser/joint_offset.mjs``:
    a 20 px photo drawn at 4x, a joint along row 3 must be centred on canvas row 14, not on 12)."""
    from test_browser import _need_browser, run_page_script

    _need_browser()
    out = run_page_script("joint_offset.mjs", server)
    assert out["consoleErrors"] == [], out
    assert out["rowsAcross"] == [13, 14], out  # the white core (2 px) centred on 14 = (3 + 0.5) * 4
    assert out["columnsAcross"] == [61, 62], out  # column 15: centred on (15 + 0.5) * 4 = 62


def test_joints_drawn_at_another_scale_lie_on_the_pixels_they_join():
    """draw_joints placed a joint's ends (pixel centres of the mask) at ``x * scale``: at another scale than 1 (a
    report thumbnail) half a mask pixel up and left of the pixels it joins; a joint along row 3 of a mask drawn 4x
    larger must be centred on row 13.5 (rows 12 to 15), not on 12."""
    from drywallqa.viz import draw_joints

    drawn = draw_joints(np.zeros((80, 80, 3), np.uint8), [{"start_xy": [2, 3], "end_xy": [18, 3]},
                                                          {"start_xy": [15, 19], "end_xy": [15, 8]}], 4.0, (255, 0, 0))
    white = drawn.min(axis=2) == 255
    assert np.flatnonzero(white[:, 40]).tolist() == [13, 14]
    assert 61 in np.flatnonzero(white[50, :]).tolist()  # (PIL draws its 2 px wide line on columns 60 and 61)
    same = draw_joints(np.zeros((80, 80, 3), np.uint8), [{"start_xy": [2, 30], "end_xy": [70, 30]}], 1.0, (255, 0, 0))
    assert np.flatnonzero(same.min(axis=2)[:, 40] == 255).tolist() == [30, 31]  # at 1:1 as before


def test_browser_a_value_beside_a_rule_never_reads_as_its_limit(server, tmp_path):
    """The web page's measures table (as report.html): 0.3004 mm read "0.30 mm" beside "Flagged: segment crack:
    max_width_mm > 0.3", 33.59 mm "33.6 mm" beside an unbroken "length_mm >= 33.6", 4.996% "5.0%" beside an
    unbroken "area_fraction >= 0.05" (``tests/browser/rule_values.mjs``)."""
    from test_browser import _need_browser, run_page_script

    _need_browser()
    Image.new("RGB", (64, 48), (150, 150, 150)).save(tmp_path / "wall.png")
    out = run_page_script("rule_values.mjs", server, tmp_path / "wall.png")
    assert out["consoleErrors"] == [] and out["error"] == "", out
    assert "Flagged: segment crack: max_width_mm > 0.3" in out["flags"], out
    # prompt, confidence, regions, area, length, max width, mean width, ...
    assert out["row"][4:7] == ["33.59 mm", "0.3004 mm", "0.25 mm"], out["row"]  # mean width: no rule near it
    assert out["row"][3].endswith("(4.996%)"), out["row"]


def test_a_confidence_beside_the_min_confidence_that_emptied_it_never_reads_as_it(tmp_path):
    """A mask --min-confidence 0.3 emptied at confidence 0.2996 read "confidence 0.30" beside "its confidence below
    --min-confidence 0.3" in report.html, and 0.2999996 read 0.3 in results.csv."""
    import csv

    from drywallqa.engine.batch_table import write_batch_table

    out = _job(tmp_path)
    results = json.loads((out / "results.json").read_text())
    crack = results["images"][0]["prompts"]["segment crack"]
    crack.update(confidence=0.2996, emptied_below=0.3)
    results["images"][0]["prompts"]["segment taping area"]["confidence"] = 0.2996  # not emptied: as before
    (out / "results.json").write_text(json.dumps(results))
    page = write_batch_report(out).read_text()
    assert "--min-confidence 0.3<br><span class=\"conf\">confidence 0.2996</span>" in page
    assert "confidence 0.30</span>" in page  # the taping mask: kept, no limit to read against
    crack["confidence"] = 0.2999996
    (out / "results.json").write_text(json.dumps(results))
    rows = list(csv.DictReader(write_batch_table(out).read_text(encoding="utf-8-sig").splitlines()))
    assert [r["confidence"] for r in rows] == ["0.2999996", "0.2996"], rows


def test_the_table_of_a_hand_edited_results_json_with_odd_rules_is_still_written(tmp_path):
    """results.csv reads the rules of results.json for the digits of a value beside a limit: rules that are no list
    of rules (a hand-edited file) are passed over, the table written as before."""
    from drywallqa.engine.batch_table import write_batch_table

    out = _job(tmp_path, mm_per_px=0.1)
    for rules in (5, None, {"a": 1}, ["segment crack: max_width_mm > x", 7, None]):
        results = json.loads((out / "results.json").read_text())
        results["rules"] = rules
        (out / "results.json").write_text(json.dumps(results))
        assert "segment crack" in write_batch_table(out).read_text(encoding="utf-8-sig")


def test_the_report_of_a_hand_edited_results_json_with_odd_rules_is_still_written(tmp_path):
    """report.html failed with TypeError on a hand-edited results.json whose rules were no list of texts ('rules': 5,
    a number among them) and listed one rule given as a text letter by letter ("s; e; g; ..."); results.csv failed
    on a photo's flags of 5 and listed a text's letters."""
    import csv

    from drywallqa.engine.batch_table import write_batch_table

    out = _job(tmp_path, mm_per_px=0.1)
    for rules, shown in ((5, None), (["segment crack: max_width_mm > 1", 7], "segment crack: max_width_mm &gt; 1; 7"),
                         ("segment crack: max_width_mm > 1", "flagged by: segment crack: max_width_mm &gt; 1</p>")):
        results = json.loads((out / "results.json").read_text())
        results["rules"] = rules
        results["images"][0]["flags"] = [7]
        (out / "results.json").write_text(json.dumps(results))
        page = write_batch_report(out).read_text()
        assert shown is None and "flagged by" not in page or shown in page, page
        assert '<span class="flag">7</span>' in page
    results["images"][0]["flags"] = 5
    (out / "results.json").write_text(json.dumps(results))
    assert "0 of 1 photos flagged by" in write_batch_report(out).read_text()  # 5: no rule broken
    for flags, listed in ((5, ""), ("segment crack: max_width_mm > 1", "segment crack: max_width_mm > 1")):
        results["images"][0]["flags"] = flags
        (out / "results.json").write_text(json.dumps(results))
        rows = list(csv.DictReader(write_batch_table(out).read_text(encoding="utf-8-sig").splitlines()))
        assert rows[0]["flags"] == listed
