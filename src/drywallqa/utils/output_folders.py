"""A job's output folder (``drywallqa predict``, ``drywallqa zeroshot``): the files a job writes there, the marker
that says so, and telling them from a user's photos."""

from __future__ import annotations

import json
from pathlib import Path

from .files import write_text_atomic


BATCH_RESULTS = "results.json"  # what a batch job (drywallqa predict) leaves in its output folder
ZEROSHOT_REPORT = "report.json"  # what a zero-shot job (drywallqa zeroshot) leaves in its output folder
ZEROSHOT_JOB = ".zeroshot_job.json"  # the zero-shot job writing into an output folder, written before its photos
REPORT_FILES = "report_files"  # the folder of report.html's thumbnails, in an output folder
OUTPUT_MARKER = ".drywallqa-output"  # written into an output folder when a job starts: its files are no photos
# files a job writes besides ``<stem>__<...>`` ones (masks, records, overlays, anomaly maps)
OUTPUT_FILES = (BATCH_RESULTS, "results.csv", "report.html", "report.json", "predictions.coco.json", "overlay_grid.png",
                OUTPUT_MARKER)


def json_object(path: str | Path) -> dict | None:
    """The JSON object ``path`` holds, or None (none there, not a regular file, not JSON, not an object): how a job's
    ``results.json`` or a photo's record is read to learn whose it is."""
    path = Path(path)
    try:
        if not path.is_file():  # a named pipe so named blocked the read for good (find_images, predict hung)
            return None
        with path.open("rb") as f:  # no object: not parsed whole (a labelling tool's 50 MB array: 4 s, 700 MB)
            head = f.read(4096)
            if not head.lstrip().startswith(b"{"):
                return None
            data = json.loads(head + f.read())
    except (OSError, ValueError, RecursionError):  # (a NUL in the name, bytes that are no text, nested too deep)
        return None
    return data if isinstance(data, dict) else None


def is_batch_results(path: str | Path) -> bool:
    """Whether ``path`` is a batch job's ``results.json``: a JSON object with its ``prompts`` and ``images`` lists, as
    every version wrote it (not another program's file of that name: a labelling tool's)."""
    data = json_object(path)
    return data is not None and isinstance(data.get("prompts"), list) and isinstance(data.get("images"), list)


def is_image_record(path: str | Path) -> bool:
    """Whether ``path`` is a photo's record a batch job wrote (``<stem>__results.json``): a JSON object naming its
    photo (``image``, a text) with its size and its ``prompts`` (an object), as every version wrote it (not a user's
    file that is so named: ``scan__results.json`` of another tool)."""
    data = json_object(path)
    return (data is not None and isinstance(data.get("image"), str) and isinstance(data.get("prompts"), dict)
            and "height" in data and "width" in data)


def is_output_folder(folder: str | Path) -> bool:
    """Whether ``folder`` holds what a drywallqa job writes: its marker (every job since 0.5.1 writes it as it
    starts), a batch job's ``results.json`` or a photo's record (``<stem>__results.json``, left by a job killed before
    its ``results.json``) of a job older than the marker or whose marker was lost (a copy without hidden files). Files
    so named are read: a user's ``results.json`` or ``scan__results.json`` of another program does not make a folder of
    photos an output folder (whose files no job wrote would be written over, or not read as photos)."""
    folder = Path(folder)
    return ((folder / OUTPUT_MARKER).is_file() or is_batch_results(folder / BATCH_RESULTS)
            or any(is_image_record(p) for p in folder.glob("*__results.json")))


def is_output_file(name: str) -> bool:
    """Whether a file of an output folder (:func:`is_output_folder`) is one a job wrote: ``<stem>__<...>.png`` or
    ``.json`` (a mask, record, overlay or anomaly map), one of :data:`OUTPUT_FILES`, the report's thumbnails
    (:data:`REPORT_FILES`) or a hidden one (its lock and temporary files); anything else there is the user's (a photo
    ``wall__01.jpg``: no job writes a JPEG so named)."""
    return (name in OUTPUT_FILES or name == REPORT_FILES or name.startswith(".")
            or ("__" in Path(name).stem and Path(name).suffix in (".png", ".json")))


def mark_output_folder(folder: str | Path) -> None:
    """Mark ``folder`` as a job's output folder (:data:`OUTPUT_MARKER`), so that no later job reads its files as
    photos, even when this one is killed before it writes anything else."""
    marker = Path(folder) / OUTPUT_MARKER
    if not marker.exists():  # a link to nowhere in its place (an output folder copied with its links) is replaced:
        # written through, it was a FileNotFoundError traceback of every job into the folder
        write_text_atomic("written by drywallqa: the files named <stem>__... here are outputs, not photos\n", marker)
