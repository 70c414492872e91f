"""``@register_encoder("name")`` on an encoder class; ``create_encoder(name, config)``."""

from __future__ import annotations

from ...utils.registry import Registry

ENCODERS: Registry[type] = Registry("encoder")


def register_encoder(name: str):
    return ENCODERS.decorator(name)


def create_encoder(name: str, config):
    """The encoder ``name`` built from a model config (its ``encoder_channels``, ``encoder_depths``, ``mean``,
    ``std`` and ``encoder_options``)."""
    return ENCODERS.get(name)(config)


def list_encoders() -> list[str]:
    return ENCODERS.names()
