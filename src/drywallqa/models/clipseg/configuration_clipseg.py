"""The configuration dataclass of ``clipseg`` (:class:`ClipSegConfig`): ``model_config`` of a training config,
``config`` of a model folder's ``config.json``."""

from __future__ import annotations

from dataclasses import dataclass

from ...utils.deprecation import deprecated_names
from ..constants import IMAGENET_MEAN, IMAGENET_STD


@dataclass
class ClipSegConfig:
    """Configuration of :class:`ClipSegModel` (CLIPSeg from Hugging Face ``transformers``).

    Attributes:
        pretrained: hub id (default ``CIDAS/clipseg-rd64-refined``) or a local ``save_pretrained``
            directory of ``CLIPSegForImageSegmentation``; ignored when ``hf_config`` is given.
        hf_config: a ``CLIPSegConfig`` as a dict: build the network from it (random weights, then a saved
            state dict, or tiny test models). Filled in from the checkpoint when saving.
        tokenizer: directory of the CLIP tokenizer (default: ``pretrained``, or the saved model's directory).
        image_size: input side (the checkpoint was trained at 352 px; other sizes interpolate the
            position encoding).
        freeze_backbone: decoder-only training (the CLIP vision encoder gets no gradient).
        mean, std: pixel normalisation on 0..1 RGB (ImageNet, as the checkpoint's processor).
    """

    pretrained: str | None = "CIDAS/clipseg-rd64-refined"
    hf_config: dict | None = None
    tokenizer: str | None = None
    image_size: int = 352
    freeze_backbone: bool = False
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD


__getattr__ = deprecated_names(__name__, {"ClipSegBackendConfig": ("drywallqa.models.clipseg", "ClipSegConfig")})  # 0.4 name
