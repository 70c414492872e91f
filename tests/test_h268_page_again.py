"""The web page (as tests/test_browser.py, in headless Chromium; tests/browser/h268_again.mjs) with several photos:
a connection lost or a 5xx was listed as "refused" (the server saying no to the photo): now "failed"."""

import pytest

from drywallqa import Segmenter
from drywallqa.serve import ServeConfig, create_app
from test_browser import _need_browser, run_page_script, serving

PROMPTS = ["segment crack", "segment taping area"]


@pytest.fixture
def server(tiny_model_dir):
    seg = Segmenter.load(tiny_model_dir)
    seg.prompt_thresholds = {p: 0.5 for p in PROMPTS}  # the page's suggestions: its first prompts
    yield from serving(create_app(ServeConfig(max_upload_mb=0.02), seg))  # 20 KB: big.png is over it


@pytest.fixture
def photos(tmp_path):
    import numpy as np
    from PIL import Image

    for name, grey in (("a", 150), ("c", 120), ("d", 90)):
        Image.new("RGB", (64, 48), (grey, grey, grey)).save(tmp_path / f"{name}.png")
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (90, 120, 3), dtype=np.uint8)).save(tmp_path / "big.png")
    assert (tmp_path / "big.png").stat().st_size > 0.02 * 2**20 > (tmp_path / "a.png").stat().st_size
    return tmp_path


def test_connection_lost_and_5xx_listed_as_failed(server, photos):
    _need_browser()
    out = run_page_script("h268_again.mjs", server, photos, "again", timeout=300)
    assert out["consoleErrors"] == [], out
    first = out["first"]
    # c.png's connection lost and d.png's 500 are no refusal of the photo: "failed", apart from big.png's refusal
    assert first["sent"] == ["a.png", "c.png", "d.png"], first
    assert [p["state"] for p in first["list"]] == ["done", "refused", "failed", "failed"], first["list"]
    c, d = first["list"][2], first["list"][3]
    assert c["said"].startswith("failed: The server could not be reached"), c
    assert d["said"].startswith("failed: The server (or a proxy in front of it) failed") and "HTTP 500" in d["said"], d
    assert c["color"] != first["list"][1]["color"], first["list"]  # not in the refusal's red
    assert first["said"] == ("1 of 4 photos segmented, 1 refused (the reason beside each), 2 failed on the way "
                            "(Segment sends them again)."), first
    assert [p[:2] for p in first["all"]] == [["a.png", "done"], ["big.png", "refused"], ["c.png", "failed"], ["d.png", "failed"]]
    assert "could not be reached" in first["all"][2][2] and "HTTP 500" in first["all"][3][2], first["all"]
