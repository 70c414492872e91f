"""The encoder registry: ``@register_encoder("name")`` on an encoder class; ``create_encoder(name, config)``.

What a registered encoder class is (``scratch.py`` and ``hed_vgg16.py`` are the two examples):

- built as ``cls(config)``, ``config`` a :class:`~drywallqa.models.film_unet.FilmUNetConfig` (its
  ``encoder_channels``, ``encoder_depths``, ``mean``, ``std``, ``encoder_options``);
- an ``nn.Module`` with ``out_channels``: a tuple of 5 channel counts;
- ``forward(pixel_values)``: ``(B, 3, S, S)`` float32 RGB in 0..1 -> a list of 5 tensors
  ``(B, out_channels[i], S / 2**(i + 1), S / 2**(i + 1))``, strides 2, 4, 8, 16, 32 (``S`` a multiple of 32);
  it normalises its input itself;
- one that reads pretrained weights when a new model is built sets the class attribute ``reads_weights = True``
  and accepts a ``weights`` option: a saved model is rebuilt with ``encoder_options["weights"] = None``
  (:meth:`~drywallqa.models.film_unet.FilmUNetModel.config_from_dict`), where it reads none, then loads its own
  weights. Other encoders are rebuilt with the options they were saved with;
- ``default_options`` (optional class attribute): what its options are where not given (``init_from`` compares a
  saved model's options with those a config gives, an option left out of either at its default).

The registry holds the encoders whose modules have been imported: a new module is imported in this package's
``__init__.py``, or, kept in a package of your own, declared as a plugin (:mod:`drywallqa.utils.plugins`).
"""

from __future__ import annotations

from ...utils.registry import Registry

ENCODERS: Registry[type] = Registry("encoder")


def register_encoder(name: str):
    """Class decorator: registers an encoder class under ``name`` (what ``model_config.encoder`` names) and returns
    the class unchanged.

    Raises:
        ValueError: ``name`` is already registered.
    """
    return ENCODERS.decorator(name)


def create_encoder(name: str, config):
    """The encoder ``name`` built from a model config (its ``encoder_channels``, ``encoder_depths``, ``mean``,
    ``std`` and ``encoder_options``).

    Raises:
        UnknownNameError: (a ``KeyError``) ``name`` is not registered; the message lists those that are.
    """
    return ENCODERS.get(name)(config)


def encoder_reads_weights(name: str) -> bool:
    """Whether the encoder ``name`` reads pretrained weights when built (its ``reads_weights``); False for a name
    not registered (building it names the known ones)."""
    return name in ENCODERS and bool(getattr(ENCODERS.get(name), "reads_weights", False))


def encoder_default_options(name: str) -> dict:
    """The ``encoder_options`` the encoder ``name`` takes where they are not given (its class attribute
    ``default_options``): a saved config that lacks one was built with it. Empty for an encoder that declares none
    or a name not registered."""
    if not isinstance(name, str) or name not in ENCODERS:
        return {}
    return dict(getattr(ENCODERS.get(name), "default_options", None) or {})


def list_encoders() -> list[str]:
    """The registered encoder names, sorted."""
    return ENCODERS.names()
