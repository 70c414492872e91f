"""A batch job's results.json edited by hand (or by another program) after the job: every reader of it (report.html,
results.csv, the COCO file, and ``predict`` writing them from an earlier job's results.json) names an entry it cannot
read (which photo, which field, what it should hold) and goes on with the rest: such entries raised tracebacks."""

import csv
import html
import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from drywallqa.cli import app
from drywallqa.data.coco_export import write_coco_predictions
from drywallqa.engine.batch_report import write_batch_report
from drywallqa.engine.batch_table import write_batch_table
from drywallqa.measures import mask_measures
from drywallqa.engine.batch_results import read_batch_results

CRACK, TAPE = "segment crack", "segment taping area"


def _job(tmp_path, rules=(), rows=4, mm_per_px=0.1):
    """A batch output folder by hand: photos ``a`` and ``b``, each a crack mask (a band ``rows`` px wide) and an empty
    taping mask, measured in mm."""
    out = tmp_path / "out"
    out.mkdir()
    images = []
    for stem in ("a", "b"):
        Image.fromarray(np.full((200, 400, 3), 128, np.uint8)).save(tmp_path / f"{stem}.jpg")
        entry = {"image": str(tmp_path / f"{stem}.jpg"), "height": 200, "width": 400, "prompts": {}, "warnings": []}
        for p, slug in ((CRACK, "segment_crack"), (TAPE, "segment_taping_area")):
            mask = np.zeros((200, 400), bool)
            if p == CRACK:
                mask[100:100 + rows, 20:380] = True
            Image.fromarray(mask.astype(np.uint8) * 255).save(out / f"{stem}__{slug}.png")
            entry["prompts"][p] = {"mask": f"{stem}__{slug}.png", **mask_measures(mask, mm_per_px), "confidence": 0.8}
        images.append(entry)
    (out / "results.json").write_text(json.dumps({"prompts": [CRACK, TAPE], "rules": list(rules), "images": images,
                                                  "failed": []}))
    return out


def _edit(out, change):
    results = json.loads((out / "results.json").read_text())
    change(results)
    (out / "results.json").write_text(json.dumps(results))
    return results


def _table(out):
    return list(csv.DictReader(write_batch_table(out).read_text(encoding="utf-8-sig").splitlines()))


def _set(key, value, prompt=CRACK):
    return lambda r: r["images"][1]["prompts"][prompt].update({key: value})


EDITS = {  # what was done to photo b's entry, and what its message says of it
    "confidence as text": (_set("confidence", "high"), "'confidence' is \"high\", not a number or null"),
    "a measure null": (_set("max_width_px", None), "'max_width_px' is null, not a number"),
    "a measure taken out": (lambda r: r["images"][1]["prompts"][CRACK].pop("area_fraction"), "no 'area_fraction'"),
    "a mm measure taken out": (lambda r: r["images"][1]["prompts"][CRACK].pop("length_mm"), "no 'length_mm'"),
    "warnings a number": (lambda r: r["images"][1].update(warnings=5), "'warnings' is 5, not a list of texts"),
    "warnings a text": (lambda r: r["images"][1].update(warnings="its first frame"), "'warnings' is \"its first frame\""),
    "a prompt's results no object": (lambda r: r["images"][1]["prompts"].update({CRACK: 5}),
                                     "\"segment crack\" is 5, not an object"),
    "prompts a list": (lambda r: r["images"][1].update(prompts=[1]), "'prompts' is [1], not an object"),
    "a prompt taken out": (lambda r: r["images"][1]["prompts"].pop(CRACK), "'prompts' has no \"segment crack\""),
    "image a number": (lambda r: r["images"][1].update(image=5), "'image' is 5, not the photo's path"),
    "image taken out": (lambda r: r["images"][1].pop("image"), "no 'image'"),
    "the entry a text": (lambda r: r["images"].__setitem__(1, "b.jpg"), "\"b.jpg\", not an object"),
    "concept a text": (_set("concept", "crack"), "'concept' is \"crack\", not an object"),
    "mask a number": (_set("mask", 5), "'mask' is 5, not the name of a mask file"),
    "joints a number": (_set("joints", 5, TAPE), "'joints' is 5, not a list"),
    "emptied_below a text": (_set("emptied_below", "0.3"), "'emptied_below' is \"0.3\", not a number"),
    "width a text": (lambda r: r["images"][1].update(width="400"), "'width' is \"400\""),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_a_hand_edited_entry_is_named_by_the_report_the_table_and_the_coco_file(tmp_path, caplog, edit):
    """Each edit failed report.html, results.csv or the COCO export with a traceback (TypeError, KeyError, ...), or
    was written there as it was (a confidence "high" as the COCO score); now the photo is listed as not readable in
    results.json with the field and what it should hold, the other photo shown as before."""
    out = _job(tmp_path)
    change, said = EDITS[edit]
    results = _edit(out, change)
    b = results["images"][1]["image"] if isinstance(results["images"][1], dict) and \
        isinstance(results["images"][1].get("image"), str) else "photo 2 of 'images'"

    page = write_batch_report(out).read_text()
    assert "1 photos, 0 failed, 1 not readable in results.json" in page
    assert f"<li>{html.escape(b)}: not readable in results.json: " in page and html.escape(said) in page, page
    assert 'src="./report_files/a.jpg"' in page and "report_files/b.jpg" not in page
    rows = _table(out)
    assert [r["image"] for r in rows if r["status"] == "done"] == [str(tmp_path / "a.jpg")] * 2
    assert [r["status"] for r in rows if r["image"] == b][0].startswith("not readable in results.json: ")
    assert said in [r["status"] for r in rows if r["image"] == b][0]
    coco = json.loads(write_coco_predictions(out).read_text())
    assert [i["file_name"] for i in coco["images"]] == ["a.jpg"]
    assert any(line.startswith(f"{b}: not readable in results.json") and said in line
               for line in coco["info"]["masks_not_read"]), coco["info"]
    assert said in caplog.text and "results.json" in caplog.text


def test_a_failed_item_that_is_no_pair_is_listed_as_not_readable(tmp_path):
    """``failed`` items are ``[photo, reason]``: one of another form failed the report and the table ("too many values
    to unpack"), and a text of two letters was read as a photo "a" that failed for "b"."""
    out = _job(tmp_path)
    _edit(out, lambda r: r.update(failed=[["c.jpg", "not a readable image"], "d.jpg", "ab", [1, 2], ["e.jpg"]]))
    failed = read_batch_results(out)["failed"]
    assert failed[0] == ["c.jpg", "not a readable image"] and len(failed) == 5
    assert [f[0] for f in failed[1:]] == ["item 2 of 'failed'", "item 3 of 'failed'", "item 4 of 'failed'", "e.jpg"]
    assert all(why.startswith("not readable in results.json: ") and "not a [photo, reason] pair" in why
               for _, why in failed[1:])
    page = write_batch_report(out).read_text()
    assert "2 photos, 1 failed, 4 not readable in results.json" in page and "its item 3 of &#x27;failed&#x27; is &quot;ab&quot;" in page
    statuses = [r["status"] for r in _table(out)]
    assert "not a readable image" in statuses and sum("not a [photo, reason] pair" in s for s in statuses) == 4


@pytest.mark.parametrize("change, said", [
    (lambda r: r.update(prompts=[CRACK, 5]), "its prompt 5 is no text"),
    (lambda r: r.update(failed={"c.jpg": "not a readable image"}), "'failed' a list"),
])
def test_a_results_json_whose_prompts_or_failures_are_of_no_job_is_a_clean_error(tmp_path, change, said):
    """A prompt that is no text (AttributeError in the report, KeyError in the COCO export), or ``failed`` no list (a
    mapping's keys read as pairs), is no batch job's results.json: a ValueError naming the file and the field."""
    out = _job(tmp_path)
    _edit(out, change)
    for write in (write_batch_report, write_batch_table, write_coco_predictions):
        with pytest.raises(ValueError, match=said) as exc:
            write(out)
        assert str(out / "results.json") in str(exc.value)


def test_predict_writing_an_earlier_jobs_hand_edited_results_names_the_entry(tiny_model_dir, tmp_path):
    """A job that lists no photo's results (an empty folder) leaves the earlier results.json and writes the table, the
    report and the COCO file from it: an entry edited by hand ended predict in a traceback, and a results.json of no
    job (a prompt that is no text) did too; now the entry is named ("not in the COCO file"), and the file that could
    not be written is."""
    out = _job(tmp_path)
    _edit(out, _set("confidence", "high"))
    (tmp_path / "empty").mkdir()
    args = ["predict", str(tmp_path / "empty"), "-p", "segment wall", "--out", str(out), "--model-path",
            str(tiny_model_dir), "--coco", "polygon"]
    res = CliRunner().invoke(app, args, terminal_width=400)
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.exception
    assert "not in the COCO file" in res.output and "'confidence' is \"high\", not a number or null" in res.output
    assert "not readable in results.json" in (out / "report.html").read_text()
    _edit(out, lambda r: r.update(prompts=[CRACK, 5]))
    res = CliRunner().invoke(app, args, terminal_width=400)
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.exception
    assert f"error: {out / 'results.csv'} was not written: {out / 'results.json'} is no batch job's results: its " \
           "prompt 5 is no text" in " ".join(res.output.split()), res.output


def test_an_entry_without_the_photos_size_or_measures_in_mm_is_shown_where_it_can_be(tmp_path):
    """An entry without ``height`` and ``width`` (a results.json another program made) is shown by the report and the
    table, which need no size, and named by the COCO file, which does (KeyError); one whose measures are in px only
    beside others in mm (every mm measure taken out) failed the report's total length with KeyError: now in px."""
    out = _job(tmp_path)
    _edit(out, lambda r: [r["images"][1]["prompts"][CRACK].pop(k) for k in ("area_mm2", "length_mm", "mean_width_mm",
                                                                             "max_width_mm")])
    page = write_batch_report(out).read_text()
    assert "not readable" not in page and "<td>720 px</td>" in page and "length 360.0 px" in page
    _edit(out, lambda r: [r["images"][1].pop(k) for k in ("height", "width")])
    assert "not readable" not in write_batch_report(out).read_text() and len(_table(out)) == 4
    coco = json.loads(write_coco_predictions(out).read_text())
    assert [i["file_name"] for i in coco["images"]] == ["a.jpg"]
    assert coco["info"]["masks_not_read"] == [f"{tmp_path / 'b.jpg'}: not readable in results.json: it has no 'height' "
                                              "and 'width' (the photo's size in pixels, which a COCO file gives)"]


def test_the_value_a_rule_checks_is_shown_beside_the_flag(tmp_path):
    """report.html showed a mask's region count, share, length and max width only: a photo flagged by
    "mean_width_px > 3" (or an area rule, or one on the length in px of a job in mm) showed no value beside its flag.
    Each measure a rule checks is in the prompt's cell now, to the digits that read on the side of the limit the value
    is (3.04 beside "> 3" reads "3.04", not "3.0"); a measure no rule checks is not added."""
    rules = ["segment crack: mean_width_px > 3", "segment crack: area_mm2 >= 14.4", "segment crack: length_px > 300"]
    out = _job(tmp_path, rules=rules)
    crack = json.loads((out / "results.json").read_text())["images"][0]["prompts"][CRACK]
    _edit(out, lambda r: [e.update(flags=rules) for e in r["images"]])
    page = write_batch_report(out).read_text()
    ruled = (f"<br>area {crack['area_mm2']:.1f} mm², length {crack['length_px']:.1f} px, "
             f"mean width {crack['mean_width_px']:.1f} px<br>")
    assert crack["mean_width_px"] == 4.0 and page.count(ruled) == 2, page
    _edit(out, lambda r: r["images"][0]["prompts"][CRACK].update(mean_width_px=3.04))
    assert "mean width 3.04 px" in write_batch_report(out).read_text()
    _edit(out, lambda r: r.update(rules=[]))
    assert "mean width" not in write_batch_report(out).read_text()
