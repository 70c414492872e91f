"""The HTTP answer (POST /v1/segment) and results.json (drywallqa predict) describe one photo's results: each prompt's
record carries the same keys with the same values in both (docs/serving.md#the-answer-and-resultsjson), the mask
compared as the pixels it holds."""

import base64
import io
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from drywallqa import Segmenter
from drywallqa.engine.batch import predict_paths
from drywallqa.measures import MM_MEASURES, PX_MEASURES
from drywallqa.serve import ServeConfig, create_app

from conftest import write_photos

PROMPTS = ["segment crack", "segment taping area"]  # the second measured per joint too
FILE_ONLY = ("mask", "mask_crc32")  # results.json's mask is a file of the output folder, the answer's the mask itself


def _decoded(mask: dict) -> np.ndarray:
    if mask["format"] == "png":
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(mask["base64"])))) > 0
    from pycocotools import mask as mask_utils

    return mask_utils.decode({"size": mask["size"], "counts": mask["counts"].encode()}).astype(bool)


@pytest.mark.parametrize("mask_format, scale", [("png", "0.5"), ("coco_rle", None)])
def test_each_prompt_s_record_is_the_same_in_the_answer_and_in_results_json(tiny_model_dir, tmp_path, mask_format,
                                                                           scale):
    """The answer kept the measures under 'measures' and results.json beside the confidence: a program reading both
    needed two parsers. Now the answer's item holds results.json's keys too (its 'measures' kept for the clients of
    0.6), and the photo's height and width where results.json has them."""
    seg = Segmenter.load(tiny_model_dir)
    photo = write_photos(tmp_path / "photos", 1, shape=lambda i: (48, 72)) / "p0.jpg"
    rules = ["segment crack: area_px > 0"]
    predict_paths(seg, [photo], PROMPTS, tmp_path / "out", progress=False, rules=rules,
                  mm_per_px=None if scale is None else float(scale))
    entry = json.loads((tmp_path / "out" / "results.json").read_text())["images"][0]
    client = TestClient(create_app(ServeConfig(), seg))
    r = client.post("/v1/segment", files={"image": ("p0.jpg", photo.read_bytes(), "image/jpeg")},
                    data={"prompts": PROMPTS, "mask_format": mask_format, "flag": rules,
                          **({"mm_per_px": scale} if scale else {})})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["height"], answer["width"]) == (entry["height"], entry["width"]) == (48, 72)
    assert answer["image"] == {"width": 72, "height": 48}  # as before
    assert answer["flags"] == entry["flags"]
    assert [item["prompt"] for item in answer["results"]] == list(entry["prompts"]) == PROMPTS
    for item in answer["results"]:
        record = entry["prompts"][item["prompt"]]
        agreed = [k for k in record if k not in FILE_ONLY]
        assert "confidence" in agreed and ("joints" in agreed) == (item["prompt"] == "segment taping area")
        assert {k: item.get(k, "missing") for k in agreed} == {k: record[k] for k in agreed}
        assert set(item) - set(record) <= {"prompt", "measures"}  # nothing the answer alone says of the prompt
        measured = [*PX_MEASURES, *((*MM_MEASURES, "mm_per_px") if scale else ())]
        assert item["measures"] == {k: record[k] for k in measured}  # the 0.6 layout kept
        on_disk = np.asarray(Image.open(tmp_path / "out" / record["mask"])) > 0
        assert np.array_equal(_decoded(item["mask"]), on_disk)

