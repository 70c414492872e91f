"""Newcomer frictions: a refused prompt's understood_as, the review list of a small job, photos of one name."""

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from drywallqa import Segmenter
from drywallqa.cli import app
from drywallqa.serve import ServeConfig, create_app
from drywallqa.text.encoder import get_text_encoder
from drywallqa.text.gate import PromptGate

REFUSED = "hole in the wall"  # judged as "hole" (its place left out), which the gate refuses


@pytest.fixture
def photo(tmp_path):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(tmp_path / "w.png")
    return tmp_path / "w.png"


@pytest.fixture
def holes_model_dir(tiny_model_dir):
    encode = lambda ps: get_text_encoder().encode(ps).numpy()  # noqa: E731
    PromptGate.build({"cracks": ["segment crack", "crack"]}, ["door", "segment the door", "window", "hole"], encode,
                     min_margin=0.05).save(tiny_model_dir)
    return tiny_model_dir


def test_a_refused_prompt_is_understood_as_nothing(holes_model_dir, photo, tmp_path):
    """understood_as is the prompt the model is asked: a refused prompt is asked nothing, so it has none (it said
    "hole", and the web page "read as hole", for a prompt left empty)."""
    seg = Segmenter.load(holes_model_dir)
    r = seg.predict(photo, [REFUSED, "crack above the door"])
    assert r.concepts[REFUSED]["known"] is False and "understood_as" not in r.concepts[REFUSED], r.concepts
    assert "understood_as" not in seg.match_prompts([REFUSED])[REFUSED].to_dict()
    assert r.concepts["crack above the door"]["understood_as"] == "segment crack"  # an answered one still says it
    assert "understood_as" not in r.to_dict()["prompts"][REFUSED]["concept"]
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["predict", str(photo), "-p", REFUSED, "--out", str(out),
                                   "--model-path", str(holes_model_dir)])
    assert res.exit_code == 0, res.output
    results = json.loads((out / "results.json").read_text())
    assert "understood_as" not in results["concepts"][REFUSED]
    assert "understood_as" not in results["images"][0]["prompts"][REFUSED]["concept"]
    client = TestClient(create_app(ServeConfig(), seg))
    body = client.post("/v1/segment", files={"image": ("w.png", photo.read_bytes(), "image/png")},
                       data={"prompts": [REFUSED]}).json()
    assert "understood_as" not in body["results"][0]["concept"], body


def _entry(image, **confidences):
    return {"image": image, "prompts": {p.replace("_", " "): {"confidence": c, "components": 1 if c < 1 else 0}
                                        for p, c in confidences.items()}}


def test_the_review_list_names_only_masks_worth_a_look(holes_model_dir, photo, tmp_path, monkeypatch):
    """A small job's "least confident masks" were its 5 lowest whatever they were: masks at 1.00 ("nothing found",
    with certainty) were named for review. Now only those below the web page's "review" mark (0.3, as shown)."""
    from drywallqa.engine import batch_report
    from drywallqa.engine.batch_report import REVIEW_BELOW, to_review

    results = [_entry("a.jpg", segment_crack=1.0, segment_taping_area=0.12), _entry("b.jpg", segment_crack=0.2996,
                                                                                   segment_taping_area=0.29)]
    assert to_review(results) == [(0.12, "a.jpg", "segment taping area"), (0.29, "b.jpg", "segment taping area")]
    page = (__import__("pathlib").Path(batch_report.__file__).parent.parent / "serve" / "page.html").read_text()
    assert f"const REVIEW_BELOW = {REVIEW_BELOW};" in page  # one mark for the CLI and the web page

    def run(confidence):
        monkeypatch.setattr(batch_report, "review_confidence", lambda m: confidence)
        res = CliRunner().invoke(app, ["predict", str(photo), "-p", "segment crack", "--out", str(tmp_path / "out"),
                                       "--model-path", str(holes_model_dir), "--overwrite"], terminal_width=400)
        assert res.exit_code == 0, res.output
        return res.output

    sure = run(1.0)
    assert "least confident" not in sure and "no mask with confidence below 0.30" in sure, sure
    unsure = run(0.1)
    assert "least confident masks (review these first" in unsure and "'segment crack' 0.10" in unsure, unsure


def test_photos_of_one_name_in_two_folders_are_told_what_to_do(tmp_path):
    """Phone photos of one name in different folders (day1/IMG_1.jpg, day2/IMG_1.jpg): the failure said "rename one
    of them", not why folders do not tell them apart, nor the way that keeps a phone's names (a folder per --out)."""
    from drywallqa.engine.batch import gather_inputs

    for day in ("day1", "day2"):
        (tmp_path / day).mkdir()
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / day / "IMG_1.jpg")
    images, failed, _ = gather_inputs([tmp_path / "day1", tmp_path / "day2"], tmp_path / "out")
    assert images == [tmp_path / "day1" / "IMG_1.jpg"] and [p for p, _ in failed] == [str(tmp_path / "day2" / "IMG_1.jpg")]
    why = failed[0][1]
    assert "same file stem" in why and "not by its folder" in why and "IMG_1__" in why, why
    assert "day1/IMG_1.jpg and day2/IMG_1.jpg" in why and "each folder into its own --out" in why, why
