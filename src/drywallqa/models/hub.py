"""Loading Hugging Face models, processors and tokenizers from a hub id or a local ``save_pretrained`` folder.

Every ``transformers`` backend (CLIPSeg, SAM, the zero-shot detectors and taggers) loads through
:func:`load_hub_or_local`, so a missing download always fails with the same message: how to fetch the
weights on a machine with internet and give the folder in place of the hub id; a local folder that is
not there is named as such.
"""

from __future__ import annotations

import os


def load_hub_or_local(loader, name: str, what: str):
    """``loader.from_pretrained(name)`` with an error that says how to provide the weights offline.

    ``loader``: any class with ``from_pretrained`` (``transformers.SamModel``, ``AutoProcessor``, ...);
    ``name``: a hub id or a local directory written by ``save_pretrained``; ``what``: the thing being
    loaded, in words, for the message. Raises ``OSError`` when ``name`` is neither a local directory nor
    in the Hugging Face cache (and cannot be downloaded, e.g. with ``HF_HUB_OFFLINE=1``).
    """
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
