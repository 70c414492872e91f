"""The web page (as tests/test_browser.py, in headless Chromium) as a site engineer reads and works it on a phone:
text that can be read, controls that can be seen and hit, progress while a photo uploads."""

import pytest

from drywallqa import Segmenter
from drywallqa.serve import ServeConfig, create_app
from test_browser import _need_browser, run_page_script, serving


@pytest.fixture
def server(tiny_model_dir):
    yield from serving(create_app(ServeConfig(), Segmenter.load(tiny_model_dir)))


def _page(server, tmp_path, check: str) -> dict:
    _need_browser()
    from PIL import Image

    Image.new("RGB", (64, 48), (150, 150, 150)).save(tmp_path / "wall.png")
    out = run_page_script("h247_page.mjs", server, tmp_path / "wall.png", check, timeout=120)
    assert out["consoleErrors"] == [], out
    return out


def test_header_text_readable(server, tmp_path):
    # the model's line under the title (which model, which version: what a QA report quotes) was the body's muted grey
    # on the header's near-black, 2.75:1: unreadable outdoors; WCAG AA asks 4.5:1 of text this small
    text = _page(server, tmp_path, "contrast")["text"]
    assert text["modelLine"] >= 4.5 and text["tagline"] >= 4.5, text
