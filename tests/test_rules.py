"""QA rules (``--flag``): parsing, checks against the job, flags in results.json and the report."""

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from drywallqa import Segmenter
from drywallqa.cli import app
from drywallqa.engine.batch import predict_paths
from drywallqa.engine.batch_report import write_batch_report
from drywallqa.rules import Rule, check_rules, flags


def test_parse_and_print_rules():
    r = Rule.parse("  segment crack:max_width_mm>=0.3 ")
    assert r == Rule("segment crack", "max_width_mm", ">=", 0.3) and r.needs_scale
    assert str(r) == "segment crack: max_width_mm >= 0.3" and Rule.parse(str(r)) == r
    assert Rule.parse("segment joint/tape: components > 2").value == 2 and not Rule.parse("a: length_px < 1e3").needs_scale
    for bad, why in [("segment crack max_width_mm > 0.3", "PROMPT: MEASURE"), ("segment crack: width > 1", "unknown measure"),
                     ("segment crack: length_px = 3", "PROMPT: MEASURE"), (": length_px > 3", "PROMPT: MEASURE")]:
        with pytest.raises(ValueError, match=why):
            Rule.parse(bad)


def test_rules_are_checked_against_the_job_and_flag_entries():
    wide, many = Rule.parse("segment crack: max_width_mm > 0.3"), Rule.parse("segment crack: components >= 2")
    with pytest.raises(ValueError, match="scale"):
        check_rules([wide], ["segment crack"], None)
    with pytest.raises(ValueError, match="prompts"):
        check_rules([many], ["segment taping area"], None)
    check_rules([wide, many], ["segment crack"], 0.5)
    entry = {"prompts": {"segment crack": {"max_width_mm": 0.5, "components": 1}}}
    assert flags(entry, [wide, many]) == ["segment crack: max_width_mm > 0.3"]
    assert flags({"prompts": {"segment crack": {"max_width_mm": 0.3, "components": 2}}}, [wide, many]) == [
        "segment crack: components >= 2"]


def _photos(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (40 + 10 * i, 60, 3), dtype=np.uint8)).save(folder / f"w{i}.jpg")
    return folder


def test_batch_flags_photos_and_a_new_scale_redoes_them(tiny_model_dir, tmp_path):
    seg, photos, out = Segmenter.load(tiny_model_dir), _photos(tmp_path), tmp_path / "out"
    first = predict_paths(seg, [photos], ["segment crack"], out, progress=False, mm_per_px=0.5,
                          rules=["segment crack: length_mm > 0", "segment crack: components > 1000"])
    results = json.loads((out / "results.json").read_text())
    assert results["rules"] == ["segment crack: length_mm > 0", "segment crack: components > 1000"]
    for e in results["images"]:
        found = e["prompts"]["segment crack"]["components"] > 0
        assert e["flags"] == (["segment crack: length_mm > 0"] if found else [])
    assert len(first.done) == 3
    # the same job at another scale must not reuse measures in the old one
    again = predict_paths(seg, [photos], ["segment crack"], out, progress=False, mm_per_px=0.25)
    assert len(again.done) == 3 and not again.skipped
    assert all(e["flags"] == [] for e in json.loads((out / "results.json").read_text())["images"])  # no rules this time
    same = predict_paths(seg, [photos], ["segment crack"], out, progress=False, mm_per_px=0.25)
    assert len(same.skipped) == 3


def test_report_puts_flagged_photos_first(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    entries = []
    for stem, components in (("big", 1), ("flagged", 3)):
        Image.fromarray(np.full((20, 20, 3), 100, np.uint8)).save(tmp_path / f"{stem}.jpg")
        mask = np.zeros((20, 20), np.uint8)
        mask[: 15 if stem == "big" else 2] = 255
        Image.fromarray(mask).save(out / f"{stem}__segment_crack.png")
        m = {"mask": f"{stem}__segment_crack.png", "components": components, "area_px": int((mask > 0).sum()),
             "area_fraction": float((mask > 0).mean()), "length_px": 10.0, "mean_width_px": 2.0, "max_width_px": 2.0}
        entries.append({"image": str(tmp_path / f"{stem}.jpg"), "prompts": {"segment crack": m},
                        "flags": ["segment crack: components > 2"] if stem == "flagged" else []})
    (out / "results.json").write_text(json.dumps({"prompts": ["segment crack"], "rules": ["segment crack: components > 2"],
                                                  "images": entries, "failed": []}))
    page = write_batch_report(out).read_text()
    assert page.index("flagged.jpg") < page.index("big.jpg")  # flagged before the larger finding
    assert "1 of 2 photos flagged by: segment crack: components &gt; 2" in page and "class=flagged" in page


def test_cli_flag(tiny_model_dir, tmp_path):
    photos = _photos(tmp_path)
    base = ["predict", str(photos), "--prompt", "segment crack", "--model-path", str(tiny_model_dir), "--out", str(tmp_path / "o")]
    runner = CliRunner()
    bad = runner.invoke(app, base + ["--flag", "segment crack: max_width_mm > 0.3"])
    assert bad.exit_code == 2 and "--mm-per-px" in bad.output
    assert runner.invoke(app, base + ["--flag", "segment crack: width > 1"]).exit_code == 2
    ok = runner.invoke(app, base + ["--flag", "segment crack: components >= 0", "--mm-per-px", "0.5"])
    assert ok.exit_code == 0, ok.output
    assert "3 of 3 photos flagged" in ok.output


def test_parse_rules_parses_text_keeps_rules_and_checks_them():
    from drywallqa.rules import Rule, parse_rules

    kept = Rule.parse("segment crack: components > 2")
    rules = parse_rules(["segment crack: area_px >= 10", kept], ["segment crack"], None)
    assert rules == (Rule("segment crack", "area_px", ">=", 10.0), kept)
    with pytest.raises(ValueError, match="not one of"):
        parse_rules(["segment seam: area_px > 1"], ["segment crack"], None)
    with pytest.raises(ValueError, match="mm per pixel"):
        parse_rules(["segment crack: max_width_mm > 1"], ["segment crack"], None)


def test_prompts_with_colons_boundaries_and_repeats():
    from drywallqa.rules import Rule, parse_rules

    assert Rule.parse("segment crack: wide: components > 0").prompt == "segment crack: wide"
    exactly = {"area_mm2": 11188 * 0.1 ** 2}  # 111.88000000000002
    assert not Rule.parse("segment crack: area_mm2 > 111.88").broken_by(exactly)
    assert Rule.parse("segment crack: area_mm2 >= 111.88").broken_by(exactly)
    assert Rule.parse("segment crack: area_mm2 > 111.87").broken_by(exactly)
    assert len(parse_rules(["segment crack: components > 0", "segment crack:components>0"], ["segment crack"], None)) == 1


def test_the_boundary_tolerance_never_merges_counts():
    from drywallqa.rules import Rule

    assert Rule.parse("segment crack: area_px > 1000000000").broken_by({"area_px": 1000000001})


def test_a_rule_reads_back_with_every_digit_of_its_threshold():
    from drywallqa.rules import parse_rules

    written = ["c: area_px > 1000001", "c: area_px > 100000.5", "c: max_width_mm > 0.3",
               "c: mean_width_px > 4.9480519480519485", "c: length_px >= 2.5e+20"]  # .15g lost the last digit
    rules = parse_rules(written, ["c"], 0.1)
    assert [str(r) for r in rules] == written and [Rule.parse(str(r)) for r in rules] == list(rules)


@pytest.mark.parametrize("args, words", [
    (("segment crack", "max_width", ">", 3.0), "unknown measure 'max_width'"),
    (("segment crack", "area_px", "=>", 1.0), "unknown operator '=>'"),
    (("segment crack", "area_px", ">", float("nan")), "finite number"),
    (("segment crack", "area_px", ">", "3"), "finite number"),
    (("segment crack", "area_px", ">", True), "finite number"),
    (("", "area_px", ">", 1.0), "text of a prompt")])
def test_a_rule_made_in_python_is_checked_as_a_parsed_one(args, words, tiny_model_dir, tmp_path):
    """Rule(...) was taken as it was: an unknown measure or operator failed with a KeyError after every photo of the
    job was segmented, and no results.json was written; a NaN number flagged nothing."""
    with pytest.raises(ValueError, match=words):
        Rule(*args)
    assert Rule("segment crack", "area_px", ">", np.int64(3)).value == 3.0  # numpy numbers are numbers


def test_parse_rules_takes_one_prompt_as_one_and_checks_the_scale():
    from drywallqa.rules import parse_rules

    with pytest.raises(ValueError, match="not one of the job's prompts"):  # "crack" in "segment crack" was True
        parse_rules("crack: area_px > 0", "segment crack", None)
    assert parse_rules("segment crack: area_px > 0", "segment crack", None)[0].prompt == "segment crack"
    for scale in (float("nan"), -1, "0.5"):
        with pytest.raises(ValueError, match="mm_per_px"):
            parse_rules("segment crack: area_mm2 > 0", ["segment crack"], scale)


@pytest.mark.parametrize("typed", ["segment crack\u200b", "\ufeffsegment crack", "segment crack \ufeff"])
def test_a_rule_reads_its_prompt_as_a_prompt_is_read(typed):
    """A byte-order mark or zero-width space around a prompt is stripped as white space is (0.6.20): the same prompt
    in a rule kept its mark inside the rule ("segment crack\u200b: area_px > 5"), and the rule was refused as naming
    none of the job's prompts, which read it without."""
    from drywallqa.engine.segmenter import validate_prompts
    from drywallqa.rules import parse_rules

    prompts = validate_prompts([typed])
    assert parse_rules([f"{typed}: area_px > 5"], prompts, None) == (Rule("segment crack", "area_px", ">", 5.0),)
