"""A job's output folder (``drywallqa predict``, ``drywallqa zeroshot``): the files a job writes there, the marker
that says so, and telling them from a user's photos."""

from __future__ import annotations

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


def is_output_folder(folder: str | Path) -> bool:
    """Whether ``folder`` holds what a drywallqa job writes: its marker, a ``results.json``, or an image record
    (``<stem>__results.json``, left by a job killed before its ``results.json``)."""
    folder = Path(folder)
    return (folder / OUTPUT_MARKER).is_file() or (folder / BATCH_RESULTS).is_file() or \
        next(folder.glob("*__results.json"), None) is not None


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
