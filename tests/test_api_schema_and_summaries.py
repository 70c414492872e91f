"""What the API says of itself: the answer's OpenAPI schema, a tiled answer's timings, a resumed job's summary."""

import jsonschema
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from drywallqa import Segmenter
from drywallqa.serve import ServeConfig, create_app
from drywallqa.text.encoder import get_text_encoder
from drywallqa.text.gate import PromptGate

REFUSED = "hole in the wall"  # the gate below refuses it (as tests/test_newcomer_frictions.py's)


@pytest.fixture
def gated_client(tiny_model_dir):
    encode = lambda ps: get_text_encoder().encode(ps).numpy()  # noqa: E731
    PromptGate.build({"cracks": ["segment crack", "crack"], "taping": ["segment taping area", "taping area"]},
                     ["door", "segment the door", "window", "hole"], encode, min_margin=0.05).save(tiny_model_dir)
    return TestClient(create_app(ServeConfig(), Segmenter.load(tiny_model_dir)))


def _photo(h=40, w=50) -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _answer_schema(client) -> dict:
    """/openapi.json's schema of the 200 answer, its references resolvable (the components beside it)."""
    spec = client.get("/openapi.json").json()
    schema = spec["paths"]["/v1/segment"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    return {**schema, "components": spec["components"]}


def test_the_openapi_schema_names_the_answer_s_fields(gated_client):
    """The 200 answer's schema was {} ("a generic object"): a client generated from /openapi.json knew none of the
    fields docs/serving.md's table lists. Now it names them, with types, descriptions and which may be left out."""
    schema = _answer_schema(gated_client)
    comps = schema["components"]["schemas"]
    answer = comps[schema["$ref"].rsplit("/", 1)[1]]
    assert {"image", "width", "height", "results", "flags", "warnings", "timings_ms", "tiles", "stem",
            "prompt_files"} <= set(answer["properties"])
    assert "tiles" not in answer["required"] and "results" in answer["required"]
    assert all(p.get("description") for p in answer["properties"].values()), answer
    item = comps["PromptResult"]
    assert {"prompt", "mask", "measures", "components", "area_px", "length_px", "max_width_px", "max_width_mm",
            "joints", "confidence", "emptied_below", "concept", "probability_png_base64"} <= set(item["properties"])
    assert "max_width_mm" not in item["required"] and "max_width_px" in item["required"]
    assert item["properties"]["area_px"]["type"] == "integer"


@pytest.mark.parametrize("fields, tile", [
    ({"prompts": ["segment crack", "segment taping area"]}, None),
    ({"prompts": ["segment crack", "segment taping area"], "mm_per_px": "0.5", "mask_format": "coco_rle",
      "flag": ["segment crack: max_width_mm > 0", "segment taping area: area_px > 0"]}, None),
    ({"prompts": ["segment crack", REFUSED], "include_probabilities": "true", "preview": "true",
      "min_confidence": "0.99", "flag": [f"{REFUSED}: area_px > 0"]}, None),
    ({"prompts": ["segment crack", "segment taping area"], "mm_per_px": "0.25", "tile": "32"}, 32),
])
def test_a_real_answer_validates_against_its_schema(gated_client, fields, tile):
    """A real answer, for several options (a scale, COCO RLE masks, probabilities and a preview, a refused prompt,
    a tiled photo), is what the schema says. (The schema only describes: the answer is not checked against it.)"""
    r = gated_client.post("/v1/segment", files={"image": ("wall.png", _photo(), "image/png")}, data=fields)
    assert r.status_code == 200, r.text
    answer = r.json()
    if tile:
        assert answer["tiles"] > 1
    if "mm_per_px" in fields:
        assert "max_width_mm" in answer["results"][0]
    if REFUSED in fields["prompts"]:
        assert answer["results"][1]["concept"]["known"] is False and "probability_png_base64" in answer["results"][1]
    jsonschema.validate(answer, _answer_schema(gated_client))
    for broken in ({**answer, "results": [{**answer["results"][0], "area_px": "12"}]},
                   {k: v for k, v in answer.items() if k != "timings_ms"}):  # the schema can fail an answer
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, _answer_schema(gated_client))


def test_a_tiled_answer_gives_the_model_s_stages(gated_client, tiny_model_dir):
    """docs/serving.md says timings_ms gives the model's stages; a tiled answer gave total_ms only. Now the stages
    summed over the tiles (the Python result's too), beside total_ms."""
    r = gated_client.post("/v1/segment", files={"image": ("wall.png", _photo(), "image/png")},
                          data={"prompts": ["segment crack"], "tile": "32"})
    assert r.status_code == 200, r.text
    timings = r.json()["timings_ms"]
    assert r.json()["tiles"] > 1 and {"read_ms", "encode_ms", "decode_ms", "total_ms"} <= set(timings), timings
    assert all(isinstance(v, float) and v >= 0 for v in timings.values()), timings
    result = Segmenter.load(tiny_model_dir, tile=32).predict(np.zeros((40, 50, 3), np.uint8), ["segment crack"])
    assert result.tiles > 1 and {"encode_ms", "decode_ms", "total_ms"} <= set(result.timings_ms), result.timings_ms


def test_a_resumed_job_says_how_many_it_measured_again_and_why(tiny_model_dir, tmp_path):
    """Resuming a 0.6.29 job (measures_version 9) measured its records again (masks kept) with only a brief
    progress bar: the summary said "2 skipped (done before)". Now it says how many were measured again and why,
    without a warning (a re-measure of an older version is no problem of the user's)."""
    import json

    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.measures import MEASURES_VERSION

    from conftest import write_photos

    photos, out = write_photos(tmp_path / "photos", 3, shape=lambda i: (40, 56)), tmp_path / "out"
    base = ["predict", str(photos), "-p", "segment crack", "--model-path", str(tiny_model_dir), "--out", str(out)]
    assert CliRunner().invoke(app, base).exit_code == 0
    for record in sorted(out.glob("*__results.json"))[:2]:
        record.write_text(json.dumps({**json.loads(record.read_text()), "measures_version": 9}))
    res = CliRunner().invoke(app, base, terminal_width=400)
    assert res.exit_code == 0, res.output
    assert (f"0 images done, 3 skipped (done before), 2 of them measured again (QA measures version 9 -> "
            f"{MEASURES_VERSION}), 0 failed") in res.output, res.output
    assert "warning" not in res.output, res.output
    assert all(json.loads(r.read_text())["measures_version"] == MEASURES_VERSION for r in out.glob("*__results.json"))
    again = CliRunner().invoke(app, base, terminal_width=400)  # nothing left to measure: as before
    assert "3 skipped (done before), 0 failed" in again.output, again.output
    # two reasons at once: an older version's record, a mask corrected by hand (that one warned of, as before)
    first, second = sorted(out.glob("*__results.json"))[:2]
    first.write_text(json.dumps({**json.loads(first.read_text()), "measures_version": 10}))
    mask = out / json.loads(second.read_text())["prompts"]["segment crack"]["mask"]
    corrected = np.zeros((40, 56), np.uint8)
    corrected[:4] = 255
    assert not np.array_equal(np.asarray(Image.open(mask)), corrected)
    Image.fromarray(corrected).save(mask)
    res = CliRunner().invoke(app, base, terminal_width=400)
    assert (f"3 skipped (done before), 2 of them measured again (QA measures version 10 -> {MEASURES_VERSION}: 1; "
            "masks changed since their records: 1)") in res.output, res.output
