"""h259's audit of the zero-shot pipeline (hub detectors + SAM) on tiny random models, offline."""

import logging

import numpy as np
import pytest

from drywallqa.zeroshot.pipeline import ZeroShotConfig, ZeroShotSegmenter


def _photo(h=48, w=64, seed=0):
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)


class _NoSam:
    def eval(self):
        return self


class _LongNouns:
    """A prompt generator (an LLM's) whose nouns are ``nouns``; ``fallback``: the table it falls back to."""

    def __init__(self, nouns):
        from drywallqa.zeroshot.prompting import TablePromptGenerator

        self.nouns, self.source, self.fallback = nouns, "llm http://llm", TablePromptGenerator(2)

    def generate(self, tags):
        return list(self.nouns)


def _owlv2(tiny_owlv2_dir):
    from drywallqa.zeroshot.detection import DETECTORS

    return DETECTORS.get("owlv2")(str(tiny_owlv2_dir), 1.0, 0.0)  # no box; its text encoder reads 32 tokens


def test_a_generated_prompt_longer_than_the_detector_reads_is_left_out_not_every_photos_failure(tiny_owlv2_dir, caplog):
    """An LLM's noun of more tokens than the detector reads (the published OWLv2's 16) failed every photo with "shorten
    it", which the user cannot do: it is left out, said in the log and in the prompt source (report.json)."""
    long = "hairline crack along the taped wall seam"  # a token a letter to the tiny OWLv2: 36, of 32
    seg = ZeroShotSegmenter(ZeroShotConfig(detector="owlv2", sam_path=None),
                            detector=_owlv2(tiny_owlv2_dir), sam=_NoSam(), generator=_LongNouns([long, "crack"]))
    with caplog.at_level(logging.WARNING):
        result, anomaly, kept, used = seg.run(_photo())
    assert used == ["crack"] and list(result.masks) == ["crack"]
    assert "left out" in seg.last_prompt_source and repr(long) in seg.last_prompt_source
    assert seg.report()["prompt_source"] == seg.last_prompt_source
    assert any(repr(long) in r.getMessage() for r in caplog.records)


def test_generated_prompts_all_longer_than_the_detector_reads_fall_back_to_the_table(tiny_owlv2_dir):
    long = "hairline crack along the taped wall seam"
    seg = ZeroShotSegmenter(ZeroShotConfig(detector="owlv2", sam_path=None),
                            detector=_owlv2(tiny_owlv2_dir), sam=_NoSam(), generator=_LongNouns([long]))
    used = seg.run(_photo())[3]
    assert used == seg.generator.fallback.generate(["drywall"]) and repr(long) in seg.last_prompt_source
    # a generator with no table to fall back on: the photo fails with the reason, naming the prompts
    seg.generator.fallback = None
    with pytest.raises(ValueError, match="none of the prompts generated .*hairline crack"):
        seg.run(_photo())

