"""Every way in of one photo gives the same pixels: a 16-bit file, a 16-bit array and the 8-bit photo; an RGBA file
and an RGBA array (both on white). A 16-bit photo is scaled by its bit depth, never stretched to its own min..max
(a plain grey wall stretched that way grew "cracks")."""

import numpy as np
from PIL import Image

from drywallqa.utils.image_io import read_image, to_rgb_array


def test_a_16_bit_grey_photo_is_its_8_bit_self(tmp_path):
    rng = np.random.default_rng(0)
    wall16 = (30000 + rng.integers(0, 40, (32, 48))).astype(np.uint16)  # a plain wall: 0.06% of the range
    Image.fromarray(wall16).save(tmp_path / "wall16.png")
    assert Image.open(tmp_path / "wall16.png").mode.startswith("I")
    from_file = read_image(tmp_path / "wall16.png")
    assert from_file.shape == (32, 48, 3) and np.ptp(from_file) <= 1  # not stretched to 0..255
    assert abs(int(from_file.mean()) - 30000 // 257) <= 1
    assert np.array_equal(to_rgb_array(wall16), from_file)
    assert np.array_equal(to_rgb_array(Image.open(tmp_path / "wall16.png")), from_file)


def test_rgba_files_and_arrays_are_both_shown_on_white(tmp_path):
    rgba = np.zeros((10, 12, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, :6, 3] = 255  # the left half opaque red, the right half transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    from_file = read_image(tmp_path / "a.png")
    assert np.array_equal(to_rgb_array(rgba), from_file)
    assert (from_file[:, 6:] == 255).all() and (from_file[:, :6] == [200, 0, 0]).all()


def test_only_photo_formats_are_decoded(tmp_path, monkeypatch):
    """An EPS upload would make Pillow run Ghostscript on it: such formats are not even tried."""
    import pytest
    from PIL import EpsImagePlugin

    from drywallqa.utils.image_io import ImageReadError

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", lambda self: pytest.fail("the EPS decoder was run"))
    (tmp_path / "wall.jpg").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    with pytest.raises(ImageReadError, match="not one of the formats read"):
        read_image(tmp_path / "wall.jpg")
