"""``init_from`` with settings of how the saved model trains (``engine.trainer.INIT_FROM_TRAINING``): a second stage
that unfreezes blocks of a pretrained encoder, or freezes CLIPSeg's backbone, starts from the saved weights with the
new setting applied. Both were refused as "another model" (InitFromConflict), and so was a copy of the very config a
``hed_vgg16`` model was trained with: its ``encoder_options`` lack the ``weights: None`` the saved model holds."""

import dataclasses
import warnings

import pytest
import torch

from drywallqa.engine.config import TrainConfig
from drywallqa.engine.trainer import InitFromConflict, Trainer
from drywallqa.models import create_model
from drywallqa.models.base import PromptedSegmentationModel

HED = dict(image_size=64, encoder="hed_vgg16", decoder_channels=(8, 8, 8, 8), head_dim=4, text_dim=8)


@pytest.fixture
def hed_dir(tmp_path):
    """A tiny film_unet on a 3-block hed_vgg16 (random weights), its first block frozen, saved."""
    d = tmp_path / "hed"
    create_model("film_unet", **HED, encoder_options={"stages": 3, "frozen_stages": 1, "weights": None}).save_pretrained(d)
    return d


def _model(init_from, model_config):
    return Trainer.build_model(TrainConfig(init_from=str(init_from), device="cpu", model_config=model_config))


def _frozen_blocks(model) -> list[bool]:
    return [not any(p.requires_grad for p in block.parameters()) for block in model.encoder.vgg.blocks]


def _same_weights(model, folder) -> bool:
    saved = PromptedSegmentationModel.from_pretrained(folder).state_dict()
    return all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())


def test_the_config_a_hed_model_was_trained_with_starts_it_again(hed_dir):
    """The training config's options name no ``weights`` (the default, read when a new model is built): alike."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = _model(hed_dir, {**HED, "encoder_options": {"stages": 3, "frozen_stages": 1}})
    assert _frozen_blocks(model) == [True, False, False] and _same_weights(model, hed_dir)


@pytest.mark.parametrize("frozen, expected", [(0, [False] * 3), (2, [True, True, False])])
def test_frozen_stages_change_with_init_from(hed_dir, frozen, expected):
    model = _model(hed_dir, {"encoder_options": {"stages": 3, "frozen_stages": frozen}})
    assert _frozen_blocks(model) == expected and model.config.encoder_options["frozen_stages"] == frozen
    assert _same_weights(model, hed_dir)
    assert not model.training  # as from_pretrained leaves a model (it was rebuilt in train mode)


def test_what_the_model_is_still_refused_and_weights_ignored(hed_dir):
    with pytest.raises(InitFromConflict, match=r"model_config.encoder_options.stages 4, the saved model's 3"):
        _model(hed_dir, {"encoder_options": {"stages": 4}})
    with pytest.raises(ValueError, match="frozen_stages"):  # a setting the model cannot take: named, not a traceback
        _model(hed_dir, {"encoder_options": {"frozen_stages": 7}})
    with pytest.warns(UserWarning, match="are ignored"):  # the saved model holds its weights
        model = _model(hed_dir, {"encoder_options": {"weights": "hed_bsds500"}})
    assert _same_weights(model, hed_dir)


def test_clipseg_backbone_frozen_for_a_second_stage(tiny_clipseg_dir, tmp_path):
    folder = tmp_path / "ours"
    create_model("clipseg", pretrained=str(tiny_clipseg_dir), image_size=64).save_pretrained(folder)
    model = _model(folder, {"freeze_backbone": True})
    assert model.config.freeze_backbone is True and _same_weights(model, folder)
    assert dataclasses.asdict(PromptedSegmentationModel.from_pretrained(folder).config)["freeze_backbone"] is False
