"""The model shipped inside the package: loads offline, fits the size budget, and listens to the prompt
on the example photos (which are from the group-clean test part: never trained on)."""

import json
from pathlib import Path

import numpy as np
import pytest

from drywallqa import Segmenter
from drywallqa.models.shipped import shipped_model_dir

EXAMPLES = Path(__file__).parents[1] / "src" / "drywallqa" / "examples"


def test_shipped_model_files():
    d = shipped_model_dir()
    meta = json.loads((d / "config.json").read_text())
    assert meta["model_type"] == "film_unet" and 0 < meta["threshold"] < 1
    assert "val" in meta["selected_on"]
    size_mb = sum(f.stat().st_size for f in d.iterdir()) / 2**20
    assert size_mb <= 30
    assert (d / "MODEL_CARD.md").is_file() and (d / "train_files.json").is_file()
    trained = json.loads((d / "train_files.json").read_text())["train"]
    assert not any("/valid/" in f or "/test/" in f for group in trained for f in group)


# example photo -> reason, for failures the model card lists (strict xfail: turns red once fixed). v0.2.0
# marked nothing with the taping prompt on drywall_2000x1500_72 (probability peak 0.6 < threshold 0.8);
# v0.3.0 marks its joint.
KNOWN_FAILURES: dict[str, str] = {}


@pytest.mark.parametrize(
    "name",
    [pytest.param(p.name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[p.name])) if p.name in KNOWN_FAILURES
     else p.name for p in sorted(EXAMPLES.glob("*.jpg"))],
)
def test_shipped_model_listens_to_the_prompt_on_the_examples(name):
    seg = Segmenter.load()
    prompts = ["segment crack", "segment taping area"]
    r = seg.predict(EXAMPLES / name, prompts)
    crack, tape = (float(r.masks[p].mean()) for p in prompts)
    assert r.masks["segment crack"].shape == np.asarray(r.probabilities["segment crack"]).shape == (640, 640)
    if name.startswith("cracks_"):
        assert crack > 0.005 and crack > 3 * tape, (crack, tape)
    else:
        assert tape > 0.01 and tape > 3 * crack, (crack, tape)
