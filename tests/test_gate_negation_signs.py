"""An audit of wordings that leave a known thing out (docs/experiments/wordings_audit/negation_signs.md):
signs and short answers a user types for "without X" that the shipped gate answered with the mask of X."""

import pytest

from drywallqa import Segmenter


@pytest.fixture(scope="module")
def shipped():
    return Segmenter.load()


def _answer(seg, prompt):
    match = seg.match_prompts([prompt])[prompt]
    return match.concept if match.known else None


@pytest.mark.parametrize("prompt, concept", [
    ("\u2013crack", None), ("\u2014tape", None), ("wall \u2013cracks", None), ("\u2212 tape", None),
    ("\u00ac crack", None),
    # a list's bullet, a range, a word's own dash, and a thing named first are as before
    ("- crack", "cracks"), ("\u2013 crack", "cracks"), ("2\u20133 cracks", "cracks"), ("re\u2013taped joints", "taping"),
    ("cracks \u2013tape", "cracks"), ("taping area - joints", "taping")])
def test_a_dash_or_minus_sign_before_a_thing_leaves_it_out(shipped, prompt, concept):
    """"-crack" was refused as a negation, but the dashes an editor makes of a hyphen ("\u2013crack") and the minus
    sign with a space ("\u2212 tape") were answered with the mask they leave out."""
    assert _answer(shipped, prompt) == concept


@pytest.mark.parametrize("prompt, concept", [
    ("cracks=0", None), ("crack = 0", None), ("cracks: 0", None), ("cracks == 0", None), ('{"taping": 0}', None),
    ("crack=1, tape=0", "cracks"), ("taping=1", "taping"),
    # a count, a size or a comparison is no flag
    ("cracks: 3", "cracks"), ("crack: 0.3mm", "cracks"), ("cracks > 0", "cracks"), ("crack 0", "cracks")])
def test_a_flag_of_0_or_1_is_a_flag_of_false_or_true(shipped, prompt, concept):
    """"crack=false" was refused as leaving the cracks out, but "cracks=0" was answered with the crack mask."""
    assert _answer(shipped, prompt) == concept


@pytest.mark.parametrize("prompt, concept", [
    ("tape? no", None), ("crack? no", None), ("cracks: nope", None), ("cracks? nah", None), ("cracks - nope", None),
    ("cracks? no, the tape", "taping"),
    # a question about a thing, or a number after "no", asks for it
    ("a crack no?", "cracks"), ("crack no. 3", "cracks"), ("any cracks? show them", "cracks"),
    ("is it a crack? not sure", "cracks"), ("nah, show cracks", "cracks")])
def test_a_thing_answered_no_is_left_out(shipped, prompt, concept):
    """"tape: no" was refused, but "tape? no", "cracks: nope" and "cracks? nah" were answered with the mask they said
    no to."""
    assert _answer(shipped, prompt) == concept


@pytest.mark.parametrize("prompt, concept", [
    ("crack-less", None), ("crack-less plaster", None), ("seam-less drywall", None), ("tape\u2011less joints", None),
    ("crackless plaster", None),
    # another word's "-less", and a thing before it
    ("care-less cracks", "cracks"), ("hair-line cracks", "cracks")])
def test_a_thing_with_a_hyphened_less_is_left_out(shipped, prompt, concept):
    """"crackless" and "seamless drywall" were refused, but "crack-less" was answered with the crack mask."""
    assert _answer(shipped, prompt) == concept


@pytest.mark.parametrize("prompt, concept", [
    ("0 cracks", None), ("0 tape", None), ("0 crack areas", None), ("zero cracks", None),
    # a size, a unit, a list's number, a finish level, and counts above 0
    ("0.3 mm cracks", "cracks"), ("0 mm cracks", "cracks"), ("0. cracks", "cracks"), ("level 0 taping", "taping"),
    ("1 crack", "cracks"), ("2 cracks", "cracks")])
def test_a_count_of_0_before_a_thing_is_read_as_zero(shipped, prompt, concept):
    """"zero cracks" was refused, but "0 cracks" was answered with the crack mask."""
    assert _answer(shipped, prompt) == concept
