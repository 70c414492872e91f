"""The configuration dataclass of ``film_unet`` (:class:`FilmUNetConfig`): what ``model_config`` of a training
config and ``config`` of a model folder's ``config.json`` hold, checked when it is made."""

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

    Raises:
        ValueError: naming the key, for a value no model can be built with (a width of 0 or -1, a size no memory
            holds, a number as text), whether it comes from a training config or a model folder's config.json.
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
        self.encoder_channels = _whole_numbers(self.encoder_channels, "encoder_channels", 5, 1, MAX_CHANNELS)
        self.encoder_depths = _whole_numbers(self.encoder_depths, "encoder_depths", 4, 0, MAX_DEPTH)
        self.decoder_channels = _whole_numbers(self.decoder_channels, "decoder_channels", 4, 1, MAX_CHANNELS)
        self.mean = _numbers(self.mean, "mean", -10.0, 10.0)
        self.std = _numbers(self.std, "std", 0.0, 10.0, low_inclusive=False)
        self.encoder_options = dict(self.encoder_options or {})
        size = _whole(self.image_size)  # 320.0 in a hand-written config.json is 320
        if size is not None:
            self.image_size = size
        if size is None or size < 32 or size % 32:
            raise ValueError(f"image_size must be a whole multiple of 32 of at least 32, got {self.image_size!r}")
        self.text_dim = _whole_number(self.text_dim, "text_dim", 1, MAX_TEXT_DIM)
        self.head_dim = _whole_number(self.head_dim, "head_dim", 1, MAX_CHANNELS)
        self.refine_channels = _whole_number(self.refine_channels, "refine_channels", 0, MAX_CHANNELS)


MAX_CHANNELS = 4096  # of a level (or of the pixel/text embedding): 4096 x 4096 x 3 x 3 is 150 M weights already
MAX_DEPTH = 64  # residual blocks of a stage
MAX_TEXT_DIM = 16384


def _whole(value):
    """``value`` as an int when it is a whole number (``16.0`` of a hand-written config.json too), else None."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _whole_number(value, key: str, low: int, high: int) -> int:
    """``value`` as a whole number in ``[low, high]``; ValueError naming ``key`` otherwise (as :func:`_whole_numbers`)."""
    whole = _whole(value)
    if whole is None or not low <= whole <= high:
        raise ValueError(f"{key} must be a whole number in [{low}, {high}], got {value!r}")
    return whole


def _whole_numbers(values, key: str, count: int, low: int, high: int) -> tuple:
    """``values`` as a tuple of ``count`` whole numbers in ``[low, high]``.

    Raises:
        ValueError: naming ``key``, what it must be and the value given (a negative or zero width, ``1e9``, which
            YAML 1.1 reads as text, or a size no memory holds once failed deep in torch).
    """
    wanted = f"{key} must be {count} whole numbers in [{low}, {high}], got {values!r}"
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__len__") or len(values) != count:
        raise ValueError(wanted)
    whole = [_whole(v) for v in values]
    if any(w is None or not low <= w <= high for w in whole):
        raise ValueError(wanted)
    return tuple(whole)


def _numbers(values, key: str, low: float, high: float, low_inclusive: bool = True) -> tuple:
    """``values`` as a tuple of 3 finite numbers (one per RGB channel) in ``[low, high]`` (``(low, high]``)."""
    wanted = f"{key} must be 3 numbers (R, G, B) in {'[' if low_inclusive else '('}{low:g}, {high:g}], got {values!r}"
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__len__") or len(values) != 3 \
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise ValueError(wanted)
    if not all((v >= low if low_inclusive else v > low) and v <= high for v in values):  # NaN fails both
        raise ValueError(wanted)
    return tuple(float(v) for v in values)
