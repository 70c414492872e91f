"""FiLM U-Net: an image encoder (``config.encoder``, from :mod:`drywallqa.models.encoders`: ``scratch`` or the
pretrained ``hed_vgg16``) run once per image and a text-conditioned FPN decoder run per prompt.

Shapes (S = ``config.image_size``, B images, P prompts per image flattened into the batch):

    pixel_values (B, 3, S, S)
      -> encoder features at strides 2..32, lateral projections at strides 4..32   (once per image)
    image features + text embeddings (B, D)
      -> FiLM-modulated top-down decoder at strides 32 -> 4                         (per prompt)
      -> logits (B, 1, S, S) = conv head + <pixel embedding, text embedding>
         [+ a correction from a FiLM-modulated level at stride 2, if ``config.refine_channels``]
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..base import PromptedSegmentationModel
from ..encoders import create_encoder, encoder_reads_weights
from ..encoders.scratch import conv_bn_act
from ..registry import register_model
from .configuration_film_unet import FilmUNetConfig


class FiLM(nn.Module):
    """Feature-wise affine modulation by the prompt: ``x * (1 + gamma(t)) + beta(t)``."""

    def __init__(self, text_dim: int, channels: int):
        super().__init__()
        self.proj = nn.Linear(text_dim, 2 * channels)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x, t):
        gamma, beta = self.proj(t)[:, :, None, None].chunk(2, dim=1)
        return x * (1 + gamma) + beta


class DecoderBlock(nn.Module):
    def __init__(self, text_dim: int, cin: int, cout: int):
        super().__init__()
        self.film = FiLM(text_dim, cin)
        self.conv = nn.Sequential(conv_bn_act(cin, cout), conv_bn_act(cout, cout))

    def forward(self, x, t):
        return self.conv(self.film(x, t))


class RefineBlock(nn.Module):
    """Prompt-conditioned correction of the logits at stride 2: ``(B, C_2 + C_4, S/2, S/2) -> (B, 1, S/2, S/2)``.
    Its output convolution starts at zero, so a model given this block computes what it computed before."""

    def __init__(self, text_dim: int, cin: int, channels: int):
        super().__init__()
        self.film = FiLM(text_dim, cin)
        self.conv = conv_bn_act(cin, channels)
        self.out = nn.Conv2d(channels, 1, 3, 1, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x, t):
        return self.out(self.conv(self.film(x, t)))


@dataclass
class FilmUNetFeatures:
    """Prompt-independent image features: lateral projections at strides 32, 16, 8, 4 (and 2, for a model
    with a refinement level)."""

    laterals: list
    size: tuple

    def repeat(self, n: int) -> "FilmUNetFeatures":
        """Repeat each image ``n`` times along the batch (one copy per prompt), in the features' memory format
        (``repeat_interleave`` gives channels-first: channels-last convolutions then ran slower than before)."""
        return FilmUNetFeatures([_repeated(f, n) for f in self.laterals], self.size)


def _repeated(f: torch.Tensor, n: int) -> torch.Tensor:
    out = f.repeat_interleave(n, dim=0)
    if f.dim() == 4 and not f.is_contiguous() and f.is_contiguous(memory_format=torch.channels_last):
        out = out.contiguous(memory_format=torch.channels_last)
    return out


@register_model("film_unet")
class FilmUNetModel(PromptedSegmentationModel):
    """The FiLM U-Net (see the module doc), registered as ``film_unet``.

    Inputs and outputs (float32, or bfloat16 under autocast; ``S = config.image_size``, ``D = config.text_dim``):

    - :meth:`encode_image`: ``pixel_values`` ``(B, 3, S, S)`` RGB in 0..1 -> :class:`FilmUNetFeatures`;
    - :meth:`decode`: those features (repeated to one row per prompt, :meth:`FilmUNetFeatures.repeat`) and
      ``text_embeddings`` ``(B, D)`` -> logits ``(B, 1, S, S)``;
    - ``forward(pixel_values, text_embeddings)``: both, ``(B, 3, S, S)`` and ``(B, D)`` -> ``(B, 1, S, S)`` logits;
    - :meth:`prompt_embeddings`: ``P`` prompts -> ``(P, D)`` sentence embeddings (``text_encoder``).
    """

    config_class = FilmUNetConfig

    def __init__(self, config: FilmUNetConfig):
        super().__init__(config)
        dec, d = config.decoder_channels, config.text_dim
        self.encoder = create_encoder(config.encoder, config)
        enc = self.encoder.out_channels
        # laterals for strides 32, 16, 8, 4 (encoder indices 4, 3, 2, 1)
        self.laterals = nn.ModuleList(
            nn.Sequential(nn.Conv2d(enc[4 - i], dec[i], 1, bias=False), nn.BatchNorm2d(dec[i])) for i in range(4)
        )
        self.text_proj = nn.Sequential(nn.Linear(d, d), nn.ReLU(inplace=True), nn.LayerNorm(d))
        self.blocks = nn.ModuleList(
            DecoderBlock(d, dec[i] + (dec[i - 1] if i else 0), dec[i]) for i in range(4)
        )
        self.head = nn.Conv2d(dec[3], 1, 1)
        self.pixel_embed = nn.Conv2d(dec[3], config.head_dim, 1)
        self.text_embed = nn.Linear(d, config.head_dim)
        if config.refine_channels:
            rc = config.refine_channels
            self.refine_lateral = nn.Sequential(nn.Conv2d(enc[0], rc, 1, bias=False), nn.BatchNorm2d(rc))
            self.refine = RefineBlock(d, rc + dec[3], rc)

    @classmethod
    def config_from_dict(cls, config: dict, directory):
        """A saved model holds its encoder's weights: it is built without reading pretrained ones (an encoder that
        reads some is given ``weights=None``; another, the options it was saved with)."""
        options = dict(config.get("encoder_options") or {})
        if "weights" in options or encoder_reads_weights(config.get("encoder", "scratch")):
            options["weights"] = None
        return cls.config_class(**{**config, "encoder_options": options})

    def encode_image(self, pixel_values: torch.Tensor) -> FilmUNetFeatures:
        """``(B, 3, S, S)`` RGB in 0..1 -> :class:`FilmUNetFeatures`."""
        feats = self.encoder(pixel_values)  # the encoder normalises its input itself
        laterals = [lat(feats[4 - i]) for i, lat in enumerate(self.laterals)]
        if self.config.refine_channels:
            laterals.append(self.refine_lateral(feats[0]))
        return FilmUNetFeatures(laterals, tuple(pixel_values.shape[-2:]))

    def decode(self, image_features: FilmUNetFeatures, text_embeddings: torch.Tensor) -> torch.Tensor:
        """Features of B images and ``(B, D)`` prompt embeddings -> ``(B, 1, S, S)`` logits."""
        t = self.text_proj(text_embeddings)
        x = None
        for i, (lat, block) in enumerate(zip(image_features.laterals[:4], self.blocks)):
            if x is not None:
                x = torch.cat([lat, F.interpolate(x, size=lat.shape[-2:], mode="bilinear", align_corners=False)], 1)
            else:
                x = lat
            x = block(x, t)
        pix = self.pixel_embed(x)
        logits = self.head(x) + (pix * self.text_embed(t)[:, :, None, None]).sum(1, keepdim=True) / pix.shape[1] ** 0.5
        logits = F.interpolate(logits, size=image_features.size, mode="bilinear", align_corners=False)
        if self.config.refine_channels:  # laterals[4]: stride 2
            lat = image_features.laterals[4]
            x = torch.cat([lat, F.interpolate(x, size=lat.shape[-2:], mode="bilinear", align_corners=False)], 1)
            logits = logits + F.interpolate(self.refine(x, t), size=image_features.size, mode="bilinear", align_corners=False)
        return logits
