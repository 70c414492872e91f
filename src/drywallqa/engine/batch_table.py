"""``results.csv``: a batch job's QA measures as one spreadsheet table, for the people who write the QA report.

One row per photo and prompt, from ``results.json`` (so it covers photos an interrupted earlier run finished, and jobs
run on Ray): the mask file, its confidence, whether the prompt was answered, the QA measures in pixels (and in mm with
``--mm-per-px``), the number of joints, the photo's broken QA rules, and how it was read otherwise than the file
holds (its first frame only, a damaged EXIF block ignored, 16-bit colour read as 8 bits). A photo that failed, or that an interrupted
job did not reach, is a row of its own with the reason and no measures: nothing is left out of the table silently.

The file is UTF-8 with a byte-order mark (Excel reads it as UTF-8 only then; a file name that is no UTF-8 is written
as the bytes of its name, as in ``report.html``); a text cell that a spreadsheet would run as a formula (a photo named
``=HYPERLINK(...).jpg``) starts with an apostrophe.
"""

from __future__ import annotations

from pathlib import Path

from ..rules import emptied_below, limits_of, reads_as_judged
from ..measures import MM_MEASURES, PX_MEASURES
from ..utils.files import write_atomic
from ..utils.formats import spreadsheet_cell
from .batch_results import read_batch_results

TABLE_FILE = "results.csv"


def table_rows(results: dict) -> tuple[list[str], list[dict]]:
    """``(columns, rows)`` of the table of a ``results.json`` (see the module doc)."""
    images = results.get("images", [])
    in_mm = any(key in m for e in images for m in e["prompts"].values() for key in MM_MEASURES)
    columns = ["image", "prompt", "status", "mask", "confidence", "answered", "concept", *PX_MEASURES,
               *(MM_MEASURES if in_mm else ()), "joints", "flags", "warnings"]
    rules = results.get("rules", [])  # the numbers each measure is held to: its value never rounded onto one
    held = {p: {key: limits_of(rules, p, key) for key in (*PX_MEASURES, *MM_MEASURES)} for p in results.get("prompts", [])}
    rows = []
    for e in images:
        flags = e.get("flags")  # (a hand-edited results.json's: one as a text, not its letters; no list, none)
        flags = "; ".join(map(str, flags if isinstance(flags, list) else [flags] if isinstance(flags, str) else []))
        read_as = "; ".join(map(str, e.get("warnings", [])))  # how the photo was read (its first frame only, ...)
        for prompt, m in e["prompts"].items():
            concept = m.get("concept") or {}
            below = emptied_below(m)  # as the rules read it (a hand-edited true: not emptied)
            row = {"image": e["image"], "prompt": prompt, "status": "done", "mask": m.get("mask", ""),
                   "confidence": _number(m.get("confidence"), () if below is None else [below]),
                   "answered": _answered(concept, below), "concept": concept.get("concept", "") if _known(concept) else "",
                   "joints": len(m["joints"]) if "joints" in m else "",
                   "flags": flags, "warnings": read_as}
            row.update({key: _number(m.get(key), held.get(prompt, {}).get(key, ())) for key in (*PX_MEASURES, *MM_MEASURES)})
            rows.append(row)
    for path, why in results.get("failed", []):
        rows.append({"image": path, "status": str(why)})
    return columns, [{key: spreadsheet_cell(row.get(key, "")) for key in columns} for row in rows]


def write_batch_table(out_dir: str | Path) -> Path:
    """Write ``out_dir/results.csv`` from ``out_dir/results.json`` (whole or not at all); returns its path.

    Raises:
        FileNotFoundError: ``out_dir`` holds no ``results.json`` (no batch job wrote there).
        ValueError: its ``results.json`` is no batch job's (cut short, damaged), naming it.
    """
    import csv

    out = Path(out_dir)
    columns, rows = table_rows(read_batch_results(out))

    def write(tmp: Path) -> None:
        # a file name that is no UTF-8 (its bytes kept as lone surrogates) as those bytes, as it is on disk
        with open(tmp, "w", newline="", encoding="utf-8-sig", errors="surrogateescape") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)

    return write_atomic(out / TABLE_FILE, write)


def _known(concept: dict) -> bool:
    return concept.get("known", True)


def _answered(concept: dict, emptied_below: float | None = None) -> str:
    """Whether the prompt was answered (its mask made), as the prompt gate judged it ("" for a model without one), and
    whether --min-confidence emptied its mask (a mask scored lower than it: not "nothing found")."""
    if concept and not _known(concept):
        return f"no: not a thing this model knows (nearest: {concept.get('concept', '?')})"
    if emptied_below is not None:
        return f"no: mask emptied, its confidence below --min-confidence {emptied_below:g}"
    return "yes" if concept else ""


def _number(value, limits=()):
    """A measure as the table shows it: at most 6 significant digits (a spreadsheet needs no more), "" where none; more
    where a QA rule's limit (``limits``) would read as crossed otherwise: 0.3000004 mm beside a broken
    "max_width_mm > 0.3" read 0.3."""
    if value is None:
        return ""
    if isinstance(value, int):
        return value
    for digits in range(6, 18):
        if reads_as_judged(shown := float(f"{value:.{digits}g}"), value, limits):
            return shown
    return value
