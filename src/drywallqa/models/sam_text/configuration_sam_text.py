"""The configuration dataclass of ``sam_text`` (:class:`SamTextConfig`): ``model_config`` of a training config,
``config`` of a model folder's ``config.json``."""

from __future__ import annotations

from dataclasses import dataclass

from ..constants import IMAGENET_MEAN, IMAGENET_STD


@dataclass
class SamTextConfig:
    """Configuration of :class:`SamTextModel`: SAM (``transformers.SamModel``) prompted by text.

    Attributes:
        pretrained: hub id (default ``facebook/sam-vit-base``) or a local ``save_pretrained`` directory of
            ``SamModel``; ignored when ``hf_config`` is given.
        hf_config: a ``SamConfig`` as a dict (tiny test models, or filled in from the checkpoint on save).
        text_dim: size of the prompt embedding (384: the MiniLM sentence encoder).
        num_text_tokens: sparse prompt tokens the text embedding is projected into.
        image_size: SAM's input side, taken from the checkpoint (1024 for the released ones); photos are
            resized to that square.
        mean, std: pixel normalisation on 0..1 RGB.
    """

    pretrained: str | None = "facebook/sam-vit-base"
    hf_config: dict | None = None
    text_dim: int = 384
    num_text_tokens: int = 4
    image_size: int = 1024
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD
