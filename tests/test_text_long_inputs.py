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


# readings._STORY_REASON as it was (\s*,?\s+ split a run of spaces between its quantifiers every way there is, at each
# of its spaces: cubic in a long run of spaces)
_STORY_REASON_BEFORE = re.compile(r"\s*,?\s+so\s+(?:that\s+)?(?:i|we|they|he|she|the|our|my|it)\b[^.;!?]*",
                                  re.IGNORECASE)


@pytest.mark.parametrize("text", ["I want a mask so that the cracks are visible", "I need it , so that I can bill",
                                  "mask  ,  so i see", "mask ,so i see", "mask, so  that  we", "so i", " so i", ",so i",
                                  "a\t,\nso that it", "a " + " " * 300 + "so the x", "also so we. so it", "a , , so i"])
def test_story_reason_reads_as_before_on_crafted_texts(text):
    from drywallqa.text import readings

    assert _groups(readings._STORY_REASON.search(text)) == _groups(_STORY_REASON_BEFORE.search(text))


def test_story_reason_reads_as_before_on_random_texts():
    from drywallqa.text import readings

    rng = random.Random(3)
    pieces = [" ", "  ", "\t", ",", " , ", "so", "So", "that", "i", "we", "the", "a", "x", ".", "also", "\n"]
    for _ in range(20000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert _groups(readings._STORY_REASON.search(text)) == _groups(_STORY_REASON_BEFORE.search(text)), repr(text)


def test_a_user_story_is_read_as_before(monkeypatch):
    from drywallqa.text import readings

    stories = ["As a builder I want" + " " * 40 + "x", "As a builder, I want a mask" + " ," * 20 + " so that it shows",
               "As an estimator I want a mask so that the cracks are visible", "as a PM we need the tape  ,  so we see",
               "As a painter I need the seams marked ,so i can fill", "As a client I want it so  that  the cracks show"]
    now = [readings.dismissal_reading(t) for t in stories]
    monkeypatch.setattr(readings, "_STORY_REASON", _STORY_REASON_BEFORE)
    assert now == [readings.dismissal_reading(t) for t in stories]


def test_the_reason_of_a_story_is_matched_only_where_its_run_of_spaces_starts():
    # what keeps the pattern linear: tried inside a run of spaces, it does not match there (a match runs the whole run)
    from drywallqa.text import readings

    text = "I want a mask" + " " * 5 + "so that the cracks show"
    assert readings._STORY_REASON.match(text, 15) is None
    assert readings._STORY_REASON.search(text).span() == _STORY_REASON_BEFORE.search(text).span() == (13, len(text))
