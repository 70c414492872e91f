"""One annotated image (:class:`Sample`) and readers that turn published splits into samples."""

from __future__ import annotations

import json
import logging
import os
import unicodedata
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..utils.image_io import (IGNORE_VALUE, VOC_PALETTE, ignored_pixels, mask_plane, palette_ignored, read_mask,
                              read_target, resize_target)
from ..utils.logs import held_back
from ..utils.paths import lexical_path, why_not
from ..utils.registry import UnknownNameError
from .coco import rasterize_annotations
from .problems import DataProblem
from .registry import (COCO_FILE, MASK_FOLDER_NAMES, SPLIT_READERS, DatasetConfig, coco_files_hint,
                       get_dataset_config, holds_masks, register_split_reader)

logger = logging.getLogger(__name__)
LOGGED_PROBLEMS = 3  # problems of one split logged one by one when it is read; the rest are counted
# a label mask is 0 and one value (0/255, 0/1) or a few (class indices); one of more grey levels is a soft or
# lossy picture of a label (a JPEG saved as a mask, a blurred or probability map), read as foreground wherever it is > 0
MASK_LEVELS = 16
CLASS_SHARE = 0.01  # a value or colour of at least this share of a mask's foreground is a class of its own
INVERTED_SHARE = 0.5  # a label mask foreground on its whole border and on more of the photo than this: inverted?
NEAR_BLACK = 8  # a mask whose brightest value is 128 or more: pixels at most 1/8 of it are a JPEG's noise, no label
_MASK_CHECKS: dict = {}  # mask file -> its soft_mask_problem, found once per process (not on every read)
_IGNORE_WARNED: set = set()  # mask folders a mask of 255 'ignore' of was logged of (once a folder, not once a mask)
_PARENTS_SAID: set = set()  # (dataset, folder, category, children) a YAML's parent category was said to be read as them
NOTICE = "notice"  # a log record's attribute: said of the data as read, not a problem (`data stats` shows it as well)
IGNORE_READ = "('ignore'): as VOC and MMSegmentation mark"  # what a mask of class indices beside 255 is named with


@dataclass
class Sample:
    """An image and where its ground-truth mask comes from (COCO annotations or a mask file). Nothing is decoded
    until asked: :meth:`load_mask` gives the label as an ``(H, W)`` bool array (``height`` x ``width``, the photo's
    size), :meth:`load_target` with its 'ignore' pixels apart; the photo is read from ``image_path``. The problems of a split come back from :func:`load_split`."""

    image_path: Path
    dataset: str
    split: str
    height: int
    width: int
    annotations: list[dict] | None = None
    mask_path: Path | None = None

    @property
    def group(self) -> str:
        return source_group(self.image_path.name)

    def load_mask(self) -> np.ndarray:
        """Ground truth as ``(H, W)`` bool at the image's size (a mask's 'ignore' pixels as no label:
        :meth:`load_target` keeps them apart)."""
        return self.load_target() == 1

    def load_target(self) -> np.ndarray:
        """Ground truth as a target, ``(H, W)`` uint8 at the image's size: 1 the label, 0 background,
        :data:`~drywallqa.utils.image_io.IGNORE_VALUE` where a mask of class indices beside 255 marks 'ignore'
        (:func:`~drywallqa.utils.image_io.read_target`), which training and scoring count nowhere."""
        if self.mask_path is not None:
            target = read_target(self.mask_path)  # 255 beside class indices: 'ignore', not the label
            mask_level_problem(self.mask_path)
            if target.shape != (self.height, self.width):
                raise ValueError(f"{self.mask_path}: mask is {target.shape[1]}x{target.shape[0]}, image is "
                                 f"{self.width}x{self.height}")
            return target
        mask, _ = rasterize_annotations(self.annotations or [], self.height, self.width, str(self.image_path))
        return mask.astype(np.uint8)


def _same_shape(size, other) -> bool:
    """Whether two ``(width, height)`` sizes are of one shape, within 1% (a uniformly shrunk copy of a photo, a mask
    drawn on the photo at another size): ``width * other_height`` within 1% of ``height * other_width``."""
    (w, h), (ow, oh) = size, other
    return abs(w * oh - h * ow) <= 0.01 * ow * h  # (in the order every place that asked it multiplied)


def label_at_photo(mask: np.ndarray, shape) -> np.ndarray:
    """A sample's label (bool, or a target: :meth:`Sample.load_target`) at the size of its photo as read (``shape``:
    the photo's ``(H, W[, C])``). A uniformly shrunk copy of a photo (which the COCO reader takes: its entry declares
    a larger size of the same shape, within 1%) has its label drawn at the declared size: it comes back area-averaged
    to the photo's size, kept where it covers half a pixel or more, as training reads it
    (:func:`~drywallqa.utils.image_io.resize_target`). A label of the photo's size, or of any other size (no such copy:
    its scorer refuses it), comes back as it is."""
    import cv2

    height, width = shape[:2]
    mh, mw = mask.shape
    if (mh, mw) == (height, width) or height > mh or width > mw or not _same_shape((width, height), (mw, mh)):
        return mask

    def shrink(plane: np.ndarray) -> np.ndarray:
        return cv2.resize(plane, (width, height), interpolation=cv2.INTER_AREA)

    return resize_target(mask, shrink) if mask.dtype != bool else shrink(mask.astype(np.float32)) >= 0.5


def photo_and_label(sample: Sample, target: bool = False, **read) -> tuple[np.ndarray, np.ndarray]:
    """A sample's photo (``(H, W, 3)`` uint8 RGB, :func:`~drywallqa.utils.image_io.read_image` with ``read``'s
    options) and its label at the photo's size (:func:`label_at_photo`: a uniformly shrunk copy's label shrunk as
    training reads it), as everything that scores or shows a sample reads them; with ``target``, the label as a
    target (:meth:`Sample.load_target`: its 'ignore' pixels apart, for scores that count them nowhere). A label of
    another size comes back as it is (its caller names the photo).

    Raises:
        OSError, ValueError: the photo or its label cannot be read."""
    from ..utils.image_io import read_image

    image = read_image(sample.image_path, **read)
    return image, label_at_photo(sample.load_target() if target else sample.load_mask(), image.shape)


def mask_level_problem(path: Path) -> DataProblem | None:
    """:func:`soft_mask_problem` of a mask file, read once per process (a warning the first time it is found): every
    reader of the mask (``load_mask``, ``data stats``) shares the one check. A reading whose warnings are held back
    (:func:`~drywallqa.utils.logs.warnings_held_back`) finds it without keeping it: the next reading gives the warning
    (it was kept as given, dropped, and never said for the rest of the command)."""
    if path in _MASK_CHECKS:
        return _MASK_CHECKS[path]
    problem = soft_mask_problem(path)
    if held_back():
        return problem
    _MASK_CHECKS[path] = problem
    if problem is not None and IGNORE_READ in problem.message:  # a folder's every mask, as a rule: said once
        if Path(path).parent not in _IGNORE_WARNED:
            _IGNORE_WARNED.add(Path(path).parent)
            logger.warning("%s (its folder's other such masks are read so too; `drywallqa data stats` counts "
                           "them)", problem)
    elif problem is not None:
        logger.warning("%s", problem)
    return problem


def soft_mask_problem(path: str | Path) -> DataProblem | None:
    """A problem naming a mask file of more than :data:`MASK_LEVELS` grey levels (every pixel above 0 is read as
    foreground, its faint halo too), with how many of its foreground pixels are fainter than half its brightest; or of
    a few levels with a JPEG's noise, or drawn black on white (:func:`_inverted_problem`); None for a label mask, or
    one that cannot be read (reading it says why). What is read is not changed."""
    from PIL import Image

    from ..utils.image_io import open_image

    with ExitStack() as opened:  # open until its colours are read, where they are (a mask of a few levels)
        try:
            img = opened.enter_context(open_image(path))
            arr = mask_plane(img)  # as read_mask reads it (a palette's colours, not its indices)
            band = palette_ignored(img)  # (its index 255, VOC's 'void', where read as no label)
        except (OSError, ValueError, Image.DecompressionBombError):
            return None
        if band is not None:
            return _ignore_problem(path, np.asarray(img), band, palette=True)
        return _plane_problem(path, arr, None if img.mode in ("1", "L", "LA", "La") or img.mode.startswith(
            ("I", "F")) else lambda: np.asarray(img.convert("RGB")))


def _plane_problem(path, arr: np.ndarray, colours) -> DataProblem | None:
    """:func:`soft_mask_problem` of a mask's plane ``arr``; ``colours`` gives its pixels as RGB where it has colours
    (None for a grey one), called only where a mask of a few levels is looked at for classes: a copy of every colour
    mask, unused for most."""
    if (band := ignored_pixels(arr)) is not None:  # 0, class indices and 255 (VOC's, MMSegmentation's 'ignore')
        return _ignore_problem(path, arr, band)
    levels = int(np.count_nonzero(np.bincount(arr.ravel()))) if arr.dtype == np.uint8 else len(np.unique(arr))
    on = arr[arr > 0]
    if levels <= MASK_LEVELS:
        # a 0/255 label with a JPEG's noise can be of few levels (1-5 and 250-255): its near-black pixels were all
        # read as foreground without a word (a whole photo's label); class indices (0, 1, 2) have no bright value
        brightest = int(on.max()) if on.size else 0
        near_black = int(np.count_nonzero(on <= brightest // NEAR_BLACK)) if brightest >= 128 else 0
        if near_black and _apart(arr, brightest // NEAR_BLACK) * 4 < near_black:  # an anti-aliased edge's faint
            near_black = 0  # pixels (a label shrunk by 3: 28 of 255) each touch its stroke; a JPEG's noise lies apart
        if not near_black:
            return _classes_problem(path, arr, colours) or _inverted_problem(path, arr > 0)
        return DataProblem(str(path), f"a mask of values near 0 ({near_black} pixels of 1-{brightest // NEAR_BLACK}) "
                                      f"beside values near its brightest ({brightest}): a JPEG's noise, or class "
                                      "indices beside a 255 ('ignore') value? every pixel above 0 is read as "
                                      f"foreground ({on.size / arr.size:.0%} of the mask); save it as 0/255 (e.g. "
                                      f"threshold it at {brightest // 2})")
    faint = float((on < arr.max() / 2).mean()) if on.size else 0.0
    return DataProblem(str(path), f"a mask of {levels} grey levels, not a label of 0 and one value (saved as JPEG, or a "
                                  f"soft map?): every pixel above 0 is read as foreground, {faint:.0%} of them fainter "
                                  "than half the brightest; save it as 0/255")


def _ignore_problem(path, plane: np.ndarray, band: np.ndarray, palette: bool = False) -> DataProblem:
    """The problem naming a mask of class indices (``plane``: a grey mask's values, a palette mask's indices) whose
    :data:`IGNORE_VALUE` (``band``) is read as 'ignore', no label (:func:`ignored_pixels`, :func:`palette_ignored`)."""
    values = ", ".join(map(str, np.unique(plane[(plane > 0) & ~band])[:5]))
    if palette:  # read by its colours, index 255 of VOC's (224, 224, 192) was foreground
        return DataProblem(str(path), f"a palette mask of class indices ({values or 'none'}) beside index "
                                      f"{IGNORE_VALUE} {IGNORE_READ} pixels of no label (VOC's 'void', coloured "
                                      f"{VOC_PALETTE[IGNORE_VALUE]} in its palette), its {int(band.sum())} px of "
                                      f"index {IGNORE_VALUE} are read as 'ignore', left out of training's losses and "
                                      "of the scores, the label where it is " + (values or "none of them") +
                                      f"; if index {IGNORE_VALUE} is the label in it, save it as a grey 0/255 mask")
    return DataProblem(str(path), f"a mask of class indices ({values}) beside {IGNORE_VALUE} {IGNORE_READ} "
                                  f"pixels of no label, its {int(band.sum())} px of {IGNORE_VALUE} are read as "
                                  "'ignore', left out of training's losses and of the scores, the label where "
                                  f"it is {values}; if {IGNORE_VALUE} is the label in it, save it as "
                                  f"0/{IGNORE_VALUE} alone (its {values} as 0 or {IGNORE_VALUE})")


def _apart(plane: np.ndarray, faint: int) -> int:
    """How many pixels of ``plane`` of 1 to ``faint`` are no anti-aliased edge: an edge's touch (of 8 neighbours) a
    pixel brighter than ``faint`` and a 0 (the stroke and the background); a JPEG's noise lies apart from the stroke,
    class indices beside a 255 ('ignore') boundary touch no 0."""
    def touching(where: np.ndarray) -> np.ndarray:
        padded, near = np.pad(where, 1), np.zeros(where.shape, dtype=bool)
        for dy in range(3):
            for dx in range(3):
                near |= padded[dy:dy + where.shape[0], dx:dx + where.shape[1]]
        return near

    edge = touching(plane > faint) & touching(plane == 0)
    return int(np.count_nonzero((plane > 0) & (plane <= faint) & ~edge))


def _classes_problem(path, plane: np.ndarray, colours: Callable[[], np.ndarray] | None) -> DataProblem | None:
    """A problem naming a label mask of several classes, each of at least :data:`CLASS_SHARE` of its foreground: grey
    class indices (values below 128: 1, 2, ...) or colours of other hues (a CVAT or VOC export's red crack, green
    stain): all were read as one label without a word (a COCO file's several categories are named). Greys of one hue
    (a white label's lighter edge) are no classes. None for any other. ``colours`` gives the mask's pixels as RGB (None
    for a grey mask), read only where there is foreground."""
    on = plane > 0
    if not on.any():
        return None
    if colours is None:
        values, counts = np.unique(plane[on], return_counts=True)
        if plane.max() >= 128:  # a 0/255 label (its greys are edges, or a JPEG's), or classes spread over the greys
            # (0/128/255): a grey is a class where it fills a region of its own, not a line along another's edge, and
            # lies apart from the brightest (a JPEG's 250-254 inside a white stroke are that stroke); nor a band between
            # brighter and darker values about a brightest edged with greys, however wide (a label halved, then enlarged
            # by nearest neighbour: its greys were named as classes)
            top, share = int(values[-1]), CLASS_SHARE * on.sum()
            edged = None  # whether the brightest's region is edged with greys (its border touches 0 little), found once

            def edge(v) -> bool:
                nonlocal edged
                if not _between(plane, v):
                    return False
                if edged is None:
                    rim = _border(plane == top)
                    edged = _touches(rim, plane == 0) * 3 < np.count_nonzero(rim)
                return edged

            regions = [v == top or (v <= top - top // NEAR_BLACK and n >= share and _filled(plane == v) >= share
                                    and not edge(v)) for v, n in zip(values, counts)]
            values, counts = values[regions], counts[regions]
        what = "values"
    else:
        rgb = colours()
        if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]):
            return None  # greys only (a white label saved as RGB): of one hue, or black, so no classes
        px = rgb[on]
        px = px[::max(1, len(px) // 1_000_000)].astype(np.int32)  # (a share of a large one's pixels tells the same)
        top = np.maximum(px.max(axis=1, keepdims=True), 1)
        hue = (px * 4 + top // 2) // top  # each channel as a quarter of the brightest: one hue, whatever its grey
        codes = hue[:, 0] * 25 + hue[:, 1] * 5 + hue[:, 2]
        found = np.bincount(codes, minlength=125)
        found[0] = 0  # black, of a mask read by its alpha (a transparent layer's edge): no class of its own
        values = [tuple(int(c) for c in px[np.argmax(codes == k)]) for k in np.flatnonzero(found)]
        counts = found[found > 0] * (on.sum() / len(px))
        what = "colours"
    classes = [(v, int(n)) for v, n in zip(values, counts) if n >= CLASS_SHARE * on.sum()]
    if len(classes) < 2:
        return None
    said = ", ".join(f"{v}: {n} px" for v, n in sorted(classes, key=lambda c: -c[1])[:5])
    return DataProblem(str(path), f"a mask of {len(classes)} {what} ({said}): several classes? all are read as one "
                                  "label, this dataset's; keep only its class in the masks (one dataset per class); "
                                  "a mask of instances of its one class (each its own value or colour, as VOC's "
                                  "SegmentationObject) is read right: nothing to do")


def _filled(where: np.ndarray) -> int:
    """How many pixels of ``where`` have all 8 neighbours in it too: a region's inside (an edge a pixel or two wide,
    as anti-aliasing draws one, has none)."""
    inside = where.copy()
    padded = np.pad(where, 1)
    for dy in range(3):
        for dx in range(3):
            inside &= padded[dy:dy + where.shape[0], dx:dx + where.shape[1]]
    return int(np.count_nonzero(inside))


def _border(where: np.ndarray) -> np.ndarray:
    """The pixels of ``where`` with a neighbour (of 8) outside it, or on the image's edge."""
    padded, inside = np.pad(where, 1), where.copy()
    for dy in range(3):
        for dx in range(3):
            inside &= padded[dy:dy + where.shape[0], dx:dx + where.shape[1]]
    return where & ~inside


def _touches(border: np.ndarray, other: np.ndarray) -> int:
    """How many pixels of ``border`` (a region's, :func:`_border`) touch (of 8 neighbours) a pixel of ``other``."""
    padded, near = np.pad(other, 1), np.zeros(other.shape, dtype=bool)
    for dy in range(3):
        for dx in range(3):
            near |= padded[dy:dy + other.shape[0], dx:dx + other.shape[1]]
    return int(np.count_nonzero(near & border))


def _between(plane: np.ndarray, value: int) -> bool:
    """Whether the pixels of ``value`` in ``plane`` lie between brighter and darker ones, as a label's edge does: a
    third or more of their region's border touches (of 8 neighbours) a brighter value, and a third or more a darker
    one (a class's region of its own touches the background alone, or a brighter class along a short side; one a
    crack crosses is told apart by the brightest's border, which touches 0: :func:`_classes_problem`)."""
    border = _border(plane == value)
    total = int(np.count_nonzero(border))
    return bool(total) and _touches(border, plane > value) * 3 >= total and _touches(border, plane < value) * 3 >= total


def _inverted_problem(path, mask: np.ndarray) -> DataProblem | None:
    """A problem naming a label mask whose foreground is every pixel of its border and most of the photo, around a
    background inside: a label drawn black on white (an inverted mask), read as all of the photo but the crack,
    without a word. None for any other."""
    if mask.all() or mask.mean() < INVERTED_SHARE:
        return None
    if not (mask[0].all() and mask[-1].all() and mask[:, 0].all() and mask[:, -1].all()):
        return None
    return DataProblem(str(path), f"the mask is foreground (not black) on every pixel of its border and on "
                                  f"{mask.mean():.0%} of the photo: drawn black on white (inverted)? what is not black "
                                  "is read as the label; save the label white (or any value above 0) on black (a "
                                  "crack or tape that does fill the photo but for what is black: read right, nothing "
                                  "to do)")


def source_group(file_name: str) -> str:
    """Roboflow names copies ``<source stem>.rf.<hash>.jpg``; the source stem groups them."""
    name = Path(file_name).name
    return name.split(".rf.")[0] if ".rf." in name else Path(name).stem


ENTRY_ERRORS = (KeyError, TypeError, ValueError, OverflowError, OSError, RuntimeError)  # what a bad entry raises
# (RuntimeError: a file_name that is a loop of links, which resolve() stops at; and RecursionError, deeply nested JSON)
UNFINISHED = "unfinished"  # the key of `drywallqa data refine-masks`' report.json naming the splits it has not finished


def unfinished_refine_problem(folder: Path) -> DataProblem | None:
    """A problem naming a mask-folder split that a ``drywallqa data refine-masks`` run was writing when it stopped (the
    ``report.json`` beside the split folder lists it as :data:`UNFINISHED`): it may hold only part of the photos, or
    masks of other settings. None for any other folder."""
    try:
        unfinished = json.loads((folder.parent / "report.json").read_text()).get(UNFINISHED) or []
    except (OSError, ValueError, AttributeError):  # no report, or not one of refine-masks
        return None
    if not isinstance(unfinished, list) or folder.name not in unfinished:
        return None
    return DataProblem(str(folder), "written by a `drywallqa data refine-masks` run that did not finish (its report.json "
                                    "says so): it may hold only part of the photos; run that command again to finish it")


@register_split_reader("coco", finds=lambda folder: (folder / COCO_FILE).is_file(),
                       layout="<split>/_annotations.coco.json")
def _read_coco(config: DatasetConfig, split: str, folder: Path, problems: list[DataProblem]) -> list[Sample]:
    """Samples of a COCO split; every image entry or annotation that cannot be used is a problem naming it."""
    ann_file = folder / COCO_FILE
    if not ann_file.is_file():  # a pipe would be waited on for ever, a link to /dev/zero read until memory ran out
        problems.append(DataProblem(str(ann_file), f"cannot read COCO annotations ({ann_file.name} "
                                                   f"{why_not(ann_file, folder=False)}){coco_files_hint(folder)}"))
        return []
    try:
        coco = json.loads(ann_file.read_text(encoding="utf-8-sig"))  # a byte-order mark, as some editors write, read past
        if not isinstance(coco, dict) or "images" not in coco:  # "{}": said as such, not as "KeyError: 'images'"
            raise TypeError("no 'images' list: not a COCO annotation file")
        images, anns = coco["images"], coco.get("annotations", [])
        if not isinstance(images, list) or not isinstance(anns, list):
            raise TypeError("'images' and 'annotations' must be lists")
    except (*ENTRY_ERRORS, json.JSONDecodeError) as exc:
        problems.append(DataProblem(str(ann_file), f"cannot read COCO annotations ({type(exc).__name__}: {str(exc)[:200]})"))
        return []
    if "annotations" not in coco and images:  # every photo read as unlabelled, without a word
        problems.append(DataProblem(str(ann_file), f"no 'annotations' list: its {len(images)} photos are read as showing "
                                                   "nothing to segment (write \"annotations\": [] to say so)"))
    categories = coco.get("categories") or []
    if not isinstance(categories, list):  # the labels are read all the same (they were before categories were read)
        problems.append(DataProblem(str(ann_file), f"'categories' is no list ({type(categories).__name__}): its "
                                                   "annotations are read as one label, whatever their category"))
        categories = []
    by_image: dict = {}
    for a in _of_categories(config, anns, categories, str(ann_file), problems):
        try:
            by_image.setdefault(a["image_id"], []).append(a)
        except ENTRY_ERRORS as exc:  # not an object, no image_id, or an unhashable one
            problems.append(DataProblem(str(ann_file), f"annotation entry {str(a)[:60]!r} unusable ({type(exc).__name__}); "
                                                       "skipped"))
    entries = Counter(img.get("id") for img in images if isinstance(img, dict) and _hashable(img.get("id")))
    # an id of several entries: whose photo its annotations label cannot be told (they were drawn on the first)
    seen, seen_names = {i for i, n in entries.items() if n > 1}, {}
    for ident in seen:
        problems.append(DataProblem(str(ann_file), f"image id {ident!r} is used by {entries[ident]} image entries: which "
                                                   "photo its annotations label cannot be told; all of them skipped"))
    samples, listings = [], {}
    for img in images:
        try:
            sample = _coco_sample(config, split, folder, img, by_image, seen, problems, seen_names, listings)
        except ENTRY_ERRORS as exc:
            what = img.get("file_name", img) if isinstance(img, dict) else img
            problems.append(DataProblem(f"{ann_file} ({str(what)[:80]!r})", f"image entry unusable ({type(exc).__name__}: "
                                                                             f"{str(exc)[:200]}); skipped"))
            continue
        if sample is not None:
            samples.append(sample)
    used = {img.get("id") for img in images if isinstance(img, dict) and _hashable(img.get("id"))}
    orphans = [a for key, group in by_image.items() if key not in used for a in group]
    if orphans:  # labels that no image entry takes (a missing entry, or an id of another type: "2" vs 2)
        ids = sorted({repr(a["image_id"]) for a in orphans})  # (as written: '2' and 2 were both said 2)
        by_text = {str(i): i for i in used}
        typed = [(k, by_text[str(k)]) for k in dict.fromkeys(a["image_id"] for a in orphans) if str(k) in by_text]
        hint = "".join(f"; {k!r} is {_kind(k)}, the image entry's id {i!r} {_kind(i)}"
                       for k, i in typed[:3])
        problems.append(DataProblem(str(ann_file), f"{len(orphans)} annotations name image ids that no image entry has "
                                                   f"({', '.join(ids[:5])}{', ...' if len(ids) > 5 else ''}); skipped"
                                                   + (f"{hint}: write the ids alike (numbers, as COCO does)"
                                                      if hint else "")))
    if config.label_shape == "region":
        _box_only(samples, problems)
    _unlisted_photos(folder, images, str(ann_file), problems)
    return samples


def _kind(value) -> str:
    """What a COCO id is, as the problem of annotations of an id of another type says it ("text", "a number")."""
    return "text" if isinstance(value, str) else "a number" if isinstance(value, (int, float)) else type(value).__name__


def _box_only(samples: list[Sample], problems: list) -> None:
    """A problem of each photo of a region dataset with annotations that have a box and no outline: each is read as
    its whole box filled (a crack's box: a rectangle of wall), which the dataset's ``label_shape`` did not say. The
    photo is read all the same (the problem names it: ``evaluate`` scores it, with the note)."""
    from .coco import usable_box

    for s in samples:
        n = sum(1 for a in s.annotations or [] if isinstance(a, dict) and not a.get("segmentation")
                and usable_box(a, s.height, s.width) is not None)
        if n:
            problems.append(DataProblem(str(s.image_path), f"{n} annotations have a box and no outline (segmentation): "
                                                           "each is read as its whole box filled, though the dataset's "
                                                           "labels are regions; if its labels are boxes, write "
                                                           "label_shape: box in its YAML file, else export the outlines "
                                                           "(polygons or masks)"))


def _of_categories(config: DatasetConfig, anns: list, categories: list, source: str, problems: list) -> list:
    """The annotations that label this dataset's foreground: those of its YAML's ``categories`` where it names some,
    else all, with a problem where they are of several categories (all read as one label: a stain class joined the
    crack masks without a word) or name category ids the file does not list. A category named that no annotation is of
    and that is Roboflow's parent of some that are is read as those (:func:`_children_of`; a warning once a dataset)."""
    listed: dict = {}  # id -> its names (as text: a YAML's "categories: [7]" is read as "7", a file's name 7 too)
    for c in categories:
        if isinstance(c, dict) and _hashable(c.get("id")):
            # stripped, as a YAML's names are (a file's "crack " could be chosen by no name)
            listed.setdefault(c["id"], {})[category_name(c.get("name"))] = None
    for i, n in listed.items():  # the last name was taken without a word: "crack" of the YAML was "not a category"
        if len(n) > 1:
            problems.append(DataProblem(source, f"category id {i!r} is listed under {len(n)} names ({', '.join(n)}): "
                                                "its annotations are read as each of them"))
    names = {i: "/".join(n) for i, n in listed.items()}  # what the problems call each id's category

    def category(a):
        return a.get("category_id") if isinstance(a, dict) and _hashable(a.get("category_id")) else None

    if config.categories:
        chosen = [category_name(n) for n in config.categories]
        missing = [n for n in chosen if not any(n in names_of for names_of in listed.values())]
        if missing:
            problems.append(DataProblem(source, f"categories {missing} of the dataset's YAML file are not categories of "
                                                f"this file (it has: {sorted({n for ns in listed.values() for n in ns})})"
                                                f"{_case_hint(missing, {n for ns in listed.values() for n in ns})}"))
        wanted = {i for i, n in listed.items() if any(name in n for name in chosen)}
        used = Counter(category(a) for a in anns if isinstance(a, dict))
        idle = [n for n in chosen if n not in missing and not any(used[i] for i, ns in listed.items() if n in ns)]
        children = _children_of(idle, categories, used)
        for parent, kids in children.items():  # Roboflow's parent category ("crack", id 0): read as its children
            wanted |= set(kids)
            named = sorted(set(kids.values()))
            said_of = (config.name, config.folder, parent, tuple(named))  # once a dataset (not once a file, split)
            # (a reading whose warnings are held back marks none as said: it was dropped; the next reading says it)
            if not set(named) <= set(chosen) and said_of not in _PARENTS_SAID and not held_back():
                _PARENTS_SAID.add(said_of)  # a warning, as the CLI shows (at INFO, no user saw it); `data stats` too
                logger.warning("%s: categories: %r is a parent category (Roboflow's: no annotation of %s is of it); "
                               "reading its children %s (to read only some, name them under categories:)",
                               config.name, parent, source, ", ".join(named), extra={NOTICE: True})
        said = _idle_categories([n for n in idle if n not in children], categories, used)
        if said:  # a name of the file that labels nothing and is no parent: every photo was read as showing none of
            # it, without a word
            problems.append(DataProblem(source, said))
        unknown = Counter(category(a) for a in anns if isinstance(a, dict) and category(a) not in names) if names else {}
        if unknown:  # of no category it names, nor of another: they were left out without a word
            problems.append(DataProblem(source, f"{sum(unknown.values())} annotations name category ids no category "
                                                f"entry has ({', '.join(sorted(map(str, unknown))[:5])}); not read (the "
                                                f"dataset's YAML reads only the categories {list(config.categories)})"))
        return [a for a in anns if not isinstance(a, dict) or category(a) in wanted]
    used = Counter(category(a) for a in anns if isinstance(a, dict))
    unknown = sorted((str(i) for i in used if i not in names), key=str) if names else []
    if unknown:
        problems.append(DataProblem(source, f"{sum(used[i] for i in used if str(i) in unknown)} annotations name "
                                            f"category ids no category entry has ({', '.join(unknown[:5])}); read as "
                                            "this dataset's label"))
    if len(used) > 1:
        counts = ", ".join(f"{names.get(i, i)}: {n}" for i, n in used.most_common())
        problems.append(DataProblem(source, f"annotations of {len(used)} categories ({counts}) are all read as one "
                                            "label, this dataset's; to read only some, list their names under "
                                            "categories: in the dataset's YAML file"))
    return anns


def _children_of(idle: list[str], categories: list, used: Counter) -> dict[str, dict]:
    """The YAML's ``categories`` ``idle`` (a file's, of no annotation in it) that are a Roboflow parent category of
    categories some annotation is of (``used``: the annotations' counts by category id), each with those children
    ({id: name}): categories listed in the file whose ``supercategory`` is its name (Roboflow lists its project as
    category 0, supercategory "none", and every class under it)."""
    children: dict = {}
    for c in categories:
        if isinstance(c, dict) and _hashable(c.get("id")) and used.get(c["id"]) and c.get("supercategory") is not None:
            parent, name = category_name(c.get("supercategory")), category_name(c.get("name"))
            if parent in idle and name != parent:
                children.setdefault(parent, {})[c["id"]] = name
    return children


def _idle_categories(idle: list[str], categories: list, used: Counter) -> str:
    """The problem of the YAML's ``categories`` ``idle`` that are a file's, label nothing in it (no annotation is of
    them; ``used``: the annotations' counts by category id) and are no parent of categories that do
    (:func:`_children_of`), with the categories the file's annotations are of. "" for none."""
    if not idle:
        return ""
    names = sorted({category_name(c.get("name")) for c in categories
                    if isinstance(c, dict) and _hashable(c.get("id")) and used.get(c["id"])})
    return (f"categories {idle} of the dataset's YAML file label nothing in this file (no annotation is of them): its "
            f"photos are read as showing none of them" + (f" (its annotations are of {names})" if names else ""))


def coco_categories(config: DatasetConfig, datasets_dir: str | Path | None = None) -> set[str] | None:
    """The category names (as :func:`category_name` compares them) of the COCO files of every split of a dataset that
    can be read that some annotation is of (a category listed and of no annotation labels nothing), and Roboflow's
    parent category of such ones (read as its children, :func:`_children_of`); None where a split is of another kind
    (its masks are labels, whatever the categories) or no file can be read (reading the split says why)."""
    names, read = set(), False
    for source in config.splits.values():
        if source.kind != "coco":
            return None
        try:
            coco = json.loads((config.root(datasets_dir) / source.folder / COCO_FILE).read_text(
                encoding="utf-8-sig"))
        except (*ENTRY_ERRORS, json.JSONDecodeError):
            continue
        categories = coco.get("categories") if isinstance(coco, dict) else None
        anns = coco.get("annotations") if isinstance(coco, dict) else None
        used = {a.get("category_id") for a in anns if isinstance(a, dict) and _hashable(a.get("category_id"))} \
            if isinstance(anns, list) else set()
        read = True
        of_use = [c for c in categories if isinstance(c, dict) and _hashable(c.get("id")) and c["id"] in used] \
            if isinstance(categories, list) else []
        names |= {category_name(c.get("name")) for c in of_use}
        listed = {category_name(c.get("name")) for c in categories if isinstance(c, dict)} if of_use else set()
        names |= {category_name(c.get("supercategory")) for c in of_use if c.get("supercategory") is not None} & listed
    return names if read else None


def categories_refusal(config: DatasetConfig, datasets_dir: str | Path | None = None) -> str | None:
    """Why a dataset cannot be trained on or scored: its YAML's ``categories`` are none of those its COCO files'
    annotations are of (:func:`coco_categories`: a category listed and of no annotation too, but Roboflow's parent
    category of some that are, read as them): every photo would be read as showing nothing (`evaluate` scored the model
    against empty masks). None where some photos can have a category asked (the files that lack it are named as they
    are read), or the dataset names no categories."""
    if not config.categories:
        return None
    has = coco_categories(config, datasets_dir)
    if has is None or any(category_name(c) in has for c in config.categories):
        return None
    return (f"dataset {config.name!r}: its YAML file reads only the categories {list(config.categories)}, and its COCO "
            f"files label none of them (their annotations are of: {sorted(has)}){_case_hint(config.categories, has)}: "
            "every photo would be read as showing nothing, its prompt trained on (and scored against) empty masks; "
            "list under categories: in its YAML file the names its files give (or remove categories: to read every "
            "annotation)")


def _case_hint(chosen, names) -> str:
    """What a YAML's ``chosen`` categories not among ``names`` (a file's) are written as there in other case or
    spacing (``wall crack``: ``Wall Crack``; names are compared as written): "" for none."""
    by_key = {" ".join(n.split()).casefold(): n for n in names}
    near = [(c, by_key[key]) for c in map(category_name, chosen)
            if c not in names and (key := " ".join(c.split()).casefold()) in by_key]
    return "".join(f"; {c!r} is written {n!r} in the file (names are compared as written)" for c, n in near)


def category_name(name) -> str:
    """A category's name as names are compared: stripped, and in Unicode's composed form (NFC): "Riß" or "Reïs" typed
    in the YAML file chose no category of a file that spells it decomposed (as macOS tools may write it), and the
    problem named the two alike ("not categories of this file (it has: ['Reïs'])")."""
    return unicodedata.normalize("NFC", str(name).strip())


def _unlisted_photos(folder: Path, images: list, source: str, problems: list) -> None:
    """A problem naming the photos of a COCO split's folder that its file does not list (they are not read)."""
    from ..utils.image_io import IMAGE_SUFFIXES

    listed = set()
    for img in images:
        try:
            listed.add(_listed_path(folder, img["file_name"]).resolve())
        except ENTRY_ERRORS:  # no name, or none a file can have (each named as its entry is read)
            continue
    try:
        unlisted = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
                          and not p.name.startswith(".") and p.is_file() and p.resolve() not in listed)
    except OSError:
        return
    if unlisted:
        problems.append(DataProblem(source, f"{len(unlisted)} photos of {folder} are not listed in it and are not read "
                                            f"({', '.join(unlisted[:5])}{', ...' if len(unlisted) > 5 else ''})"))


def _hashable(value) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _listed_path(folder: Path, name: str) -> Path:
    """The file a COCO image entry's ``file_name`` names in the split folder: a Windows path (``images\\a.jpg``, as a
    script run on Windows writes it) is read with '/' where it names no file as written (it was "missing on disk"
    beside "not listed": every photo of the export left out)."""
    path = folder / name
    if isinstance(name, str) and "\\" in name and not path.is_file():
        return folder / name.replace("\\", "/")
    return path


def _named_here(folder: Path, name: str, outside: bool = False) -> str:
    """Where a COCO entry's ``file_name`` is a path the photo had elsewhere (Label Studio's /data/upload/1/a.jpg, a
    script's C:\\Users\\me\\a.jpg; with ``outside``, an absolute path only: ``../a.jpg`` may name the photo it
    means), and the split folder holds a photo of its last part's name: what to write. "" otherwise."""
    from pathlib import PurePosixPath, PureWindowsPath

    if outside and not (PurePosixPath(name).is_absolute() or PureWindowsPath(name).anchor):
        return ""
    base = name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    try:
        here = bool(base) and base != name and (folder / base).is_file()
    except OSError:  # a name too long
        return ""
    return (f" ({base} of this name is in the split folder: write file_name as the photo's path in the split folder, "
            f"{base!r}, not the path it had where it was uploaded or labelled)") if here else ""


def _other_case(path: Path, listings: dict) -> str:
    """The files beside ``path`` (not found) of its name in other case, as its problem says them (``IMG_1.JPG`` listed
    as ``img_1.jpg``: read on macOS or Windows, whose names are of any case, "missing on disk" here); "" for none.
    ``listings``: each folder's names by their casefold, filled as folders are first looked in."""
    if path.parent not in listings:
        names: dict = {}
        try:
            for p in path.parent.iterdir():
                names.setdefault(p.name.casefold(), []).append(p.name)
        except OSError:
            pass
        listings[path.parent] = names
    near = sorted(listings[path.parent].get(path.name.casefold(), []))
    return (f" ({', '.join(near)} is there, of its name in other case: write its name as on disk in the COCO file, or "
            "rename the photo)") if near else ""


def _coco_sample(config, split, folder: Path, img: dict, by_image: dict, seen: set, problems: list,
                 seen_names: dict | None = None, listings: dict | None = None) -> Sample | None:
    """One COCO image entry as a Sample; None (with a problem) when it cannot be used; raises on a malformed one.
    ``listings``: the split's folders' names by their casefold, as :func:`_other_case` fills it."""
    from ..utils.image_io import DEFAULT_MAX_PIXELS

    name, ident = img["file_name"], img["id"]
    # no width or height, or 0 (as many tools write an entry): the photo's own size, read from its header below (such
    # an entry was refused, "KeyError: 'height'")
    unsized = any(img.get(k) is None or (type(img.get(k)) in (int, float) and img.get(k) == 0) for k in ("height", "width"))
    height, width = (1, 1) if unsized else (int(img["height"]), int(img["width"]))
    if not isinstance(name, str) or not name or height < 1 or width < 1:
        raise ValueError("file_name must be a name and height, width positive")
    if "\0" in name:  # (no file can have it; said as resolve() said it)
        raise ValueError("file_name holds an embedded null byte")
    if height * width > DEFAULT_MAX_PIXELS:
        raise ValueError(f"declared {width}x{height}: more than {DEFAULT_MAX_PIXELS:,} pixels")
    path = _listed_path(folder, name)
    if not lexical_path(path).is_relative_to(lexical_path(folder)):  # by its name: a photo that is a link to a file
        # elsewhere (a DVC cache's) is the split's
        problems.append(DataProblem(str(path), f"file_name points outside the split folder{_named_here(folder, name, True)}; "
                                               "skipped"))
        return None
    if not path.is_file():
        why = why_not(path, folder=False)  # not found, a link to nothing or a loop of links, a folder, ...
        near = _other_case(path, listings) if why == "not found" and listings is not None else ""
        near = near or (_named_here(folder, name) if why == "not found" else "")
        problems.append(DataProblem(str(path), f"listed in the COCO file but {'missing on disk' if why == 'not found' else why}"
                                               f"{near}; skipped"))
        return None
    if ident in seen:  # of several entries (named once, with how many)
        return None
    if seen_names is not None:
        key = path.resolve()
        if key in seen_names:
            problems.append(DataProblem(str(path), f"listed twice in the COCO file (image ids {seen_names[key]!r} and "
                                                   f"{ident!r}); the second entry and its annotations skipped"))
            return None
        seen_names[key] = ident
    actual, orientation = _size_and_orientation(path)
    if unsized:
        if actual is None:
            problems.append(DataProblem(str(path), f"its COCO entry (image id {ident!r}) gives no width and height, and "
                                                   "the file is not a readable image to take them from; skipped"))
            return None
        width, height = actual
        if height * width > DEFAULT_MAX_PIXELS:
            raise ValueError(f"the file is {width}x{height}: more than {DEFAULT_MAX_PIXELS:,} pixels")
    if actual is None or not _same_shape(actual, (width, height)) or actual[0] > width \
            or actual[1] > height:  # (a uniformly shrunk copy, as scripts/pack_training_images.py makes, keeps its
        # labels' shape: allowed; one taller than declared is none, and its label did not fit it: photo_and_label)
        found = "not a readable image" if actual is None else f"{actual[0]}x{actual[1]} (EXIF orientation applied)"
        problems.append(DataProblem(str(path), f"declared {width}x{height} in the COCO file, but the file is {found}"
                                               f"{_unturned_hint(path, (width, height), actual) or _larger_hint((width, height), actual)}"
                                               "; skipped"))
        return None
    s = Sample(path, config.name, split, height, width, annotations=by_image.get(ident, []))
    _, ann_problems = rasterize_annotations(s.annotations, s.height, s.width, str(path))
    problems.extend(ann_problems)
    if s.annotations and (turned := _unseen_turn(path, actual, orientation)) is not None:  # (no label: none to turn)
        problems.append(turned)
    return s


def _unturned_hint(path: Path, label_size, size) -> str:
    """What to do where a label of a photo turned by its EXIF orientation (a quarter turn: 5-8) is of the photo's size
    as stored, ``size`` the other way round (the tool it was drawn in showed the photo unturned); "" otherwise (the
    label was only refused, of "another size", with nothing to do said)."""
    from ..utils.image_io import exif_orientation, open_image

    if size is None or tuple(label_size) != (size[1], size[0]) or size[0] == size[1]:
        return ""
    try:
        with open_image(path) as im:
            orientation = exif_orientation(im)
    except (OSError, ValueError):
        return ""
    if orientation not in (5, 6, 7, 8):
        return ""
    return (f": the photo's size as stored, which its EXIF orientation ({orientation}) turns; the label was drawn on "
            "the unturned photo (a tool that ignores EXIF): remove the photo's orientation tag (exiftool "
            "-Orientation= FILE) to read it as the label was drawn, or label it again in a tool that shows it upright")


def _resized_hint(mask_size, size, orientation: int = 1) -> str:
    """What to do with a mask of another size than its photo (``(width, height)`` each, the photo's as read) that no
    EXIF turn explains: one of the photo's shape was drawn on the photo at another size (resized since, or the mask
    saved smaller); one of the shape of the photo as stored, where its EXIF ``orientation`` turns it a quarter (5-8),
    on a copy of it unturned at another size (it was said to be another photo's); one of another shape is of another
    photo, or of this one before a crop."""
    (mw, mh), (w, h) = mask_size, size
    if _same_shape((mw, mh), (w, h)):
        return (f" (drawn on the photo at another size: resize the mask to {w}x{h}, nearest neighbour so that its "
                "values stay, or put beside it the photo it was drawn on)")
    if orientation in (5, 6, 7, 8) and _same_shape((mw, mh), (h, w)):
        return (f" (drawn on the photo as stored, {h}x{w}, which its EXIF orientation ({orientation}) turns, at another "
                f"size (a tool that ignores EXIF): resize the mask to {h}x{w}, nearest neighbour, and remove the photo's "
                "orientation tag (exiftool -Orientation= FILE), or label it again in a tool that shows it upright)")
    return " (of another shape: another photo's mask, or drawn on this photo before it was cropped?)"


def _larger_hint(declared, size) -> str:
    """What to do with a photo of a COCO entry larger than the entry declares (``(width, height)`` each), of the same
    shape: its labels were drawn at the declared size (a copy shrunk to a smaller size is read; one enlarged, or the
    original put back, is not). "" for any other."""
    if size is None or size[0] <= declared[0] or not _same_shape(size, declared):
        return ""
    return (f" (the labels were drawn on the photo at {declared[0]}x{declared[1]}: put that photo here, or a smaller copy "
            "of it; or export the labels again with this photo)")


def _image_size(path: Path) -> tuple[int, int] | None:
    """``(width, height)`` of an image file as it will be read (EXIF orientation applied), from its header;
    None if it is not a readable image. Opened as :func:`~drywallqa.utils.image_io.read_image` opens it (its formats,
    HEIC's plugin registered: a HEIC photo of a dataset read before any photo was "unreadable")."""
    return _size_and_orientation(path)[0]


def _size_and_orientation(path: Path) -> tuple[tuple[int, int] | None, int]:
    """:func:`_image_size` of an image file and its EXIF orientation (1 where it has none, or is no readable image)."""
    from PIL import Image, UnidentifiedImageError

    from ..utils.image_io import exif_orientation, image_formats, open_image, upright_size

    try:
        with open_image(path, image_formats()) as im:
            return upright_size(im), exif_orientation(im)  # as read_image turns it, a damaged EXIF block too
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None, 1


def _labels(mask_path: Path) -> bool:
    """Whether a mask file marks any pixel (one that cannot be read: True, reading it says why)."""
    try:
        return bool(read_mask(mask_path, ignore=True).any())
    except (OSError, ValueError):
        return True


TURNS = {2: "mirrored left to right", 3: "turned 180 degrees", 4: "mirrored top to bottom",
         5: "mirrored along its diagonal", 6: "turned a quarter clockwise", 7: "mirrored along its other diagonal",
         8: "turned a quarter anticlockwise"}  # what an EXIF orientation does to the photo as stored


def _unseen_turn(path: Path, size: tuple[int, int], orientation: int) -> DataProblem | None:
    """A problem naming a photo whose EXIF orientation turns or mirrors it without changing its size (2-4, or 5-8 of a
    square photo, ``size`` as read): it is read turned, and a label drawn on it as stored (in a tool that ignores
    EXIF) lies turned against it, which no size check can tell (a quarter turn of an oblong photo is told by its
    size). None for any other photo."""
    if orientation not in TURNS or (orientation >= 5 and size[0] != size[1]):
        return None
    return DataProblem(str(path), f"its EXIF orientation ({orientation}: {TURNS[orientation]}) is applied when it is "
                                  "read, and keeps its size: its label is read as drawn on the photo so shown (as "
                                  "Roboflow, CVAT and browsers show it); one drawn on the photo as stored (a tool that "
                                  f"ignores EXIF) lies {TURNS[orientation]} against it, which no size check can tell. "
                                  "Look at it beside its label; if so, remove the photo's orientation tag "
                                  "(exiftool -Orientation= FILE)")


def _holds_masks(folder: Path) -> bool:
    """:func:`~drywallqa.data.registry.holds_masks`, False where ``folder`` cannot be listed."""
    try:
        return holds_masks(folder)
    except OSError:
        return False


@register_split_reader("mask_folder", finds=lambda folder: (folder / "_masks").is_dir(), layout="<split>/_masks/")
def _read_mask_folder(config: DatasetConfig, split: str, folder: Path, problems: list[DataProblem]) -> list[Sample]:
    """The photos of ``folder`` (any suffix of :data:`~drywallqa.utils.image_io.IMAGE_SUFFIXES`, in any case) with
    their masks ``_masks/<stem>.png``; a photo's size is as it is read (EXIF orientation applied), which its mask
    must have. Photos without a mask, of another size, or sharing a stem (and so a mask) with another, links to
    nothing (a photo moved away from under a refined dataset's link), files that are no photo by their name, and
    files of ``_masks`` that no photo takes are skipped, each a named problem (hidden files aside)."""
    from PIL import Image

    from ..utils.image_io import IMAGE_SUFFIXES, open_image

    samples, stems = [], {}
    if (unfinished := unfinished_refine_problem(folder)) is not None:
        problems.append(unfinished)
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    broken = set()  # stems of links to nothing (their masks are not named again)
    mask_names = None  # the file names of _masks/ by the photo stem they are of (_mask_key)
    for path in entries:
        if path.is_symlink() and not path.exists():
            problems.append(DataProblem(str(path), f"a link to {os.readlink(path)}, which does not exist; skipped"))
            broken.add(path.stem)
    elsewhere = None  # a folder of masks of another name (masks/, labels/: MASK_FOLDER_NAMES), where _masks/ is none
    for path in entries:  # photos below a folder of the split are not read: said so (they were left without a word)
        if path.is_dir() and path.name != "_masks":
            if path.name.casefold() in MASK_FOLDER_NAMES and not (folder / "_masks").is_dir() and elsewhere is None \
                    and _holds_masks(path):  # (a labels/ of YOLO text files: renamed, it reads no mask either)
                elsewhere = path
                problems.append(DataProblem(str(path), "a folder of masks? a mask-folder split reads a photo's mask "
                                                       "from _masks/<its stem>.png: rename it to _masks; skipped"))
                continue
            problems.append(DataProblem(str(path), "a folder: a mask-folder split reads the photos of its own folder, "
                                                   "not below it; skipped (move them up, masks into _masks/)"))
    files = [p for p in entries if p.is_file()]
    for path in files:
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            problems.append(DataProblem(str(path), f"not a photo by its name (photos: {', '.join(IMAGE_SUFFIXES)}); "
                                                   "skipped"))
            continue
        mask_path = folder / "_masks" / f"{path.stem}.png"
        if path.stem in stems:
            problems.append(DataProblem(str(path), f"shares its mask {mask_path.name} with {stems[path.stem].name}; "
                                                   "skipped (rename one of them)"))
            continue
        stems[path.stem] = path
        if not mask_path.is_file():
            if mask_names is None:  # (listed once, where a photo has no mask)
                mask_names = {}
                for p in sorted((folder / "_masks").iterdir()) if (folder / "_masks").is_dir() else ():
                    if not p.name.startswith("."):
                        mask_names.setdefault(_mask_key(p.name), []).append(p.name)
            there = (f" ({elsewhere.name}/{mask_path.name} is there: a mask is read from _masks/)"
                     if elsewhere is not None and (elsewhere / mask_path.name).is_file() else "")
            problems.append(DataProblem(str(path), f"no mask at {mask_path}{_near_masks(mask_path, mask_names) or there}"
                                                   "; skipped"))
            continue
        size, orientation = _size_and_orientation(path)
        try:
            with open_image(mask_path) as m:
                msize = m.size
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            size, msize = None, exc
        if size is None:
            problems.append(DataProblem(str(path), f"unreadable image or mask ({msize}); skipped"
                                        if isinstance(msize, Exception) else "unreadable image; skipped"))
            continue
        width, height = size
        if msize != (width, height):
            problems.append(DataProblem(str(mask_path), f"mask is {msize[0]}x{msize[1]}, image is {width}x{height} "
                                                        "(as read: EXIF orientation applied)"
                                                        f"{_unturned_hint(path, msize, size) or _resized_hint(msize, size, orientation)}; "
                                                        "skipped"))
            continue
        if (turned := _unseen_turn(path, size, orientation)) is not None and _labels(mask_path):  # (an empty
            problems.append(turned)  # mask: no label to lie turned)
        samples.append(Sample(path, config.name, split, height, width, mask_path=mask_path))
    masks = folder / "_masks"
    for path in sorted(masks.iterdir()) if masks.is_dir() else ():
        if path.name.startswith(".") or (path.suffix == ".png" and (path.stem in stems or path.stem in broken)):
            continue
        why = ("a folder: masks are read from _masks/ itself, not below it" if path.is_dir() else
               f"no photo {folder.name}/{path.stem}.<jpg, png, ...> takes this mask" if path.suffix == ".png" else
               "not a mask by its name (a photo <stem>.jpg takes _masks/<stem>.png)")
        problems.append(DataProblem(str(path), f"{why}; skipped"))
    return samples


def _near_masks(mask_path: Path, by_stem: dict) -> str:
    """What ``_masks/`` holds of a photo's name in other case or of another suffix (``img_1.png`` for ``IMG_1.JPG``,
    ``a.PNG``, ``a.jpg``, ``a_mask.png``; ``by_stem``: its file names by :func:`_mask_key`), as the problem of the photo without a
    mask says it ("" for none): each was named apart ("no photo takes this mask"), and a folder read on macOS (names
    in any case) was refused on Linux."""
    near = [n for n in by_stem.get(mask_path.stem.casefold(), []) if n != mask_path.name]
    if not near:
        return ""
    return (f" ({', '.join(near[:3])} of _masks/ is of this photo's name otherwise written (case, suffix, '_mask'): a "
            f"mask is _masks/<the photo's stem>.png exactly, {mask_path.name}; rename it, or save it as PNG)")


MASK_NAME_TAILS = ("_mask", "-mask", "_label", "-label", "_gt")  # what tools add to a photo's stem to name its mask


def _mask_key(name: str) -> str:
    """The photo stem a mask file's name is of, casefolded, as :func:`_near_masks` looks it up: ``IMG_1.PNG``,
    ``img_1_mask.png`` (as many exports name masks) and ``img_1.jpg.png`` are all of ``img_1``."""
    from ..utils.image_io import IMAGE_SUFFIXES

    stem = Path(name).stem.casefold()
    for tail in MASK_NAME_TAILS:
        if stem.endswith(tail) and len(stem) > len(tail):
            stem = stem[:-len(tail)]
            break
    return Path(stem).stem if Path(stem).suffix in IMAGE_SUFFIXES else stem


def load_split(
    dataset: str | DatasetConfig, split: str, datasets_dir: str | Path | None = None
) -> tuple[list[Sample], list[DataProblem]]:
    """Read one split of a dataset (a registered name or a :class:`DatasetConfig`) with the reader its ``kind`` names
    (:func:`~drywallqa.data.registry.register_split_reader`: COCO or image/mask folders). Problems are collected
    (and logged), never raised, so the rest goes on.

    Returns:
        ``(samples, problems)``: a :class:`Sample` per photo (no pixels read yet) and the :class:`DataProblem` list.

    Raises:
        UnknownNameError: (a ``KeyError``) the dataset has no split ``split``; the message lists those it has.
    """
    config = get_dataset_config(dataset) if isinstance(dataset, str) else dataset
    if split not in config.splits:
        raise UnknownNameError(f"dataset {config.name!r} has no split {split!r}; it has {', '.join(config.splits)}")
    source = config.splits[split]
    folder = config.root(datasets_dir) / source.folder
    problems: list[DataProblem] = []
    try:
        is_folder = folder.is_dir()
    except OSError:  # a name too long: said below as why_not says it (it was a traceback)
        is_folder = False
    if not is_folder:
        problems.append(DataProblem(str(folder), f"split folder {why_not(folder, folder=True)}"))  # or a file, ...
        samples: list[Sample] = []
    else:
        try:
            samples = SPLIT_READERS.get(source.kind).read(config, split, folder, problems)
        except OSError as exc:  # a folder or file this user may not read: the split's problem (it was the disk error
            samples = []  # of the command: "give this user the right to write there", the other splits not read)
            where = exc.filename or folder
            problems.append(DataProblem(str(where), f"split {split!r} cannot be read ({exc.strerror or exc}); make it "
                                                    "readable to this user"))
    for p in problems[:LOGGED_PROBLEMS]:
        logger.warning("%s", p)
    if len(problems) > LOGGED_PROBLEMS:
        logger.warning("... and %d more problems in %s/%s (`drywallqa data stats -d %s` lists them all)",
                       len(problems) - LOGGED_PROBLEMS, config.name, split, config.name)
    return samples, problems
