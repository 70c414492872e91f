"""Review of the Python API, the validator, the pictures, the page and tiling (h253): each test a defect found."""

import pytest

from drywallqa import Segmenter
from drywallqa.serve import ServeConfig, create_app
from test_browser import _need_browser, run_page_script, serving


@pytest.fixture
def server(tiny_model_dir):
    seg = Segmenter.load(tiny_model_dir)
    seg.prompt_thresholds = {"segment crack": 0.5, "segment taping area": 0.5}  # the page's two suggested prompts
    yield from serving(create_app(ServeConfig(), seg))


def test_page_emptied_mask_not_said_nothing_found(server, tmp_path):
    # a mask min_confidence emptied (it held pixels: emptied_below in the answer) read '0.42 · nothing found', as if
    # the model had found nothing there, where it found something it was not sure enough of
    _need_browser()
    from PIL import Image

    Image.new("RGB", (64, 48), (150, 150, 150)).save(tmp_path / "wall.png")
    out = run_page_script("h253_page.mjs", server, tmp_path / "wall.png", "emptied", timeout=120)
    assert out["consoleErrors"] == [], out
    conf = out["confidence"]
    assert "nothing found" not in conf["segment crack"] and "emptied below 0.5" in conf["segment crack"], conf
    assert conf["segment taping area"] == "0.90 \u00b7 nothing found", conf
