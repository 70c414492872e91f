"""An audit of how a user's own wording of a prompt is read (docs/experiments/wordings_audit): the shipped
gate's reading of negations typed without a space, with invisible characters or apostrophe look-alikes, and of signs
of negation before a bracket."""

import pytest

from drywallqa import Segmenter


@pytest.fixture(scope="module")
def shipped():
    return Segmenter.load()


def _answer(seg, prompt):
    match = seg.match_prompts([prompt])[prompt]
    return match.concept if match.known else None


@pytest.mark.parametrize("prompt, concept", [
    ("Nocracks", None), ("nocrack", None), ("notaping", None), ("notcracks", None), ("noncrack areas", None),
    ("nocrack area", None),
    # a real word, and a slip of a known one, are not split
    ("notice the cracks", "cracks"), ("crakcs", "cracks"), ("nodes", None)])
def test_a_negation_glued_to_its_thing_is_not_mended_into_the_thing(shipped, prompt, concept):
    """"Nocracks" (the space dropped) was mended to "cracks", two letters away, and answered with the crack mask."""
    assert _answer(shipped, prompt) == concept


@pytest.mark.parametrize("prompt, concept", [
    ("n\u200bo cracks", None), ("n\u00ado cracks", None), ("n\u200do tape", None), ("no\u200bcracks", None),
    ("every\u2060thing except cracks", None), ("cr\u200back", "cracks"), ("ta\u00adpe", "taping")])
def test_invisible_characters_inside_a_word_are_read_as_nothing(shipped, prompt, concept):
    """A zero-width space, a soft hyphen or a joiner pasted inside "no" (invisible on the screen) split it into two
    words the gate did not know as a negation: "n\u200bo cracks" was answered with the crack mask."""
    assert _answer(shipped, prompt) == concept


@pytest.mark.parametrize("prompt, concept", [
    ("don`t segment cracks", None), ("don\u02bct segment cracks", None), ("don\u2032t segment cracks", None),
    ("DON`T SHOW THE TAPE", None), ("doesn\u02bct matter, find the cracks", "cracks"), ("`crack`", "cracks")])
def test_marks_typed_for_an_apostrophe_are_one(shipped, prompt, concept):
    """A backtick, the modifier letter apostrophe some keyboards type, or a prime between letters ("don`t segment
    cracks") hid the "don't" from the gate, which answered the crack mask; "don't" and "don\u2019t" were refused."""
    assert _answer(shipped, prompt) == concept


@pytest.mark.parametrize("prompt, concept", [
    ("!(crack)", None), ("~(crack)", None), ("-(cracks)", None), ("segment wall !(taping)", None),
    ("~[tape]", None), ("cracks -(tape)", "cracks"), ("(crack)", "cracks")])
def test_a_sign_of_negation_before_a_bracket_negates(shipped, prompt, concept):
    """"!crack" and "NOT(crack)" were refused as negations, but "!(crack)" was answered with the crack mask."""
    assert _answer(shipped, prompt) == concept


@pytest.mark.parametrize("prompt", ["nocracks", "evrything exept cracks", "no cracks"])
def test_a_negation_read_after_its_slips_are_mended_is_warned_of_as_one(shipped, prompt):
    """"evrything exept cracks" is refused as the negation it is once "exept" is mended, but its warning said it was
    "not something this model was trained to find (nearest: cracks ...)", sending the user to ask for cracks."""
    matches = shipped.match_prompts([prompt])
    assert not matches[prompt].known
    (warning,) = shipped.prompt_warnings(matches)
    assert "asks for what is not there" in warning


@pytest.mark.parametrize("prompt, concept", [
    ("crack=false", None), ("tape: false", None), ("cracks=off", None), ("cracks: none", None),
    ('{"crack": false}', None), ('{"crack": true, "taping": false}', "cracks"), ("cracks=false taping=true", "taping"),
    ("crack=true", "cracks"), ("crack: yes", "cracks")])
def test_a_known_thing_as_a_programs_key_with_a_setting_of_no(shipped, prompt, concept):
    """A program's flag of a known thing set to false ("crack=false", {"crack": false}) was answered with the crack
    mask, as "crack=true" was ("cracks: no" was refused)."""
    assert _answer(shipped, prompt) == concept


@pytest.mark.parametrize("prompt, concept", [
    ("crack_free", None), ("crackfree wall", None), ("tapefree areas", None), ("seamfree", None),
    ("crack-free", None), ("carefree cracks", "cracks"), ("dustfree", None)])
def test_free_of_a_thing_with_an_underscore_or_glued(shipped, prompt, concept):
    """"crack-free" and "crack free" were refused as asking for the wall without cracks, but "crack_free" (a program's
    name) and "crackfree" were answered with the crack mask."""
    assert _answer(shipped, prompt) == concept
