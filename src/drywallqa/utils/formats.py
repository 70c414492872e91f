"""Values written so that what reads them gets them back: standard JSON with no NaN (:func:`strict_json`), and CSV
text cells a spreadsheet would run as a formula made plain text (:func:`spreadsheet_cell`; :func:`cell_text` reads
one back)."""

from __future__ import annotations

import json
import math
import os


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a text cell starting so a spreadsheet runs as a formula


def spreadsheet_cell(value):
    """A text cell a spreadsheet would run as a formula (``=cmd|' /C calc'!A0``, ``-x``), made plain text (an apostrophe
    first); other cells (numbers too) as they are."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def cell_text(value: str) -> str:
    """A text cell of a table :func:`~drywallqa.utils.files.write_csv_atomic` wrote, as it was before
    :func:`spreadsheet_cell` guarded it (``'-x`` -> ``-x``): for the tools that read such a table back (a dataset
    ``-x`` of per_image.csv matched no name)."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_START) else value


def strict_json(obj, indent: int | None = 2, round_trip: bool = False) -> str:
    """``obj`` as standard JSON: NaN and infinities (an AUROC with one class, a correlation of constants) become
    ``null``, which every parser reads (``NaN`` is not JSON: JavaScript's ``JSON.parse`` throws on it); a numpy or
    torch number is written as the number, a path as its text. Any other value JSON cannot hold is written as its text
    (a report is read, not built from), or with ``round_trip`` refused: a model's ``config.json`` is read back to build
    the model, and a value that comes back as another (a date, a set, an object as its text) builds another model or
    none.

    Raises:
        ValueError: with ``round_trip``, naming the key path of such a value (``config.encoder_options.when``), or of
        a mapping with a key JSON cannot write (a tuple: a TypeError of json's without it).
    """
    def refused(where: str, what: str):
        return ValueError(f"{where or 'the value'}: {what} cannot be written as JSON and read back as itself; give a "
                          "number, text, true/false, null, a list or a mapping with text keys")

    def clean(value, where: str = ""):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            if round_trip and (keys := [k for k in value if not isinstance(k, (str, int, float)) and k is not None]):
                raise refused(where, f"the key {keys[0]!r} ({type(keys[0]).__name__})")  # (a number key: as its text,
                # which Hugging Face configs read back as the number: id2label)
            return {k: clean(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if value is None or isinstance(value, (str, int, float)):  # (True and False are ints)
            return value
        if hasattr(value, "item"):  # a numpy or torch number (an array of several raises, as it did)
            try:
                return clean(value.item(), where)
            except (ValueError, RuntimeError):
                if round_trip:
                    raise refused(where, f"{type(value).__name__} of shape {tuple(getattr(value, 'shape', ()))}") \
                        from None
                raise
        if isinstance(value, os.PathLike):
            return str(value)
        if round_trip:
            raise refused(where, f"{type(value).__name__} {str(value)[:80]!r}")
        return str(value)

    return json.dumps(clean(obj), indent=indent, allow_nan=False)
