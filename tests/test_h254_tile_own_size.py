"""Tiles smaller than the model's input size: the tile-size benchmark on the group-clean val part, tiles seen at their
own size (not enlarged), the warning per input size, and said once by ``predict``."""

import json
import sys

import numpy as np
import pytest
from PIL import Image

from drywallqa import Segmenter


PHOTO = np.random.default_rng(0).integers(0, 255, (100, 150, 3), dtype=np.uint8)


class _Sample:
    """A photo and its label, as load_split / samples_of_part give them."""

    def __init__(self, path, mask):
        self.image_path, self.mask = path, mask

    def load_mask(self):
        return self.mask


def test_tile_sizes_scores_the_group_clean_val_part_when_asked(load_script, tiny_model_dir, tmp_path, monkeypatch):
    # the benchmark read the published valid photos only, where no option may be chosen (copies of them sit in train):
    # --split val reads the group-clean val part (published valid/test photos left out), named in its outputs
    script = load_script("tile_sizes", "benchmarks")
    asked = []
    monkeypatch.setattr(script, "samples_of_part", lambda d, part, splits_dir, exclude_published=():
                        asked.append((d, part, splits_dir, tuple(exclude_published))) or [f"{d}-val"])
    monkeypatch.setattr(script, "load_split", lambda d, split: ([f"{d}-{split}"], []))
    assert script.split_samples("taping", "val") == ["taping-val"]
    assert asked == [("taping", "val", None, ("valid", "test"))]
    assert script.split_samples("taping", "published") == ["taping-valid"]
    Image.fromarray(PHOTO).save(tmp_path / "a.png")
    label = np.zeros(PHOTO.shape[:2], bool)
    label[40:60] = True
    monkeypatch.setattr(script, "split_samples", lambda d, split, splits_dir=None:
                        [_Sample(tmp_path / "a.png", label)] if split == "val" else pytest.fail(split))
    monkeypatch.setattr(script, "check_split_manifest", lambda d, splits_dir: None)
    monkeypatch.setattr(script.torch, "set_num_threads", lambda n: None)
    out = tmp_path / "out"
    monkeypatch.setattr(sys, "argv", ["tile_sizes.py", "--split", "val", "--datasets", "cracks", "--tiles", "64", "32",
                                      "--model-path", str(tiny_model_dir), "--out", str(out)])
    script.main()
    written = json.loads((out / "tile_sizes.json").read_text())
    assert written["split"] == "group-clean val" and {r["dataset"] for r in written["rows"]} == {"cracks"}
    assert "group-clean val" in (out / "tile_sizes.md").read_text()
    modes = [r["mode"] for r in written["rows"]]
    assert modes[:3] == ["whole photo", "tile=64", "tile=32"] and len(modes) == 4, modes
