"""Line ends in a prompt (text.prompts.one_line): read as before the pattern was made linear on long runs of spaces."""

import random
import re

import pytest

from drywallqa.text.prompts import LINE_ENDS, one_line

# the pattern as it was (quadratic on a long run of spaces or tabs that ends in no line end): the reference reading
_REFERENCE = re.compile(r"[ \t]*[\n\r\v\f\u2028\u2029][\s\u2028\u2029]*")


def _reference(text: str) -> str:
    return _REFERENCE.sub(lambda m: " " if m.start() and text[m.start() - 1] in ".,;:!?|-" else "; ", text)


@pytest.mark.parametrize("text, expected", [
    ("include: cracks\nexclude: joint tape", "include: cracks; exclude: joint tape"),
    ("cracks  \t\n  and tape", "cracks; and tape"),
    ("Hallway.\r\nMark the cracks", "Hallway. Mark the cracks"),
    ("  \ncrack", "; crack"),
    ("crack   tape", "crack   tape"),
    ("crack \u2028 tape", "crack; tape"),
])
def test_one_line_reads_line_ends(text, expected):
    assert one_line(text) == expected


def test_same_reading_as_the_reference_pattern():
    rng = random.Random(0)
    alphabet = " \t\n\r\v\f\u2028a.;-"
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        assert one_line(text) == _reference(text), repr(text)


def test_a_match_starts_where_its_run_of_spaces_starts():
    text = "crack" + " " * 50 + "x" + " \t \n tape"
    assert [m.start() for m in LINE_ENDS.finditer(text)] == [m.start() for m in _REFERENCE.finditer(text)] == [56]
