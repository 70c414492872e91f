"""Loading Hugging Face models, processors and tokenizers from a hub id or a local ``save_pretrained`` folder.

Every ``transformers`` backend (CLIPSeg, SAM, the zero-shot detectors and taggers) loads through
:func:`load_hub_or_local`, so a missing download always fails with the same message: how to fetch the
weights on a machine with internet and give the folder in place of the hub id; a local folder that is
not there is named as such. Given the ``model_type`` it needs, it refuses a folder (or hub id) of another
model, which ``from_pretrained`` would load with a warning and random weights.
"""

from __future__ import annotations

import json
import os


def load_hub_or_local(loader, name: str, what: str, model_type: str | None = None):
    """``loader.from_pretrained(name)`` with an error that says how to provide the weights offline.

    ``loader``: any class with ``from_pretrained`` (``transformers.SamModel``, ``AutoProcessor``, ...);
    ``name``: a hub id or a local directory written by ``save_pretrained``; ``what``: the thing being
    loaded, in words, for the message; ``model_type``: the Hugging Face ``model_type`` the loader needs
    (``"clipseg"``, ``"sam"``), checked against the ``config.json`` of ``name`` first
    (:func:`check_model_type`). Raises ``OSError`` when ``name`` is neither a local directory nor
    in the Hugging Face cache (and cannot be downloaded, e.g. with ``HF_HUB_OFFLINE=1``), ``ValueError``
    when it holds a model of another type.
    """
    if model_type is not None:
        check_model_type(name, model_type, what)
    try:
        return loader.from_pretrained(name)
    except (OSError, ValueError) as exc:
        if _looks_like_a_path(name):
            raise OSError(f"cannot load {what} from {name!r}: "
                          + ("no such folder" if not os.path.exists(name) else
                             f"not a folder written by save_pretrained ({type(exc).__name__}: {exc})")) from exc
        offline = " (HF_HUB_OFFLINE=1 is set)" if os.environ.get("HF_HUB_OFFLINE") == "1" else ""
        raise OSError(
            f"cannot load {what} {name!r}{offline}: it is neither a local folder nor in the Hugging Face cache. On a "
            f"machine with internet run `hf download {name} --local-dir DIR` (or "
            f"`{loader.__name__}.from_pretrained({name!r}).save_pretrained(DIR)`), bring DIR here and give DIR in "
            f"place of {name!r}."
        ) from exc


def _looks_like_a_path(name: str) -> bool:
    """A local folder meant, not a hub id (``owner/name``): absolute, ``./``-relative, more than one ``/``, or there."""
    return (os.path.isabs(name) or name.startswith(("./", "../", "~")) or name.count("/") > 1 or os.sep != "/" and
            os.sep in name or os.path.exists(name))


def check_model_type(name: str, needed: str, what: str) -> None:
    """``ValueError`` naming ``name``, the model type its ``config.json`` holds and the one ``needed`` when they
    differ, or when ``name`` is a drywallqa model folder (loaded by ``Segmenter.load`` / ``init_from``, not as
    Hugging Face weights). Nothing when the config cannot be read or names no type: the loader then says why.
    """
    found = _hub_config(name)
    if not isinstance(found, dict) or not isinstance(found.get("model_type"), str):
        return
    kind = found["model_type"]
    if isinstance(found.get("config"), dict) and "transformers_version" not in found:  # drywallqa's save_pretrained
        raise ValueError(
            f"cannot load {what} from {name!r}: it is a drywallqa model folder (model_type {kind!r}), not a Hugging "
            f"Face save_pretrained folder of a {needed!r} model: give it as the model path itself (without --model) "
            "to predict or evaluate, or as init_from to train from it")
    if kind != needed:
        raise ValueError(f"cannot load {what} from {name!r}: its config.json is of a {kind!r} model, and {what} "
                         f"needs a {needed!r} one (a folder or hub id of another model: its weights would not be used)")


def _hub_config(name: str) -> dict | None:
    """The ``config.json`` of a local folder or of a hub id (from the cache, or downloaded); None if unreadable."""
    if _looks_like_a_path(name):
        path = os.path.join(os.path.expanduser(name), "config.json")
        try:
            with open(path, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return None
    try:
        from transformers import PretrainedConfig

        return PretrainedConfig.get_config_dict(name)[0]
    except Exception:  # noqa: BLE001 - not cached offline, no network, a bad id: from_pretrained says why
        return None
