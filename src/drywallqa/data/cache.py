"""Decoded, resized arrays of a list of samples, cached on disk so training does not decode JPEGs."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import zipfile
from pathlib import Path

import numpy as np

from ..utils.files import remove_stale_temporaries, write_atomic
from ..utils.image_io import DATASET_LIMIT, ImageReadError, read_image, resize_area, resize_target
from ..utils.locks import process_alive
from ..utils.progress import progress_bar
from ..utils.stamps import file_stamp
from .sample import Sample

logger = logging.getLogger(__name__)


# part of every cache key: bump it when reading or rasterising changes what a sample decodes to
# (2: degenerate boxes dropped, data/coco.py; 3: palette and transparent masks read by their colours and what was
# painted, degenerate polygons not drawn as their boxes, photos that cannot be decoded left out; 4: a photo with one
# side below the cache size and the other above averaged, not point-sampled, along the longer side; 5: a mask's 255
# beside class indices, and a VOC palette's index 255, read as 'ignore', no label; 6: masks cached as targets, uint8
# 0/1 and IGNORE_VALUE where 'ignore', Sample.load_target), so that no training reuses arrays made the old way
CACHE_VERSION = 6


def resize_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """``(H, W)`` bool -> ``(size, size)`` bool (area-averaged, then >= 0.5: :func:`~drywallqa.utils.image_io.
    resize_area`, as the photo)."""
    return resize_area(mask.astype(np.float32), size, size) >= 0.5


def _stamp(path) -> str:
    """``<size>:<mtime_ns>`` of a file (``-`` where there is none): a file replaced or edited in place gets another."""
    stamp = file_stamp(path)
    return f"{stamp[0]}:{stamp[1]}" if stamp else "-"


def cache_key(samples: list[Sample], size: int) -> str:
    """What the arrays of ``samples`` at ``size`` are cached under: each photo's path and stamp (size and modification
    time), its mask file's path and stamp or its COCO annotations themselves, and its declared size; so a photo, mask
    or label fixed in place (or written again by ``drywallqa data refine-masks``) is decoded again."""
    lines = []
    for s in samples:
        label = (f"{s.mask_path}@{_stamp(s.mask_path)}" if s.mask_path is not None
                 else hashlib.sha1(repr(s.annotations).encode()).hexdigest())
        lines.append(f"{s.image_path}@{_stamp(s.image_path)}|{s.height}x{s.width}|{label}")
    text = "\n".join(lines) + f"|{size}|v{CACHE_VERSION}"
    return hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]  # a name's bytes that are no UTF-8


LEGACY_TEMPORARY = re.compile(r"arrays_.*\.(\d+)\.tmp\.npz")  # left by a run of an earlier version killed mid-write


def remove_stale_cache_temporaries(cache_dir: str | Path) -> int:
    """Delete the temporary array files that runs killed while writing left in ``cache_dir``
    (:func:`~drywallqa.utils.files.remove_stale_temporaries`; and ``arrays_*.<pid>.tmp.npz`` of a process that
    is gone, as earlier versions named them); returns how many."""
    folder = Path(cache_dir)
    if not folder.is_dir():
        return 0
    removed = remove_stale_temporaries(folder)
    for path in folder.glob("arrays_*.tmp.npz"):
        match = LEGACY_TEMPORARY.fullmatch(path.name)
        if match and path.is_file() and int(match.group(1)) != os.getpid() and not process_alive(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed += 1
    if removed:
        logger.info("removed %d temporary files of killed runs from %s", removed, folder)
    return removed


def _save(path: Path, images: np.ndarray, masks: np.ndarray, kept: np.ndarray) -> None:
    """Written whole (:func:`~drywallqa.utils.files.write_atomic`): concurrent runs sharing the folder, or a kill,
    leave the old file or the new one; a killed write's temporary file is removed when the cache is opened next."""
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: np.savez would add ".npz" to a name
            np.savez(f, images=images, masks=masks, kept=kept)

    write_atomic(path, write)


def load_arrays(samples: list[Sample], size: int,
                cache_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """``(images, masks, kept)``: images ``(N, size, size, 3)`` uint8 and masks ``(N, size, size)`` uint8 targets
    (1 the label, 0 background, :data:`~drywallqa.utils.image_io.IGNORE_VALUE` 'ignore': :func:`resize_target`) of the
    samples that could be read, and their indices in ``samples``, cached under :func:`cache_key`. A photo or mask
    that cannot be decoded (a truncated JPEG passes the header check of :func:`~drywallqa.data.sample.load_split`)
    is left out with a warning naming it: one bad file among thousands stopped the whole training run."""
    path = Path(cache_dir) / f"arrays_{size}_{cache_key(samples, size)}.npz" if cache_dir else None
    if path is not None:
        remove_stale_cache_temporaries(path.parent)
    if path is not None and path.is_file():
        try:
            with np.load(path) as data:
                images, masks = data["images"], data["masks"]
                kept = data["kept"].tolist() if "kept" in data else list(range(len(samples)))  # 0.6.16's: all read
            if images.shape == (len(kept), size, size, 3) and masks.shape == (len(kept), size, size) and \
                    all(0 <= k < len(samples) for k in kept):
                if not _any_reads_now(samples, kept):
                    _warn_of_left_out(samples, kept, "(in the array cache: fix or remove them, and they are read again)")
                    return images, masks, kept
                logger.info("a photo left out of the training-array cache %s reads now; decoding the images again", path)
            else:
                raise ValueError(f"arrays of shapes {images.shape} and {masks.shape}")
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile,
                RuntimeError) as exc:  # truncated, overwritten; a flipped bit of a zip header: "compression method is
            # not supported" (NotImplementedError), "is encrypted, password required" (RuntimeError)
            logger.warning("training-array cache %s is damaged (%s); decoding the images again", path, exc)
    images = np.zeros((len(samples), size, size, 3), np.uint8)
    masks = np.zeros((len(samples), size, size), np.uint8)
    kept, why = [], {}
    for i, s in enumerate(progress_bar(samples, desc=f"decoding {len(samples)} images", leave=False)):
        try:
            images[len(kept)] = resize_area(read_image(s.image_path, advice=DATASET_LIMIT), size, size)
            masks[len(kept)] = resize_target(s.load_target(), size)
        except (ImageReadError, OSError, ValueError) as exc:
            why[i] = str(exc)
            continue
        kept.append(i)
    images, masks = images[:len(kept)], masks[:len(kept)]
    _warn_of_left_out(samples, kept, "", why)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _save(path, images, masks, np.asarray(kept, np.int64))
        except OSError as exc:  # a full disk, a folder in the file's place: the arrays are decoded, the run goes on
            logger.warning("training-array cache %s cannot be written (%s); training goes on without it (the images "
                           "are decoded again next time)", path, exc.strerror or exc)
    return images, masks, kept


def _any_reads_now(samples: list[Sample], kept: list[int]) -> bool:
    """Whether a sample left out of cached arrays reads now: one fixed without a change of its size or time (its read
    permission given back, a disk error gone) was left out of every later run."""
    for i in sorted(set(range(len(samples))) - set(kept)):
        try:
            read_image(samples[i].image_path, advice=DATASET_LIMIT)
            samples[i].load_mask()
        except (ImageReadError, OSError, ValueError):
            continue
        return True
    return False


LEFT_OUT_SHOWN = 5  # files named in the warning of photos left out of the arrays


def _warn_of_left_out(samples: list[Sample], kept: list[int], where: str, why: dict | None = None) -> None:
    """One warning naming the samples not in ``kept`` (the first :data:`LEFT_OUT_SHOWN`, with why where known)."""
    left = sorted(set(range(len(samples))) - set(kept))
    if not left:
        return
    named = "; ".join(why.get(i) or str(samples[i].image_path) if why else str(samples[i].image_path)
                      for i in left[:LEFT_OUT_SHOWN])
    logger.warning("%d of %d photos could not be decoded and are left out%s: %s%s", len(left), len(samples),
                   f" {where}" if where else "", named, f"; and {len(left) - LEFT_OUT_SHOWN} more" if
                   len(left) > LEFT_OUT_SHOWN else "")
