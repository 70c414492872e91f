"""``drywallqa predict`` with options a QA engineer combines: --flag with --min-confidence and the prompt gate,
reruns with an option dropped; results.json, results.csv and report.html agreeing with each other."""

import csv
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from drywallqa.cli import app
from drywallqa.rules import flags, parse_rules

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "drywallqa" / "examples"
CRACK_PHOTO = "cracks_2363_jpg.jpg"  # the shipped model finds a crack there, scored about 0.48


@pytest.fixture
def photos(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(EXAMPLES / CRACK_PHOTO, d / CRACK_PHOTO)
    return d


def _csv(out):
    with open(out / "results.csv", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def test_a_rule_on_a_mask_min_confidence_emptied_or_the_gate_refused_is_not_passed(photos, tmp_path):
    """A crack mask emptied by --min-confidence measured 0 px wide, so 'max_width_mm > 0.3' passed: '0 of 2 photos
    flagged' for a photo with a crack the model found; a rule on a prompt the gate refused passed so too. Such a rule
    is flagged as not checked, in results.json, the table, the report and the console alike."""
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["predict", str(photos), "-p", "segment crack", "-p", "find the cat", "-o", str(out),
                                   "--mm-per-px", "0.5", "--min-confidence", "0.9", "--coco", "rle",
                                   "--flag", "segment crack: max_width_mm > 0.3", "--flag", "find the cat: area_px > 5"])
    assert res.exit_code == 0, res.output
    results = json.loads((out / "results.json").read_text())
    by_name = {Path(e["image"]).name: e for e in results["images"]}
    crack = by_name[CRACK_PHOTO]
    assert crack["prompts"]["segment crack"]["emptied_below"] == 0.9
    assert crack["flags"] == ["segment crack: max_width_mm > 0.3 (not checked: mask emptied, its confidence below "
                              "--min-confidence 0.9)",
                              "find the cat: area_px > 5 (not checked: not a thing this model knows, its mask left empty)"]
    assert "1 of 1 photos flagged" in " ".join(res.output.split())
    rows = {(Path(r["image"]).name, r["prompt"]): r for r in _csv(out)}
    assert rows[(CRACK_PHOTO, "segment crack")]["flags"] == "; ".join(crack["flags"])
    html = (out / "report.html").read_text()
    assert "not checked: mask emptied" in html and "1 of 1 photos flagged" in html
    # the COCO file: no annotations for either mask, and it says why (they read as "nothing found" to an annotator)
    coco = json.loads((out / "predictions.coco.json").read_text())
    assert coco["annotations"] == []
    assert coco["info"]["masks_not_answered"] == [
        f"{crack['image']} 'segment crack': mask emptied, its confidence below --min-confidence 0.9",
        f"{crack['image']} 'find the cat': not a thing this model knows, its mask left empty"]


def test_flags_of_a_trusted_mask_are_as_before():
    rules = parse_rules(["segment crack: area_px > 5"], ["segment crack"], None)
    assert flags({"prompts": {"segment crack": {"area_px": 6, "confidence": 0.9, "concept": {"known": True}}}}, rules) \
        == ["segment crack: area_px > 5"]
    assert flags({"prompts": {"segment crack": {"area_px": 0, "confidence": 0.9}}}, rules) == []


def test_a_rerun_without_overlay_says_the_overlays_left_are_an_earlier_runs(tiny_model_dir, photos, tmp_path):
    """A rerun with another --threshold and no --overlay redid the photo and left its overlay strip and the grid of
    the old masks without a word (a rerun without --coco said so of predictions.coco.json)."""
    out = tmp_path / "out"
    runner = CliRunner()
    res = runner.invoke(app, ["predict", str(photos), "-p", "segment crack", "-o", str(out), "--overlay",
                              "--model-path", str(tiny_model_dir)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["predict", str(photos), "-p", "segment crack", "-o", str(out), "--threshold", "0.3",
                              "--model-path", str(tiny_model_dir)])
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())
    assert "overlay_grid.png and 1 overlay strip (*__overlay.png) of photos redone: an earlier run's (no --overlay now)" \
        in said
    assert "overlay" not in json.loads((out / "results.json").read_text())["images"][0]
