"""The zero-shot pipeline on tiny random models (Grounding DINO, SAM) and a fake LLM endpoint."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from drywallqa import Segmenter
from drywallqa.cli import app
from drywallqa.zeroshot.pipeline import ZeroShotConfig, ZeroShotSegmenter, box_area_fraction
from drywallqa.zeroshot.prompting import LLMPromptGenerator, TablePromptGenerator


class _FakeLLM(BaseHTTPRequestHandler):
    answer = '["hairline crack", "nail pop"]'

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert body["messages"][0]["role"] == "user"
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": self.answer}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_llm():
    server = HTTPServer(("127.0.0.1", 0), _FakeLLM)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_prompt_table_and_llm_with_fallbacks(fake_llm):
    table = TablePromptGenerator()
    assert "nail pop" in table.generate(["drywall"]) and table.source.startswith("table v")
    assert table.generate(["unobtainium"]) == table.table["default"]
    llm = LLMPromptGenerator(fake_llm, timeout_s=5)
    assert llm.generate(["drywall"]) == ["hairline crack", "nail pop"] and llm.last_error is None
    _FakeLLM.answer = "I cannot help with that."
    try:
        assert llm.generate(["drywall"]) == table.generate(["drywall"]) and "LLM failed" in llm.source
    finally:
        _FakeLLM.answer = '["hairline crack", "nail pop"]'
    down = LLMPromptGenerator("http://127.0.0.1:9", timeout_s=1)  # nothing listens on the discard port
    assert down.generate(["concrete"]) == table.generate(["concrete"]) and down.last_error


def _config(gdino, sam, **kw):
    return ZeroShotConfig(detector_path=str(gdino), sam_path=str(sam), box_threshold=0.0, text_threshold=0.0, **kw)


def _photo(h=48, w=64):
    return np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)


def test_pipeline_stages_and_failure_paths(tiny_grounding_dino_dir, tiny_sam_dir):
    seg = ZeroShotSegmenter(_config(tiny_grounding_dino_dir, tiny_sam_dir, max_box_fraction=1.0))
    result, anomaly, kept, used = seg.run(_photo())
    assert used == TablePromptGenerator().generate(["drywall"])
    assert seg.stats["boxes_detected"] == 6 * len(used) and len(kept) == seg.stats["boxes_kept"]
    assert anomaly.shape == (48, 64) and 0 <= anomaly.min() and anomaly.max() <= 1
    for p in used:
        assert result.masks[p].shape == (48, 64)
    # all boxes filtered
    strict = ZeroShotSegmenter(_config(tiny_grounding_dino_dir, tiny_sam_dir, max_box_fraction=0.0))
    r, a, kept, _ = strict.run(_photo())
    assert not kept and not a.any() and strict.stats["images_with_all_boxes_filtered"] == 1
    assert strict.stats["removed_by_size_filter"] == strict.stats["boxes_detected"] > 0
    # no boxes at all
    blind = ZeroShotSegmenter(dataclass_replace(_config(tiny_grounding_dino_dir, tiny_sam_dir), box_threshold=1.0))  # scores > 1.0: none
    r, a, kept, _ = blind.run(_photo())
    assert not kept and blind.stats["images_without_boxes"] == 1 and not any(m.any() for m in r.masks.values())
    # ablation: no size filter keeps what the filter would drop
    unfiltered = ZeroShotSegmenter(_config(tiny_grounding_dino_dir, tiny_sam_dir, max_box_fraction=0.0, size_filter=False))
    assert len(unfiltered.run(_photo())[2]) == unfiltered.stats["boxes_detected"]


def dataclass_replace(cfg, **kw):
    import dataclasses

    return dataclasses.replace(cfg, **kw)


def test_box_area_fraction():
    assert box_area_fraction((0, 0, 32, 24), (48, 64)) == pytest.approx(0.25)


def test_cli_zeroshot_with_references_and_fixed_prompts(tiny_grounding_dino_dir, tiny_sam_dir, tmp_path, fake_llm):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "normal").mkdir()
    Image.fromarray(_photo()).save(tmp_path / "imgs" / "wall.png")
    Image.fromarray(_photo(40, 40)).save(tmp_path / "normal" / "ok.png")
    cfg = tmp_path / "zs.yaml"
    cfg.write_text(yaml.safe_dump({"detector_path": str(tiny_grounding_dino_dir), "sam_path": str(tiny_sam_dir),
                                   "box_threshold": 0.0, "text_threshold": 0.0}))
    runner = CliRunner()
    res = runner.invoke(app, ["zeroshot", str(tmp_path / "imgs"), "--out", str(tmp_path / "o"), "--config", str(cfg),
                              "--reference", str(tmp_path / "normal"), "--llm-url", fake_llm])
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "o" / "report.json").read_text())
    assert rep["size_threshold_source"] == "1 reference normal images" and 0.05 <= rep["max_box_fraction"] <= 0.9
    assert rep["prompt_source"].startswith("llm") and rep["images"][0]["prompts"] == ["hairline crack", "nail pop"]
    st = rep["stages"]
    assert st["boxes_detected"] == st["boxes_kept"] + st["removed_by_size_filter"]
    assert (tmp_path / "o" / "wall__anomaly.png").is_file() and (tmp_path / "o" / "wall__nail_pop.png").is_file()
    res = runner.invoke(app, ["zeroshot", str(tmp_path / "imgs"), "--out", str(tmp_path / "f"), "--config", str(cfg),
                              "--prompts", "fixed", "-p", "water stain", "--no-size-filter"])
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "f" / "report.json").read_text())
    assert rep["images"][0]["prompts"] == ["water stain"] and rep["stages"]["removed_by_size_filter"] == 0


def test_evaluate_zeroshot_in_the_shared_evaluator(tiny_grounding_dino_dir, tiny_sam_dir, synthetic_datasets, tmp_path):
    from drywallqa.data.grouping import make_group_split

    splits = tmp_path / "splits"
    for ds in ("syn_crack", "syn_tape"):
        make_group_split(ds, synthetic_datasets, seed=0).to_json(splits / f"{ds}.json")
    cfg = tmp_path / "zs.yaml"
    cfg.write_text(yaml.safe_dump({"detector_path": str(tiny_grounding_dino_dir), "sam_path": str(tiny_sam_dir),
                                   "box_threshold": 0.0, "text_threshold": 0.0, "prompt_source": "fixed"}))
    res = CliRunner().invoke(app, ["evaluate", "--model", "zeroshot", "--model-path", str(cfg), "--out", str(tmp_path / "e"),
                                   "--splits", "published", "--splits-dir", str(splits), "--datasets-dir", str(synthetic_datasets),
                                   "--speed-images", "0", "-d", "syn_crack", "-d", "syn_tape"])
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "e" / "report.json").read_text())
    assert all("pixel_AP" in r and "pixel_F1max" in r for r in rep["metrics"])
    assert {r["prompt"] for r in rep["image_level"]} >= {"segment crack", "segment taping area"}
    assert isinstance(Segmenter.load(cfg, pipeline="zeroshot"), ZeroShotSegmenter)


def test_stages_swap_by_config_owlv2_and_a_classifier_tagger(tiny_owlv2_dir, tiny_sam_dir, tmp_path):
    import torch
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    torch.manual_seed(0)
    tagger_dir = tmp_path / "tagger"
    ViTForImageClassification(ViTConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                                        image_size=32, patch_size=16, num_labels=2,
                                        id2label={0: "concrete", 1: "tile"}, label2id={"concrete": 0, "tile": 1})
                              ).save_pretrained(str(tagger_dir))
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(str(tagger_dir))
    cfg = ZeroShotConfig(detector="owlv2", detector_path=str(tiny_owlv2_dir), sam_path=str(tiny_sam_dir), box_threshold=0.0,
                         max_box_fraction=1.0, tagger="hf-classifier", tagger_options={"model_path": str(tagger_dir)})
    seg = ZeroShotSegmenter(cfg)
    tags = seg.tagger.tags(_photo())
    assert tags and tags[0] in ("concrete", "tile")
    result, anomaly, kept, used = seg.run(_photo())
    assert used == TablePromptGenerator().generate(tags)
    assert kept and all(d.prompt in used for d in kept) and anomaly.shape == (48, 64)


def test_cli_zeroshot_never_loses_a_photo_or_shows_a_traceback(tiny_grounding_dino_dir, tiny_sam_dir, tmp_path):
    """One stem in two folders (the second photo's outputs overwrote the first's), a photo with a very long name
    (a traceback that lost the report), --out inside the input (its outputs read as photos the next run), bad
    configs and references (tracebacks), -p without --prompts fixed (ignored)."""
    for folder, size in (("a", (48, 64)), ("b", (40, 40))):
        (tmp_path / folder).mkdir()
        Image.fromarray(_photo(*size)).save(tmp_path / folder / "x.png")
    Image.fromarray(_photo()).save(tmp_path / "a" / ("y" * 250 + ".png"))
    cfg = tmp_path / "zs.yaml"
    cfg.write_text(yaml.safe_dump({"detector_path": str(tiny_grounding_dino_dir), "sam_path": str(tiny_sam_dir),
                                   "box_threshold": 0.0, "text_threshold": 0.0}))
    runner = CliRunner()
    base = ["zeroshot", "--config", str(cfg), "--prompts", "fixed", "-p", "crack"]
    res = runner.invoke(app, [*base, str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "a" / "o")])
    text = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 1 and "has the same file stem" in text and "Traceback" not in res.output, res.output
    rep = json.loads((tmp_path / "a" / "o" / "report.json").read_text())
    assert len(rep["images"]) == 2 and [f[0] for f in rep["failed"]] == [str(tmp_path / "b" / "x.png")]
    assert np.asarray(Image.open(tmp_path / "a" / "o" / "x__anomaly.png")).shape == (48, 64)  # a's, not b's
    again = runner.invoke(app, [*base, str(tmp_path / "a"), "--out", str(tmp_path / "a" / "o")])
    assert json.loads((tmp_path / "a" / "o" / "report.json").read_text())["ignored"][0][0] == str(tmp_path / "a" / "o")
    assert again.exit_code == 0, again.output
    for bad, words in ((["--out", str(tmp_path / "b")], "is also an input folder"),
                       (["--out", str(tmp_path / "o2"), "--reference", str(tmp_path / "none")], "reference photo"),
                       (["--out", str(tmp_path / "o3"), "--config", str(tmp_path / "missing.yaml")], "cannot be read")):
        res = runner.invoke(app, [*base, str(tmp_path / "b"), *bad])
        assert res.exit_code == 2 and words in " ".join(res.output.replace("│", " ").split()), res.output
    (tmp_path / "list.yaml").write_text("- a\n")
    res = runner.invoke(app, ["zeroshot", str(tmp_path / "b"), "--out", str(tmp_path / "o4"), "--config",
                              str(tmp_path / "list.yaml")])
    assert res.exit_code == 2 and "must be a mapping" in " ".join(res.output.replace("│", " ").split())
    res = runner.invoke(app, ["zeroshot", str(tmp_path / "b"), "--out", str(tmp_path / "o5"), "-p", "water stain"])
    assert res.exit_code == 2 and "--prompts fixed" in " ".join(res.output.replace("│", " ").split())


def test_zeroshot_config_types_are_checked_and_numbers_accepted(tmp_path):
    cfg = tmp_path / "zs.yaml"
    cfg.write_text("box_threshold: 1\nmax_box_fraction: 3e-1\nsam_path: null\ntagger_options: {material: tile}\n")
    config = ZeroShotConfig.from_yaml(cfg)
    assert config.box_threshold == 1 and config.sam_path is None and config.tagger_options == {"material": "tile"}
    cfg.write_text("size_filter: 1\n")
    with pytest.raises(ValueError, match="size_filter"):
        ZeroShotConfig.from_yaml(cfg)


def test_llm_answers_that_are_no_prompts_fall_back_or_are_left_out(fake_llm, tmp_path):
    """A content of null (a refusal, a tool call) failed every photo with an AttributeError, not falling back to the
    table; nouns holding control characters or of thousands of characters became detector queries and mask files
    unchecked; a base_url httpx cannot parse failed every photo with an InvalidURL."""
    table = TablePromptGenerator().generate(["drywall"])
    llm = LLMPromptGenerator(fake_llm, timeout_s=5)
    try:
        for answer in (None, 5):
            _FakeLLM.answer = answer
            assert llm.generate(["drywall"]) == table and "content is" in llm.source
        _FakeLLM.answer = json.dumps(["crack\x1b[31m", "hole\x00", "x" * 5000, "nail pop"])
        assert llm.generate(["drywall"]) == ["nail pop"] and llm.source.startswith("llm")
        _FakeLLM.answer = json.dumps(["x" * 5000])
        assert llm.generate(["drywall"]) == table and "no usable noun" in llm.source
    finally:
        _FakeLLM.answer = '["hairline crack", "nail pop"]'
    for url in ("http://[::1", "ftp://host", "no-url"):
        with pytest.raises(ValueError, match="base_url"):
            LLMPromptGenerator(url)
        cfg = tmp_path / "zs.yaml"
        cfg.write_text(f"prompt_generator: llm\nprompt_generator_options: {{base_url: '{url}'}}\n")
        with pytest.raises(ValueError, match="base_url"):
            ZeroShotConfig.from_yaml(cfg)
