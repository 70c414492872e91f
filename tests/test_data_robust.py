"""Data readers, the training-array cache, negative pairs and the data commands on labels and folders that would
have been read wrong without a word (tiny fixtures made on the fly)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from drywallqa.cli import app
from drywallqa.data.prompted import PromptedSegmentationDataset


# ----------------------------------------------------------------- negative pairs


def _negatives(prompts, concepts, n=3):
    """(the photo's dataset, the prompt text) of every negative item of a dataset of one photo per dataset."""
    images = np.stack([np.full((8, 8, 3), 40 * (k + 1), np.uint8) for k in range(n)])
    ds = PromptedSegmentationDataset(images, np.ones((n, 8, 8), bool), list(range(n)), prompts, negative_ratio=20.0,
                                     concepts=concepts)
    flat = [p for ps in prompts for p in ps]
    pairs = []
    for index in range(n, len(ds)):
        item = ds[index]
        assert not item["mask"].any()
        pairs.append((round(float(item["pixel_values"][0, 0, 0]) * 255 / 40) - 1, flat[item["prompt_index"]]))
    return pairs


def test_a_prompt_two_datasets_of_different_concepts_share_is_never_a_negative_on_their_photos(caplog):
    """docs' own example (my_walls.yaml, its concept left out) trained with cracks and taping: "segment crack" asked of
    a crack photo against an empty mask taught the model that its own prompt means "empty"."""
    prompts = [["segment crack", "segment wall crack"], ["Segment  crack", "segment wall crack"], ["segment taping area"]]
    with caplog.at_level(logging.WARNING, "drywallqa.data.prompted"):
        pairs = _negatives(prompts, ["my_walls", "cracks", "taping"])
    assert pairs and all(text not in {"segment crack", "Segment  crack", "segment wall crack"} for own, text in pairs
                         if own in (0, 1))
    assert {text for own, text in pairs if own == 2} == {"segment crack", "Segment  crack", "segment wall crack"}
    assert "'my_walls', 'cracks'" in caplog.text and "'segment crack', 'segment wall crack'" in caplog.text


def test_a_prompt_of_a_dataset_of_the_photos_concept_is_never_a_negative(caplog):
    # strips (concept taping) list "segment tape"; so does a dataset of another concept: never asked of the boxes' photos
    prompts = [["segment taping area"], ["segment tape", "segment taping area"], ["segment crack", "segment tape"]]
    with caplog.at_level(logging.WARNING, "drywallqa.data.prompted"):
        pairs = _negatives(prompts, ["taping", "taping", "cracks"])
    assert {text for own, text in pairs if own in (0, 1)} == {"segment crack"}
    assert {text for own, text in pairs if own == 2} == {"segment taping area"}
    assert "'segment tape'" in caplog.text


def test_datasets_of_distinct_prompts_keep_every_negative_and_no_warning(caplog):
    with caplog.at_level(logging.WARNING, "drywallqa.data.prompted"):
        pairs = _negatives([["segment crack"], ["segment taping area"]], None, n=2)
    assert set(pairs) == {(0, "segment taping area"), (1, "segment crack")} and not caplog.text


def test_datasets_that_share_all_prompts_have_no_negatives():
    images = np.zeros((2, 8, 8, 3), np.uint8)
    ds = PromptedSegmentationDataset(images, np.ones((2, 8, 8), bool), [0, 1], [["segment crack"], ["segment crack"]],
                                     negative_ratio=1.0)
    assert len(ds) == 2
