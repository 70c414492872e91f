from .configuration_clipseg import ClipSegBackendConfig
from .modeling_clipseg import ClipSegBackend

__all__ = ["ClipSegBackend", "ClipSegBackendConfig"]
