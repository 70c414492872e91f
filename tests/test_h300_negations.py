"""Helper 300's audit of wordings that leave a known thing out (docs/experiments/wordings_audit/negations_h300.md):
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
