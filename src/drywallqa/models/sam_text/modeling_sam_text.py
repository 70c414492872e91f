"""SAM with text prompts: a frozen SAM image encoder, a sentence embedding projected into SAM's sparse
prompt tokens, and SAM's mask decoder, whose predicted IoU comes back as each mask's confidence.

Shapes: pixel_values ``(B, 3, S, S)`` -> image embeddings ``(B, C, S/p, S/p)`` (frozen, once per image);
text ``(B, D)`` -> sparse tokens ``(B, 1, K, C)`` -> mask decoder -> low-res logits ``(B, 1, 4S/p, 4S/p)``
upsampled to ``(B, 1, S, S)`` and predicted IoU ``(B,)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..base import PromptedSegmentationModel
from ..hub import load_hub_or_local
from ..registry import register_model
from .configuration_sam_text import SamTextConfig


def load_sam(pretrained: str | None, hf_config: dict | None = None):
    """A ``transformers.SamModel`` from a config dict (random weights) or a hub id / local directory of a SAM model
    (``ValueError`` for one of another model type, which ``from_pretrained`` would fill with random weights)."""
    from transformers import SamConfig, SamModel

    if hf_config:
        return SamModel(SamConfig(**hf_config))
    return load_hub_or_local(SamModel, pretrained, "SAM model", "sam")


@dataclass
class SamFeatures:
    embeddings: torch.Tensor
    size: tuple

    def repeat(self, n: int) -> "SamFeatures":
        return SamFeatures(self.embeddings.repeat_interleave(n, dim=0), self.size)


@register_model("sam_text")
class SamTextModel(PromptedSegmentationModel):
    """SAM prompted by text (see the module doc), registered as ``sam_text``; ``self.sam`` is the
    ``transformers.SamModel`` (its image encoder frozen), ``self.text_proj`` the projection into its prompt tokens.

    Inputs and outputs (float32; ``S = config.image_size``, ``D = config.text_dim``): :meth:`encode_image` takes
    ``(B, 3, S, S)`` RGB in 0..1; :meth:`decode_with_scores` takes the features and ``(B, D)`` sentence embeddings
    and returns logits ``(B, 1, S, S)`` and SAM's predicted IoU ``(B,)`` in [0, 1]; :meth:`decode` the logits only.
    """

    config_class = SamTextConfig
    reports_confidence = True  # SAM's predicted IoU with every mask

    def __init__(self, config: SamTextConfig):
        super().__init__(config)
        self.sam = load_sam(config.pretrained, config.hf_config)
        if not config.hf_config:
            self.config.hf_config = json.loads(self.sam.config.to_json_string())
        self.config.image_size = self.sam.config.vision_config.image_size  # SAM's encoder takes one input size
        for p in self.sam.vision_encoder.parameters():  # the image encoder stays frozen
            p.requires_grad_(False)
        hidden = self.sam.config.prompt_encoder_config.hidden_size
        self.text_proj = nn.Sequential(
            nn.Linear(config.text_dim, hidden), nn.GELU(), nn.Linear(hidden, config.num_text_tokens * hidden)
        )
        self.register_buffer("pixel_mean", torch.tensor(config.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(config.std).view(1, 3, 1, 1), persistent=False)

    def encode_image(self, pixel_values: torch.Tensor) -> SamFeatures:
        """``(B, 3, S, S)`` RGB in 0..1 -> SAM's image embeddings ``(B, C, S/p, S/p)`` (no gradient)."""
        with torch.no_grad():
            emb = self.sam.get_image_embeddings((pixel_values - self.pixel_mean) / self.pixel_std)
        return SamFeatures(emb, tuple(pixel_values.shape[-2:]))

    def decode_with_scores(self, image_features: SamFeatures, text_embeddings: torch.Tensor):
        """-> logits ``(B, 1, S, S)`` and SAM's predicted IoU ``(B,)``, clamped to [0, 1] (SAM's IoU head is a
        plain regression: slightly below 0 or above 1 happens)."""
        emb = image_features.embeddings
        b, c, h, w = emb.shape
        sparse = self.text_proj(text_embeddings.to(emb.device)).view(b, 1, self.config.num_text_tokens, c)
        dense = self.sam.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(b, -1, h, w)
        pos = self.sam.get_image_wide_positional_embeddings().repeat(b, 1, 1, 1)
        low_res, iou = self.sam.mask_decoder(
            image_embeddings=emb, image_positional_embeddings=pos, sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense, multimask_output=False,
        )
        logits = low_res.reshape(b, 1, *low_res.shape[-2:])
        logits = F.interpolate(logits, size=image_features.size, mode="bilinear", align_corners=False)
        return logits, iou.reshape(b).clamp(0.0, 1.0)

    def decode(self, image_features: SamFeatures, text_embeddings: torch.Tensor) -> torch.Tensor:
        return self.decode_with_scores(image_features, text_embeddings)[0]
