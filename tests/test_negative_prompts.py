"""One rule for which prompts are negatives on a dataset's photos, shared by training, validation and evaluation."""

import numpy as np
import pytest

from drywallqa.data import registry
from drywallqa.data.negatives import negative_positions, negative_prompts, shared_prompts
from drywallqa.data.prompted import PromptedSegmentationDataset
from drywallqa.data.registry import DatasetConfig
from drywallqa.text.prompts import normal_form


def test_positions_leave_out_the_own_concept_and_its_texts():
    prompts = [["segment crack", "segment wall crack"], ["segment taping area", "Segment  CRACK"],
               ["segment crack", "segment mould"]]
    kept = negative_positions(prompts, ["crack", "taping", "mould"])
    # crack photos: no taping prompt spelling "segment crack" (case and spaces aside), no mould "segment crack"
    assert kept[0] == [[], [0], [1]]
    # taping photos: every crack prompt but the one taping lists itself; mould's "segment crack" too
    assert kept[1] == [[1], [], [1]]
    assert kept[2] == [[1], [0], []]
    assert normal_form(" Segment\tCrack ") == "segment crack"


def test_shared_prompts_named_per_set_of_concepts():
    shared = shared_prompts([["a", "b"], ["B", "c"], ["c"]], ["x", "y", "z"])
    assert shared == {("x", "y"): ["b"], ("y", "z"): ["c"]}


@pytest.fixture
def two_concepts_sharing_a_prompt():
    """A crack dataset of one's own that lists the taping prompt too (its labels show cracks on tape)."""
    configs = [DatasetConfig("syn_crack_a", "a", ("segment crack",), concept="syn_crack"),
               DatasetConfig("syn_crack_b", "b", ("segment hairline", "segment seam"), concept="syn_crack"),
               DatasetConfig("syn_tape", "c", ("segment seam", "segment joint tape"), concept="syn_tape")]
    for c in configs:
        registry.register_dataset(c)
    yield [c.name for c in configs]
    for c in configs:
        registry.DATASETS.remove(c.name)


def test_names_give_the_same_answer_in_training_validation_and_evaluation(two_concepts_sharing_a_prompt):
    a, b, tape = two_concepts_sharing_a_prompt
    # "segment seam" is listed by a dataset of the crack concept: never a negative on crack photos, whichever
    # crack dataset the photo is from (validation took only the photo's own dataset's prompts out)
    assert negative_prompts(a, [a, b, tape]) == ["segment joint tape"]
    assert negative_prompts(a, [a, b, tape], canonical_only=True) == []
    assert negative_prompts(tape, [a, b, tape]) == ["segment crack", "segment hairline"]
    assert negative_prompts(tape, [a, b, tape], canonical_only=True) == ["segment crack", "segment hairline"]
    # the training dataset asks the same (its ids count the prompts in order across the datasets)
    images = np.zeros((3, 8, 8, 3), np.uint8)
    masks = np.zeros((3, 8, 8), bool)
    prompts = [registry.get_dataset_config(n).prompts for n in (a, b, tape)]
    ds = PromptedSegmentationDataset(images, masks, [0, 1, 2], prompts, negative_ratio=1.0,
                                     concepts=["syn_crack", "syn_crack", "syn_tape"])
    flat = [p for group in prompts for p in group]
    assert [[flat[i] for i in ids] for ids in ds._negatives[0]] == [["segment joint tape"]]
    assert [[flat[i] for i in ids] for ids in ds._negatives[2]] == [["segment crack"], ["segment hairline"]]


def test_validator_asks_the_rules_negatives(two_concepts_sharing_a_prompt):
    from types import SimpleNamespace

    from drywallqa.engine.validator import Validator

    a, b, tape = two_concepts_sharing_a_prompt
    asked = {}

    class Stub:
        def predict(self, image, prompts):
            asked.setdefault(int(image[0, 0, 0]), []).append(list(prompts))
            return SimpleNamespace(probabilities={p: np.zeros((8, 8), np.float32) for p in prompts})

    def photo(value):
        return np.full((8, 8, 3), value, np.uint8), np.zeros((8, 8), bool)

    Validator({a: [photo(1)], b: [photo(2)], tape: [photo(3)]}, options=False)(Stub())
    assert asked[1] == [["segment crack"]]  # "segment seam" is syn_crack_b's prompt: a crack, not a negative
    assert asked[2] == [["segment hairline"]]
    assert asked[3] == [["segment seam", "segment crack", "segment hairline"]]
