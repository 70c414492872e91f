"""Model zoo: a registry of prompted segmenters (``create_model``) and their configurations."""

from .registry import create_model, get_model_class, list_models, register_model
from .film_unet import FilmUNetConfig, FilmUNetModel

__all__ = ["FilmUNetConfig", "FilmUNetModel", "create_model", "get_model_class", "list_models", "register_model"]
