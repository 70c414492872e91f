"""A timm-style model registry: ``@register_model("name")`` on a model class, ``create_model("name", **cfg)``."""

from __future__ import annotations

from typing import Any

_MODELS: dict[str, type] = {}


def register_model(name: str):
    def wrap(cls):
        if name in _MODELS:
            raise ValueError(f"model {name!r} is already registered")
        cls.model_type = name
        _MODELS[name] = cls
        return cls

    return wrap


def get_model_class(name: str) -> type:
    try:
        return _MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; registered: {', '.join(sorted(_MODELS))}") from None


def list_models() -> list[str]:
    return sorted(_MODELS)


def create_model(name: str, **config_kwargs: Any):
    """Build a registered model with random weights from keyword arguments of its config dataclass."""
    cls = get_model_class(name)
    return cls(cls.config_class(**config_kwargs))
