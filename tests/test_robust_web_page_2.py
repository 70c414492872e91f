"""The web page in a real browser (as tests/test_browser.py) given what a site engineer types: more prompts than the
palette has colours, odd scales, QA rules with typos."""

import pytest

from drywallqa import Segmenter
from drywallqa.serve import ServeConfig, create_app
from test_browser import _need_browser, run_page_script, serving


@pytest.fixture
def server(tiny_model_dir):
    yield from serving(create_app(ServeConfig(max_prompts=12), Segmenter.load(tiny_model_dir)))


def _hue(hex_colour: str) -> str:
    """A colour's hue in degrees, to check the page's names against the colour drawn."""
    import colorsys

    r, g, b = (int(hex_colour[k:k + 2], 16) / 255 for k in (1, 3, 5))
    return colorsys.rgb_to_hsv(r, g, b)[0] * 360


def _lab(hex_colour: str) -> tuple:
    """CIE L*a*b* (D65) of an sRGB colour."""
    def linear(c):
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(int(hex_colour[k:k + 2], 16) / 255) for k in (1, 3, 5))
    xyz = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047, 0.2126 * r + 0.7152 * g + 0.0722 * b, \
        (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883
    f = [t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116 for t in xyz]
    return 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])


def test_web_page_odd_inputs(server, tmp_path):
    _need_browser()
    from PIL import Image

    Image.new("RGB", (64, 48), (150, 150, 150)).save(tmp_path / "wall.png")
    out = run_page_script("robust_page_2.mjs", server, tmp_path / "wall.png", timeout=60)
    assert out["consoleErrors"] == [], out
    assert out["width"] == [320, 320], out["width"]  # ten prompts' toggles and measures at 320 px: no sideways scroll
    # ten prompts: the ninth and tenth are not "in red" and "in blue" as the first two (their colours are others)
    label, hexes = out["colours"]["label"], out["colours"]["hex"]
    named = [part.split(" in ")[1].split(",")[0] for part in label.split(": ", 1)[1].split("; ")]
    assert len(named) == len(hexes) == 10, label
    assert named[:2] == ["red", "blue"] and named[8] != "red" and named[9] != "blue", named
    assert 10 <= _hue(hexes[8]) <= 40 and named[8] == "orange", (hexes, named)  # #d9510d
    assert 140 <= _hue(hexes[9]) <= 170 and named[9] == "sea green", (hexes, named)  # #0dd98c
    # below 0: a number, said to be below 0 (it was "is not a number": a format to puzzle over, not a sign)
    negative = out["negative"]
    assert negative["mm -0.5"] == 'The scale "-0.5" must be more than 0', negative
    assert negative["mm \u22120,5"] == 'The scale "\u22120,5" must be more than 0', negative
    assert negative["tile -640"] == 'The tile size "-640" must be more than 0', negative
    assert negative["mm -x"] == 'The scale "-x" is not a number', negative  # text still said to be none
    rules = out["rules"]  # a number with a comma: said so (the server's answer spoke of the rule's form only)
    for rule in ("segment crack: max_width_px > 0,3", "segment crack: area_px >= 1,000"):
        assert rules[rule] == f'The QA rule "{rule}": write its number without a comma (0.3, not 0,3; 1000, not 1,000).'
    assert "HTTP 422" in rules["segment crak: max_width_px > 3"] and "one of the prompts" in rules["segment crak: max_width_px > 3"]
    assert "PROMPT: MEASURE OP NUMBER" in rules["segment crack max_width_px > 3"], rules
    assert "max_width_px" in rules["segment crack: max_widht_px > 3"], rules  # the measures it may be
    # the server's 422 in the words of the page: "QA rule 2", "scale" (it was "flag 2", "mm_per_px": no box of the page)
    assert rules["segment crack max_width_px > 3"].startswith("Please check the input: QA rule: "), rules
    assert out["secondRule"].startswith("Please check the input: QA rule 2: a rule's measure is one of"), out["secondRule"]
    assert out["zeroScale"].startswith("Please check the input: scale: Input should be greater than"), out["zeroScale"]
    # the palette's masks told apart on the photo: no two of its colours as close as its purple and violet were
    # (CIE76 distance 11.7; green and teal, the closest now, 22)
    palette = [_lab(h) for h in hexes[:8]]
    closest = min(sum((a - b) ** 2 for a, b in zip(palette[i], palette[j])) ** 0.5
                  for i in range(8) for j in range(i + 1, 8))
    assert closest > 20, (hexes, closest)
    assert named[7] == "lime", named
    meanwhile = out["emptyMeanwhile"]  # an empty file chosen while a request ran: its error not wiped by the answer
    assert "empty.jpg is empty (0 bytes)" in meanwhile["during"] and meanwhile["after"] == meanwhile["during"], meanwhile
    assert meanwhile["status"].startswith("Done in") and "wall.png" in meanwhile["status"], meanwhile
    # Enter in the emptied prompt box segments (it did nothing), as in the scale and tile boxes; the prompt added once
    assert out["enterTwice"] == {"asked": 1, "chips": 3, "shown": True}, out["enterTwice"]
