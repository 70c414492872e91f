from .configuration_film_unet import FilmUNetConfig
from .modeling_film_unet import FilmUNetModel

__all__ = ["FilmUNetConfig", "FilmUNetModel"]
