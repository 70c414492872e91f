"""data.canonical_share: how often a positive item asks its dataset's canonical prompt."""

import numpy as np
import pytest

from drywallqa.data.prompted import PromptedSegmentationDataset
from drywallqa.engine.config import TrainConfig


def _dataset(**kw):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (6, 16, 16, 3), dtype=np.uint8)
    masks = np.zeros((6, 16, 16), bool)
    masks[:, 4:8, 4:8] = True
    return PromptedSegmentationDataset(images, masks, [0, 0, 0, 1, 1, 1], [["a", "b", "c", "d"], ["e", "f", "g"]],
                                       negative_ratio=0.5, seed=3, composite_pairs=[(0, 1)], composite_ratio=0.5, **kw)


def test_unset_draws_as_before():
    # the prompts drawn before the setting existed (same seed, same items): shipped recipes train as they did
    assert [int(it["prompt_index"]) for it in map(_dataset().__getitem__, range(12))] == [3, 0, 0, 4, 4, 6, 2, 4, 5, 2, 0, 2]


def _positive_prompts(ds, rounds=40):
    got = []
    for r in range(rounds):
        ds.seed_items([7, r])
        got += [int(ds[i]["prompt_index"]) for i in range(len(ds.images))]  # the photos' own items: positives
    return np.array(got)


@pytest.mark.parametrize("share", [0.0, 0.8, 1.0])
def test_share_of_the_canonical_prompt(share):
    drawn = _positive_prompts(_dataset(canonical_share=share))
    canonical = np.isin(drawn, [0, 4])
    assert abs(canonical.mean() - share) < 0.08
    if share < 1.0:  # the others all drawn, none of them the canonical one
        assert set(drawn[~canonical]) == {1, 2, 3, 5, 6}


def test_single_prompt_dataset_is_asked_it():
    ds = PromptedSegmentationDataset(np.zeros((2, 8, 8, 3), np.uint8), np.ones((2, 8, 8), bool), [0, 1],
                                     [["a"], ["b", "c"]], negative_ratio=0.0, canonical_share=0.0)
    assert int(ds[0]["prompt_index"]) == 0 and int(ds[1]["prompt_index"]) == 2


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan")])
def test_out_of_range_refused(bad):
    with pytest.raises(ValueError, match="canonical_share"):
        _dataset(canonical_share=bad)


def test_config_checks(tmp_path):
    cfg = TrainConfig()
    cfg.data.canonical_share = 0.3
    cfg.validate()
    cfg.data.canonical_share = 2.0
    with pytest.raises(ValueError, match=r"data.canonical_share must be a number in \[0, 1\]"):
        cfg.validate()
    cfg.data.canonical_share, cfg.data.prompt_set = 0.3, "canonical"
    with pytest.raises(ValueError, match="prompt_set: canonical"):
        cfg.validate()
    path = tmp_path / "c.yaml"
    path.write_text("data:\n  canonical_share: 0.25\n")
    assert TrainConfig.from_yaml(path).data.canonical_share == 0.25
