"""The models shipped inside the package, by name.

A shipped name works wherever a model folder does: ``drywallqa predict ... --model-path fast``,
``Segmenter.load("fast")``, ``drywallqa serve --model-path fast``, ``evaluate``, ``export onnx``, a training
config's ``init_from``. ``default`` names the default model (``fast``), as configs of earlier releases say.

Resolution (:func:`resolve_model_dir`): a folder that exists wins over a shipped name of the same spelling (as
a local folder wins over a hub id in ``transformers``); a bare name (no path separator) that is neither gives a
clear error listing the shipped names; a path the file system refuses as too long is a clear error too; any other
path is returned as it is, for its loader to report.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from ..utils.paths import name_too_long, shortened
from ..utils.registry import Registry, UnknownNameError

DEFAULT_MODEL = "fast"

# name -> folder under drywallqa/weights
SHIPPED_MODELS: Registry[str] = Registry("shipped model")
SHIPPED_MODELS.add("fast", "fast")
SHIPPED_MODELS.alias("default", DEFAULT_MODEL)


def shipped_model_names() -> list[str]:
    """The names of the shipped models (the alias ``default`` left out)."""
    return SHIPPED_MODELS.names()


def _names_text() -> str:
    return ", ".join(f"{n} (the default)" if n == DEFAULT_MODEL else n for n in shipped_model_names())


def shipped_model_dir(name: str = DEFAULT_MODEL) -> Path:
    """The folder of the shipped model ``name`` (``default``: :data:`DEFAULT_MODEL`).

    Raises:
        KeyError: an unknown name; the message lists the shipped ones.
    """
    if name not in SHIPPED_MODELS:
        raise UnknownNameError(f"no shipped model {name!r}; shipped models: {_names_text()}")
    return Path(str(resources.files("drywallqa") / "weights" / SHIPPED_MODELS.get(name)))


def is_bare_name(value) -> bool:
    """True for text such as ``fast`` that can only be a name: no path separator, not ``.``/``..``, not empty."""
    text = str(value)
    return bool(text) and text not in (".", "..") and not any(s in text for s in ("/", os.sep, os.altsep or "/"))


def check_name_length(path: str | Path) -> None:
    """FileNotFoundError where ``path``, a model folder, is a name the file system refuses as too long (Python 3.11's
    ``Path.exists``/``is_dir`` raised "[Errno 36] File name too long: '<the whole path>'"), the path shortened."""
    if name_too_long(path):
        raise FileNotFoundError(f"no model folder {shortened(path)}: the name is longer than the file system allows")


def resolve_model_dir(value: str | Path | None = None) -> Path:
    """A model folder from what a user wrote: ``None`` -> the default shipped model; an existing path -> itself;
    a shipped name -> its folder in the package; any other path -> itself (its loader says it is missing). A
    leading ``~`` is the home folder, as a shell reads it (``Segmenter.load("~/models/best")`` in a notebook).

    Raises:
        FileNotFoundError: a bare name that is neither a folder here nor a shipped model (the message lists the
            shipped names); a path longer than the file system allows (said shortened, :func:`check_name_length`).
        TypeError: neither a path nor a name (an int, bytes).
        ValueError: an empty string (as the command line refuses an empty argument).
    """
    if value is None:
        return shipped_model_dir(DEFAULT_MODEL)
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"a model is a folder (str or Path) or a shipped model's name ({_names_text()}), "
                        f"got {type(value).__name__}")
    if isinstance(value, str) and not value:  # Path("") is the current folder: loaded as the model where it was one
        raise ValueError("an empty path names no model folder; give a folder, a shipped model's name, or None for "
                         "the default shipped model")
    path = Path(os.path.expanduser(value))
    there = os.path.exists(path)  # False for a name longer than the disk allows too (Path.exists raised it: a traceback)
    if not there and not is_bare_name(value) and str(path) in SHIPPED_MODELS:  # "fast/", "./fast": a folder
        raise FileNotFoundError(f"no model folder {path} ({path.absolute()}); for the shipped model of that "
                                f"name write it without a path: {path}")
    if not there and not is_bare_name(value):  # every command's model path passes here: a path the file system
        check_name_length(path)  # refuses by its length said once, shortened (ship, export, train said it whole)
    if there or not is_bare_name(value):
        return path
    if str(value) in SHIPPED_MODELS:
        return shipped_model_dir(str(value))
    if name_too_long(path):  # (its 300 characters said whole, quoted)
        raise FileNotFoundError(f"no model folder {shortened(value)} here (the name is longer than the file system "
                                f"allows), and no shipped model of that name; shipped models: {_names_text()}")
    raise FileNotFoundError(f"no model folder {str(value)!r} here, and no shipped model of that name; "
                            f"shipped models: {_names_text()}")
