"""CLIPSeg as a prompted segmenter: the CLIP vision encoder once per image, the CLIPSeg decoder per prompt.

Shapes: pixel_values ``(B, 3, S, S)`` in 0..1 -> activations of ``extract_layers`` ``(B, 1 + (S/16)^2, H)``
-> decoder with ``conditional_embeddings (B, projection_dim)`` from CLIP's text tower -> ``(B, 1, S, S)``.
Text embeddings are computed once per prompt (no gradient) and cached.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ...utils.deprecation import deprecated_names
from ..base import PromptedSegmentationModel
from ..hub import check_prompt_lengths, check_tokenizer, load_hub_or_local
from ..registry import register_model
from .configuration_clipseg import ClipSegConfig


# what a CLIP tokenizer's save_pretrained writes, by transformers version (5.x: tokenizer.json, tokenizer_config.json)
TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json")


def load_clip_tokenizer(source: str, vocab_size: int | None = None):
    """The CLIP tokenizer of a hub id or folder; ``ValueError`` when it cannot really be read.

    ``transformers`` builds an empty tokenizer (its 2 special tokens) from a folder without tokenizer files, and
    with it every prompt gets the same map: a local folder needs ``tokenizer.json`` or ``vocab.json`` and
    ``merges.txt``, and any tokenizer needs more than a handful of tokens besides its special ones. With
    ``vocab_size`` (of the CLIP text tower), a tokenizer whose ids go past it (another model's) is refused too.
    """
    from transformers import CLIPTokenizer

    from ..hub import _looks_like_a_path

    folder = Path(os.path.expanduser(source))
    if _looks_like_a_path(source) and folder.is_dir():
        have = {name for name in TOKENIZER_FILES if (folder / name).is_file()}
        if "tokenizer.json" not in have and not {"vocab.json", "merges.txt"} <= have:
            held = ", ".join(sorted(have)) or "none of them"
            raise ValueError(
                f"cannot load the CLIP tokenizer from {source!r}: the folder lacks its tokenizer files "
                f"(tokenizer.json, or vocab.json and merges.txt; it holds {held}): "
                "copy them from the folder the model was downloaded into (the hub model's tokenizer.json, vocab.json, "
                "merges.txt)")
    tokenizer = load_hub_or_local(CLIPTokenizer, source, "CLIP tokenizer")
    check_tokenizer(tokenizer, source, "the CLIP tokenizer", ", ".join(TOKENIZER_FILES[:3]), "CLIPSeg text tower", vocab_size)
    return tokenizer


@dataclass
class ClipSegFeatures:
    activations: list
    size: tuple

    def repeat(self, n: int) -> "ClipSegFeatures":
        return ClipSegFeatures([a.repeat_interleave(n, dim=0) for a in self.activations], self.size)


@register_model("clipseg")
class ClipSegModel(PromptedSegmentationModel):
    """CLIPSeg (``transformers.CLIPSegForImageSegmentation``, in ``self.hf``), registered as ``clipseg``.

    Inputs and outputs (float32; ``S = config.image_size``): :meth:`encode_image` takes ``(B, 3, S, S)`` RGB in 0..1;
    :meth:`prompt_embeddings` gives ``(P, projection_dim)`` from CLIP's text tower; :meth:`decode` takes the features
    and ``(B, projection_dim)`` embeddings and returns logits ``(B, 1, S, S)``.
    """

    config_class = ClipSegConfig
    uses_text_encoder = False  # CLIP's text tower (prompt_embeddings), not the shared sentence encoder

    def __init__(self, config: ClipSegConfig):
        super().__init__(config)
        from transformers import CLIPSegConfig, CLIPSegForImageSegmentation

        if config.hf_config:
            self.hf = CLIPSegForImageSegmentation(CLIPSegConfig(**config.hf_config))
        else:
            self.hf = load_hub_or_local(CLIPSegForImageSegmentation, config.pretrained, "CLIPSeg model", "clipseg")
            self.config.hf_config = json.loads(self.hf.config.to_json_string())
        self.tokenizer = load_clip_tokenizer(config.tokenizer or config.pretrained,
                                             self.hf.config.text_config.vocab_size)
        self.register_buffer("pixel_mean", torch.tensor(config.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(config.std).view(1, 3, 1, 1), persistent=False)
        self._prompt_cache: dict[str, torch.Tensor] = {}

    @classmethod
    def config_from_dict(cls, config: dict, directory: Path) -> ClipSegConfig:
        """A model folder is self-contained: its own tokenizer (written by :meth:`save_extras`) when any tokenizer
        file is there, whatever hub folder it was trained from (an incomplete one is a clean error on load)."""
        cfg = ClipSegConfig(**config)
        if any((Path(directory) / name).is_file() for name in TOKENIZER_FILES):
            cfg.tokenizer = str(directory)
        return cfg

    def save_extras(self, directory: Path) -> None:
        self.tokenizer.save_pretrained(str(directory))

    @torch.no_grad()
    def prompt_embeddings(self, prompts: list[str], text_encoder: str | None = None) -> torch.Tensor:
        """``(P, projection_dim)`` from CLIP's text tower (cached; ``text_encoder`` is not used)."""
        missing = [p for p in dict.fromkeys(prompts) if p not in self._prompt_cache]
        if missing:
            check_prompt_lengths(self.tokenizer, {p: p for p in missing},
                                 getattr(self.hf.config.text_config, "max_position_embeddings", None), "CLIPSeg")
            tok = self.tokenizer(missing, padding=True, return_tensors="pt")
            device = self.pixel_mean.device
            emb = self.hf.clip.get_text_features(input_ids=tok["input_ids"].to(device),
                                                 attention_mask=tok["attention_mask"].to(device)).pooler_output
            self._prompt_cache.update(zip(missing, emb.float().cpu()))
        return torch.stack([self._prompt_cache[p] for p in prompts])

    def encode_image(self, pixel_values: torch.Tensor) -> ClipSegFeatures:
        """``(B, 3, S, S)`` RGB in 0..1 -> the vision encoder's activations of ``extract_layers``."""
        x = (pixel_values - self.pixel_mean) / self.pixel_std
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.config.freeze_backbone):
            out = self.hf.clip.vision_model(pixel_values=x, output_hidden_states=True, interpolate_pos_encoding=True)
        # hidden_states[0] is the embedding output, so layer i is at index i + 1
        return ClipSegFeatures([out.hidden_states[i + 1] for i in self.hf.extract_layers], tuple(pixel_values.shape[-2:]))

    def decode(self, image_features: ClipSegFeatures, text_embeddings: torch.Tensor) -> torch.Tensor:
        """Features of B images and ``(B, projection_dim)`` prompt embeddings -> ``(B, 1, S, S)`` logits."""
        logits = self.hf.decoder(image_features.activations, text_embeddings.to(self.pixel_mean.device)).logits
        b = text_embeddings.shape[0]
        logits = logits.reshape(b, 1, *logits.shape[-2:])  # some transformers versions drop the batch axis at B=1
        if tuple(logits.shape[-2:]) != image_features.size:
            logits = F.interpolate(logits, size=image_features.size, mode="bilinear", align_corners=False)
        return logits


__getattr__ = deprecated_names(__name__, {"ClipSegBackend": ("drywallqa.models.clipseg", "ClipSegModel")})  # 0.4 name
