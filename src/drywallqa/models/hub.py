"""Loading Hugging Face models, processors and tokenizers from a hub id or a local ``save_pretrained`` folder.

Every ``transformers`` backend (CLIPSeg, SAM, the zero-shot detectors and taggers) loads through
:func:`load_hub_or_local`, so a missing download always fails with the same message: how to fetch the
weights on a machine with internet and give the folder in place of the hub id; a local folder that is
not there is named as such. Given the ``model_type`` it needs, it refuses a folder (or hub id) of another
model, which ``from_pretrained`` would load with a warning and random weights.

A hub id on a machine that cannot reach the hub (no internet, a site network that blocks it) is read from the
Hugging Face cache alone (:func:`hub_unreachable`, a probe of 3 seconds to connect, 6 in all): the Hugging Face client would otherwise retry
each file for about half a minute before the same error (the zero-shot pipeline's models took 3 minutes to fail).
"""

from __future__ import annotations

import functools
import json
import os
import socket
import threading
from urllib.parse import urlparse

from ..utils.paths import name_too_long, shortened

HUB_PROBE_TIMEOUT_S = 3.0  # how long the hub may take to accept a connection before it counts as unreachable
# where a proxy is set, the hub is reached through it: a direct connection says nothing, and is not tried
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy")


@functools.lru_cache(maxsize=None)
def hub_unreachable(endpoint: str) -> str | None:
    """Why the Hugging Face hub at ``endpoint`` (``HF_ENDPOINT``, default ``https://huggingface.co``) cannot be
    reached: its host does not resolve, or accepts no connection within :data:`HUB_PROBE_TIMEOUT_S`; None where it
    can. Asked once per process (a command loading several models waits once)."""
    try:
        url = urlparse(endpoint)
        host, port = url.hostname, url.port or (80 if url.scheme == "http" else 443)
    except ValueError:  # a port that is no number, a bracket left open
        host = None
    if not host:
        return None  # not a URL this can judge: the Hugging Face client says what is wrong with it
    answer: list[str | None] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=HUB_PROBE_TIMEOUT_S).close()
            answer.append(None)
        except OSError as exc:
            answer.append(f"{host} cannot be reached: {exc.strerror or exc}")

    # the name lookup before the connection knows no timeout (a resolver that does not answer held every hub load for
    # its own, often 20 s or more): the probe runs aside, and a lookup still going after the wait counts as no answer
    thread = threading.Thread(target=probe, name="drywallqa-hub-probe", daemon=True)
    thread.start()
    thread.join(2 * HUB_PROBE_TIMEOUT_S)
    return answer[0] if answer else f"{host} cannot be reached: no answer within {2 * HUB_PROBE_TIMEOUT_S:g} s"


def offline_reason(name: str) -> str | None:
    """Why ``name``, a hub id, is read from the Hugging Face cache alone: ``HF_HUB_OFFLINE=1`` is set, or the hub
    cannot be reached (:func:`hub_unreachable`, not asked through a proxy); None for a local folder, or to download."""
    if _looks_like_a_path(name):
        return None
    offline = os.environ.get("HF_HUB_OFFLINE", "")
    if offline.upper() in ("1", "ON", "YES", "TRUE"):  # as the Hugging Face client reads it ("true" too)
        return f"HF_HUB_OFFLINE={offline} is set"
    if any(os.environ.get(v) for v in PROXY_VARIABLES):
        return None
    return hub_unreachable(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")


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
    if isinstance(name, (str, os.PathLike)) and name_too_long(name):  # neither a folder nor a hub id: it was said
        # whole, 5,000 characters of it (refine-masks --model-path)
        raise OSError(f"cannot load {what} from {shortened(name)}: no such folder (the name is longer than the file "
                      "system allows)")
    why_offline = offline_reason(name)
    local_only = {"local_files_only": True} if why_offline else {}
    if model_type is not None:
        check_model_type(name, model_type, what, **local_only)
    try:
        return loader.from_pretrained(name, **local_only)
    except (ImportError, MemoryError):  # a package the model needs (sentencepiece, protobuf), or memory: not its files
        raise
    except Exception as exc:  # noqa: BLE001 - besides OSError and ValueError: a weights file cut short or of no format
        # (safetensors' SafetensorError, torch's UnpicklingError), weights of other sizes than config.json says or a
        # config.json that is no object (RuntimeError, TypeError), all tracebacks before
        if _looks_like_a_path(name):
            raise OSError(f"cannot load {what} from {name!r}: "
                          + ("no such folder" if not os.path.exists(name) else
                             f"not a folder written by save_pretrained, or one whose files are damaged ({_why(name, exc)})")
                          ) from exc
        if not isinstance(exc, (OSError, ValueError)):  # found in the cache, but it does not load
            raise OSError(f"cannot load {what} {name!r} from the Hugging Face cache: its files there are damaged "
                          f"({_why(name, exc)}); download it again (`hf download {name} "
                          "--force-download`) or give a save_pretrained folder in its place") from exc
        offline = f" ({why_offline})" if why_offline else ""
        raise OSError(
            f"cannot load {what} {name!r}{offline}: it is neither a local folder nor in the Hugging Face cache. On a "
            f"machine with internet run `hf download {name} --local-dir DIR` (or "
            f"`{loader.__name__}.from_pretrained({name!r}).save_pretrained(DIR)`), bring DIR here and give DIR in "
            f"place of {name!r}."
        ) from exc


MIN_VOCABULARY = 10  # tokens besides the special ones: real tokenizers have tens of thousands, a test one dozens


def check_tokenizer(tokenizer, source: str, what: str, files: str, tower: str, vocab_size: int | None = None) -> None:
    """``ValueError`` when ``tokenizer`` (of the hub id or folder ``source``) cannot tell prompts apart or is another
    model's. ``transformers`` builds an empty tokenizer (its special tokens alone) from a folder without the tokenizer
    ``files``, and with it every prompt reads the same: fewer than :data:`MIN_VOCABULARY` tokens besides the special
    ones are refused; with ``vocab_size`` (of the text ``tower``), so is a tokenizer whose ids go past it."""
    words = len(set(tokenizer.get_vocab()) - set(tokenizer.all_special_tokens))
    if words < MIN_VOCABULARY:
        raise ValueError(f"cannot load {what} from {source!r}: its vocabulary holds {words} tokens besides its special "
                         f"ones, so every prompt would read the same; its tokenizer files ({files}) are missing or damaged")
    if vocab_size is not None and len(tokenizer) > vocab_size:
        raise ValueError(f"cannot load {what} from {source!r}: it has {len(tokenizer)} tokens and the {tower} "
                         f"{vocab_size}: the tokenizer of another model")


def check_prompt_lengths(tokenizer, queries: dict, limit, model: str) -> None:
    """ValueError naming the first prompt whose query (``queries``: prompt -> the text the model is given) is more
    tokens than the model's text encoder reads (``limit``; none checked without one): every photo failed with an error
    of tensor sizes (the detectors' RuntimeError; CLIPSeg's ValueError named no prompt)."""
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        return
    for prompt, query in queries.items():
        n = len(tokenizer(query)["input_ids"])
        if n > limit:
            shown = prompt if len(prompt) <= 60 else prompt[:57] + "..."
            raise ValueError(f"the prompt {shown!r} is {n} tokens long to {model}, whose text encoder reads at most "
                             f"{limit}: shorten it")


def _why(name: str, exc: BaseException, limit: int = 300) -> str:
    """What ``from_pretrained(name)`` failed on, in one line of at most ``limit`` characters."""
    if _looks_like_a_path(name) and os.path.isfile(name):
        return "it is a file, not a folder"
    if _looks_like_a_path(name) and os.path.isdir(name) and not os.path.isfile(os.path.join(name, "config.json")):
        return "it holds no config.json"  # a model class then builds its default config, and the weights do not fit it
    text = " ".join(str(exc).split())
    if "mismatched_sizes" in text:  # transformers' own words point at a report it logged, and at an option of its own
        return "its weights are of other sizes than its config.json says"
    text = f"{type(exc).__name__}: {text}"
    return text if len(text) <= limit else text[:limit] + "..."


def weights_stamp(name: str) -> list:
    """The weight files of the model ``name`` (a ``save_pretrained`` folder, or a hub id's snapshot in the Hugging Face
    cache), each named with a digest of its bytes: what tells its weights from others written in their place (a job
    run again reused masks made with the weights before); ``[]`` where none is found (a hub id not cached)."""
    from pathlib import Path

    from ..utils.stamps import WEIGHT_SUFFIXES, file_digest

    folder = os.path.expanduser(name) if _looks_like_a_path(name) else None
    if folder is None:
        try:
            from huggingface_hub import try_to_load_from_cache

            found = try_to_load_from_cache(name, "config.json")
            folder = os.path.dirname(found) if isinstance(found, str) else None
        except Exception:  # noqa: BLE001 - an id the client refuses (its own HFValidationError): nothing cached
            folder = None
    try:
        files = sorted(f for f in Path(folder).iterdir() if f.suffix in WEIGHT_SUFFIXES) if folder else []
    except OSError:  # gone, or a file: loading it says why
        return []
    return [[f.name, file_digest(f)] for f in files]


def _looks_like_a_path(name: str) -> bool:
    """A local folder meant, not a hub id (``owner/name``): absolute, ``./``-relative, more than one ``/``, or there."""
    return (os.path.isabs(name) or name.startswith(("./", "../", "~")) or name.count("/") > 1 or os.sep != "/" and
            os.sep in name or os.path.exists(name))


def check_model_type(name: str, needed: str, what: str, local_files_only: bool = False) -> None:
    """``ValueError`` naming ``name``, the model type its ``config.json`` holds and the one ``needed`` when they
    differ, or when ``name`` is a drywallqa model folder (loaded by ``Segmenter.load`` / ``init_from``, not as
    Hugging Face weights). Nothing when the config cannot be read or names no type: the loader then says why.
    """
    found = _hub_config(name, local_files_only)
    if not isinstance(found, dict) or not isinstance(found.get("model_type"), str):
        return
    kind = found["model_type"]
    if isinstance(found.get("config"), dict) and "transformers_version" not in found:  # drywallqa's save_pretrained
        raise ValueError(
            f"cannot load {what} from {name!r}: it is a drywallqa model folder (model_type {kind!r}), not a Hugging "
            f"Face save_pretrained folder of a {needed!r} model: give it as the model path itself (without --model) "
            "to predict or evaluate, or as init_from to train from it")
    if kind != needed:
        raise ValueError(f"cannot load {what} from {name!r}: its config.json is of model type {kind!r}, and {what} "
                         f"needs a model of type {needed!r} (a folder or hub id of another model: its weights would not be used)")


def _hub_config(name: str, local_files_only: bool = False) -> dict | None:
    """The ``config.json`` of a local folder or of a hub id (from the cache, or downloaded unless
    ``local_files_only``); None if unreadable."""
    if _looks_like_a_path(name):
        path = os.path.join(os.path.expanduser(name), "config.json")
        try:
            with open(path, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return None
    try:
        from transformers import PretrainedConfig

        return PretrainedConfig.get_config_dict(name, local_files_only=local_files_only)[0]
    except Exception:  # noqa: BLE001 - not cached offline, no network, a bad id: from_pretrained says why
        return None
