from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ClipSegBackendConfig:
    """Configuration of :class:`ClipSegBackend` (CLIPSeg from Hugging Face ``transformers``).

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
    mean: tuple = (0.485, 0.456, 0.406)
    std: tuple = (0.229, 0.224, 0.225)
