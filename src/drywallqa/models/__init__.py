"""Model zoo: a registry of prompted segmenters (``create_model``) and their configurations."""

from ..utils.deprecation import deprecated_names
from .registry import create_model, get_model_class, list_models, register_model
from .clipseg import ClipSegConfig, ClipSegModel
from .film_unet import FilmUNetConfig, FilmUNetModel
from .sam_text import SamTextConfig, SamTextModel

__all__ = ["ClipSegConfig", "ClipSegModel", "FilmUNetConfig", "FilmUNetModel", "SamTextConfig", "SamTextModel", "create_model", "get_model_class", "list_models", "register_model"]
__getattr__ = deprecated_names(__name__, {"ClipSegBackend": ("drywallqa.models.clipseg", "ClipSegModel"),  # 0.4 names
                                          "ClipSegBackendConfig": ("drywallqa.models.clipseg", "ClipSegConfig")})
