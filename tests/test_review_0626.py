"""Review of 0.6.26 (helper 223): what the release's changes left wrong."""

from __future__ import annotations

import pytest


def _hed_trainer(frozen_stages: int):
    """A Trainer holding a tiny film_unet on a 3-block hed_vgg16 (its first ``frozen_stages`` blocks frozen), as its
    ``__init__`` has it when it checks ``train_only`` (before any photo is decoded)."""
    from drywallqa.engine.trainer import Trainer
    from drywallqa.models import create_model

    trainer = Trainer.__new__(Trainer)
    trainer.model = create_model("film_unet", image_size=64, encoder="hed_vgg16", decoder_channels=(8, 8, 8, 8),
                                 head_dim=4, text_dim=8,
                                 encoder_options={"stages": 3, "frozen_stages": frozen_stages, "weights": None})
    return trainer


def test_a_train_only_of_frozen_blocks_alone_is_refused_before_the_photos_are_decoded():
    """The Trainer checks train_only in __init__ "before the photos are decoded"; a train_only naming only blocks
    that frozen_stages keeps frozen was refused only by freeze(), in setup(), after build_data decoded every photo
    (minutes). check_train_only says it."""
    with pytest.raises(ValueError, match=r"train_only \['encoder.vgg.blocks.0'\]: every parameter it names is one "
                                         r"the model keeps frozen .*frozen_stages"):
        _hed_trainer(2).check_train_only(["encoder.vgg.blocks.0"])
    _hed_trainer(2).check_train_only(["encoder."])  # names trainable blocks too: fine
    _hed_trainer(0).check_train_only(["encoder.vgg.blocks.0"])
