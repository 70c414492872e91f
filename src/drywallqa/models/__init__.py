"""Model zoo: a registry of prompted segmenters (``create_model``) and their configurations."""

from .registry import create_model, get_model_class, list_models, register_model
from .clipseg import ClipSegBackend, ClipSegBackendConfig
from .film_unet import FilmUNetConfig, FilmUNetModel
from .sam_text import SamTextConfig, SamTextModel

__all__ = ["ClipSegBackend", "ClipSegBackendConfig", "FilmUNetConfig", "FilmUNetModel", "SamTextConfig", "SamTextModel", "create_model", "get_model_class", "list_models", "register_model"]
