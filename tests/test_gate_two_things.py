"""A prompt naming two things the model knows ("segment crack and taping") is answered with one mask, as before, and
now says so: a warning names both, the one answered and a prompt for each, wherever warnings are read."""

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from drywallqa import Segmenter
from drywallqa.cli import app
from drywallqa.serve import ServeConfig, create_app

# prompt -> the concept the shipped model answers it with (as before the warning)
TWO_THINGS = {"segment crack and taping": "cracks", "cracks and seams": "cracks", "crack, tape": "cracks",
              "crack/tape": "cracks", "cracks or tape": "taping", "cracks & tape": "taping",
              "cracks but also the tape": "taping"}
ONE_THING = {"cracks, not tape": "cracks", "segment crack": "cracks", "taping area without cracks": "taping",
             "seam cracks": "cracks", "cracks along the taped seams": "cracks",
             "the cracks, leave the mudded lines out": "cracks"}


@pytest.fixture(scope="module")
def shipped():
    return Segmenter.load()


@pytest.fixture
def photo(tmp_path):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(tmp_path / "w.png")
    return tmp_path / "w.png"


def test_two_things_warned_one_thing_not_and_the_mask_unchanged(shipped):
    matches = shipped.match_prompts([*TWO_THINGS, *ONE_THING])
    assert {p: (m.concept, m.known) for p, m in matches.items()} == {p: (c, True) for p, c in {**TWO_THINGS,
                                                                                             **ONE_THING}.items()}
    warnings = shipped.prompt_warnings(matches)
    assert [w.split("'")[1] for w in warnings] == list(TWO_THINGS)
    for w, (p, concept) in zip(warnings, TWO_THINGS.items()):
        assert f"'{p}' names two things (" in w and f"this one is {concept}." in w, w
        assert "'segment crack'" in w and "'segment taping area'" in w and "left empty" not in w, w


def test_python_cli_and_http_carry_it(shipped, photo, tmp_path):
    prompts = ["segment crack and taping", "cracks, not tape"]
    said = shipped.predict(photo, prompts).warnings
    assert len(said) == 1 and said[0].startswith("'segment crack and taping' names two things (cracks, taping)")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["predict", str(photo), "-p", prompts[0], "-p", prompts[1], "--out", str(out)],
                             terminal_width=400)
    assert res.exit_code == 0, res.output
    assert "names two things" in res.output
    assert json.loads((out / "results.json").read_text())["warnings"] == said
    body = TestClient(create_app(ServeConfig(), shipped)).post(
        "/v1/segment", files={"image": ("w.png", photo.read_bytes(), "image/png")}, data={"prompts": prompts}).json()
    assert body["warnings"] == said and [x["concept"]["concept"] for x in body["results"]] == ["cracks", "cracks"]
