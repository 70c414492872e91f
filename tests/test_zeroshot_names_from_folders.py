"""drywallqa zeroshot: --names-from-folders as predict's (phone photos of one name in several folders in one
job, the rule in the job record and report.json, a job of the other rule refused)."""

import json

import numpy as np
import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from drywallqa.cli import app


def _text(output: str) -> str:
    return " ".join(output.replace("│", " ").split())


@pytest.fixture
def zeroshot_args(tiny_grounding_dino_dir, tiny_sam_dir, tmp_path):
    """`zeroshot` of tiny random models with the fixed prompt "crack", and photos a/IMG_1.jpg, b/IMG_1.jpg."""
    rng = np.random.default_rng(0)
    for folder in ("a", "b"):
        (tmp_path / "photos" / folder).mkdir(parents=True)
        Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(tmp_path / "photos" / folder / "IMG_1.jpg")
    cfg = tmp_path / "zs.yaml"
    cfg.write_text(yaml.safe_dump({"detector_path": str(tiny_grounding_dino_dir), "sam_path": str(tiny_sam_dir),
                                   "box_threshold": 0.0, "text_threshold": 0.0}))
    return ["zeroshot", "--config", str(cfg), "--prompts", "fixed", "-p", "crack"]


def test_zeroshot_names_outputs_by_folder_with_the_option(zeroshot_args, tmp_path):
    """a/IMG_1.jpg and b/IMG_1.jpg in one zero-shot job: the second failed (same stem), and zeroshot had no
    --names-from-folders; with it each photo's outputs are named by its folder, the rule recorded, and the job runs
    again (resumed) as it is."""
    runner, photos, out = CliRunner(), tmp_path / "photos", tmp_path / "out"
    args = [*zeroshot_args, str(photos / "a"), str(photos / "b"), "--out", str(out), "--names-from-folders"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    for stem in ("a-IMG_1", "b-IMG_1"):
        assert (out / f"{stem}__anomaly.png").is_file() and (out / f"{stem}__crack.png").is_file(), sorted(out.iterdir())
    assert not list(out.glob("IMG_1__*"))
    report = json.loads((out / "report.json").read_text())
    assert report["names"] == "folders" and not report["failed"] and len(report["images"]) == 2
    assert sorted(f for e in report["images"] for f in e["files"]) == [
        "a-IMG_1__anomaly.png", "a-IMG_1__crack.png", "b-IMG_1__anomaly.png", "b-IMG_1__crack.png"]
    assert json.loads((out / ".zeroshot_job.json").read_text())["names"] == "folders"
    again = runner.invoke(app, args)  # the same job: run again, not refused
    assert again.exit_code == 0, again.output
    # the same photos named by file stem into that folder: refused, before a model loads, saying how to resume
    other = runner.invoke(app, [*zeroshot_args, str(photos / "a"), str(photos / "b"), "--out", str(out)])
    text = _text(other.output)
    assert other.exit_code == 2 and "named by each photo's folders" in text and "with --names-from-folders" in text, \
        other.output
    assert "Traceback" not in other.output


def test_zeroshot_same_stem_failure_names_the_option(zeroshot_args, tmp_path):
    photos = tmp_path / "photos"
    res = CliRunner().invoke(app, [*zeroshot_args, str(photos / "a"), str(photos / "b"), "--out", str(tmp_path / "o")])
    text = _text(res.output)
    assert res.exit_code == 1 and "has the same file stem" in text and "--names-from-folders" in text, res.output
    assert "b-IMG_1__*" in text


def test_zeroshot_job_by_stem_is_not_resumed_by_folder(zeroshot_args, tmp_path):
    runner, photos, out = CliRunner(), tmp_path / "photos", tmp_path / "out"
    res = runner.invoke(app, [*zeroshot_args, str(photos / "a"), "--out", str(out)])
    assert res.exit_code == 0 and (out / "IMG_1__anomaly.png").is_file(), res.output
    assert "names" not in json.loads((out / "report.json").read_text())
    res = runner.invoke(app, [*zeroshot_args, str(photos / "a"), "--out", str(out), "--names-from-folders"])
    text = _text(res.output)
    assert res.exit_code == 2 and "named by each photo's file stem" in text, res.output
    assert "without --names-from-folders" in text and not (out / "a-IMG_1__anomaly.png").exists()
    res = runner.invoke(app, [*zeroshot_args, str(photos / "a"), "--out", str(out), "--names-from-folders",
                              "--overwrite"])  # as asked
    assert res.exit_code == 0 and (out / "a-IMG_1__anomaly.png").is_file(), res.output


# --- the prompt table against a custom detector's text length limit -------------------------------------------------

class _NoSam:
    def eval(self):
        return self


class _LongNouns:
    """An LLM's prompt generator whose nouns are ``nouns``, falling back on the table (``fallback``)."""

    def __init__(self, nouns):
        from drywallqa.zeroshot.prompting import TablePromptGenerator

        self.nouns, self.source, self.fallback = nouns, "llm http://llm", TablePromptGenerator()

    def generate(self, tags):
        return list(self.nouns)


def _short_owlv2(tiny_owlv2_dir, limit):
    """The tiny OWLv2 (a token a letter) as a custom detector whose text encoder reads ``limit`` tokens: a prompt of
    more crashed its model (RuntimeError "The size of tensor a (N) must match the size of tensor b (limit)"), never
    truncated, so check_prompts refuses it by the same limit."""
    from drywallqa.zeroshot.detection import DETECTORS

    detector = DETECTORS.get("owlv2")(str(tiny_owlv2_dir), 1.0, 0.0)
    detector.text_limit = limit
    return detector


def _photo():
    return np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)


def test_an_llms_fallback_table_is_held_to_the_detectors_text_limit(tiny_owlv2_dir, caplog):
    """The LLM's prompts all too long for the detector: the table's were handed to it unchecked, and with a custom
    detector that reads fewer tokens than the published ones every photo failed with "the prompt 'hairline crack' ...:
    shorten it" (a prompt the user never gave) though some of the table's fit. Those it reads are used, the others
    left out and named, as the LLM's were."""
    import logging

    from drywallqa.zeroshot.pipeline import ZeroShotConfig, ZeroShotSegmenter

    long = "hairline crack along the taped wall seam"
    seg = ZeroShotSegmenter(ZeroShotConfig(detector="owlv2", sam_path=None), detector=_short_owlv2(tiny_owlv2_dir, 8),
                            sam=_NoSam(), generator=_LongNouns([long]))  # 8 tokens: "dent", "hole" (4 + 2) fit
    with caplog.at_level(logging.WARNING):
        used = seg.run(_photo())[3]
    assert used == ["dent", "hole"], used
    assert "'hairline crack'" in seg.last_prompt_source and repr(long) in seg.last_prompt_source
    assert any("'hairline crack'" in r.getMessage() for r in caplog.records)
    # none of the table's fits either: the reason names both lists and the limit, not "shorten it"
    seg.detector.text_limit = 5
    with pytest.raises(ValueError, match="none of the prompts generated .* nor of the table v1 it falls back on "
                                         r"\('hairline crack'.* reads at most 5 tokens") as info:
        seg.run(_photo())
    assert "shorten it" not in str(info.value)


def test_a_table_none_of_whose_prompts_the_detector_reads_is_an_error_before_any_photo(tiny_owlv2_dir, tiny_sam_dir,
                                                                                        tmp_path, caplog):
    """With the table as generator and a surface named (--material: the prompts known before any photo), a custom
    detector that reads none of them failed every photo after the models loaded; it is refused as the pipeline is
    built (exit 2), and the table's prompts it cannot read are named then."""
    import logging

    from drywallqa.zeroshot.pipeline import ZeroShotConfig, ZeroShotSegmenter

    cfg = ZeroShotConfig(detector="owlv2", sam_path=None)
    with pytest.raises(ValueError, match=r"none of the prompts of the table v1 for 'drywall' \('hairline crack'.*reads "
                                         "at most 5 tokens"):
        ZeroShotSegmenter(cfg, detector=_short_owlv2(tiny_owlv2_dir, 5), sam=_NoSam())
    with caplog.at_level(logging.WARNING):
        seg = ZeroShotSegmenter(cfg, detector=_short_owlv2(tiny_owlv2_dir, 6), sam=_NoSam())  # "dent", "hole" fit
    assert any("'hairline crack'" in r.getMessage() for r in caplog.records)  # said as it loads, once
    assert seg.run(_photo())[3] == ["dent", "hole"]
    # a surface read from each photo (a classifier tagger), or fixed prompts: nothing known before the photo
    assert ZeroShotSegmenter(ZeroShotConfig(detector="owlv2", sam_path=None, prompt_source="fixed"),
                             detector=_short_owlv2(tiny_owlv2_dir, 5), sam=_NoSam()).run(_photo(), ["dog"])[3] == ["dog"]
