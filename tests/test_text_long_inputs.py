"""Long user text read in linear time: patterns rewritten so that a long run of one character cannot make them
quadratic, each checked to read every text as the pattern it replaced (kept here as the reference)."""

import random
import re

import pytest

from drywallqa.text import prompts

# text.prompts._ENDS as it was (its end alternative tried at each space of a long run inside the text: quadratic)
_ENDS_BEFORE = re.compile(r"^[\s\ufeff\u200b]+|[\s\ufeff\u200b]+$")


def _random_texts(alphabet: str, n: int, longest: int, seed: int = 0):
    rng = random.Random(seed)
    for _ in range(n):
        yield "".join(rng.choice(alphabet) for _ in range(rng.randint(0, longest)))


@pytest.mark.parametrize("text", ["", " ", "a", "  a  ", "\ufeffsegment crack\u200b ", "a" + " " * 500 + "b",
                                  " " * 500, "crack" + " \t\n" * 100, "\u200b \ufeff", "a \u200b b \ufeff"])
def test_stripped_as_before_on_crafted_texts(text):
    assert prompts.stripped(text) == _ENDS_BEFORE.sub("", text)


def test_stripped_as_before_on_random_texts():
    for text in _random_texts(" \t\n\u3000\ufeff\u200ba.-", 20000, 12):
        assert prompts.stripped(text) == _ENDS_BEFORE.sub("", text), repr(text)


def test_the_end_of_a_text_is_matched_only_where_its_run_of_spaces_starts():
    # what keeps the pattern linear: tried inside a run of spaces, it does not match there (a match runs the whole run)
    text = "crack" + " " * 50
    assert prompts._ENDS.search(text, 6) is None
    assert prompts._ENDS.search(text).span() == _ENDS_BEFORE.search(text).span() == (5, 55)


@pytest.fixture(scope="module")
def shipped():
    from drywallqa import Segmenter

    return Segmenter.load()


def test_a_prompt_too_long_to_predict_is_refused_by_understood_and_threshold_for(shipped):
    # predict refused it at once; understood, threshold_for and postprocess_for read it through the gate (~26 s for
    # 20,000 spaces) and answered "segment crack"
    long = "segment" + " " * 400 + "crack"
    for ask in (shipped.understood, shipped.threshold_for, shipped.postprocess_for):
        with pytest.raises(ValueError, match="at most 300 characters, this one has 412"):
            ask(long)


def test_a_long_prompt_that_is_short_as_read_is_read_as_predict_reads_it(shipped):
    for typed in ("segment crack" + " " * 400, " \n" * 200 + "segment crack"):
        assert shipped.understood(typed) == shipped.understood("segment crack")
        assert shipped.threshold_for(typed) == shipped.threshold_for("segment crack")


# rules._RULE and the number of rules._slip as they were (a run of digits split between \d+ and \d* every way there
# is before a rule was refused: quadratic in the digits)
_NUMBER_BEFORE = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_RULE_BEFORE = re.compile(r"^(?P<prompt>.+?):(?=[^:]*$)\s*(?P<measure>\w+)\s*(?P<op>>=|<=|>|<)\s*(?P<value>"
                          + _NUMBER_BEFORE + r")\s*$")


def _groups(m):
    return m and (m.span(), m.groupdict())


@pytest.mark.parametrize("text", ["segment crack: max_width_mm > 0.3", "crack: area_px >= 12.", "crack: area_px < .5",
                                  "a: b: area_px <= -1e3", "crack: area_px > 1.2.3", "crack: area_px > 1e", "crack: x > 1 ",
                                  "crack: area_px > " + "1" * 300 + "x", "crack: area_px > 1" + "0" * 300,
                                  "crack: area_px > 1." + "5" * 300 + "e+" + "7" * 300, "crack:area_px>+.5E-2"])
def test_rule_pattern_reads_as_before_on_crafted_rules(text):
    from drywallqa import rules

    assert _groups(rules._RULE.match(text)) == _groups(_RULE_BEFORE.match(text))


def test_rule_pattern_and_its_number_read_as_before_on_random_rules():
    from drywallqa import rules

    unit_before = re.compile(_NUMBER_BEFORE + r"\s*[^\d\s.,].*")
    unit = re.compile(rules._NUMBER + r"\s*[^\d\s.,].*")
    for tail in _random_texts("0123456789.eE+- ,xm", 20000, 10, seed=1):
        text = f"crack: area_px > {tail}"
        assert _groups(rules._RULE.match(text)) == _groups(_RULE_BEFORE.match(text)), repr(text)
        assert _groups(unit.fullmatch(tail)) == _groups(unit_before.fullmatch(tail)), repr(tail)
        assert _groups(re.fullmatch(rules._NUMBER, tail)) == _groups(re.fullmatch(_NUMBER_BEFORE, tail)), repr(tail)
    for text in _random_texts("a: _><=.1e-", 20000, 14, seed=2):
        assert _groups(rules._RULE.match(text)) == _groups(_RULE_BEFORE.match(text)), repr(text)
