"""The batch job on Ray Data (a local Ray instance) and with several local workers gives the same files."""

import json

import numpy as np
import pytest
from PIL import Image

from drywallqa import Segmenter
from drywallqa.engine.batch import predict_paths, predict_paths_ray


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "imgs"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (40 + i, 50, 3), dtype=np.uint8)).save(d / f"a{i}.jpg")
    (d / "bad.jpg").write_bytes(b"no image")
    return d


def test_ray_engine_matches_local_engine(tiny_model_dir, folder, tmp_path):
    prompts = ["segment crack", "segment joint/tape"]
    local = predict_paths(Segmenter.load(tiny_model_dir), [folder], prompts, tmp_path / "local", progress=False, workers=2)
    ray_sum = predict_paths_ray(tiny_model_dir, [folder], prompts, tmp_path / "ray", workers=1, batch_size=2)
    assert sorted(ray_sum.done) == sorted(str(p.resolve()) for p in folder.glob("a*.jpg"))
    assert [p for p, _ in ray_sum.failed] == [str((folder / "bad.jpg").resolve())]
    assert len(local.done) == 6 and len(local.failed) == 1
    for f in (tmp_path / "local").glob("*.png"):
        assert np.array_equal(np.asarray(Image.open(f)), np.asarray(Image.open(tmp_path / "ray" / f.name))), f.name
    assert len(json.loads((tmp_path / "ray" / "results.json").read_text())["images"]) == 6
    # a rerun on Ray skips everything that is done (only the unreadable file is tried again)
    again = predict_paths_ray(tiny_model_dir, [folder], prompts, tmp_path / "ray")
    assert len(again.skipped) == 6 and not again.done
