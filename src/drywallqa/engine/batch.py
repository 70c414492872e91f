"""Batch prediction over files and folders: masks named ``<stem>__<prompt slug>.png``, failures reported.

Every input gets an answer: an image is done, skipped (done by an earlier run) or failed with its reason
(whatever went wrong with that one file, the batch goes on), and every other file met in a folder is
listed as ignored with its reason. File names come from :func:`~drywallqa.utils.slug.prompt_slug`, unique
per prompt text whatever it holds.

Every file is written atomically (temporary name, then rename) and each image's record
``<stem>__results.json`` last, so a rerun after an interruption (even ``kill -9``) skips exactly the
images that are complete and redoes the rest. Executors: ``local`` (:func:`predict_paths`: ``workers`` threads
sharing one model) and ``ray`` (:func:`~drywallqa.engine.batch_ray.predict_paths_ray`: Ray Data ``map_batches``
over an actor pool, each actor holding a model; a photo that kills its actor's process is named failed, the others
still done). Both plan a job (:func:`plan_job`), segment each photo (:func:`process_image`) and write its report
(:func:`finish_job`) the same way, so a folder predicted by one is resumed by the other.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import numbers
import os
import time
import uuid
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from filelock import FileLock
from PIL import Image

from ..measures import MEASURES_VERSION, MM_MEASURES, PX_MEASURES, validate_mm_per_px
from ..rules import flags, parse_rules
from ..utils.checks import finite_number, flag, whole_number
from ..utils.files import (STORAGE_ERRNOS, remove_stale_temp_dirs, remove_stale_temporaries, write_atomic,
                           write_text_atomic)
from ..utils.formats import strict_json
from ..utils.image_io import (DEFAULT_MAX_PIXELS, ImageReadError, find_images, open_image, photo_pixels, read_image,
                              read_mask)
from ..utils.output_folders import (BATCH_RESULTS, REPORT_FILES, ZEROSHOT_JOB, ZEROSHOT_REPORT, is_output_folder,
                                    json_object, mark_output_folder)
from ..utils.paths import check_links, why_not
from ..utils.progress import progress_bar
from ..utils.slug import file_stem, name_key, prompt_slug, shown
from ..utils.stamps import file_stamp
from ..viz import draw_joints, grid, overlay, prompt_colors
from .segmenter import Segmenter, prompt_record, validate_prompts, validate_threshold
from .tiling import tiling_facts

logger = logging.getLogger(__name__)


@dataclass
class BatchSummary:
    """What a batch job (:func:`predict_paths`) did: the photos ``done`` (paths), ``skipped`` (done by an earlier run),
    ``failed`` and ``ignored`` (``(path, reason)`` pairs), ``results`` (each photo's entry of ``results.json``) and
    the job's ``warnings``; :attr:`ok` where none failed. ``remeasured``: ``(path, why)`` of the photos skipped whose
    masks were measured again (:func:`remeasured`: an older version's QA measures, masks changed since their records)."""

    done: list = field(default_factory=list)
    skipped: list = field(default_factory=list)  # already done by an earlier run
    failed: list = field(default_factory=list)  # (path, reason)
    ignored: list = field(default_factory=list)  # (path, reason): files in the folders given that are not images
    results: list = field(default_factory=list)  # per image: masks and QA measures per prompt
    warnings: list = field(default_factory=list)  # e.g. prompts the model does not know (their masks are empty)
    remeasured: list = field(default_factory=list)  # (path, why): skipped, their masks measured again

    @property
    def ok(self) -> bool:
        return not self.failed

    def __repr__(self) -> str:
        """Counts, not the lists (the dataclass's printed every photo's whole results.json entry, ~750 characters a
        photo, in a notebook); how many skipped were measured again where any was; the first failure's reason where
        one failed."""
        first = f", first_failure={tuple(map(str, self.failed[0]))!r}" if self.failed else ""
        again = f", remeasured={len(self.remeasured)}" if self.remeasured else ""
        return (f"{type(self).__name__}(done={len(self.done)}, skipped={len(self.skipped)}{again}, "
                f"failed={len(self.failed)}, ignored={len(self.ignored)}, results={len(self.results)}, "
                f"warnings={len(self.warnings)}{first})")


# the reason given for each photo a stopped job did not reach
NOT_DONE = "not done:"  # how a job names a photo it did not reach (interrupted, its Ray job stopped)
INTERRUPTED = f"{NOT_DONE} the job was interrupted (Ctrl-C or SIGTERM); run it again to finish it"


def disk_stopped(exc: OSError) -> str:
    """How a job names the photos it did not reach once the disk could not take a photo's outputs."""
    return (f"{NOT_DONE} the job stopped as the disk could not take its outputs ({describe_error(exc)}); free some "
            "space and run it again")


class JobInterrupted(KeyboardInterrupt):
    """Ctrl-C during a batch job, once ``results.json`` is written for what it did: ``summary`` holds the photos done
    and names each other one not done (:data:`INTERRUPTED`); running the same job again segments the rest."""

    def __init__(self, summary: BatchSummary):
        super().__init__("the batch job was interrupted; results.json lists the photos done")
        self.summary = summary


GRID_ROWS = 12  # images in overlay_grid.png

INFLIGHT_PREFIX = ".inflight-"  # a Ray job's folder in --out of markers: the photos its actors are segmenting

RESULTS_LOCK = ".results.lock"  # held while one image's files are written (two jobs may share a folder)


@dataclass(frozen=True)
class BatchOptions:
    prompts: tuple
    out_dir: str
    overlay_images: bool = False
    threshold: float | None = None
    mm_per_px: float | None = None
    rules: tuple = ()  # drywallqa.rules.Rule: photos breaking one are flagged in results.json
    max_pixels: int | None = DEFAULT_MAX_PIXELS  # larger images fail (decompression bombs, memory)
    settings: str = ""  # a key of the model and its settings: a record made under others is not reused
    overwrite: bool = False  # redo finished images, and replace other jobs' results of the same image (record_conflict)
    # the key 0.6.10 gave the same settings, before the weights were part of it: its records are reused as it reused them
    earlier_settings: str = ""
    job: str = field(default_factory=lambda: uuid.uuid4().hex)  # this job, in each record it writes (--overwrite resumes)
    # how the model cut photos into tiles (tiling_facts: tile, overlap, enlarge, scales), None: whole; results.json's
    # 'tiling' (``settings`` is a hash of it among the rest: --enlarge-tiles was readable only from a warning)
    tiling: dict | None = None
    # --names-from-folders: the common input folder, outputs named by each photo's path below it (folder_stem); None:
    # by the photo's file stem
    names_root: str | None = None

    @property
    def accepted_settings(self) -> tuple:
        return (self.settings, self.earlier_settings) if self.earlier_settings else (self.settings,)

    def named(self, path) -> Path:
        """``path`` as this job names its outputs (:func:`by_folder`)."""
        return by_folder(path, self.names_root)


OVERLAY = "overlay"  # <stem>__overlay.png: an image's overlay strip (overlay_name)

NAMES_FOLDERS = "folders"  # results.json's "names" (and each photo's record's) of a job that named outputs by folder
# (absent: by the file stem)
FOLDER_JOINER = "-"  # between the folders and the stem of a photo's output name (day1/IMG_1.jpg: day1-IMG_1)


class _NamedPath(type(Path())):
    """A photo's path that carries the stem its outputs are named by (:func:`named_path`); paths made from it
    (``parent``, ``resolve()``) carry none."""

    out_stem = None

    def __reduce__(self):  # (pickled: a Ray task's) the stem kept
        return named_path, (str(self), self.out_stem)


def named_path(path, stem: str | None = None) -> Path:
    """``path`` as a Path whose outputs are named by ``stem`` (:func:`out_stem`); None: by its file stem."""
    if stem is None:
        return Path(path)
    named = _NamedPath(path)
    named.out_stem = stem
    return named


def out_stem(path) -> str:
    """The photo's part of its output names: the stem its path carries (:func:`named_path`), else
    :func:`~drywallqa.utils.slug.file_stem` of its file stem."""
    return getattr(path, "out_stem", None) or file_stem(Path(path).stem)


def names_root(paths, names_from_folders: bool = False, out_dir=None) -> str | None:
    """The common input folder of a job named by folder (``--names-from-folders``), its photos named by their path
    below it (:func:`folder_stem`): the deepest folder holding every input (a folder given as itself, a file by its
    folder; one not there, which fails, left out), absolute; None for a job named by file stem. Where the output
    folder ``out_dir`` holds a job named by folder whose recorded root (:func:`recorded_root`) holds that folder too
    (``predict photos`` resumed as ``predict photos/a``), that root: its photos keep the names that job gave them
    (counted from ``photos/a``, ``photos/a/sub/IMG_1.jpg`` was ``sub-IMG_1``, not ``a-sub-IMG_1``: predicted again
    under it, the old files left beside)."""
    if not flag(names_from_folders, "names_from_folders"):
        return None
    root = _inputs_root(paths)
    earlier = recorded_root(out_path(out_dir)) if out_dir is not None else None
    try:
        return earlier if earlier is not None and os.path.commonpath([earlier, root]) == earlier else root
    except ValueError:  # (on different drives)
        return root


NAMES_ROOT = "names_root"  # results.json's (and each photo's record's) folder a job named by folder counted names from


def recorded_root(out: Path) -> str | None:
    """The folder the job named by folder whose results ``out`` holds counted its names from (:data:`NAMES_ROOT`): as
    its ``results.json`` says, else (a job stopped before it wrote one) the first of its photos' records that says it
    (at most :data:`RECORDS_READ` read); None where none says (a job by file stem, one before the root was recorded)."""
    def root_of(held) -> str | None:
        root = held.get(NAMES_ROOT) if isinstance(held, dict) and held.get("names") == NAMES_FOLDERS else None
        return root if isinstance(root, str) and os.path.isabs(root) else None

    held = json_object(out / BATCH_RESULTS)
    if held is not None and isinstance(held.get("images"), list) and held["images"]:
        return root_of(held)
    try:
        with os.scandir(out) as found:
            records = [e.name for e in found if e.name.endswith("__results.json")][:RECORDS_READ]
    except OSError:
        return None
    return next(filter(None, (root_of(json_object(out / name)) for name in records)), None)


def _inputs_root(paths) -> str:
    """The deepest folder holding every input of ``paths`` (:func:`names_root`)."""
    folders = []
    for p in input_paths(paths):
        try:
            if not os.path.lexists(p):  # (mistyped, not mounted) it fails, naming nothing: nor moves the others' names
                continue
            folders.append(os.path.abspath(p) if os.path.isdir(p) else os.path.dirname(os.path.abspath(p)))
        except (OSError, ValueError):  # a NUL in a name: that input fails as it is looked at
            continue
    try:
        return os.path.commonpath(folders) if folders else os.getcwd()
    except ValueError:  # (paths on different drives)
        return os.path.abspath(os.sep)


def folder_stem(path, root: str) -> str:
    """A photo's output name under ``--names-from-folders``: its path below ``root`` without the suffix, folders and
    stem joined by :data:`FOLDER_JOINER` (``day1/IMG_1.jpg`` -> ``day1-IMG_1``), a photo right in ``root`` by
    ``root``'s own name (``day1`` given alone: ``day1-IMG_1`` too, as with ``day2`` or their parent folder), through
    :func:`~drywallqa.utils.slug.file_stem` (a long or unprintable name stays a safe one); a photo outside ``root``:
    its file stem."""
    parts = Path(os.path.relpath(os.path.abspath(path), root)).parts
    if not parts or parts[0] == os.pardir:
        return file_stem(Path(path).stem)
    folders = parts[:-1] or tuple(filter(None, [os.path.basename(root)]))
    return file_stem(FOLDER_JOINER.join([*folders, Path(path).stem]))


def by_folder(path, root: str | None) -> Path:
    """``path`` named by its folders below ``root`` (:func:`folder_stem`), or (None) as it is, by its file stem."""
    return named_path(path, folder_stem(path, root)) if root else Path(path)


def entry_stem(entry: dict) -> str:
    """The photo's part of the names of a record's files: as its masks are named (``<stem>__<mask slug>.png``), else
    :func:`~drywallqa.utils.slug.file_stem` of its photo's stem."""
    for p, rec in (entry.get("prompts") or {}).items():
        mask, suffix = rec.get("mask") if isinstance(rec, dict) else None, f"__{mask_slug(p)}.png"
        if isinstance(mask, str) and mask.endswith(suffix) and len(mask) > len(suffix):
            return mask[:-len(suffix)]
    return file_stem(Path(entry["image"]).stem)


def entry_path(entry: dict) -> Path:
    """A record's photo, named as its files are: by the stem its masks are named by (:func:`entry_stem`), whichever
    rule named them (a folder may hold a job's by file stem beside another's by folder: ``--overwrite``)."""
    return named_path(entry["image"], entry_stem(entry))


def mask_slug(prompt: str, taken: tuple = (OVERLAY,)) -> str:
    """A prompt's part of its masks' file names: :func:`~drywallqa.utils.slug.prompt_slug`, hashed where it would be a
    name in ``taken`` that another file of the photo has (the prompt ``overlay``: its overlay strip's, drawn by this
    job or by another into the same folder), so the two never share a file; every other prompt's name is as it was."""
    return prompt_slug(prompt, taken)


def mask_name(image_path: Path, prompt: str, taken: tuple = (OVERLAY,)) -> str:
    """``<stem>__<mask slug>.png`` (:func:`mask_slug`; the stem: :func:`out_stem`)."""
    return f"{out_stem(image_path)}__{mask_slug(prompt, taken)}.png"


def record_name(image_path: Path) -> str:
    """Per-image record, written last: its presence marks the image as completely done."""
    return f"{out_stem(image_path)}__results.json"


def describe_error(exc: BaseException) -> str:
    """One line for a failed file: the message, with the exception's kind where the message is not ours."""
    return str(exc) if isinstance(exc, (ImageReadError, ValueError, OSError)) else f"{type(exc).__name__}: {exc}"


def settings_key(settings: dict) -> str:
    """A short key of what decides a batch's masks besides the image (segmenter settings, threshold, ...)."""
    return hashlib.sha1(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def image_stamp(path: Path) -> list:
    """``[size, mtime_ns]`` of a photo as its record keeps it (``[]`` where there is none:
    :func:`~drywallqa.utils.stamps.file_stamp`)."""
    return list(file_stamp(path) or ())


def entry_is_for(entry: dict, path: Path) -> bool:
    """Whether the record ``entry`` was made from the photo ``path``: it names that file, or it names a file that is
    no longer there and ``path`` has the recorded size and time (the job's folder was moved or mounted elsewhere).
    A record naming another photo that still exists is another photo's."""
    recorded = Path(str(entry.get("image", "")))
    if recorded.resolve() == path.resolve():
        return True
    if recorded.exists():
        return False
    return entry.get("image_stamp") == image_stamp(path)


def _whole_mask(path: Path, entry: dict) -> bool:
    """``path`` is a whole PNG (its chunks all there, checksums right: not cut or damaged since) of the size the
    record gives; read without decoding the pixels."""
    try:
        with open_image(path) as im:
            size = im.size
            im.verify()
    except Exception:  # noqa: BLE001 - any damage means: predict again
        return False
    return size == (entry.get("width"), entry.get("height"))


def _as_recorded(out: Path, entry: dict) -> bool:
    """Whether each mask of the record ``entry`` is the very PNG it wrote (``mask_crc32``, the file's checksum): not
    written over since (a mask corrected by hand), nor a record older than the checksums."""
    try:
        return all(zlib.crc32((out / rec["mask"]).read_bytes()) == rec["mask_crc32"] for rec in entry["prompts"].values())
    except (OSError, KeyError, TypeError, AttributeError, ValueError):  # ValueError: a NUL in a name
        return False


def _has_checksums(entry: dict) -> bool:
    """Whether a record keeps its masks' checksums (written by 0.6.11 or later)."""
    return all(isinstance(rec, dict) and "mask_crc32" in rec for rec in entry.get("prompts", {}).values())


def _current(out: Path, entry: dict) -> bool:
    """A record whose numbers hold for its masks as they are: measured by this version, the masks as it wrote them."""
    return entry.get("measures_version") == MEASURES_VERSION and _as_recorded(out, entry) and not _replacing(entry)


REPLACING = "replacing"  # a record's key while a job writes the photo's masks anew: {prompt: the new mask's CRC-32}


def _replacing(entry) -> dict:
    """The masks a job was writing over this record's when it stopped (:func:`_mark_replacing`; ``{}``: none): a
    record so marked is no photo's results (its masks may be half the one job's, half the other's)."""
    marked = entry.get(REPLACING) if isinstance(entry, dict) else None
    return marked if isinstance(marked, dict) else {}


def _read_record(out: Path, path: Path):
    """The record of ``path`` in ``out`` as JSON holds it, or None where there is none or it cannot be read (a path
    no file can have, nested too deep)."""
    try:
        return json.loads((out / record_name(path)).read_text())
    except (OSError, ValueError, RecursionError):
        return None


def _mark_replacing(out: Path, path: Path, crcs: dict, entry) -> None:
    """Before a job writes the masks of ``path`` over those its record ``entry`` names (under the folder's lock, as
    read there), mark that record with the new masks' checksums ``crcs``: where the job is killed before its own record
    replaces it, a rerun predicts the photo again, never measuring the killed job's masks as corrections by hand (nor
    keeping them). No record (the first time), or one unread: nothing it could claim."""
    if isinstance(entry, dict) and crcs:
        write_text_atomic(strict_json({**entry, REPLACING: crcs}, indent=1), out / record_name(path))


def _redone(opts: "BatchOptions", path, jobs: tuple) -> dict | None:
    """The record of ``path`` one of ``jobs`` (stopped ``--overwrite`` jobs: :func:`_overwritten_by`) wrote with these
    settings (:func:`already_done`), its masks as it wrote them (a correction by hand since is redone, as --overwrite
    does), or None."""
    entry = already_done(Path(opts.out_dir), opts.named(path), opts.prompts, opts.mm_per_px, opts.accepted_settings)
    return entry if entry is not None and entry.get("job") in jobs and _current(Path(opts.out_dir), entry) else None


def done_since(opts: "BatchOptions", path, begun: float) -> dict | None:
    """The record this job wrote for ``path`` (in ``opts.out_dir``, as :func:`already_done` reads it) since ``begun``
    (``time.time()`` when it started), or None: not an earlier run's, which ``--overwrite`` redoes and may not reach."""
    out, path = Path(opts.out_dir), opts.named(path)
    entry = already_done(out, path, opts.prompts, opts.mm_per_px, opts.accepted_settings)
    return entry if entry is not None and (out / record_name(path)).stat().st_mtime >= begun - 1 else None


def already_done(out: Path, path: Path, prompts, mm_per_px: float | None = None, settings: str | tuple = "") -> dict | None:
    """The record of an earlier run that segmented ``path`` (unchanged since) with the same prompts, scale,
    model and settings (``settings``: its key, or the keys it may have), or None."""
    rec = out / record_name(path)
    if not rec.is_file():
        return None
    try:
        entry = json.loads(rec.read_text())
        if (not isinstance(entry.get("prompts"), dict) or list(entry["prompts"]) != list(prompts)
                or not all(isinstance(entry["prompts"][p], dict) for p in prompts) or not _well_formed(entry)):
            return None  # not as this version writes them: predicted again
        if not all(_whole_mask(out / mask_name(path, p), entry) for p in prompts):
            return None
        if not entry_is_for(entry, path) or _replacing(entry):  # another image of the same stem wrote it; a job
            return None  # stopped while writing over its masks
    except (OSError, ValueError, TypeError, AttributeError, RecursionError):
        return None
    if any(entry["prompts"][p].get("mm_per_px") != mm_per_px for p in prompts):  # measures in another scale
        return None
    accepted = settings if isinstance(settings, tuple) else (settings,)
    if entry.get("settings", "") not in accepted or entry.get("image_stamp") != image_stamp(path):  # other model / photo
        return None
    return entry


def remeasured(out: Path, path: Path, entry: dict, mm_per_px: float | None) -> dict | None:
    """``entry``, or, when an earlier drywallqa took its QA measures another way (``measures_version``) or a mask was
    written over since (a correction by hand: :func:`_as_recorded`), the record with its masks (``mask_name`` of
    ``path`` and each prompt, of the record's size) measured again as they are and written back: a rerun keeps the
    masks, not numbers this version would not give or that another mask had. Its overlay, drawn from the old
    numbers, is dropped from the record (a rerun with ``--overlay`` draws it again). When another job rewrote the
    record meanwhile, the record as it is now if it is :func:`_current`, else None; None too when it cannot be
    measured again (a mask unreadable or of another size, a record not as this version writes them)."""
    if _current(out, entry):
        return entry
    if _replacing(entry):  # its masks (part) a killed job's: predicted again, not measured as corrections
        return None
    try:
        size, limit = (int(entry["height"]), int(entry["width"])), photo_pixels(entry)
        fresh = {k: v for k, v in entry.items() if k != "overlay"}
        fresh["prompts"] = {}
        for p, old in entry["prompts"].items():
            name = mask_name(path, p)
            data = (out / name).read_bytes()
            mask = read_mask(out / name, data, limit)
            if mask.shape != size:
                raise ValueError(f"{name} is {mask.shape[1]}x{mask.shape[0]}, the photo {size[1]}x{size[0]}")
            beside = {k: old[k] for k in ("confidence", "concept") if k in old}
            if "emptied_below" in old and not mask.any():  # still as --min-confidence left it
                beside["emptied_below"] = old["emptied_below"]
            # built as process_image builds it (prompt_record, its keys in its order), not a second time here
            fresh["prompts"][p] = {"mask": name, **prompt_record(p, mask, mm_per_px, **beside),
                                   "mask_crc32": zlib.crc32(data)}
    except (ImageReadError, OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        logger.warning("could not measure %s again (%s)", shown(path), shown(exc))
        return None
    fresh["measures_version"] = MEASURES_VERSION
    now = _replace_record(out, path, entry, fresh)
    if now is fresh:
        return fresh
    return now if isinstance(now, dict) and _current(out, now) else None  # another job's, if it holds for its masks


def _replace_record(out: Path, path: Path, old: dict, new: dict):
    """Write ``new`` as the record of ``path`` where it is still ``old`` (under the folder's lock); returns the record
    as it is then: ``new``, or what another job wrote meanwhile (never overwritten), or None where it cannot be read."""
    rec = out / record_name(path)
    with FileLock(str(out / RESULTS_LOCK)):
        try:
            now = json.loads(rec.read_text())
        except (OSError, ValueError):
            return None
        if now != old:
            return now
        write_text_atomic(strict_json(new, indent=1), rec)
    return new


_UNREAD = object()  # record_conflict's entry not read yet


def record_conflict(out: Path, path: Path, prompts, entry=_UNREAD) -> str | None:
    """Why doing ``path`` with ``prompts`` would lose an earlier job's results in ``out``, or None; ``entry``: its
    record as already read (:func:`_read_record`: None for none), else read here.

    Files are named by image stem and prompt, so a job would overwrite the record of another photo of the same
    stem, or replace a record whose other prompts' masks it would then leave with no record."""
    rec = out / record_name(path)
    entry = _read_record(out, path) if entry is _UNREAD else entry
    try:
        image, earlier = str(entry["image"]), list(entry["prompts"])
        same = entry_is_for(entry, path)
    except (OSError, ValueError, KeyError, TypeError, RecursionError):  # none, or unreadable (a path no file can
        return None  # have, nested too deep): a half record is redone, as before
    if not same:
        return (f"{rec} holds the results of another photo of the same name, {image}: predict this one into another "
                "--out, or --overwrite to replace them")
    dropped = [p for p in earlier if p not in prompts]
    if dropped:
        return (f"{rec} holds this photo's results for other prompts ({', '.join(map(repr, dropped))}), which this job "
                "would leave without a record: add them to --prompt, predict into another --out, or --overwrite to "
                "replace them")
    return None


def overlay_name(path: Path) -> str:
    """The file name of an image's overlay strip (``--overlay``): the photo, then its mask per prompt."""
    return f"{out_stem(path)}__{OVERLAY}.png"


def png_bytes(array: np.ndarray) -> bytes:
    """``array`` coded as a PNG file."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def save_png_atomic(array: np.ndarray, path: Path, data: bytes | None = None) -> int:
    """Write ``array`` (or ``data``, its PNG as :func:`png_bytes` coded it) as a PNG to ``path`` (whole or not at all);
    returns the file's CRC-32, which a photo's record keeps to tell its masks from any written over them since."""
    data = png_bytes(array) if data is None else data
    write_atomic(path, lambda tmp: Path(tmp).write_bytes(data))
    return zlib.crc32(data)


def overlay_row(image: np.ndarray, masks: list, entry: dict, prompts) -> list:
    """The overlay strip's pictures of a photo: the photo, then each prompt's mask over it in its colour (with the
    joints the record measured drawn on)."""
    colors = prompt_colors(len(prompts))  # each prompt its own colour, as in report.html
    return [image] + [draw_joints(overlay(image, mask, color), entry["prompts"][p].get("joints", []), color=color)
                      for p, mask, color in zip(prompts, masks, colors)]


def _overlay_drawn(out: Path, path: Path, entry: dict, opts: BatchOptions) -> dict | None:
    """``entry`` with the overlay strip of ``path`` drawn from its masks as they are in ``out`` (a rerun with
    ``--overlay`` of a photo done without one, or whose mask was corrected by hand since: not predicted again, which
    would replace the correction), or None where they cannot be read, or another job rewrote the record meanwhile."""
    try:
        image = read_image(path, opts.max_pixels)
        limit = photo_pixels(entry)  # its masks as the job read its photo (the photo: this job's --max-pixels)
        masks = [read_mask(out / entry["prompts"][p]["mask"], max_pixels=limit) for p in opts.prompts]
        if any(m.shape != image.shape[:2] for m in masks):
            return None
        save_png_atomic(np.concatenate(overlay_row(image, masks, entry, opts.prompts), axis=1), out / overlay_name(path))
    except (ImageReadError, OSError, ValueError, KeyError, TypeError):
        return None
    drawn = {**entry, "overlay": overlay_name(path)}
    return drawn if _replace_record(out, path, entry, drawn) is drawn else None


def _corrected_masks(out: Path, path: Path, prompts, shape: tuple) -> dict:
    """``{prompt: (mask, its file's CRC-32)}`` of the masks of ``path`` in ``out`` written over since its record wrote
    them (corrected by hand: :func:`_as_recorded`), of the photo's ``shape``: a job that predicts the photo again (other
    prompts or their order, another scale, a record edited since) keeps them and measures them as they are, with a
    warning; ``--overwrite`` replaces them.

    Raises:
        ValueError: such a mask of another size than the photo (a tool exported it smaller): the photo fails, its
            mask left as it is (it was predicted over without a word).
    """
    try:
        entry = json.loads((out / record_name(path)).read_text())
        if not entry_is_for(entry, path):
            return {}
        recorded = {p: entry["prompts"][p]["mask_crc32"] for p in prompts
                    if isinstance(entry["prompts"].get(p), dict) and isinstance(entry["prompts"][p].get("mask_crc32"), int)}
        replacing = _replacing(entry)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return {}
    kept = {}
    for p, crc in recorded.items():
        name = mask_name(path, p)
        try:
            data = (out / name).read_bytes()
            now = zlib.crc32(data)
            if now == crc or now == replacing.get(p):  # as recorded, or written by a job killed before its record
                continue
            # the bytes checked, not a later write's; Pillow's limit only: one of another size is named below
            mask = read_mask(out / name, data, max_pixels=None)
        except (ImageReadError, OSError, ValueError):
            continue  # gone or damaged: predicted
        if mask.shape != tuple(shape):  # a correction exported at another size: not predicted over, not measured
            raise ValueError(f"{name} was written over since it was made (corrected by hand?), at {mask.shape[1]}x"
                             f"{mask.shape[0]} px where the photo is {shape[1]}x{shape[0]}: left as it is; save it at "
                             "the photo's size to keep it, or --overwrite to predict it again")
        kept[p] = (mask, now)
    if kept:
        logger.warning("%s: kept the masks corrected by hand since they were written (%s) and measured them as they "
                       "are; --overwrite replaces them", shown(path), ", ".join(map(repr, kept)))
    return kept


def process_image(segmenter: Segmenter, path: Path, opts: BatchOptions) -> tuple[dict, list | None]:
    """Segment one image, then write its masks (and overlay) and last its record. Returns (entry, overlay row).

    The writes hold the folder's lock and first check (:func:`record_conflict`) that no other job has since
    put results of this image there, so two jobs writing into one folder at once never mix one image's files.

    Raises:
        ImageReadError / ValueError / OSError: the image could not be read or segmented, or its results would
            replace another job's.
    """
    out, path = Path(opts.out_dir), opts.named(path)  # (a Ray actor's: a path as text)
    notes: list[str] = []  # what was read otherwise than the file holds (its first frame only, ...): in its record
    stamp = image_stamp(path)  # before it is read: a photo replaced while segmented is not the one recorded
    image = read_image(path, opts.max_pixels, notes)
    result = segmenter.predict(image, list(opts.prompts), threshold=opts.threshold)
    kept = {} if opts.overwrite else _corrected_masks(out, path, opts.prompts, image.shape[:2])
    masks = {p: kept[p][0] if p in kept else result.masks[p] for p in opts.prompts}
    entry = {"image": os.path.abspath(path), "height": image.shape[0], "width": image.shape[1], "prompts": {},  # absolute:
             # a job run from another folder must not take a relative path for another photo (record_conflict)
             "settings": opts.settings, "image_stamp": stamp, "measures_version": MEASURES_VERSION,
             "job": opts.job, **({"warnings": notes} if notes else {}),
             **({"names": NAMES_FOLDERS, NAMES_ROOT: opts.names_root} if opts.names_root else {})}  # the rule and its
    # folder, as results.json's: a job killed before its results.json still refuses a rerun named otherwise
    # (check_names), and a rerun on one of its folders names them as it did (names_root)
    for p in opts.prompts:
        entry["prompts"][p] = {"mask": mask_name(path, p), **result.prompt_entry(p, opts.mm_per_px, masks[p])}
        if p in kept:  # a corrected mask kept: emptied_below (--min-confidence emptied it, it held pixels: not found
            entry["prompts"][p].pop("emptied_below", None)  # empty; the table and the report say so) is not of it
    row = None
    if opts.overlay_images:
        row = overlay_row(image, [masks[p] for p in opts.prompts], entry, opts.prompts)
        entry["overlay"] = overlay_name(path)  # made with this record: a rerun with --overlay may keep it
    coded = {p: png_bytes(result.masks[p].astype(np.uint8) * 255) for p in opts.prompts if p not in kept}
    with FileLock(str(out / RESULTS_LOCK)):
        earlier = _read_record(out, path)  # once, under the lock: what this job would write over
        conflict = None if opts.overwrite else record_conflict(out, path, opts.prompts, earlier)
        if conflict is not None:
            raise ValueError(conflict)
        _mark_replacing(out, path, {p: zlib.crc32(data) for p, data in coded.items()}, earlier)
        for p in opts.prompts:
            entry["prompts"][p]["mask_crc32"] = kept[p][1] if p in kept else save_png_atomic(
                None, out / mask_name(path, p), coded[p])
        if row is not None:
            save_png_atomic(np.concatenate(row, axis=1), out / overlay_name(path))
        write_text_atomic(strict_json(entry, indent=1), out / record_name(path))
    return entry, row


def gather_inputs(paths, out_dir, names_root: str | None = None
                  ) -> tuple[list[Path], list[tuple[str, str]], list[tuple[str, str]]]:
    """The photos under ``paths`` for a job writing into ``out_dir`` (``predict``'s, ``zeroshot``'s): ``(images,
    failed, ignored)``, each image named as its outputs are (``names_root``: by its folders below it,
    :func:`by_folder`; None: by its file stem).

    Missing inputs fail; what :func:`~drywallqa.utils.image_io.find_images` does not read is ``ignored``. Output
    files are named by stem, so of several inputs with one stem (``a/IMG_1.jpg``, ``b/IMG_1.jpg``, compared case and
    Unicode normalisation aside, :func:`~drywallqa.utils.slug.name_key`: ``café`` spelt either way is one file on
    macOS) only one is an image, the one whose results ``out_dir`` holds, else the first one listed that opens as an
    image, else the first one listed; the others fail with a message instead of overwriting its outputs.
    A file given twice is one image. Named by folder (``--names-from-folders``), inputs of one output name fail so too.
    """
    def looked_at(p) -> str | None:  # why an input cannot be read, or None
        try:
            if Path(p).exists():
                return None
        except OSError as exc:  # a name too long, a folder this user may not enter: that input, not the job
            return f"cannot be looked at ({exc.strerror or exc})"
        why = why_not(p, folder=False)  # below a file (photo.jpg/x.jpg), a link to nothing
        return "no such file or folder" if why == "not found" else why

    why = {str(p): looked_at(p) for p in paths}
    failed = [(p, reason) for p, reason in why.items() if reason is not None]
    listing = find_images([p for p in paths if why[str(p)] is None], exclude=[out_dir])
    named = [by_folder(path, names_root) for path in listing.images]
    if names_root:  # one file under two names (a folder given also through a link to it): one image, as by stem
        named = _one_per_file(named, Path(out_dir))
    of_stem: dict[str, list[Path]] = {}
    for path in named:
        of_stem.setdefault(name_key(out_stem(path)), []).append(path)
    # of the inputs of one stem, the one whose results the folder holds (listed in another order, the photo an earlier
    # job finished was named failed and listed with its results beside), else the first listed that opens (a damaged
    # IMG_1.jpg took the stem from IMG_1.png: both failed), else the first listed
    first_of_stem = {stem: group[0] if len(group) == 1 else next((p for p in group if _holds(Path(out_dir), p)), None)
                     or next((p for p in group if _opens(p)), group[0]) for stem, group in of_stem.items()}
    images = []
    for path in named:
        first = first_of_stem[name_key(out_stem(path))]
        if first.resolve() == path.resolve():
            if first is path:
                images.append(path)
            continue  # the same file given twice
        # phone photos (day1/IMG_1.jpg, day2/IMG_1.jpg): the names a phone gives are kept by a folder per --out
        both = f"{Path(first.parent.name) / first.name} and {Path(path.parent.name) / path.name}"
        if names_root:  # named by folder, and still one name (a-b/IMG_1.jpg, a/b/IMG_1.jpg; IMG_1.jpg, img_1.png)
            failed.append((str(path), f"another input, {first}, has the same output name, its folders and stem "
                                      f"joined by --names-from-folders ({both} would both write {out_stem(path)}__*): "
                                      "rename one of them or run them into separate --out folders"))
            continue
        written = f"({both} would both write {out_stem(path)}__*)"
        if first.parent == path.parent:
            what = f"{written}: rename one of them or run them into separate --out folders"
        else:
            what = (f"alone, not by its folder {written}: predict each folder into its own --out, give "
                    "--names-from-folders to name the outputs by folder and stem "
                    f"({file_stem(f'{path.parent.name}{FOLDER_JOINER}{path.stem}')}__*), or rename one of them")
        failed.append((str(path), f"another input, {first}, has the same file stem, and outputs are named by the stem "
                                  + what))
    return images, failed, listing.skipped


def _one_per_file(paths: list[Path], out: Path) -> list[Path]:
    """``paths`` with each file once: of the paths of one file (named by folder, ``photos/day1/IMG_1.jpg`` and
    ``link/IMG_1.jpg`` through a link to ``photos/day1``: two names), the one whose record ``out`` holds, else the first
    listed."""
    of_file: dict = {}
    for path in paths:
        try:
            key = path.resolve()
        except (OSError, RuntimeError):  # (a loop of links) as it is: it fails as it is read
            key = path
        of_file.setdefault(key, []).append(path)
    kept = {id(next((p for p in group if _holds(out, p)), group[0])) if len(group) > 1 else id(group[0])
            for group in of_file.values()}
    return [path for path in paths if id(path) in kept]


def _opens(path: Path) -> bool:
    """Whether ``path`` opens as an image, decoded to its end (a JPEG at an eighth of its size): a copy cut short past
    its header opened, took the stem and failed as it was read, its twin too; what a file that does not open says is
    said when it is read."""
    try:
        with open_image(path) as img:
            if img.width * img.height > DEFAULT_MAX_PIXELS:  # not decoded here whole (its memory): the reader says
                return True
            img.draft("RGB", (max(1, img.width // 8), max(1, img.height // 8)))  # JPEG only: the others as they are
            img.load()
        return True
    except Exception:  # noqa: BLE001 - any reader's error: the file fails later with its reason
        return False


def _holds(out: Path, path: Path) -> bool:
    """Whether ``out`` holds a record of the photo ``path`` (:func:`entry_is_for`)."""
    entry = _read_record(out, path)
    try:
        return isinstance(entry, dict) and entry_is_for(entry, path)
    except (OSError, ValueError, TypeError, RuntimeError):
        return False


OVERWRITING = ".overwrite_job.json"  # in --out while an --overwrite job has not finished: its prompts, its jobs


def _overwritten_by(opts: BatchOptions) -> tuple[str, ...]:
    """The jobs (:attr:`BatchOptions.job`) of an ``--overwrite`` job with these prompts that did not finish (stopped,
    killed: its :data:`OVERWRITING` file is still there), the first one and each rerun: this rerun goes on where they
    stopped (the photos they redid are kept, as a rerun of any job keeps those done); none for a job of its own. This
    job is added to the file, for a rerun of it."""
    marker = Path(opts.out_dir) / OVERWRITING
    try:
        earlier = json.loads(marker.read_text())
        jobs = tuple(earlier["jobs"]) if list(earlier["prompts"]) == list(opts.prompts) else ()
        jobs = jobs if all(isinstance(j, str) for j in jobs) else ()
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        jobs = ()
    write_text_atomic(strict_json({"prompts": list(opts.prompts), "jobs": [*jobs, opts.job]}), marker)
    return jobs


def _why_remeasured(entry: dict) -> str:
    """Why a record done before was measured again (:func:`plan_job`), as the job's summary says it."""
    version = entry.get("measures_version")
    if version != MEASURES_VERSION:
        return (f"QA measures version {version} -> {MEASURES_VERSION}" if isinstance(version, int) else
                f"QA measures of a version before {MEASURES_VERSION}")
    return "masks changed since their records" if _has_checksums(entry) else "their masks' checksums recorded"


def remeasured_said(summary: BatchSummary) -> str:
    """How many photos skipped (done before) were measured again and why, for the job's summary line after
    "N skipped (done before)": ``, 3 of them measured again (QA measures version 9 -> 12)``; "" where none was."""
    if not summary.remeasured:
        return ""
    reasons = Counter(why for _, why in summary.remeasured)
    why = next(iter(reasons)) if len(reasons) == 1 else "; ".join(f"{r}: {n}" for r, n in reasons.items())
    return f", {len(summary.remeasured)} of them measured again ({why})"


def plan_job(paths, opts: BatchOptions, summary: BatchSummary, workers: int = 1, progress: bool = True) -> list[Path]:
    """Images still to do (:func:`gather_inputs`); missing inputs and inputs of a stem taken go to
    ``summary.failed``, finished ones to ``summary.skipped``, those an older version measured measured again first
    (``workers`` threads, a progress bar). With ``--overwrite`` every photo is to do, but those an ``--overwrite``
    job that was stopped redid (:func:`_overwritten_by`)."""
    images, failed, ignored = gather_inputs(paths, opts.out_dir, opts.names_root)
    summary.failed.extend(failed)
    summary.ignored.extend(ignored)
    out = Path(opts.out_dir)
    if opts.overwrite:
        jobs = _overwritten_by(opts)
        done = {path: _redone(opts, path, jobs) if jobs else None for path in images}
    else:
        done = {path: already_done(out, path, opts.prompts, opts.mm_per_px, opts.accepted_settings) for path in images}
    stale = [(path, previous) for path, previous in done.items() if previous is not None and not _current(out, previous)]
    edited = sum(previous.get("measures_version") == MEASURES_VERSION and _has_checksums(previous) for _, previous in stale)
    if edited:  # (or records older than the masks' checksums)
        summary.warnings.append(f"{edited} images' masks in {out} are not the ones their records wrote (corrected by "
                                "hand?): measured again as they are; --overwrite predicts them again")
    if stale:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            again = list(progress_bar(pool.map(lambda item: remeasured(out, item[0], item[1], opts.mm_per_px), stale),
                                      total=len(stale), desc="measure again", disable=not progress))
        for (path, old), fresh in zip(stale, again):
            previous = already_done(out, path, opts.prompts, opts.mm_per_px, opts.accepted_settings) if fresh is not None else None
            # read as it is now; measured again by another job since, or not at all: predicted again
            done[path] = previous if previous is not None and _current(out, previous) else None
            if done[path] is not None:
                summary.remeasured.append((str(path), _why_remeasured(old)))
    todo, undrawn = [], 0
    for path in images:
        previous = done[path]
        conflict = None if opts.overwrite or previous is not None else record_conflict(Path(opts.out_dir), path, opts.prompts)
        if conflict is not None:
            summary.failed.append((str(path), conflict))
        elif previous is None:
            todo.append(path)
        elif opts.overlay_images and not (previous.get("overlay") == overlay_name(path) and (out / overlay_name(path)).is_file()):
            # done before without the overlay asked for now (or an older one, stale): drawn from its masks
            drawn = _overlay_drawn(out, path, previous, opts)
            if drawn is None:  # (the photo over --max-pixels now, ...): its results kept, said below
                undrawn += 1
            summary.skipped.append(str(path))
            summary.results.append({**(drawn or previous), "image": os.path.abspath(path)})
        else:
            summary.skipped.append(str(path))
            summary.results.append({**previous, "image": os.path.abspath(path)})  # where it is now (a moved folder)
    if undrawn:
        summary.warnings.append(f"{undrawn} images done before have no overlay strip: it could not be drawn from their "
                                "photo and masks (a photo over --max-pixels, or gone); --overwrite predicts them again")
    return todo


def _is_file(path: Path) -> bool:
    """``path.is_file()``, False for a path that cannot even be looked at (a name too long, a folder not entered)."""
    try:
        return path.is_file()
    except OSError:
        return False


def _well_formed(entry) -> bool:
    """Whether a photo's record holds what this version writes where the table, the report and the rules read it:
    its size, its reading's warnings as texts, and, per prompt, the mask's file name, every measure a finite number (the confidence may be none), a
    joint's as numbers or lists of them, the concept as a mapping (a record edited by hand, ``"confidence": "high"``,
    ``"max_width_px": null``, a measure taken out, is redone or left out of results.json, not a traceback)."""
    def mask_file(name) -> bool:  # a file of the output folder: "a__segment_crack.png", no path, no NUL
        return isinstance(name, str) and "\0" not in name and name not in ("", ".", "..") and Path(name).name == name

    try:
        if not (isinstance(entry["image"], str) and finite_number(entry["height"]) and finite_number(entry["width"])
                and isinstance(entry.get("warnings", []), list) and all(isinstance(w, str) for w in entry.get("warnings", []))):
            return False
        for rec in entry["prompts"].values():
            rest = {k: v for k, v in rec.items() if k not in ("mask", "concept", "joints")}
            joints = rec.get("joints", [])
            if not (mask_file(rec["mask"]) and isinstance(rec.get("concept", {}), dict)
                    and all(k in rec for k in PX_MEASURES)
                    and all((k in rec) == ("mm_per_px" in rec) for k in MM_MEASURES)
                    and all(finite_number(v) or (k == "confidence" and v is None) for k, v in rest.items())
                    and isinstance(joints, list) and all(isinstance(j, dict) for j in joints)
                    and all(finite_number(v) or (isinstance(v, list) and all(finite_number(x) for x in v))
                            for j in joints for v in j.values())):
                return False
    except (KeyError, TypeError, AttributeError):
        return False
    return True


def _covers(entry, opts: BatchOptions, out: Path) -> bool:
    """Whether another job's record ``entry`` was made with this job's prompts, settings and scale, its masks there."""
    try:
        return (_well_formed(entry) and isinstance(entry.get("prompts"), dict) and not _replacing(entry)
                and list(entry["prompts"]) == list(opts.prompts) and entry.get("settings", "") in opts.accepted_settings
                and all(v.get("mm_per_px") == opts.mm_per_px for v in entry["prompts"].values())  # mm or px alike
                and all(_whole_mask(out / v["mask"], entry) for v in entry["prompts"].values()))  # of its size
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def _other_jobs(summary: BatchSummary, opts: BatchOptions) -> None:
    """Add to ``summary.results`` the finished records of other jobs in the same folder made with the same
    prompts and settings (e.g. another set of photos predicted into it earlier or at the same time; measured again
    where an older version measured them), so that results.json and the report cover the folder; count the records
    they cannot cover in a warning."""
    out = Path(opts.out_dir)
    listed = {record_name(opts.named(e["image"])): Path(e["image"]) for e in summary.results}  # this job's photos'
    # records (one per stem)
    failed = {record_name(opts.named(p)): Path(p) for p, _ in summary.failed if _is_file(Path(p))}
    foreign, renamed = 0, 0
    for rec in sorted(out.glob("*__results.json")):
        if rec.name in listed:
            continue
        try:
            entry = json.loads(rec.read_text())
            if rec.name in failed and entry_is_for(entry, failed[rec.name]):
                continue  # the old results of a photo that failed now: not shown as if they were today's
            now = record_name(opts.named(entry["image"]))
            # this job's photos of that name, if any: done, or failed (one of a stem done: day2/IMG_1.jpg beside
            # day1/IMG_1.jpg, its day2-IMG_1__* of a job by folder not shown as another job's photo)
            photos = [p for p in (listed.get(now), failed.get(now)) if p is not None]
            if now != rec.name and any(entry_is_for(entry, photo) for photo in photos):
                # an older version's name for a photo of this job (one holding a newline), or another rule's or root's
                # (--names-from-folders): as it is now; its files under the other name said, where it is listed
                renamed += now in listed and entry_is_for(entry, listed[now])
                continue
        except (OSError, ValueError, TypeError, AttributeError, KeyError, RecursionError):
            entry = None
        if _covers(entry, opts, out):  # named by folder: as its record is (another job's inputs, another root)
            photo = named_path(entry["image"], rec.name[:-len("__results.json")] if opts.names_root else None)
            entry = remeasured(out, photo, entry, opts.mm_per_px)  # an older version's numbers: again
        if entry is not None and _covers(entry, opts, out) and entry.get("measures_version") == MEASURES_VERSION:
            summary.results.append(entry)
        else:
            foreign += 1
    if foreign:
        summary.warnings.append(f"{foreign} image records in {out} were made with other prompts or settings, or cannot "
                                "be read or measured again, and are not in results.json or the report: predict into a "
                                "folder of its own per job")
    if renamed:  # (they were left beside without a word)
        summary.warnings.append(f"{renamed} photos of this job have results in {out} under another name too, an "
                                "earlier job's (named by another rule, counted from another folder with "
                                "--names-from-folders, or by an older drywallqa): not in results.json or the report, "
                                "their files left as they are; remove them, or resume a job named by folder with the "
                                "inputs it was run on")


REPLACED_MEANWHILE = ("its results were replaced while this job ran, by another job writing into this folder with other "
                      "prompts or settings: predict it again, or each job into a folder of its own")


def _as_listed(summary: BatchSummary, opts: BatchOptions) -> None:
    """Each photo's results in ``summary.results`` as its record is now: another job with the same prompts and
    settings may have written it again meanwhile (its numbers taken), one with others replaced it (the photo then
    failed, named: results.json listed the numbers of masks no longer there)."""
    out = Path(opts.out_dir)
    listed = []
    for entry in summary.results:
        path = entry_path(entry)
        try:
            now = json.loads((out / record_name(path)).read_text())
        except (OSError, ValueError, RecursionError):
            now = None
        if isinstance(now, dict) and {**now, "image": entry["image"]} == entry:
            listed.append(entry)  # as this job wrote or read it
        elif isinstance(now, dict) and _covers(now, opts, out) and _current(out, now) and entry_is_for(now, path):
            listed.append({**now, "image": entry["image"]})
        else:
            summary.failed.append((str(path), REPLACED_MEANWHILE))
            summary.done = [p for p in summary.done if os.path.abspath(p) != os.path.abspath(path)]
            summary.skipped = [p for p in summary.skipped if os.path.abspath(p) != os.path.abspath(path)]
            summary.remeasured = [(p, why) for p, why in summary.remeasured
                                  if os.path.abspath(p) != os.path.abspath(path)]
    summary.results = listed


def finish_job(summary: BatchSummary, opts: BatchOptions, rows: dict, interrupted: bool = False) -> BatchSummary:
    """Write ``results.json`` (with ``"interrupted": true`` when the job was stopped by Ctrl-C) and the overlay grid:
    the first :data:`GRID_ROWS` photos as ``results.json`` lists them, each row named, from ``rows`` (absolute path ->
    overlay row, of photos this job segmented) or else from their overlay files."""
    out = Path(opts.out_dir)
    _other_jobs(summary, opts)
    _as_listed(summary, opts)
    if (not summary.results and not opts.overwrite and _lists_images(out / BATCH_RESULTS)
            and (summary.failed or not summary.ignored)
            and all(record_conflict(out, Path(p), opts.prompts) == why for p, why in summary.failed)):
        # every photo refused, its results another job's, or no input at all (an empty folder, an unmounted volume):
        # this job changed nothing (not so a job whose photos failed now, or that found files it names as not read:
        # the old results are not listed as if they were its own)
        summary.warnings.append(f"{out / BATCH_RESULTS} (and its table and report) left as an earlier job wrote them: "
                                "this job has no photo's results to list")
        return summary
    concepts = {}
    for entry in summary.results:  # the same for every image: the first record that has them
        concepts = concepts or {p: v["concept"] for p, v in entry["prompts"].items() if "concept" in v}
    if opts.overlay_images:  # the images an earlier run finished too, from their overlay files: the same grid as a
        # job that was never stopped (the photos of the rerun came first, then those done before, rows unnamed)
        first = sorted({os.path.abspath(p) for p in [*summary.done, *summary.skipped]})[:GRID_ROWS]
        drawn = [(p, rows.get(p) or next(iter(saved_overlay_rows([p], opts)), None)) for p in first]
        drawn = [(p, row) for p, row in drawn if row is not None]
        if drawn:
            grid([row for _, row in drawn], ["input", *opts.prompts], out / "overlay_grid.png",
                 row_labels=[_grid_label(Path(p).name) for p, _ in drawn])
    summary.results.sort(key=lambda e: e["image"])
    for entry in summary.results:  # every photo, including those an earlier run finished, under today's rules
        entry["flags"] = flags(entry, opts.rules)
    if not interrupted and not any(str(why).startswith(NOT_DONE) for _, why in summary.failed):
        # went through all its photos: an --overwrite job stopped before is over (the next one redoes them all)
        (out / OVERWRITING).unlink(missing_ok=True)
    write_text_atomic(strict_json({"prompts": list(opts.prompts), "rules": [str(r) for r in opts.rules],
                                  "prompt_files": {p: mask_slug(p) for p in opts.prompts},
                                  "concepts": concepts, "tiling": opts.tiling, "warnings": summary.warnings,
                                  "images": summary.results, "failed": summary.failed, "ignored": summary.ignored,
                                  **({"names": NAMES_FOLDERS, NAMES_ROOT: opts.names_root} if opts.names_root else {}),
                                  **({"interrupted": True} if interrupted else {})},
                                 indent=1), out / BATCH_RESULTS)
    return summary


def _lists_images(path: Path) -> bool:
    """Whether ``path`` is a results.json that lists at least one photo's results."""
    try:
        images = json.loads(path.read_text()).get("images")
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(images, list) and bool(images)


def input_paths(paths) -> list:
    """The inputs of a batch job as a list: one path (``str``, ``Path``) or an iterable of them, read once (a
    generator is fine).

    Raises:
        TypeError: anything else (bytes, numbers, an item that is no path), naming it.
    """
    if isinstance(paths, (str, os.PathLike)):
        return [paths]
    if isinstance(paths, (bytes, bytearray)) or not hasattr(paths, "__iter__"):
        raise TypeError(f"paths must be a path (str or Path) or an iterable of them, got {type(paths).__name__}")
    items = list(paths)
    for p in items:
        if not isinstance(p, (str, os.PathLike)):
            raise TypeError(f"each path must be a str or Path, got {type(p).__name__}")
    return items


def check_workers(workers) -> int:
    """``workers`` as an int; ValueError unless a whole number of at least 1 (the CLI's ``--workers`` check too)."""
    if not whole_number(workers) or workers < 1:
        raise ValueError(f"workers must be a whole number of at least 1, got {workers!r}")
    return int(workers)


def out_path(out_dir) -> Path:
    """``out_dir`` as a Path; TypeError naming it for anything that is no path (None, not Path()'s own message)."""
    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f"out_dir must be a folder path (str or Path), got {type(out_dir).__name__}")
    return Path(out_dir)


def check_out_apart(paths, out_dir) -> None:
    """The output folder must not be an input folder: its masks and report thumbnails would be read as photos by
    the next run (an output folder *inside* an input folder is left out of the input instead).

    Raises:
        ValueError: naming the input folder.
    """
    check_links(out_path(out_dir))  # a link on the way that loops or leads nowhere, named (resolve() stops at a loop)
    out = out_path(out_dir).resolve()
    for p in map(Path, paths):
        try:
            same = p.is_dir() and p.resolve() == out
        except OSError:  # cannot be looked at: no folder to compare (the job names it as failed)
            same = False
        if same:
            raise ValueError(f"{out_dir} is also an input folder: the next run would read its masks as photos; give "
                             f"--out a folder of its own (one inside {p}, such as {Path(p) / 'drywallqa_out'}, is fine)")


def check_not_zeroshot(out_dir, overwrite: bool = False) -> None:
    """Unless ``overwrite``, refuse an output folder that holds a ``drywallqa zeroshot`` job's results (its job record,
    or an older one's ``report.json``): its masks are named as this job's (``<stem>__<prompt slug>.png``) but no record
    of this job's names them, so they were written over without a word (``zeroshot`` refuses this job's folder too).
    A folder a predict job took over since (``--overwrite``: its ``results.json`` is newer) is this job's.

    Raises:
        ValueError: naming the file that shows it.
    """
    out = out_path(out_dir)
    held = ZEROSHOT_JOB if _is_file(out / ZEROSHOT_JOB) else None
    try:
        report = json.loads((out / ZEROSHOT_REPORT).read_text()) if held is None else None
    except (OSError, ValueError, RecursionError):
        report = None
    if isinstance(report, dict) and "stages" in report and "prompt_source" in report:
        held = ZEROSHOT_REPORT
    try:  # a predict job with --overwrite took the folder over since (its results.json is newer): its own now
        if held is not None and os.stat(out / BATCH_RESULTS).st_mtime_ns >= os.stat(out / held).st_mtime_ns:
            held = None
    except OSError:
        pass
    if held is not None and not overwrite:
        raise ValueError(f"{out} holds the results of a zero-shot job ({out / held}), whose masks this job would write "
                         "over: give this job another --out, or --overwrite to write over them")


def photo_outputs(images, prompts, overlay_images: bool = False) -> list[str]:
    """The file names a batch job with ``prompts`` writes for ``images`` (:func:`gather_inputs`' photos, named as
    their outputs are): each one's masks, overlay strip (``overlay_images``) and record."""
    names = []
    for path in images:
        names += [*(mask_name(path, p) for p in prompts), *((overlay_name(path),) if overlay_images else ()),
                  record_name(path)]
    return names


def check_not_others(out_dir, overwrite: bool = False, names=(BATCH_RESULTS,), paths=None, prompts=(),
                     overlay_images: bool = False, names_root: str | None = None) -> None:
    """Unless ``overwrite``, refuse an output folder that no drywallqa job wrote (no marker, no image record, no
    ``results.json`` of a batch job) but that holds a file of one of ``names`` (what this job will write: its
    ``results.json``, ``results.csv``, ``report.html``, ...) or, given ``paths`` and ``prompts``, of the files it
    writes for each photo (:func:`photo_outputs`: a user's own ``a__segment_crack.png``; with ``report.html``, its
    thumbnail ``report_files/a.jpg``): another program's (a labelling tool's ``results.json``, a spreadsheet's
    ``results.csv``, in a folder of photos the job was given files of) was replaced without a word.

    Raises:
        ValueError: naming the files.
    """
    out = out_path(out_dir)
    try:
        if overwrite or is_output_folder(out):  # (a user's "scan__results.json" there is not a job's record)
            return
    except OSError:  # cannot be listed: prepare_out_dir names it
        pass
    theirs = [name for name in dict.fromkeys(names) if (out / name).is_file()]
    listed = []  # the job's photos (gather_inputs), listed once, where a folder's files ask for them

    def photos() -> list[Path]:
        if not listed:
            listed.append(gather_inputs(input_paths(paths), out, names_root)[0])
        return listed[0]

    if paths is not None and prompts:
        try:
            held = {f.name for f in out.iterdir() if "__" in f.stem}  # only a folder holding such names is looked into
        except OSError:  # none yet (made by the job), or not a folder: said where it is made
            held = set()
        if held:
            theirs += [name for name in dict.fromkeys(photo_outputs(photos(), prompts, overlay_images))
                       if name in held and (out / name).is_file()]
    if paths is not None and "report.html" in names and (out / REPORT_FILES).is_dir():  # its thumbnails: a user's
        # report_files/a.jpg (beside no report.html) was written over without a word
        thumbs = (f"{REPORT_FILES}/{out_stem(p)}.jpg" for p in photos())
        theirs += [name for name in dict.fromkeys(thumbs) if (out / name).is_file()]
    if not theirs:
        return
    more = f" and {len(theirs) - 5} more" if len(theirs) > 5 else ""
    raise ValueError(f"{out} holds {', '.join(theirs[:5])}{more} that no drywallqa job wrote (another program's?), "
                     "which this job would write over: give this job another --out, or --overwrite to write over them")


def _naming(names) -> str:
    """How results.json's ``names`` names a photo's outputs, for a message."""
    return ("by each photo's folders and file stem (--names-from-folders)" if names == NAMES_FOLDERS
            else "by each photo's file stem" if names is None else f"as {shown(names)!r}")


RECORDS_READ = 8  # check_names reads at most so many photos' records (a folder may hold thousands)

_NO_RULE = object()


def _record_names(rec: Path):
    """The naming rule a photo's record says (``"names"``: :data:`NAMES_FOLDERS`), None where it names none and is named
    by its photo's file stem (by stem; every record before the key), else ``_NO_RULE`` (not a record, or an older job's
    by folder: ``day1-IMG_1__results.json`` without the key)."""
    entry = json_object(rec)  # (a named pipe so named is not read: it blocked for good)
    if entry is None or not isinstance(entry.get("image"), str) or not isinstance(entry.get("prompts"), dict):
        return _NO_RULE
    if "names" in entry:
        return entry["names"]
    try:
        return None if rec.name == record_name(Path(entry["image"])) else _NO_RULE
    except (OSError, ValueError):  # (a NUL in the photo's name)
        return _NO_RULE


def _held_names(out: Path):
    """``(where, rule)``: the naming rule of the job whose results ``out`` holds, as its ``results.json`` says where
    it lists photos, else (a job killed before it wrote one) as the first of its photos' records that says one (at most
    :data:`RECORDS_READ` read); ``None`` where none says."""
    held = json_object(out / BATCH_RESULTS)  # None: none, or not a job's (check_not_others): the records
    if held is not None and isinstance(held.get("images"), list) and held["images"]:
        return f"{out / BATCH_RESULTS} lists photos", held.get("names")
    read = 0
    try:
        with os.scandir(out) as found:
            for e in found:
                if read >= RECORDS_READ:
                    break
                if e.name.endswith("__results.json"):
                    read, rule = read + 1, _record_names(out / e.name)
                    if rule is not _NO_RULE:
                        return (f"{out} holds photos' records ({e.name}, of a job stopped before it wrote "
                                f"{BATCH_RESULTS})"), rule
    except OSError:  # none, or cannot be listed: prepare_out_dir names it
        pass
    return None


def check_names(out_dir, names_root: str | None = None, overwrite: bool = False) -> None:
    """Unless ``overwrite``, refuse an output folder whose ``results.json`` lists photos whose outputs are named by
    another rule (its ``"names"``: :data:`NAMES_FOLDERS`, or none: by file stem) than this job's (``names_root``:
    :func:`names_root`): resumed so, each photo done was predicted again under another name, its old files left beside.
    Without such a ``results.json`` (a job killed before it wrote one), as its photos' records say (each its
    ``"names"``; a few read, :func:`_held_names`).

    Raises:
        ValueError: naming both rules and what to do.
    """
    out = out_path(out_dir)
    held = None if overwrite else _held_names(out)
    if held is None:
        return
    (where, theirs), ours = held, NAMES_FOLDERS if names_root else None
    if theirs != ours:
        raise ValueError(names_conflict(where, theirs, ours))


def names_conflict(where: str, theirs, ours) -> str:
    """Why a job naming its outputs by the rule ``ours`` (``"names"``: :data:`NAMES_FOLDERS`, or None: by file stem)
    does not resume the job ``where`` names, whose outputs are named by ``theirs`` (:func:`check_names`; a zero-shot
    job's record, :func:`~drywallqa.zeroshot.pipeline.earlier_job`)."""
    again = ("without --names-from-folders" if theirs is None else "with --names-from-folders"
             if theirs == NAMES_FOLDERS else "as the job that wrote it")
    return (f"{where} whose outputs are named {_naming(theirs)}; this job names them {_naming(ours)} and would "
            f"predict each one again under another name: run it {again} to resume that job, give it another --out, "
            "or --overwrite to predict them again named so")


def prepare_out_dir(out_dir) -> Path:
    """Make the output folder (and its parents); ValueError with the reason when it cannot hold a batch job."""
    out = out_path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ValueError(f"{out} is a file, not a folder: choose another --out") from None
    except OSError as exc:
        raise ValueError(f"{out}: cannot make the output folder ({exc.strerror or exc})") from None
    if (out / BATCH_RESULTS).exists() and not (out / BATCH_RESULTS).is_file():
        raise ValueError(f"{out / BATCH_RESULTS} is not a file: it cannot be written")
    if not os.access(out, os.W_OK):
        raise ValueError(f"{out}: the output folder is not writable")
    lock = out / RESULTS_LOCK
    try:  # each photo's writes take it: one this user cannot open (another user's job made it) failed every photo,
        if lock.exists():  # each once segmented, with the same message
            os.close(os.open(lock, os.O_RDWR))
    except OSError as exc:
        raise ValueError(f"{lock} cannot be opened ({exc.strerror or exc}): each photo's results in {out} are written "
                         "under this lock; where another user's job made it, remove it or let this user write it, or "
                         "choose another --out") from None
    mark_output_folder(out)
    return out


def job_settings(segmenter: Segmenter) -> dict:
    """What decides a job's masks besides the photo and the job's own options: the segmenter's settings and weights (a
    model folder whose weights were replaced under the same config.json makes other masks)."""
    return {**segmenter.settings(), "weights": segmenter.weights_stamp()}


def check_job_inputs(prompts, out_dir, overlay_images=False, threshold=None, mm_per_px=None, rules=(),
                     max_pixels: int | None = DEFAULT_MAX_PIXELS, overwrite=False, paths=None,
                     names_from_folders: bool = False) -> tuple:
    """The checks of a batch job's options that need no model (ValueError for anything it cannot use; nothing made):
    prompts, threshold, scale, max_pixels, rules, the output folder's earlier contents and naming rule. Each executor
    makes them before a model loads (:func:`job_options` too, once it has: a folder may have changed since), so that
    a wrong option is said at once, not after a load of minutes.

    Returns:
        ``(prompts, overlay_images, overwrite, mm_per_px, rules, names_root)``, as checked.
    """
    overlay_images, overwrite = flag(overlay_images, "overlay_images"), flag(overwrite, "overwrite")  # "no" reads as on
    out_path(out_dir)
    prompts = validate_prompts(prompts)
    slugs = [mask_slug(p) for p in prompts]
    if len(set(slugs)) < len(slugs):  # prompt_slug makes this all but impossible; never write one file twice
        raise ValueError(f"prompts {prompts} would share a mask file name; reword one of them")
    validate_threshold(threshold)
    mm_per_px = validate_mm_per_px(mm_per_px)
    if max_pixels is not None and (isinstance(max_pixels, bool) or not isinstance(max_pixels, numbers.Real)
                                   or not max_pixels >= 1):  # NaN fails this too
        raise ValueError(f"max_pixels must be a number of pixels of at least 1 (or None), got {max_pixels!r}")
    rules = parse_rules(rules, prompts, mm_per_px)
    root = names_root(paths if paths is not None else (), names_from_folders, out_dir)
    check_not_zeroshot(out_dir, overwrite)
    check_not_others(out_dir, overwrite, (BATCH_RESULTS, *(("overlay_grid.png",) if overlay_images else ())), paths,
                     prompts, overlay_images, root)
    check_names(out_dir, root, overwrite)
    return prompts, overlay_images, overwrite, mm_per_px, rules, root


def job_options(prompts, out_dir, overlay_images, threshold, mm_per_px, rules=(),
                max_pixels: int | None = DEFAULT_MAX_PIXELS, settings: dict | None = None,
                overwrite: bool = False, paths=None, tiling: dict | None = None,
                names_from_folders: bool = False) -> BatchOptions:
    """Checked options of a batch job (ValueError for anything it cannot use); makes the output folder. ``paths``: the
    job's inputs, whose photos' files a folder no job wrote may not hold (:func:`check_not_others`); ``tiling``: how
    the segmenter tiles photos (:func:`~drywallqa.engine.tiling.tiling_facts`), written to ``results.json``;
    ``names_from_folders``: outputs named by each photo's folders below the common input folder and its stem
    (:func:`folder_stem`), a folder of results named otherwise refused (:func:`check_names`)."""
    prompts, overlay_images, overwrite, mm_per_px, rules, root = check_job_inputs(
        prompts, out_dir, overlay_images, threshold, mm_per_px, rules, max_pixels, overwrite, paths, names_from_folders)
    prepare_out_dir(out_dir)
    remove_stale_temporaries(out_dir)  # left by a run killed mid-write
    remove_stale_temp_dirs(out_dir, INFLIGHT_PREFIX)  # a killed Ray job's markers, whichever executor resumes it
    key = settings_key({**(settings or {}), "threshold": threshold})
    earlier = settings_key({**{k: v for k, v in (settings or {}).items() if k != "weights"}, "threshold": threshold})
    return BatchOptions(tuple(prompts), str(out_dir), overlay_images, threshold, mm_per_px, rules, max_pixels, key,
                        overwrite, earlier if settings and "weights" in settings else "", tiling=tiling,
                        names_root=root)


def job_warnings(segmenter: Segmenter, prompts) -> list[str]:
    """What a batch job says once of its segmenter (its summary's and ``results.json``'s ``warnings``): the prompts
    it does not know, and tiles smaller than the model's input size (:meth:`TiledSegmenter.tile_warning
    <drywallqa.engine.tiling.TiledSegmenter.tile_warning>`: a photo's record keeps its reading notes, not its
    result's warnings, so that was said nowhere)."""
    said = getattr(segmenter, "tile_warning", lambda: None)()
    return [*segmenter.prompt_warnings(segmenter.match_prompts(prompts)), *([said] if said else [])]


def predict_paths(
    segmenter: Segmenter,
    paths,
    prompts,
    out_dir: str | Path,
    overlay_images: bool = False,
    threshold: float | None = None,
    progress: bool = True,
    mm_per_px: float | None = None,
    overwrite: bool = False,
    workers: int = 1,
    rules=(),
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    names_from_folders: bool = False,
) -> BatchSummary:
    """Segment every image under ``paths`` with every prompt on this machine (``workers`` threads).

    Writes 0/255 masks (and overlays) to ``out_dir`` and ``results.json`` with the QA measures of each
    mask (in mm too when ``mm_per_px`` is given) and the ``rules`` (:class:`~drywallqa.rules.Rule` or their
    text) each photo breaks; ``overwrite=True`` redoes finished images; ``names_from_folders=True`` names each photo's
    outputs by its folders below the common input folder and its stem (``day1/IMG_1.jpg``: ``day1-IMG_1__*``).

    Raises:
        OSError: a disk that could not take a photo's outputs (full, over quota, read-only: ``STORAGE_ERRNOS``), raised
            once the photos being segmented finish and ``results.json`` (where it can still be written) lists those
            done and names the others not done; the photos queued are not segmented.
        JobInterrupted: Ctrl-C (a ``KeyboardInterrupt``), raised once ``results.json`` lists the photos done and names
            the others not done; a Ctrl-C before the photos are segmented (while they are listed) or while
            ``results.json`` is written comes as the plain ``KeyboardInterrupt``.
        TypeError: ``segmenter`` is a model path or None (load it first), ``out_dir`` no path.
    """
    if segmenter is None or isinstance(segmenter, (str, os.PathLike)):  # predict_paths_ray's first argument is a path
        raise TypeError(f"predict_paths takes a loaded segmenter (Segmenter.load(model_path)), got "
                        f"{type(segmenter).__name__} {str(segmenter)!r}"[:200])
    paths, workers = input_paths(paths), check_workers(workers)
    check_out_apart(paths, out_dir)
    opts = job_options(prompts, out_dir, overlay_images, threshold, mm_per_px, rules, max_pixels, job_settings(segmenter),
                       overwrite, paths, tiling_facts(segmenter), names_from_folders)
    summary = BatchSummary(warnings=job_warnings(segmenter, opts.prompts))
    todo = plan_job(paths, opts, summary, workers, progress)
    rows, begun = {}, time.time()

    def run(path):
        try:
            return path, [process_image(segmenter, path, opts)], None  # a list the loop below empties
        except Exception as exc:  # noqa: BLE001 - whatever one file does, it is reported and the batch goes on
            return path, None, exc

    interrupted, full = False, None
    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    futures = [pool.submit(run, path) for path in todo]

    def drop_queued():  # the photos queued are dropped; those being segmented finish
        # waited for on the futures, not by joining the threads: a Ctrl-C that cuts Thread.join short can leave a
        # thread still running marked as ended, and the process then ends under it (std::terminate, SIGABRT)
        for future in futures:
            future.cancel()
        wait(futures)

    try:
        for future in progress_bar(futures, total=len(todo), desc="predict", disable=not progress):
            path, done, exc = future.result()
            if exc is not None:
                why = describe_error(exc)
                # one line, whatever the photo's name; the photo named where the reason does not (a segmentation's)
                logger.error("%s", shown(why if why.startswith(str(path)) else f"{path}: {why}"))
                summary.failed.append((str(path), why))
                if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:  # the disk, not the photo: each photo
                    full = exc  # after it was segmented only to fail so (a long job, for hours); stopped now
                    drop_queued()
                    break
                continue
            entry, row = done.pop()  # taken out of the future, which holds its result to the job's end: a row (the
            # photo once per prompt and once more) is kept for the grid only (each was: 1,000 3-MP photos, some 27 GB)
            summary.results.append(entry)
            summary.done.append(str(path))
            if row is not None:  # the grid's first rows in results.json's order: those of the first paths
                rows[os.path.abspath(path)] = row
                if len(rows) > GRID_ROWS:
                    del rows[max(rows)]
    except KeyboardInterrupt:
        interrupted = True
        try:  # (within the try: a long job drops many, and Ctrl-C again meanwhile is one too)
            drop_queued()
        except KeyboardInterrupt:  # Ctrl-C again: they finish on their threads (the process waits for them before it
            pass  # ends) while results.json is written; those not dropped yet are, by the shutdown below
    finally:
        pool.shutdown(wait=not interrupted, cancel_futures=True)  # idle by now, or left to finish their photo
    if interrupted or full is not None:  # results.json for what was done, each other photo named; then the stop goes up
        # a Ctrl-C between a photo's two appends above leaves it in results only: answered too, not listed twice
        answered = (set(summary.done) | {p for p, _ in summary.failed}
                    | {os.path.abspath(e["image"]) for e in summary.results})
        for path in todo:
            if str(path) in answered or os.path.abspath(path) in answered:
                continue
            entry = done_since(opts, path, begun)
            if entry is not None:  # finished by its thread while the pool wound down
                summary.results.append(entry)
                summary.done.append(str(path))
            else:
                summary.failed.append((str(path), INTERRUPTED if interrupted else disk_stopped(full)))
        if interrupted:
            finish_job(summary, opts, rows, interrupted=True)
            raise JobInterrupted(summary)
        try:
            finish_job(summary, opts, rows)
        except OSError:  # the disk still full: each photo done has its record, which a rerun lists
            pass
        raise full
    return finish_job(summary, opts, rows)


def _grid_label(name: str, most: int = 40) -> str:
    """A photo's name as the overlay grid labels its row: one line (:func:`shown`: ``a\\nb.jpg``), cut in the middle
    where long (a label runs along its row)."""
    name = shown(name)
    return name if len(name) <= most else f"{name[:most - 13]}...{name[-10:]}"


def saved_overlay_rows(images: list, opts: BatchOptions) -> list:
    """The grid's rows of images whose overlays are in the output folder (written by Ray workers, or by an earlier
    run): read back from their overlay PNGs, cut into the input and one panel per prompt. A strip Pillow does not decode
    (the photo once per prompt and once more: a 60-MP photo's of two prompts is over its 179 MP) is left out, as an
    unreadable one is."""
    rows = []
    for done in images:
        try:
            strip = np.asarray(open_image(Path(opts.out_dir) / overlay_name(opts.named(done))).convert("RGB"))
        except (OSError, Image.DecompressionBombError):
            continue
        if strip.shape[1] % (len(opts.prompts) + 1):  # not this job's panels: left out of the grid
            continue
        rows.append(np.split(strip, len(opts.prompts) + 1, axis=1))
    return rows
