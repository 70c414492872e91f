"""``film_unet``: the FiLM U-Net of the shipped models (an image encoder from :mod:`drywallqa.models.encoders`
and a prompt-conditioned decoder). :class:`FilmUNetModel` is registered as ``film_unet``."""

from .configuration_film_unet import FilmUNetConfig
from .modeling_film_unet import FilmUNetModel

__all__ = ["FilmUNetConfig", "FilmUNetModel"]
