"""Turning prompts and image stems into short, unique, portable file-name parts."""

import hashlib
import re

MAX_SLUG_CHARS = 48  # of the readable part of a prompt's file-name slug
MAX_STEM_BYTES = 120  # of an image stem in output file names (names stay far below the usual 255-byte limit)


def slugify(prompt: str) -> str:
    """``"segment joint/tape"`` -> ``"segment_joint_tape"``: lower-case, runs of non ``[a-z0-9]`` -> ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", prompt.lower()).strip("_")


def _digest(text: str) -> str:
    # surrogateescape: a file name that is no UTF-8 (its bytes kept as lone surrogates by the file system decoding)
    return hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()[:8]


def prompt_slug(prompt: str, taken: tuple = ()) -> str:
    """A prompt's part of output file names: unique per prompt text, short, ASCII.

    A prompt of lower-case words and digits separated by single spaces is its own slug
    (``"segment crack"`` -> ``"segment_crack"``); any other text gets a readable part and a hash of the
    whole text (``"segment-crack"`` -> ``"segment_crack-<8 hex>"``, ``"裂缝"`` -> ``"prompt-<8 hex>"``), so
    two prompts never share a file and any text a person types makes a valid name. So does a prompt whose own
    slug is in ``taken``, the names of the other files a job writes per photo (``"overlay"`` ->
    ``"overlay-<8 hex>"`` where ``<stem>__overlay.png`` is the overlay strip).
    """
    slug = slugify(prompt)
    if slug and slug.replace("_", " ") == prompt and len(slug) <= MAX_SLUG_CHARS and slug not in taken:
        return slug
    return f"{slug[:MAX_SLUG_CHARS].rstrip('_') or 'prompt'}-{_digest(prompt)}"


def file_stem(stem: str) -> str:
    """An image stem as it appears in output names: itself, or when longer than ``MAX_STEM_BYTES`` bytes
    of UTF-8 its start and a hash of the whole; a stem that is no UTF-8 (a photo named by bytes of another
    encoding, ``b"caf\\xe9"``) its readable part, each undecodable byte ``_``, and a hash of its bytes."""
    raw = stem.encode("utf-8", "surrogateescape")
    readable = raw.decode("utf-8", "replace").replace("\ufffd", "_")
    if readable == stem and len(raw) <= MAX_STEM_BYTES:
        return stem
    head = readable.encode("utf-8")[:MAX_STEM_BYTES - 9].decode("utf-8", errors="ignore")
    return f"{head}-{_digest(stem)}"
