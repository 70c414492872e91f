"""A batch job's ``results.json`` read back (:func:`read_batch_results`), each photo's entry checked as a batch job
writes it (:func:`batch_entry_problem`): what ``report.html``, ``results.csv`` and the COCO file are written from."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ..measures import MM_MEASURES, PX_MEASURES
from ..utils.checks import finite_number
from ..utils.output_folders import BATCH_RESULTS
from ..utils.paths import why_not

logger = logging.getLogger(__name__)

NOT_READABLE = "not readable in results.json"  # the reason listed (under ``failed``) for an entry that is not


def read_batch_results(out_dir: str | Path) -> dict:
    """The ``results.json`` a batch job wrote to ``out_dir``, each photo's entry as a batch job writes it: an entry
    that is not (edited by hand or by another program: ``"confidence": "high"``, a measure null or taken out, a prompt's
    results that are no object, ``warnings`` that are no list; :func:`batch_entry_problem`), and an item of ``failed``
    that is no ``[photo, reason]`` pair, is listed under ``failed`` as ``[photo, "not readable in results.json: WHY"]``
    (the field, and what it should hold) and logged as a warning, so that the report, the table and the COCO file
    name it (they read every entry as a job writes it: such an entry failed them with a traceback).

    Raises:
        FileNotFoundError: ``out_dir`` holds none (no batch job wrote there).
        ValueError: the one there is no batch job's results (cut short by a copy, damaged, another file of that name,
            a prompt that is no text), naming it (it was a JSONDecodeError naming no file, or a TypeError).
    """
    out = Path(out_dir)
    path = out / BATCH_RESULTS
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {why_not(path, folder=False)}; run `drywallqa predict ... --out {out}` first")
    again = f"run the same `drywallqa predict ... --out {out}` command again to write it again (the photos done are skipped)"
    try:
        results = json.loads(path.read_bytes())
    except (ValueError, RecursionError) as exc:  # (a JSONDecodeError, bytes that are no text)
        raise ValueError(f"{path} is no batch job's results, not JSON: {exc}; {again}") from None
    if not (isinstance(results, dict) and isinstance(results.get("prompts"), list)
            and isinstance(results.get("images"), list) and isinstance(results.get("failed", []), list)):
        raise ValueError(f"{path} is no batch job's results: not an object with 'prompts' and 'images' lists (and "
                         f"'failed' a list); {again}")
    for p in results["prompts"]:
        if not isinstance(p, str):
            raise ValueError(f"{path} is no batch job's results: its prompt {_json_text(p)} is no text; {again}")
    images, failed, unreadable = [], [], []
    for k, entry in enumerate(results["images"], 1):
        why = batch_entry_problem(entry, results["prompts"])
        if why is None:
            images.append(entry)
        else:
            image = entry.get("image") if isinstance(entry, dict) else None
            image = image if isinstance(image, str) and image else f"photo {k} of 'images'"
            logger.warning("%s: the results of %s are not readable (%s): listed as not readable", path, image, why)
            unreadable.append([image, f"{NOT_READABLE}: {why}"])
    for k, item in enumerate(results.get("failed", []), 1):
        if isinstance(item, list) and len(item) == 2 and all(isinstance(v, str) for v in item):
            failed.append(item)
        else:
            first = item[0] if isinstance(item, list) and item else None
            why = f"its item {k} of 'failed' is {_json_text(item)}, not a [photo, reason] pair"
            logger.warning("%s: %s: listed as not readable", path, why)
            name = first if isinstance(first, str) and first else f"item {k} of 'failed'"
            unreadable.append([name, f"{NOT_READABLE}: {why}"])
    return {**results, "images": images, "failed": failed + unreadable}


def _json_text(value, limit: int = 80) -> str:
    """``value`` as results.json holds it (``"high"``, ``null``), cut to ``limit`` characters, for a message."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def batch_entry_problem(entry, prompts=()) -> str | None:
    """What one photo's entry of ``results.json`` lacks of what a batch job writes there and the report, the table,
    the rules and the COCO export read: the field and what it should hold (``'segment crack': 'confidence' is "high",
    not a number or null``), or None. ``prompts``: the job's, each of which the entry must hold."""
    if not isinstance(entry, dict):
        return f"{_json_text(entry)}, not an object of a photo's results"
    image = entry.get("image")
    if not isinstance(image, str) or not image or "\0" in image:
        return f"'image' is {_json_text(image)}, not the photo's path (a text)" if "image" in entry else \
            "it has no 'image' (the photo's path)"
    for key in ("height", "width"):  # (the report and the table do without them; the COCO export names it)
        if key in entry and not (isinstance(entry[key], int) and not isinstance(entry[key], bool) and entry[key] > 0):
            return f"'{key}' is {_json_text(entry.get(key))}, not the photo's {key} in pixels (a whole number)"
    warnings = entry.get("warnings", [])
    if not (isinstance(warnings, list) and all(isinstance(w, str) for w in warnings)):
        return f"'warnings' is {_json_text(warnings)}, not a list of texts"
    masks = entry.get("prompts")
    if not isinstance(masks, dict):
        return f"'prompts' is {_json_text(masks)}, not an object of each prompt's mask and measures"
    for p in prompts:
        if p not in masks:
            return f"'prompts' has no {_json_text(p)}, a prompt of the job"
    for p, m in masks.items():
        where = _json_text(p)
        if not isinstance(m, dict):
            return f"{where} is {_json_text(m)}, not an object of its mask and measures"
        name = m.get("mask")
        if not (isinstance(name, str) and "\0" not in name and name not in ("", ".", "..") and Path(name).name == name):
            return f"{where}: 'mask' is {_json_text(name)}, not the name of a mask file in the output folder"
        scaled = any(key in m for key in MM_MEASURES)  # with a scale: all of them
        for key in (*PX_MEASURES, *(MM_MEASURES if scaled else ())):
            if not finite_number(m.get(key)):
                return (f"{where}: '{key}' is {_json_text(m[key])}, not a number" if key in m else
                        f"{where}: it has no '{key}' (a number{', as its other measures in mm' if key in MM_MEASURES else ''})")
        if m.get("confidence") is not None and not finite_number(m["confidence"]):
            return f"{where}: 'confidence' is {_json_text(m['confidence'])}, not a number or null"
        if "emptied_below" in m and not finite_number(m["emptied_below"]):
            return f"{where}: 'emptied_below' is {_json_text(m['emptied_below'])}, not a number (the --min-confidence)"
        if m.get("concept") is not None and not isinstance(m["concept"], dict):
            return f"{where}: 'concept' is {_json_text(m['concept'])}, not an object (what the prompt gate said)"
        joints = m.get("joints", [])
        if not (isinstance(joints, list) and all(isinstance(j, dict) for j in joints)):
            return f"{where}: 'joints' is {_json_text(joints)}, not a list of objects (one per taped joint)"
    return None
