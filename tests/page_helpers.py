"""What the browser tests of the web page with several photos share (tests/test_page_many_photos.py and the files after
it, each importing from here): the tiny model served with a 20 KB upload limit, and the photos they choose. Fixtures
are imported by name (``from page_helpers import photos, server``), not put in conftest.py: their names are generic,
and a conftest would hand this ``server`` (its 20 KB limit) to every test file that names a fixture so."""

import pytest

from drywallqa import Segmenter
from drywallqa.serve import ServeConfig, create_app
from test_browser import serving

PROMPTS = ["segment crack", "segment taping area"]


@pytest.fixture
def server(tiny_model_dir):
    seg = Segmenter.load(tiny_model_dir)
    seg.prompt_thresholds = {p: 0.5 for p in PROMPTS}  # the page's suggestions: its first prompts
    yield from serving(create_app(ServeConfig(max_upload_mb=0.02), seg))  # 20 KB: big.png is over it


@pytest.fixture
def photos(tmp_path):
    """a.png, c.png, d.png (64 x 48, grey: under the limit) and big.png (noise, 120 x 90: over it) in tmp_path."""
    import numpy as np
    from PIL import Image

    for name, grey in (("a", 150), ("c", 120), ("d", 90)):
        Image.new("RGB", (64, 48), (grey, grey, grey)).save(tmp_path / f"{name}.png")
    # noise does not compress: 64 x 48 x 3 bytes, 9 KB, is under the limit; 120 x 90 (32 KB) over it
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (90, 120, 3), dtype=np.uint8)).save(tmp_path / "big.png")
    assert (tmp_path / "big.png").stat().st_size > 0.02 * 2**20 > (tmp_path / "a.png").stat().st_size
    return tmp_path
