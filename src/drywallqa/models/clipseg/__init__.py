"""``clipseg``: CLIPSeg (Hugging Face ``transformers``) as a prompted segmenter, with CLIP's own text tower.
:class:`ClipSegModel` is registered as ``clipseg`` (docs/hub_models.md)."""

from ...utils.deprecation import deprecated_names
from .configuration_clipseg import ClipSegConfig
from .modeling_clipseg import ClipSegModel

__all__ = ["ClipSegConfig", "ClipSegModel"]
__getattr__ = deprecated_names(__name__, {"ClipSegBackend": ("drywallqa.models.clipseg", "ClipSegModel"),  # 0.4 names
                                          "ClipSegBackendConfig": ("drywallqa.models.clipseg", "ClipSegConfig")})
