"""A timm-style model registry: ``@register_model("name")`` on a model class, ``create_model("name", **cfg)``."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..utils.registry import Registry

MODELS: Registry[type] = Registry("model")
MODELS.alias("sam-text", "sam_text")  # the 0.4 spelling, in model folders saved then


def register_model(name: str):
    """Class decorator: registers a :class:`~drywallqa.models.base.PromptedSegmentationModel` subclass under
    ``name`` (what ``model:`` of a training config and ``model_type`` of a model folder's ``config.json`` name), sets
    its ``model_type`` to it and returns the class.

    Raises:
        ValueError: ``name`` is already registered.
    """

    def wrap(cls):
        cls.model_type = name
        return MODELS.add(name, cls)

    return wrap


def get_model_class(name: str) -> type:
    """The model class registered as ``name`` (an earlier release's spelling too: ``sam-text``).

    Raises:
        UnknownNameError: (a ``KeyError``) ``name`` is not registered; the message lists those that are.
    """
    return MODELS.get(name)


def same_model_type(a, b) -> bool:
    """Whether two model type names name one model (a spelling of an earlier release, as in model folders saved then,
    names the current one: ``sam-text`` is ``sam_text``)."""
    return a == b or (isinstance(a, str) and isinstance(b, str) and a in MODELS and b in MODELS
                      and get_model_class(a) is get_model_class(b))


def check_same_model_type(folder, own, asked) -> None:
    """A model folder says its own type: asked to load it as another (``--model clipseg`` for a film_unet folder) is
    refused, not run under the other name.

    Raises:
        ValueError: ``asked`` is given and names another model than ``own``, the folder's.
    """
    if asked is not None and not same_model_type(own, asked):
        raise ValueError(f"{folder} holds a {own!r} model, not {asked!r}: leave the model type out (a model folder says "
                         f"its own), or give the folder of a {asked} model")


def config_keys(name: str) -> set[str]:
    """The keys a registered model's config takes (``model_config`` of a training config)."""
    return {f.name for f in dataclasses.fields(get_model_class(name).config_class)}


def list_models() -> list[str]:
    """The registered model names, sorted."""
    return MODELS.names()


def create_model(name: str, **config_kwargs: Any):
    """Build a registered model with random weights from keyword arguments of its config dataclass."""
    cls = get_model_class(name)
    return cls(cls.config_class(**config_kwargs))
