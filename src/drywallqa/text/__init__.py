"""Prompts as text: the checks every prompt meets (``prompts``), the sentence encoder that embeds them
(:class:`TextEncoder`, ``(N, 384)`` float32 for the default MiniLM-L6), the prompt gate (``gate``), its calibration
(``gate_calibration``), the negations it reads (``negation``) and the word lists it reads."""

from .encoder import TextEncoder, get_text_encoder

__all__ = ["TextEncoder", "get_text_encoder"]
