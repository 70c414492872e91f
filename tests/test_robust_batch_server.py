"""Robustness of batch jobs and of the HTTP server together: what a prompt, a folder or a request accepted at the door
gets at the end, the same in every output and every answer."""

import io

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from drywallqa import Segmenter
from drywallqa.engine.batch import predict_paths
from drywallqa.serve import ServeConfig, create_app

from conftest import write_photos


def _jpeg(w=48, h=32):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


def test_a_prompt_of_several_lines_at_the_length_limit_is_answered_where_it_was_accepted(tiny_model_dir, tmp_path):
    """300 characters as typed, its line end read as "; " (301 as read): accepted at the door, then refused by each
    check of the prompt as read (the segmenter's, the batch job's): Segmenter.predict and predict_paths raised, the
    server answered 422 echoing it."""
    prompt = "segment\ncrack " + "a" * 286
    assert len(prompt) == 300
    seg = Segmenter.load(tiny_model_dir)
    read = seg.predict(np.zeros((40, 40, 3), np.uint8), [prompt])
    assert list(read.masks) == ["segment; crack " + "a" * 286]
    photos = write_photos(tmp_path / "photos", 2)
    summary = predict_paths(seg, [photos], [prompt], tmp_path / "out", progress=False)
    assert len(summary.done) == 2 and not summary.failed
    client = TestClient(create_app(ServeConfig(), seg))
    r = client.post("/v1/segment", files={"image": ("w.jpg", _jpeg(), "image/jpeg")}, data={"prompts": [prompt]})
    assert r.status_code == 200, r.text
    assert [x["prompt"] for x in r.json()["results"]] == list(read.masks)
