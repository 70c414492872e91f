"""Adversarial inputs (h240): what a person or a program sends that got a wrong answer, a traceback or a loss."""

import os

import numpy as np
from PIL import Image

from drywallqa.utils.image_io import find_images


def test_a_folder_read_through_a_link_first_is_not_called_a_link_loop(tmp_path):
    """photos/a and photos/b link to photos/c, a real folder: a was walked first (by name) and c was then listed as
    "a link back to a folder already read (link loop)": a real folder named a link, and a loop where there is none;
    b the same. Each is said for what it is, naming the path its photos were read by; a real loop still as a loop."""
    photos = tmp_path / "photos"
    (photos / "c").mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(photos / "c" / "p.jpg")
    os.symlink(photos / "c", photos / "a")
    os.symlink(photos / "c", photos / "b")
    os.symlink(photos, photos / "c" / "up")  # a loop
    listing = find_images([photos])
    assert listing.images == [photos / "a" / "p.jpg"]
    why = {os.path.relpath(p, photos): reason for p, reason in listing.skipped}
    assert set(why) == {"b", "c", "a/up"}
    assert "loop" not in why["c"] and "a link back" not in why["c"] and str(photos / "a") in why["c"]
    assert "loop" not in why["b"] and why["b"].startswith("a link to a folder already read") and str(photos / "a") in why["b"]
    assert "link loop" in why["a/up"]
