"""Small leftovers (the tile warning on Ray, tiling in the COCO file, tile_enlarge values, the zero-shot
prompt table)."""

from __future__ import annotations

import logging


def test_a_ray_actor_does_not_say_the_tile_warning_its_driver_said(tiny_model_dir, caplog):
    """engine/batch_ray: each actor loads the model (Segmenter.load), which logged the tile warning the driver had
    said as it loaded it first: once an actor again. The actor's loading says nothing now; its results still carry
    the warning, and Segmenter.load elsewhere still says it."""
    import numpy as np

    from drywallqa import Segmenter
    from drywallqa.engine.batch_ray import _RayPredictor

    with caplog.at_level(logging.WARNING, logger="drywallqa"):
        actor = _RayPredictor(tiny_model_dir, {"tile": 32}, opts=None)
    assert actor.unloaded is None and actor.segmenter.tile == 32
    assert not [r for r in caplog.records if "tile=32 is smaller" in r.getMessage()], caplog.records
    photo = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    assert any(w.startswith("tile=32 is smaller") for w in actor.segmenter.predict(photo, ["segment crack"]).warnings)
    with caplog.at_level(logging.WARNING, logger="drywallqa"):
        Segmenter.load(tiny_model_dir, tile=32)
    assert [r for r in caplog.records if "tile=32 is smaller" in r.getMessage()], caplog.records


def test_the_coco_file_of_a_tiled_job_names_its_tiling(tiny_model_dir, tmp_path):
    """`predict --tile --coco` wrote results.json's `tiling` nowhere in predictions.coco.json: now its info.tiling
    (null for a job of whole photos; left out where an older results.json does not say). results.csv keeps no
    column of the job's settings (one row per photo and prompt: docs/batch.md)."""
    import json

    import numpy as np
    from PIL import Image
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.data.coco_export import write_coco_predictions

    photo = tmp_path / "a.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (40, 70, 3), dtype=np.uint8)).save(photo)
    base = ["predict", str(photo), "-p", "segment crack", "--model-path", str(tiny_model_dir), "--coco", "rle"]
    res = CliRunner().invoke(app, base + ["--out", str(tmp_path / "t"), "--tile", "32", "--no-report"])
    assert res.exit_code == 0, res.output
    tiling = json.loads((tmp_path / "t" / "results.json").read_text())["tiling"]
    assert tiling and tiling["tile"] == 32
    assert json.loads((tmp_path / "t" / "predictions.coco.json").read_text())["info"]["tiling"] == tiling
    res = CliRunner().invoke(app, base + ["--out", str(tmp_path / "w"), "--no-report"])
    assert res.exit_code == 0, res.output
    info = json.loads((tmp_path / "w" / "predictions.coco.json").read_text())["info"]
    assert "tiling" in info and info["tiling"] is None
    results = json.loads((tmp_path / "w" / "results.json").read_text())
    del results["tiling"]  # an older version's results.json: it does not say
    (tmp_path / "w" / "results.json").write_text(json.dumps(results))
    assert "tiling" not in json.loads(write_coco_predictions(tmp_path / "w").read_text())["info"]


def test_tile_enlarge_is_a_bool_with_a_tile_or_without(tiny_model_dir):
    """Segmenter.load(tile_enlarge="no") without a tile was refused as "an option of tile" (the user meant it off), with
    one as TiledSegmenter's "enlarge must be True or False" (not the name given), and "" was taken for off both ways.
    Now one rule: tile_enlarge is True or False (1/0, None) whether a tile is given or not, named as given; True
    without a tile is an option of tile, off without one is fine. (--enlarge-tiles without --tile: a usage error,
    h254)"""
    import pytest

    from drywallqa import Segmenter

    for value in ("no", "", "yes", 2, [True]):
        for tile in (None, 32):
            with pytest.raises(ValueError, match=r"^tile_enlarge must be True or False, got "):
                Segmenter.load(tiny_model_dir, tile=tile, tile_enlarge=value)
    for off in (False, 0, None):
        assert not hasattr(Segmenter.load(tiny_model_dir, tile_enlarge=off), "enlarge")
        assert Segmenter.load(tiny_model_dir, tile=32, tile_enlarge=off).enlarge is False
    assert Segmenter.load(tiny_model_dir, tile=32, tile_enlarge=1).enlarge is True
    with pytest.raises(ValueError, match="tile_enlarge are options of tile"):
        Segmenter.load(tiny_model_dir, tile_enlarge=True)


# The CLIP merges (of the published OWLv2's tokenizer, in their rank order) that fire on the words of the zero-shot
# prompt table (zeroshot/anomaly_prompts.yaml), drawn from CLIP's BPE file (open_clip's bpe_simple_vocab_16e6.txt.gz):
# with these alone CLIP's BPE takes the same merge at each step on those words as the whole tokenizer does, so it
# splits them as the published one does ("efflorescence": eff lo resc ence). Drawn for _TABLE_WORDS: a word added to
# the table fails the test below until its merges are added.
_CLIP_MERGES = """
    i n, r e, in g</w>, o u, o n, s t, o r, e n, a l, a t, e r</w>, i n</w>, r o, l e, i c, e d</w>, c h, i l,
    a c, o m, l o, l i, r a, h a, o l, s e, l a, n o, i r, s p, i s, p p, b u, c om, ou t</w>, en t</w>, a r</w>,
    p o, c e</w>, c h</w>, t a, m or, e x, s c, k ing</w>, j o, a m</w>, g r, g e</w>, b r, in e</w>, ac k</w>,
    p a, no t</w>, w at, al l, m is, ac k, le d</w>, en ce</w>, p e</w>, i l</w>, il e</w>, f f, lo w</w>,
    ic k</w>, c r, n a, l ine</w>, c ra, h ol, s ing</w>, in t</w>, s ed</w>, d ent</w>, h on, ch i, st a, e y,
    wat er</w>, f la, sc re, pp ed</w>, b ar</w>, bu l, po p</w>, all ing</w>, z ing</w>, mis sing</w>, com b,
    r at, re sc, li t</w>, ha ir, pa int</w>, po sed</w>, hol e</w>, ack ed</w>, ta pe</w>, jo int</w>, t ar</w>,
    al led</w>, t ile</w>, na il</w>, sp lit</w>, br ick</w>, sc rat, ro t</w>, hon ey, cr ack</w>, ex posed</w>,
    scrat ch</w>, scre w</w>, sta in</w>, hol low</w>, k not</w>, cr acked</w>, e ff, mor tar</w>, chi pped</w>,
    se am</w>, bul ge</w>
"""
_TABLE_WORDS = {"brick", "bulge", "chipped", "crack", "cracked", "crazing", "dent", "efflorescence", "exposed",
                "flaking", "grout", "hairline", "hole", "hollow", "honeycombing", "joint", "knot", "missing", "mortar",
                "nail", "paint", "pop", "rebar", "rot", "scratch", "screw", "seam", "spalled", "spalling", "split",
                "stain", "tape", "tile", "water"}


def _clip_tokenizer(folder):
    """A CLIP tokenizer of :data:`_CLIP_MERGES` (letters, the merged tokens, CLIP's start and end)."""
    import json
    import string

    from transformers import CLIPTokenizer

    merges = [tuple(m.split()) for m in " ".join(_CLIP_MERGES.split()).split(", ")]
    vocab = [*string.ascii_lowercase, *(c + "</w>" for c in string.ascii_lowercase), *("".join(m) for m in merges),
             "<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(dict.fromkeys(vocab))}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))


def test_every_prompt_of_the_zero_shot_table_fits_what_the_detectors_read(tmp_path):
    """The prompt table (the generator's own, and an LLM's fallback: zeroshot/pipeline._readable hands it to the
    detector unchecked once every generated prompt was left out) was never held to the detectors' token limits that
    the pipeline enforces (check_prompts: the published OWLv2's 16 CLIP tokens, Grounding DINO's max_text_len 256).
    Each of its prompts fits both, as each detector's check_prompts counts them."""
    import string
    from types import SimpleNamespace

    import pytest
    from transformers import BertTokenizer

    from drywallqa.zeroshot.detection import GroundingDinoDetector, Owlv2Detector
    from drywallqa.zeroshot.prompting import load_table

    table = load_table()
    prompts = sorted({*table["default"], *(p for nouns in table["materials"].values() for p in nouns)})
    assert {w for p in prompts for w in p.split()} <= _TABLE_WORDS, "a new word: add its CLIP merges (_CLIP_MERGES)"
    clip = _clip_tokenizer(tmp_path)
    assert clip.tokenize("efflorescence") == ["eff", "lo", "resc", "ence</w>"]  # as the published tokenizer splits it
    owlv2 = Owlv2Detector.__new__(Owlv2Detector)  # its check alone: no model loaded
    owlv2.processor, owlv2.text_limit = SimpleNamespace(tokenizer=clip), 16  # the published OWLv2's
    owlv2.check_prompts(prompts)
    assert max(len(clip(p)["input_ids"]) for p in prompts) == 6  # "efflorescence", its start and end: well within
    owlv2.text_limit = 5  # the check bites: a prompt of more tokens than the limit is named
    with pytest.raises(ValueError, match="'efflorescence' is 6 tokens long to the owlv2 detector"):
        owlv2.check_prompts(prompts)
    # Grounding DINO (BERT word pieces of its query, "crack."): a vocabulary of single letters splits a word into no
    # fewer pieces than BERT's, which holds them too: an upper bound of its count
    pieces = [*string.ascii_lowercase, *("##" + c for c in string.ascii_lowercase)]
    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", *pieces]))
    dino = GroundingDinoDetector.__new__(GroundingDinoDetector)
    dino.processor = SimpleNamespace(tokenizer=BertTokenizer(str(tmp_path / "vocab.txt")))
    dino.text_limit = 256  # its max_text_len
    dino.check_prompts(prompts)
    # "exposed joint tape.": a piece a letter, its period, [CLS] and [SEP]
    assert max(len(dino.processor.tokenizer(dino.query(p))["input_ids"]) for p in prompts) == 19
