"""Turning prompts and image stems into short, unique, portable file-name parts."""

import hashlib
import re
import unicodedata

MAX_SLUG_CHARS = 48  # of the readable part of a prompt's file-name slug
MAX_STEM_BYTES = 120  # of an image stem in output file names (names stay far below the usual 255-byte limit)

# characters that break a line-oriented output (a log line, a console line, a file listing) or reorder what is shown:
# C0 and C1 controls (newline, tab, carriage return, escape, DEL, ...), the line and paragraph separators, and the
# bidirectional formatting marks and overrides (a name shown reversed)
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def shown(text) -> str:
    """``text`` for a line of output: each :data:`CONTROL` character escaped (``a\\nb.jpg`` for a name holding a
    newline, ``\\x1b`` for an escape, ``\\u202e`` for a right-to-left override), so that one message is one line
    and a file name cannot move the cursor, colour a terminal or reverse what follows; a byte of a file name that is
    not UTF-8 (a lone surrogate, ``\udce9``) is escaped too, as no output can write it. Other text is as it is."""
    def escape(match: re.Match) -> str:
        c = match.group()
        return _ESCAPES.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")

    return CONTROL.sub(escape, str(text))


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
    encoding, ``b"caf\\xe9"``) its readable part, each undecodable byte ``_``, and a hash of its bytes; a stem holding
    :data:`CONTROL` characters (a newline, a tab, an escape) each of them ``_`` and a hash (``"a\\nb"`` ->
    ``a_b-<8 hex>``)."""
    raw = stem.encode("utf-8", "surrogateescape")
    readable = CONTROL.sub("_", raw.decode("utf-8", "replace").replace("\ufffd", "_"))
    if readable == stem and len(raw) <= MAX_STEM_BYTES:
        return stem
    head = readable.encode("utf-8")[:MAX_STEM_BYTES - 9].decode("utf-8", errors="ignore")
    return f"{head}-{_digest(stem)}"


def name_key(stem: str) -> str:
    """``stem`` as a disk that folds names compares it: case aside (``IMG_1``, ``img_1``: one file on Windows and
    macOS) and Unicode normalisation aside (``café`` of one accented letter, or of ``e`` and a combining accent: one
    file on macOS, two on Linux), so that two photos whose output names would be one file there are told apart."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", stem).casefold())
