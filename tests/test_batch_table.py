"""results.csv: a batch job's QA measures as one table, one row per photo and prompt, nothing left out."""

import csv
import shutil

import pytest
from typer.testing import CliRunner

from drywallqa.cli import app
from drywallqa.engine.batch_table import TABLE_FILE, table_rows, write_batch_table

from conftest import write_photos


def _read(path):
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # a BOM: Excel reads it as UTF-8 only then
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def test_predict_writes_one_row_per_photo_and_prompt_and_one_per_failed_photo(tiny_model_dir, tmp_path):
    photos = write_photos(tmp_path / "photos", 2)
    shutil.copy(photos / "p0.jpg", photos / "=HYPERLINK(1).jpg")  # a name a spreadsheet would run as a formula
    (photos / "broken.jpg").write_bytes(b"not a photo")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["predict", str(photos), "-p", "segment crack", "-p", "segment taping area", "--out",
                                   str(out), "--model-path", str(tiny_model_dir), "--mm-per-px", "0.5", "--flag",
                                   "segment crack: area_px >= 0"], terminal_width=300)
    assert res.exit_code == 1 and "table:" in res.output and TABLE_FILE in res.output, res.output  # 1: a photo failed
    rows = _read(out / TABLE_FILE)
    done = [r for r in rows if r["status"] == "done"]
    assert len(done) == 3 * 2 and {r["prompt"] for r in done} == {"segment crack", "segment taping area"}
    crack = next(r for r in done if r["image"].endswith("p1.jpg") and r["prompt"] == "segment crack")
    assert crack["mask"] == "p1__segment_crack.png" and (out / crack["mask"]).is_file()
    assert 0 <= float(crack["confidence"]) <= 1 and float(crack["area_mm2"]) == float(crack["area_px"]) * 0.25
    assert crack["flags"] == "segment crack: area_px >= 0"
    assert sorted(r["mask"][:2] for r in done if "HYPERLINK" in r["image"]) == ["'=", "'="]  # text, not a formula
    failed = [r for r in rows if r["status"] != "done"]
    assert len(failed) == 1 and failed[0]["image"].endswith("broken.jpg") and "not a readable image" in failed[0]["status"]
    assert failed[0]["area_px"] == "" and failed[0]["prompt"] == ""
    again = CliRunner().invoke(app, ["predict", str(photos), "-p", "segment crack", "--out", str(tmp_path / "quiet"),
                                     "--model-path", str(tiny_model_dir), "--no-table"], terminal_width=300)
    assert "table:" not in again.output and not (tmp_path / "quiet" / TABLE_FILE).exists()


def test_a_prompt_the_model_does_not_know_and_a_photo_not_done_are_rows_that_say_so(tmp_path):
    concept = {"concept": "cracks", "nearest_prompt": "segment crack", "similarity": 0.3, "margin": -0.1, "known": False}
    mask = {"mask": "a__segment_the_window.png", "components": 0, "area_px": 0, "area_fraction": 0.0, "length_px": 0.0,
            "mean_width_px": 0.0, "max_width_px": 0.0, "confidence": 0.0, "concept": concept}
    results = {"prompts": ["segment the window"], "images": [{"image": "a.jpg", "prompts": {"segment the window": mask}}],
               "failed": [["b.jpg", "not done: the job was interrupted (Ctrl-C or SIGTERM); run it again to finish it"]]}
    columns, rows = table_rows(results)
    assert "area_mm2" not in columns  # no scale given: no mm columns
    assert rows[0]["answered"] == "no: not a thing this model knows (nearest: cracks)" and rows[0]["concept"] == ""
    assert rows[1]["image"] == "b.jpg" and rows[1]["status"].startswith("not done")
    (tmp_path / "results.json").write_text(__import__("json").dumps(results))
    assert [r["image"] for r in _read(write_batch_table(tmp_path))] == ["a.jpg", "b.jpg"]


def test_a_photo_name_that_is_no_utf8_is_written_as_it_is_on_disk(tmp_path):
    """A Linux file name in another encoding (an old camera card, a zip from Windows: b"caf\\xe9.jpg") is read with its
    byte kept as a lone surrogate; writing the table raised UnicodeEncodeError, a traceback after the job, and
    report.html (written after the table) was not written either. Written as the bytes of its name, as report.html
    writes it."""
    import json

    mask = {"mask": "caf_-d2f52bc4__segment_crack.png", "components": 0, "area_px": 0, "area_fraction": 0.0,
            "length_px": 0.0, "mean_width_px": 0.0, "max_width_px": 0.0}  # (every measure: an entry without one is named)
    results = {"prompts": ["segment crack"], "images": [{"image": "in/caf\udce9.jpg", "prompts": {"segment crack": mask}}],
               "failed": [["in/d\udce9g\udce2t.jpg", "in/d\udce9g\udce2t.jpg: not a readable image"]]}
    (tmp_path / "results.json").write_text(json.dumps(results))  # as strict_json writes it: \udce9 escaped
    data = write_batch_table(tmp_path).read_bytes()
    assert b"in/caf\xe9.jpg,segment crack,done," in data and data.count(b"d\xe9g\xe2t.jpg") == 2


def test_a_table_that_cannot_be_written_is_named_and_the_report_is_still_written(tiny_model_dir, tmp_path):
    """The table is written first; one that could not be written (a folder of its name; on Windows, results.csv open in
    Excel from the last run) ended predict in a traceback, without report.html."""
    photos = write_photos(tmp_path / "photos", 1)
    out = tmp_path / "out"
    (out / TABLE_FILE).mkdir(parents=True)
    res = CliRunner().invoke(app, ["predict", str(photos), "-p", "segment crack", "--out", str(out), "--model-path",
                                   str(tiny_model_dir)], terminal_width=300)
    assert res.exit_code == 1 and not isinstance(res.exception, OSError), res.exception
    assert f"error: {out / TABLE_FILE} was not written: " in res.output, res.output
    assert "report: " in res.output and (out / "report.html").is_file()


def test_evaluates_per_image_table_holds_no_formula_either(tmp_path):
    """per_image.csv ("to sort and filter" in a spreadsheet) wrote a dataset YAML's prompt '=cmd|...' or a dataset
    named '-x' as they were, which a spreadsheet runs as formulas (results.csv guarded its cells; this table did not)."""
    from drywallqa.utils.files import write_csv_atomic

    rows = [{"split": "published valid", "dataset": "-x", "prompt": "=cmd|' /C calc'!A0", "iou": -0.0},
            {"split": "published valid", "dataset": "walls", "prompt": "@SUM(1)", "iou": 0.5}]
    path = write_csv_atomic(rows, ["split", "dataset", "prompt", "iou"], tmp_path / "per_image.csv")
    with open(path, newline="", encoding="utf-8") as f:
        read = list(csv.DictReader(f))
    assert [(r["dataset"], r["prompt"], r["iou"]) for r in read] == [("'-x", "'=cmd|' /C calc'!A0", "-0.0"),
                                                                      ("walls", "'@SUM(1)", "0.5")]  # numbers as they are


@pytest.mark.parametrize("text", ['{"prompts": ["segment crack"], "images": [{"ima', "", "[]", '{"images": {}}', "\udcff"])
def test_a_results_json_cut_short_or_of_no_job_is_named_by_the_table_and_the_report(tmp_path, text):
    """write_batch_report / write_batch_table on a folder whose results.json was cut short (a copy stopped part way)
    raised a JSONDecodeError ("Unterminated string starting at: line 1 column 36") naming no file, or a TypeError."""
    from drywallqa.engine.batch_report import write_batch_report

    (tmp_path / "results.json").write_bytes(text.encode("utf-8", "surrogateescape"))
    for write in (write_batch_table, write_batch_report):
        with pytest.raises(ValueError, match=r"results\.json is no batch job's results.*drywallqa predict"):
            write(tmp_path)
    assert not (tmp_path / "results.csv").exists() and not (tmp_path / "report.html").exists()
