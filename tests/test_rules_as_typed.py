"""QA rules and the millimetre scale as users type them: rules no mask can break, the usual slips of
typing one, a prompt written otherwise, several rules in one flag, numbers past any float; what the docs say of empty
masks."""

import re

import numpy as np
import pytest
from typer.testing import CliRunner

from drywallqa.cli import app
from drywallqa.rules import Rule, parse_rules


@pytest.mark.parametrize("text, words", [
    ("segment crack: area_fraction > 5", "0 to 1 \\(0.05 for 5%\\)"),  # a percentage: every photo passed
    ("segment crack: area_fraction >= 1.5", "0 to 1"),
    ("segment crack: max_width_mm < -0.3", "never below 0"),
    ("segment crack: area_px < 0", "never below 0"),
    ("segment crack: components <= -1", "never below 0")])
def test_a_rule_no_mask_can_break_is_refused(text, words):
    """A rule whose number lies beyond what its measure can be flagged no photo, silently: "area_fraction > 5" (5%
    meant) passed a photo whose crack covered all of it."""
    with pytest.raises(ValueError, match=f"no mask can break it, .*{words}") as refused:
        Rule.parse(text)
    assert "no mask can break" in refused.value.reason and text.split(":")[0] not in refused.value.reason
    # the rules at the edge of what a mask can be are kept: nothing found, a mask over the whole photo
    for kept in ("segment crack: area_px <= 0", "segment crack: area_fraction >= 1", "segment crack: area_px > -1"):
        assert parse_rules([kept], ["segment crack"], None) == (Rule.parse(kept),)


def test_the_command_line_refuses_a_rule_no_mask_can_break_before_any_work(tmp_path):
    result = CliRunner().invoke(app, ["predict", str(tmp_path), "-p", "segment crack", "--out", str(tmp_path / "o"),
                                      "--model-path", str(tmp_path / "no_model"),
                                      "--flag", "segment crack: area_fraction > 5"])
    said = " ".join(result.output.replace("│", " ").split())  # (rich's box, its lines wrapped)
    assert result.exit_code == 2 and "no mask can break it" in said and not (tmp_path / "o").exists()


@pytest.mark.parametrize("text, words", [
    ("segment crack: max_width_mm ≥ 0.3", ">= for ≥"), ("segment crack: max_width_mm => 0.3", "not => or ="),
    ("segment crack: max_width_mm == 0.3", "one of > >= < <="), ("segment crack: max_width_mm = 0.3", "one of > >= < <="),
    ("segment crack: max_width_mm > 0,3", "decimal point \\(0.3, not 0,3"), ("segment crack: area_px > 1,000", "1000, not"),
    ("segment crack: max_width_mm > 0.3mm", "without a unit"), ("segment crack: area_fraction > 5%", "0.05 for 5%"),
    ("segment crack: max_width > 0.3", "max_width_px, or max_width_mm with a scale"),
    ("segment crack: area > 10", "area_px, or area_mm2 with a scale"),
    ("segment crack: MAX_WIDTH_MM > 0.3", "in lower case: max_width_mm")])
def test_a_rule_typed_by_hand_is_refused_naming_the_slip(text, words):
    """The usual slips of typing a rule by hand (an operator as written on paper, a decimal comma, a unit, a measure
    without its unit) were refused with the rule's form alone, over HTTP with nothing else: the user was left to
    guess what in 'max_width_mm ≥ 0,3' was wrong."""
    with pytest.raises(ValueError, match=words) as refused:
        parse_rules([text], ["segment crack"], 0.1)
    assert re.search(words, refused.value.reason) and text not in refused.value.reason  # (not echoed)


def test_what_docs_qa_measures_says_of_empty_and_unchecked_masks():
    """docs/qa_measures.md (helper 305): a mask with nothing found breaks a rule asking for less and none asking for
    more; one emptied by --min-confidence is flagged as not checked, not passed."""
    from drywallqa.measures import mask_measures
    from drywallqa.rules import flags

    empty = mask_measures(np.zeros((20, 30), bool), mm_per_px=0.4)
    rules = parse_rules(["segment taping area: area_fraction < 0.05", "segment crack: max_width_mm > 0.3"],
                        ["segment crack", "segment taping area"], 0.4)
    entry = {"prompts": {"segment crack": empty, "segment taping area": empty}}
    assert flags(entry, rules) == ["segment taping area: area_fraction < 0.05"]
    emptied = {"prompts": {"segment crack": {**empty, "emptied_below": 0.5}, "segment taping area": empty}}
    assert flags(emptied, rules)[1] == ("segment crack: max_width_mm > 0.3 (not checked: mask emptied, its confidence "
                                        "below --min-confidence 0.5)")


@pytest.mark.parametrize("text, prompts, said, reason", [
    ("Segment Crack: area_px > 1", ["segment crack"], "written otherwise than the job's prompt 'segment crack'",
     "letter for letter: capitals and spaces count"),
    ("segment  crack: area_px > 1", ["segment crack", "segment taping area"], "written otherwise than the job's "
     "prompt 'segment crack'", "capitals and spaces count"),
    ("crack: max_width_mm > 0.3", ["segment crack", "segment taping area"],
     "not one of the job's prompts .*as asked: 'segment crack: max_width_mm > 0.3'", "in full")])
def test_a_rule_on_a_prompt_written_otherwise_names_the_prompt_meant(text, prompts, said, reason):
    """A rule's prompt written otherwise than -p's ("Segment Crack", a space more, "crack" of "segment crack") was
    refused with the job's prompts listed, the difference (two spaces for one) left to be seen."""
    with pytest.raises(ValueError, match=said) as refused:
        parse_rules([text], prompts, 0.1)
    assert reason in refused.value.reason and "segment crack" not in refused.value.reason


@pytest.mark.parametrize("text", ["segment crack: area_px > 1\nsegment taping area: area_px < 2",
                                  "segment crack: area_px > 1; segment taping area: area_px < 2"])
def test_several_rules_in_one_flag_are_said_to_be_several(text):
    """A list of rules pasted into one --flag (or one HTTP flag field) was refused as a rule on a prompt not asked
    ("segment crack: area_px > 1; segment taping area"), not as the several rules it is."""
    with pytest.raises(ValueError, match="holds another rule; give each rule its own --flag") as refused:
        parse_rules([text], ["segment crack", "segment taping area"], None)
    assert refused.value.reason.endswith("one rule per flag field")
    with pytest.raises(ValueError, match="not one of the job's prompts \\['segment crack'\\]$"):  # a prompt of a colon
        parse_rules(["note: width > 3 mm: area_px > 1"], ["segment crack"], None)


def test_a_scale_past_any_float_is_a_value_error():
    """mask_measures(mask, mm_per_px=10**400) (an int no float holds) raised OverflowError from float(), not the
    ValueError that names the scale's range (number_in_range, which every number option goes through)."""
    from drywallqa.measures import mask_measures, validate_mm_per_px

    for call in (lambda: validate_mm_per_px(10**400), lambda: mask_measures(np.ones((3, 3), bool), mm_per_px=-10**400)):
        with pytest.raises(ValueError, match="mm_per_px must be a number in"):
            call()


def test_a_rule_made_in_python_with_a_number_past_any_float_is_refused():
    """Rule("segment crack", "area_px", ">", 10**400) raised OverflowError from math.isfinite, not the ValueError
    a rule's number gets ("must be finite")."""
    with pytest.raises(ValueError, match="finite number"):
        Rule("segment crack", "area_px", ">", 10**400)
    assert Rule("segment crack", "area_px", ">", 10**20).value == 1e20  # a big int a float holds is a number
