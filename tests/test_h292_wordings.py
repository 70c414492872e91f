"""Helper 292's audit of how a user's own wording of a prompt is read (docs/experiments/wordings_audit): the shipped
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
