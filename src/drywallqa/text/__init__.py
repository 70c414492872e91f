from .encoder import TextEncoder, get_text_encoder

__all__ = ["TextEncoder", "get_text_encoder"]
