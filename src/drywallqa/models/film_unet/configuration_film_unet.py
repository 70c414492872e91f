from __future__ import annotations

from dataclasses import dataclass, field

from ..constants import IMAGENET_MEAN, IMAGENET_STD


@dataclass
class FilmUNetConfig:
    """Configuration of :class:`FilmUNetModel`.

    Attributes:
        image_size: side of the square the image is resized to before the encoder.
        encoder: a registered encoder (:func:`drywallqa.models.encoders.list_encoders`): ``scratch`` (trained from
            scratch) or ``hed_vgg16`` (the pretrained HED VGG16, truncated as its options say).
        encoder_options: options of the encoder (``hed_vgg16``: ``stages``, ``frozen_stages``, ``weights``).
        encoder_channels: channels at strides 2, 4, 8, 16, 32 (of the levels a pretrained encoder does not give).
        encoder_depths: residual blocks per stage at strides 4, 8, 16, 32 (idem).
        decoder_channels: channels of the decoder at strides 32, 16, 8, 4.
        text_dim: size of the prompt embedding (384 for MiniLM-L6).
        head_dim: size of the pixel/text embedding whose dot product adds to the logits.
        refine_channels: 0 (logits at stride 4), or the channels of a prompt-conditioned level at stride 2
            that adds a correction to the logits (finer outlines of thin structures; zero-initialised).
        mean, std: pixel normalisation (on 0..1 RGB).
    """

    image_size: int = 320
    encoder: str = "scratch"
    encoder_options: dict = field(default_factory=dict)
    encoder_channels: tuple = (32, 48, 96, 160, 256)
    encoder_depths: tuple = (1, 2, 2, 2)
    decoder_channels: tuple = (128, 96, 64, 32)
    text_dim: int = 384
    head_dim: int = 32
    refine_channels: int = 0
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD

    def __post_init__(self):
        self.encoder_channels = tuple(self.encoder_channels)
        self.encoder_depths = tuple(self.encoder_depths)
        self.decoder_channels = tuple(self.decoder_channels)
        self.mean = tuple(self.mean)
        self.std = tuple(self.std)
        self.encoder_options = dict(self.encoder_options or {})
        if len(self.encoder_channels) != 5 or len(self.encoder_depths) != 4 or len(self.decoder_channels) != 4:
            raise ValueError("encoder_channels needs 5 entries, encoder_depths 4, decoder_channels 4")
        if isinstance(self.image_size, float) and self.image_size.is_integer():  # 320.0 in a hand-written config.json
            self.image_size = int(self.image_size)
        if isinstance(self.image_size, bool) or not isinstance(self.image_size, int) or self.image_size < 32 \
                or self.image_size % 32:
            raise ValueError(f"image_size must be a whole multiple of 32 of at least 32, got {self.image_size!r}")
