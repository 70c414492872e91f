"""Robustness of batch jobs and of the HTTP server together: what a prompt, a folder or a request accepted at the door
gets at the end, the same in every output and every answer."""

import io
import os
import threading

import numpy as np
import pytest
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


@pytest.mark.parametrize("field, value", [
    ("max_concurrency", 0), ("max_concurrency", "2"), ("max_prompts", 0), ("max_pixels", 0), ("max_tiles", -1),
    ("max_rules", 1.5), ("max_upload_mb", "20"), ("max_upload_mb", 0), ("max_upload_mb", 1e303),
    ("request_timeout_s", 0), ("request_timeout_s", float("nan")), ("body_timeout_s", "60"), ("max_concurrency", True)])
def test_a_server_config_limit_the_server_cannot_keep_is_refused_naming_it(field, value):
    """A server made from Python (its limits read from environment variables, as text, or 0 for a limit unset): a
    max_concurrency of 0 answered every request 429 "busy", a request timeout of 0 or NaN every one 503, a max_upload_mb
    of "20" was read as "20" * 2**20 (a ValueError of Python's digit limit), a count as text a TypeError per request."""
    with pytest.raises(ValueError, match=f"ServeConfig.{field} must be"):
        ServeConfig(**{field: value})


def test_whole_limits_given_as_floats_are_kept_as_numbers():
    config = ServeConfig(max_concurrency=2.0, max_upload_mb=0.05, max_pixels=10**9, request_timeout_s=0.1)
    assert config.max_concurrency == 2 and isinstance(config.max_concurrency, int) and config.max_upload_mb == 0.05


def test_every_slot_segments_at_once_however_few_threads_the_event_loop_has(tiny_model_dir):
    """The event loop's default executor has min(32, CPUs + 4) threads: with more --max-concurrency slots (8 on 2 CPUs)
    the requests let in beyond them waited in its queue, unstarted, each answered 503 by its time limit as if its photo
    took too long."""
    slots = min(32, (os.cpu_count() or 1) + 4) + 1
    inner = Segmenter.load(tiny_model_dir)
    began, release = threading.Semaphore(0), threading.Event()

    class Held(Segmenter):
        threshold = 0.5

        def predict(self, image, prompts, threshold=None, label_shape=None):
            began.release()
            release.wait(30)
            return inner.predict(image, prompts)

    statuses = []
    with TestClient(create_app(ServeConfig(max_concurrency=slots, request_timeout_s=60), Held())) as client:
        def ask():
            statuses.append(client.post("/v1/segment", files={"image": ("w.jpg", _jpeg(), "image/jpeg")},
                                        data={"prompts": ["segment crack"]}).status_code)

        threads = [threading.Thread(target=ask) for _ in range(slots)]
        for t in threads:
            t.start()
        try:
            assert all(began.acquire(timeout=15) for _ in range(slots)), "a request let in waits for a thread"
        finally:
            release.set()
            for t in threads:
                t.join(60)
    assert statuses == [200] * slots


def test_the_server_does_not_pass_a_rule_on_a_mask_that_says_nothing_of_the_photo():
    """The server judged rules on the measures alone: a mask emptied by min_confidence (or a prompt the gate refused)
    measures 0 and passed every '>' rule, where predict flags such a rule as not checked; the
    emptied named by the field that emptied them (the CLI's --min-confidence was named)."""
    from pathlib import Path

    from fastapi.testclient import TestClient

    from drywallqa import Segmenter
    from drywallqa.serve import ServeConfig, create_app

    photo = sorted((Path(__file__).parents[1] / "src" / "drywallqa" / "examples").glob("cracks_*.jpg"))[0]
    client = TestClient(create_app(ServeConfig(), Segmenter.load()))
    data = {"prompts": ["segment crack", "segment banana"], "min_confidence": "0.999",
            "flag": ["segment crack: area_px > 0", "segment banana: area_px > 0"]}
    r = client.post("/v1/segment", files={"image": (photo.name, photo.read_bytes(), "image/jpeg")}, data=data)
    assert r.status_code == 200, r.text
    items = {i["prompt"]: i for i in r.json()["results"]}
    assert "emptied_below" in items["segment crack"] and items["segment banana"]["concept"]["known"] is False
    assert r.json()["flags"] == ["segment crack: area_px > 0 (not checked: mask emptied, its confidence below "
                                 "min_confidence 0.999)", "segment banana: area_px > 0 (not checked: not a thing this "
                                 "model knows, its mask left empty)"]
