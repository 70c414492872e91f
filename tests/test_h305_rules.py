"""QA rules as users type them (helper 305): rules no mask can break, ..."""

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
