"""Robust image reading: EXIF orientation, any mode (grey, RGBA, 16-bit, palette), any size up to a pixel cap.

Everything a file or an upload can get wrong ends in :class:`ImageReadError` naming the file (a
decompression bomb too, as :class:`ImageTooLargeError`), so a batch reports the file and goes on.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import logging
import os
import re
import stat
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .output_folders import OUTPUT_FILES, is_output_file, is_output_folder

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".avif", ".heic", ".heif",
                  ".jp2", ".j2k", ".ppm", ".pgm", ".pbm", ".tga")  # the files of IMAGE_FORMATS, by name
# the raster formats decoded, whatever a file's name says (Pillow would otherwise also try EPS, which runs Ghostscript
# on the file, on an upload from anyone); JPEG covers phones' MPO files, HEIF is pillow-heif's (_heif_plugin)
IMAGE_FORMATS = ("JPEG", "PNG", "BMP", "TIFF", "WEBP", "GIF", "AVIF", "HEIF", "JPEG2000", "PPM", "TGA")


@functools.cache
def _heif_plugin() -> bool:
    """Register pillow-heif's HEIF reader with Pillow, once; whether it is installed. Phones (iPhones by default) save
    HEIC photos, and Pillow reads none without it. Its decoder applies the photo's rotation itself (and clears the
    EXIF orientation, so none is applied twice), and brings 10-bit HDR photos to 8 bits."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def image_formats() -> tuple[str, ...]:
    """:data:`IMAGE_FORMATS` that this Pillow reads (it refuses to be asked for one it has no plugin for)."""
    _heif_plugin()
    Image.init()
    return tuple(f for f in IMAGE_FORMATS if f in Image.OPEN)


# 64 megapixels: a 48-MP phone photo passes; each pixel costs ~30 bytes per prompt on the way through
# the model, so a 169-MP upload took 5.4 GB. Raise it with --max-pixels / max_pixels=.
DEFAULT_MAX_PIXELS = 64_000_000
DEFAULT_MAX_TILES = 400  # predict's default: a photo --tile would cut into more fails (a 12 MP photo at tile 320: 221)


class ImageReadError(ValueError):
    """An image file could not be read; the message names the file."""


class ImageTooLargeError(ImageReadError):
    """The image declares more pixels than the cap allows (a decompression bomb, or a huge photo)."""


# what a message of ImageTooLargeError advises by default: the command line's option and the Python argument
RAISE_THE_LIMIT = "raise it with --max-pixels; in Python, read_image(path, max_pixels=N) and pass the array"
# ... and a dataset's photo, read by the data commands and training, which have no such option
DATASET_LIMIT = "the data commands and training read a dataset's photos up to this size: scale the photo down"


def check_pixels(width: int, height: int, max_pixels: int | None, name: str = "image",
                 advice: str = RAISE_THE_LIMIT) -> None:
    """Raise :class:`ImageTooLargeError` when ``width * height`` exceeds ``max_pixels`` (``None``: no cap); its
    message ends with ``advice`` (what its reader can do)."""
    if max_pixels is not None and width * height > max_pixels:
        raise ImageTooLargeError(f"{name}: {width}x{height} = {width * height:,} pixels, more than the limit of "
                                 f"{max_pixels:,} ({advice})")


_WARNING_FILTERS = threading.RLock()


@contextlib.contextmanager
def pillow_pixel_warning_off():
    """Pillow's ``DecompressionBombWarning`` (a photo over its 89-MP default: two lines ending ``warnings.warn(`` on
    the terminal, whether or not the photo is then read) silenced where the project opens and decodes an image: it
    checks the pixels against its own limit (``--max-pixels``, :func:`check_pixels`) and says so itself. Pillow's
    other warnings, and this one anywhere else, are as they were. Under a lock: ``warnings.catch_warnings`` swaps the
    process's filters, and two threads restoring them out of order would leave the one's filter in place for good."""
    with _WARNING_FILTERS, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield


def open_image(source, formats: tuple[str, ...] | None = None) -> Image.Image:
    """``PIL.Image.open(source, formats=formats)`` without Pillow's pixel warning (:func:`pillow_pixel_warning_off`)."""
    with pillow_pixel_warning_off():
        return Image.open(source, formats=formats)


def _pixel_warning_off_if_large(img: Image.Image):
    """:func:`pillow_pixel_warning_off` for an opened image above Pillow's warning size, which some of its readers check
    again after the open (a TIFF as it loads, a GIF as it seeks to a frame larger than the first); else nothing:
    decoding holds no lock, and photos are decoded in several threads at once."""
    large = bool(Image.MAX_IMAGE_PIXELS) and img.width * img.height > Image.MAX_IMAGE_PIXELS
    return pillow_pixel_warning_off() if large else contextlib.nullcontext()


NEGATIVE_DEPTH, NEGATIVE_SHARE = 0.15, 0.2  # below 0 by more than 15% of the scale, or a fifth of the values
                                            # below 0 by more than 0.1% of it: refused


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    """Pixel values of any real numeric type as uint8, never stretched to the image's own min..max (a plain wall would
    get the contrast of a crack): floats up to 1.5 are a 0..1 scale (times 255; a colour transform's overshoot past 1
    is clipped, not read as a nearly black 0..255 photo), other values up to 255 an 8-bit one (as they are; small
    negatives clipped);
    integers beyond that by the bit depth they fit (10, 12, 14 or 16 bits: a 16-bit photo divided by 257, a 12-bit
    one by 4095 / 255), other values by their maximum.

    Raises:
        ValueError: NaN or infinite values, complex or non-numeric values, or values far below 0 (by more than
        :data:`NEGATIVE_DEPTH` of the scale, or in more than :data:`NEGATIVE_SHARE` of the values): a normalised or
        mean-subtracted array is no photo (a resize's ringing a little below 0 at some edges is clipped).
    """
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.uint16:  # by a table of its 65,536 values: a 64 MP photo in float64 took 1.5 GB and seconds
        hi = int(arr.max()) if arr.size else 0
        bits = next((b for b in (10, 12, 14, 16) if hi < 2 ** b), 16)
        factor = 255.0 if hi <= 1 else 1.0 if hi <= 255 else 255.0 / (2 ** bits - 1)  # as the float path below
        return np.clip(np.rint(np.arange(65536, dtype=np.float64) * factor), 0, 255).astype(np.uint8)[arr]
    if arr.dtype != bool and (not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating)):
        raise ValueError(f"the image's values must be real numbers (a numeric dtype, not complex), got {arr.dtype}")
    values = arr.astype(np.float64)
    if not np.isfinite(values).all():
        raise ValueError("the image holds NaN or infinite values")
    hi = float(values.max()) if values.size else 0.0
    lo = float(values.min()) if values.size else 0.0
    floating = np.issubdtype(arr.dtype, np.floating)
    unit = floating and hi <= 1.5
    if lo < 0:  # a resize's ringing or a gamut's clipping dips a little below 0 at a few edges, and is clipped below;
        # a normalised or mean-subtracted array (-1..1, -2.1..2.6, -124..151) has far more, and far lower, negatives
        scale = 1.0 if unit else max(hi, 255.0)
        if lo < -NEGATIVE_DEPTH * scale or np.count_nonzero(values < -1e-3 * scale) > NEGATIVE_SHARE * values.size:
            raise ValueError(f"the image holds values far below 0 (down to {lo:.3g}); give 0..1 or 0..255 values (a "
                             "normalised or mean-subtracted array is no photo)")
    if unit or hi <= 1.0:
        values = values * 255.0
    elif hi > 255.0:
        bits = next((b for b in (10, 12, 14, 16) if hi < 2 ** b), None) if np.issubdtype(arr.dtype, np.integer) else None
        values = values * (255.0 / (2 ** bits - 1) if bits else 255.0 / hi)
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def resize_area(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` (``(H, W[, C])``) resized to ``width`` x ``height`` by OpenCV's ``INTER_AREA``, one side at a time where
    one side shrinks and the other grows: ``INTER_AREA`` averages the pixels only where neither side grows, and
    otherwise samples the shrinking side at each new pixel's first edge (a 60 x 2000 strip at 512 px lost a 2-px crack
    in one place of four, and its masks came back 1.4 px off the photo). Where both shrink or both grow, as it was."""
    import cv2

    h, w = image.shape[:2]
    if width != w and height != h and (width < w) != (height < h):
        image = cv2.resize(image, (min(width, w), min(height, h)), interpolation=cv2.INTER_AREA)  # the shrinking side
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def resize_target(target: np.ndarray, size) -> np.ndarray:
    """A target (uint8: 1 the label, 0 background, :data:`IGNORE_VALUE` 'ignore';
    :meth:`~drywallqa.data.sample.Sample.load_target`) at another size: ``size`` a side (a square, as
    :func:`~drywallqa.data.cache.resize_mask`) or a function area-averaging an ``(H, W)`` float32 plane. 1 where the
    label covers half a pixel or more (as ``resize_mask``: a target of no ignored pixel is its label resized, bit for
    bit); of the others, 'ignore' where the label and ignored pixels together do (neither clearly label nor
    background), else 0."""
    shrink = size if callable(size) else (lambda plane: resize_area(plane, size, size))
    label = shrink((target == 1).astype(np.float32)) >= 0.5
    out = label.astype(np.uint8)
    if (target == IGNORE_VALUE).any():
        out[~label & (shrink((target != 0).astype(np.float32)) >= 0.5)] = IGNORE_VALUE
    return out


def _on_white(rgba: np.ndarray) -> np.ndarray:
    """``(H, W, 4)`` uint8 composited on white (what a viewer shows), as ``(H, W, 3)``; an alpha of 0 everywhere is
    an unset channel (a BGRA buffer, say), not a wholly transparent photo: then the colours as they are."""
    if not rgba[..., 3].any():
        return rgba[..., :3]
    alpha = rgba[..., 3:4].astype(np.float64) / 255.0
    return np.rint(rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)


def _array_to_rgb_uint8(arr: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` or ``(H, W, 4)`` values of any depth as ``(H, W, 3)`` uint8: scaled by :func:`_to_uint8`, an
    alpha channel composited on white (as a file with transparency is read)."""
    if arr.shape[2] == 4 and arr.dtype != np.uint8 and np.issubdtype(arr.dtype, np.integer):
        # colour and alpha each by its own depth: a 10-bit photo with a 16-bit opaque alpha (65535) read dark
        arr = np.concatenate([_to_uint8(arr[..., :3]), _to_uint8(arr[..., 3:])], axis=2)
    arr = _to_uint8(arr)  # ValueError for values that are no photo's
    if arr.shape[2] == 4:
        arr = _on_white(arr)
    return np.ascontiguousarray(arr)


def _to_rgb_uint8(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        grey = _to_uint8(np.asarray(img))
        return np.stack([grey] * 3, axis=-1)
    if img.mode == "La":  # grey with premultiplied alpha: Pillow converts it to LA only
        img = img.convert("LA")
    if img.mode in ("RGBA", "RGBa", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        if img.getchannel("A").getbbox() is None:  # an alpha of 0 everywhere: a channel never set (a 32-bit TGA's, a
            # GL screenshot's), as an array's is (_on_white), not a photo wholly transparent: it was read all white
            return np.asarray(img.convert("RGB"), dtype=np.uint8)
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


_ORIENTATIONS = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
                 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
                 8: Image.Transpose.ROTATE_90}  # EXIF orientation -> the turn that shows the photo upright


# the same turns of an (H, W, C) array, as numpy views
_ARRAY_TURNS = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
                5: lambda a: a.transpose(1, 0, 2), 6: lambda a: np.rot90(a, -1),
                7: lambda a: a[::-1, ::-1].transpose(1, 0, 2), 8: lambda a: np.rot90(a, 1)}


def notice(notes: list | None, message: str) -> None:
    """Log ``message`` as a warning, and add it to ``notes`` where given (what a server's client is told: it never
    sees the server's log)."""
    logger.warning("%s", message)
    if notes is not None:
        notes.append(message)


def upright(img: Image.Image, name: str = "the image", notes: list | None = None) -> Image.Image:
    """``img`` turned as its EXIF orientation says (``ImageOps.exif_transpose``). A damaged EXIF block that Pillow
    cannot write back (it raises TypeError, struct.error, ...) does not make the photo unreadable: its orientation
    tag is applied if it can be read, else the photo is taken as stored (a :func:`notice` naming ``name``)."""
    try:
        return ImageOps.exif_transpose(img)
    except Exception:  # noqa: BLE001 - whatever a damaged EXIF block makes Pillow raise
        turn = _ORIENTATIONS.get(exif_orientation(img))
        notice(notes, f"{name}: damaged EXIF data: {'orientation applied, the rest ignored' if turn else 'ignored'}")
        return img.transpose(turn) if turn is not None else img


def exif_orientation(img: Image.Image) -> int:
    """The EXIF orientation tag of an opened image (1, as stored, without one or where the EXIF block is damaged)."""
    try:
        return int(img.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - whatever a damaged EXIF block makes Pillow raise
        return 1


# the formats whose files may hold several images, each one of its own (what they are called); not a phone's JPEG
# (MPO), whose second image is the camera's preview or depth map of the one photo
MANY_FRAMES = {"TIFF": "pages", "GIF": "frames", "WEBP": "frames", "PNG": "frames", "AVIF": "frames"}


def warn_of_frames(img: Image.Image, name: str, notes: list | None = None) -> None:
    """A :func:`notice` naming ``name`` and its number of pages or frames where an opened image holds more than one (a
    multi-page TIFF, an animated GIF, WebP, PNG or AVIF): only the first is read and segmented, and the rest were
    left without a word."""
    kind = MANY_FRAMES.get(img.format or "")
    if kind is None or not getattr(img, "is_animated", False):
        return
    try:
        count = str(img.n_frames)
    except Exception:  # noqa: BLE001 - a damaged later page or frame: the first is read as it was
        count = "several"
        with contextlib.suppress(Exception):
            img.seek(0)
    notice(notes, f"{name}: {count} {kind}, of which only the first is read (segmented); save each as a file of its "
                  "own to read the others")


TIFF_WIDTH, TIFF_LENGTH = 256, 257  # the tags of a TIFF's stored size
TIFF_NEW_SUBFILE_TYPE, TIFF_SUBFILE_TYPE = 254, 255  # what a TIFF page is: bit 0 of the first, 2 of the second, a preview


def check_not_a_preview(img: Image.Image, name: str) -> None:
    """:class:`ImageReadError` for an opened TIFF whose first page (the one read) is marked as a reduced-resolution
    copy of the image, not the image: a camera's raw file (DNG: a preview first, the photo in a sub-page Pillow does
    not read) or a scanner's file of a thumbnail first. It was segmented as the photo, without a word: masks and
    measures of a 256-px preview."""
    if img.format != "TIFF":
        return
    tags = getattr(img, "tag_v2", None) or {}
    new_type, old_type = tags.get(TIFF_NEW_SUBFILE_TYPE), tags.get(TIFF_SUBFILE_TYPE)
    if (isinstance(new_type, int) and new_type & 1) or old_type == 2:
        raise ImageReadError(f"{name}: its first page is a reduced-resolution copy (a preview) of the image, not the "
                             "image itself (a camera's raw file, such as a DNG, is stored so): export the photo as "
                             "JPEG, PNG or TIFF and read that")


def upright_size(img: Image.Image) -> tuple[int, int]:
    """``(width, height)`` of an opened image as :func:`decode_image` returns it (EXIF orientation applied), from its
    header, without decoding it. Pillow reports the size of a TIFF with an orientation of 5-8 turned already (and
    turns its pixels as it loads them), that of other formats as stored: a TIFF is turned here only where it is still
    reported as stored (turned once more, its size was the wrong way round: its mask refused)."""
    width, height = img.size
    if exif_orientation(img) not in (5, 6, 7, 8):
        return width, height
    if img.format == "TIFF" and (width, height) != (img.tag_v2.get(TIFF_WIDTH), img.tag_v2.get(TIFF_LENGTH)):
        return width, height  # Pillow's TIFF reader turned it
    return height, width


# Pillow's raw modes of 16 bits a channel that it reads into 8-bit RGB or RGBA (grey with alpha too) keeping only each
# value's high byte: a 10-, 12- or 14-bit photo saved in 16 bits (0..1023, 0..4095, ...) was read nearly black. Such
# a PNG or TIFF is decoded again by OpenCV in full, and scaled as an array of it is (:func:`_to_uint8`)
_SIXTEEN_BIT_COLOUR = re.compile(r"(RGB|RGBA|RGBX|LA);16[BLN]?")


def _sixteen_bit_colour(img: Image.Image) -> bool:
    """Whether an opened (not yet loaded) PNG or TIFF holds colour, or grey with alpha, of 16 bits a channel, which
    Pillow reads as 8 bits by their high byte (:data:`_SIXTEEN_BIT_COLOUR`); a grey one it reads in full ("I;16")."""
    if img.format not in ("PNG", "TIFF") or img.mode not in ("RGB", "RGBA") or not img.tile:
        return False
    rawmode = img.tile[0].args  # "RGB;16B" (PNG); ("RGB;16N", ...) (TIFF)
    rawmode = rawmode[0] if isinstance(rawmode, tuple) and rawmode else rawmode
    return isinstance(rawmode, str) and _SIXTEEN_BIT_COLOUR.fullmatch(rawmode) is not None


def _sixteen_bit_rgb(source, shown: Image.Image, orientation: int, name: str, kind: str,
                     notes: list | None = None) -> np.ndarray | None:
    """``(H, W, 3)`` uint8 RGB of a file that :func:`_sixteen_bit_colour` found, from its full 16-bit values (OpenCV's
    decoder; the file's pixels were checked against the limits as Pillow opened it), turned by its EXIF
    ``orientation`` and scaled as an array of them is; ``None`` (Pillow's 8 bits are read, with a warning) where
    OpenCV cannot decode it or its values' high bytes are not ``shown``'s (the photo as Pillow read it and turned it:
    how OpenCV turned it is checked, not assumed)."""
    import cv2  # imported for such files only

    bands = len(shown.getbands())
    try:
        if isinstance(source, (str, os.PathLike)):
            data = np.fromfile(source, np.uint8)  # cv2.imread reads no path of other than ASCII on Windows
        else:
            source.seek(0)  # where Pillow read it from
            data = np.frombuffer(source.read(), np.uint8)
        bgr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)  # BGR(A), 16 bits; a PNG as stored, a TIFF (this OpenCV) turned
    except (OSError, cv2.error) as exc:
        bgr, reason = None, str(exc).strip()
    else:
        reason = "OpenCV decoded no 16-bit colour"
    if bgr is not None and bgr.dtype == np.uint16 and bgr.ndim == 3 and bgr.shape[2] >= bands:
        # RGB(A): the alpha OpenCV makes of an RGB PNG's transparent colour (tRNS) left out, as Pillow leaves it
        stored = bgr[..., [2, 1, 0, 3][:bands]]
        high = np.asarray(shown)
        turn = _ARRAY_TURNS.get(orientation)  # turned as Pillow turned it, or as OpenCV did (a TIFF, by its tag)
        fits = [arr for arr in ([turn(stored)] if turn else []) + [stored]
                if arr.shape[:2] == high.shape[:2] and np.array_equal(arr >> 8, high)]
        if len(fits) == 2 and not np.array_equal(fits[0], fits[1]):  # both fit (a smooth photo, its high bytes alike):
            fits = fits[1:] if kind == "TIFF" else fits[:1]  # OpenCV turns a TIFF by its tag, a PNG it leaves as stored
        if fits:
            return _array_to_rgb_uint8(fits[0])
        reason = "OpenCV's pixels are not Pillow's"
    notice(notes, f"{name}: 16-bit colour read as 8 bits only ({reason}): a photo of 10 to 14 bits reads dark")
    return None


_SIGNATURES = ((b"II*\0", "TIFF"), (b"MM\0*", "TIFF"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"),
               (b"GIF8", "GIF"), (b"BM", "BMP"))


def _signature(source) -> str | None:
    """The format a file's first bytes say it is (of :data:`_SIGNATURES`; a WebP by its RIFF header), or None."""
    try:
        if hasattr(source, "read"):
            at = source.tell()
            source.seek(0)
            head = source.read(12)
            source.seek(at)
        else:
            with open(source, "rb") as f:
                head = f.read(12)
    except (OSError, ValueError):
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return next((kind for start, kind in _SIGNATURES if head.startswith(start)), None)


def decode_image(source, name: str, max_pixels: int | None = DEFAULT_MAX_PIXELS,
                 advice: str = RAISE_THE_LIMIT, notes: list | None = None) -> np.ndarray:
    """Decode a file path or a binary file object to ``(H, W, 3)`` uint8 RGB, EXIF orientation applied.

    The declared size is checked against ``max_pixels`` before any pixel is decoded. ``name`` is what
    error messages call the source (a path, "the upload"); ``advice`` is what a photo over ``max_pixels`` is told
    (default: how to raise the limit on the command line and in Python). What is read otherwise than the file holds
    (only the first of several frames, a damaged EXIF block ignored, 16-bit colour read as 8 bits) is logged and
    added to ``notes`` where given.

    Raises:
        ImageTooLargeError: more pixels than ``max_pixels`` (or than Pillow will ever decode).
        ImageReadError: anything else that stops the image from being read.
    """
    try:
        with open_image(source, image_formats()) as img:
            check_pixels(img.width, img.height, max_pixels, name, advice)
            check_not_a_preview(img, name)
            deep = _sixteen_bit_colour(img)  # known from the header only: loading clears it
            with _pixel_warning_off_if_large(img):
                warn_of_frames(img, name, notes)
                img.load()  # a damaged file fails here (reading its EXIF first loaded a PNG and hid the error)
                orientation = exif_orientation(img) if deep else 1  # before upright(): a TIFF's is gone once turned
            shown = upright(img, name, notes)
            deep_rgb = _sixteen_bit_rgb(source, shown, orientation, name, img.format, notes) if deep else None
            return deep_rgb if deep_rgb is not None else _to_rgb_uint8(shown)
    except Image.DecompressionBombError as exc:  # Pillow's own limit, checked when the header is read
        pillow_limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
        if max_pixels is not None and max_pixels <= pillow_limit:
            raise ImageTooLargeError(f"{name}: more pixels than the limit of {max_pixels:,} ({advice}; Pillow: "
                                     f"{exc})") from exc
        raise ImageTooLargeError(f"{name}: more pixels than Pillow decodes ({pillow_limit:,}): {exc}") from exc
    except UnidentifiedImageError as exc:
        kind = _signature(source)
        if kind in image_formats():  # "not one of the formats read: ..., TIFF" of a TIFF read it as a lie
            raise ImageReadError(f"{name}: not a readable image (its first bytes say {kind}, but it cannot be "
                                 f"decoded: damaged, or a kind of {kind} the image reader, Pillow, lacks, such as 16-bit "
                                 "grey with alpha; saved again as 8-bit RGB it is read)") from exc
        heif = "" if "HEIF" in image_formats() or Path(name).suffix.lower() not in (".heic", ".heif") else \
            "; HEIC/HEIF photos need the pillow-heif package: pip install pillow-heif"
        raise ImageReadError(f"{name}: not a readable image (not one of the formats read: "
                             f"{', '.join(image_formats())}{heif})") from exc
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        if isinstance(exc, ImageReadError):
            raise
        raise ImageReadError(f"{name}: not a readable image ({type(exc).__name__}: {exc})") from exc


def read_image(path: str | Path, max_pixels: int | None = DEFAULT_MAX_PIXELS, notes: list | None = None,
               advice: str = RAISE_THE_LIMIT) -> np.ndarray:
    """Read an image file as an RGB array; what is read otherwise than the file holds (only the first frame, a damaged
    EXIF block ignored, 16-bit colour read as 8 bits) is logged and added to ``notes`` where given; ``advice``: what a
    photo over ``max_pixels`` is told (:func:`decode_image`).

    Returns:
        ``(H, W, 3)`` uint8 array, EXIF orientation applied.

    Raises:
        ImageReadError: the file is missing or is not a readable image.
        ImageTooLargeError: it has more than ``max_pixels`` pixels.
    """
    if isinstance(path, str) and not path:  # Path("") is the current folder: "'.': a folder, not an image file"
        raise ImageReadError("an empty path: name an image file")
    if isinstance(path, str) and re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", path):  # read as a path "http:/host/a.jpg"
        raise ImageReadError(f"{path}: a URL; photos are read from files, not fetched: download it first")
    path = Path(path)
    try:  # is_dir() and exists() raise PermissionError (a folder not entered), OSError (a name too long) and call a
        st = os.stat(path)  # link loop "no such file"
    except OSError as exc:
        why = {errno.ENOENT: "no such file", errno.ELOOP: "a link loop (or too many links), not an image file"}
        raise ImageReadError(f"{path}: {why.get(exc.errno) or f'cannot be read ({exc.strerror or exc})'}") from None
    if stat.S_ISDIR(st.st_mode):
        raise ImageReadError(f"{path}: a folder, not an image file")
    if not stat.S_ISREG(st.st_mode):  # a device, a pipe, a socket
        raise ImageReadError(f"{path}: not a regular file, so not an image file")
    return decode_image(path, str(path), max_pixels, advice, notes=notes)


def to_rgb_array(image, max_pixels: int | None = None, notes: list | None = None) -> np.ndarray:
    """Accept a path (``~`` the home folder), PIL image or array and return ``(H, W, 3)`` uint8 RGB; what is read
    otherwise than a file or PIL image holds is added to ``notes`` where given (:func:`read_image`).

    Raises:
        ImageReadError: an unreadable file; ValueError: an array of another shape, with no pixels, or
        with NaN / infinite, complex or far negative values; TypeError: anything that is no path, PIL image or array
        (rows of different lengths, a tensor numpy cannot read: bf16, on a GPU).
    """
    if isinstance(image, os.PathLike) and isinstance(os.fspath(image), str):  # any path object, as Segmenter.load
        image = os.fspath(image)  # and predict_paths take (a PurePath, pytest's tmpdir): it was a TypeError here
    if isinstance(image, (str, Path)):  # "~/wall.jpg" as a shell reads it
        return read_image(os.path.expanduser(image), max_pixels if max_pixels is not None else DEFAULT_MAX_PIXELS,
                          notes)
    if isinstance(image, Image.Image):
        check_pixels(image.width, image.height, max_pixels)
        name = getattr(image, "filename", "") or "the PIL image"
        try:  # an image opened lazily (Image.open) is decoded here: a truncated file failed below with a bare OSError,
            image.load()  # after a false warning of damaged EXIF data
        except (OSError, SyntaxError, EOFError, ValueError) as exc:
            raise ImageReadError(f"{name}: cannot be decoded ({type(exc).__name__}: {exc})") from exc
        arr = _to_rgb_uint8(upright(image, name, notes))
    elif isinstance(image, (list, tuple)) and image and all(
            isinstance(i, (str, os.PathLike, Image.Image)) or getattr(i, "ndim", 0) == 3 for i in image):
        # several photos (paths, PIL images, (H, W, C) arrays): was "expected an (H, W) ... image, got shape (2,)"
        n = len(image)
        raise TypeError(f"one image at a time: got a {type(image).__name__} of {n} image{'s' * (n != 1)}; call predict "
                        "for each, or the segmenter itself with the list (seg(images, prompts): a list of results; photo "
                        "files: drywallqa.engine.batch.predict_paths runs them as a batch job)")
    elif isinstance(image, (np.ndarray, list, tuple)) or hasattr(image, "__array__"):
        try:
            arr = np.asarray(image)
        except (TypeError, ValueError, RuntimeError) as exc:  # rows of different lengths, a bf16 or GPU torch tensor:
            # numpy's or torch's own words, naming no image ("Got unsupported ScalarType BFloat16")
            raise TypeError(f"the image ({type(image).__name__}) cannot be read as an (H, W[, C]) array of numbers: "
                            f"{str(exc).strip()[:200]}" + (" (a torch tensor: pass tensor.float().cpu().numpy())"
                                                           if hasattr(image, "detach") else "")) from None
    else:
        raise TypeError(f"an image is a path (str or Path), a PIL image or an (H, W[, C]) array; got {type(image).__name__}"
                        + (" (read the file's bytes with PIL.Image.open first)" if isinstance(image, (bytes, bytearray))
                           or hasattr(image, "read") else ""))
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) image, got shape {arr.shape}" + (
            " (a batch of images? one image at a time; seg(list(batch), prompts) predicts each)" if arr.ndim == 4 else
            " (channels first? arr.transpose(1, 2, 0) puts them last)" if arr.ndim == 3 and arr.shape[0] in (1, 3, 4)
            else ""))
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"the image has no pixels (shape {arr.shape})")
    check_pixels(arr.shape[1], arr.shape[0], max_pixels)
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return _array_to_rgb_uint8(arr)


IGNORE_VALUE = 255  # in a mask of class indices (0 background, 1, 2, ...), the pixels labelled 'ignore' (VOC's and
# MMSegmentation's convention): a 0/1 crack mask with a 255 band around its cracks
IGNORE_CLASS_SHARE = 0.01  # the class indices' share of a mask's pixels above 0, at least, for 255 to be 'ignore'


def ignored_pixels(plane: np.ndarray) -> np.ndarray | None:
    """Where a mask's plane (:func:`mask_plane`) of class indices beside :data:`IGNORE_VALUE` is 'ignore': one of 0,
    255 and some of 1 to 127 only (none of 128-254: no soft map's or JPEG's greys), those of 1-127 at least
    :data:`IGNORE_CLASS_SHARE` of its pixels above 0 (a 0/255 label with a stray 1 is none) and most of them beside
    another (a region, not a noise of lone pixels). None for any other mask (0/255, 0/1, class indices alone)."""
    if plane.size == 0 or plane.dtype.kind not in "ui" or plane.max() != IGNORE_VALUE or plane.min() < 0:
        return None
    counts = np.bincount(plane.ravel() if plane.dtype == np.uint8 else plane.ravel().astype(np.int64), minlength=256)
    low = int(counts[1:128].sum())
    if counts[128:IGNORE_VALUE].any() or not low or low < IGNORE_CLASS_SHARE * (low + counts[IGNORE_VALUE]):
        return None
    classes = (plane > 0) & (plane < 128)
    beside = np.zeros_like(classes)  # a class index's pixel of another beside it (of 4 neighbours): a class is a
    beside[1:] |= classes[:-1]  # region; the low values of a 0/255 label's noise lie apart, each alone
    beside[:-1] |= classes[1:]
    beside[:, 1:] |= classes[:, :-1]
    beside[:, :-1] |= classes[:, 1:]
    if np.count_nonzero(classes & beside) * 2 < low:
        return None
    return plane == IGNORE_VALUE


def voc_colour(index: int) -> tuple[int, int, int]:
    """The colour of palette index ``index`` in PASCAL VOC's label palette (its bit-interleaved colour map: 1 is
    (128, 0, 0), 2 (0, 128, 0), ..., 255, its 'void', (224, 224, 192))."""
    r = g = b = 0
    for bit in range(7, -1, -1):
        r, g, b = r | (index & 1) << bit, g | (index >> 1 & 1) << bit, b | (index >> 2 & 1) << bit
        index >>= 3
    return r, g, b


VOC_PALETTE = tuple(voc_colour(i) for i in range(256))


def palette_ignored(img: Image.Image) -> np.ndarray | None:
    """Where an opened palette mask's (mode ``P``) pixels are of index :data:`IGNORE_VALUE` as 'ignore' (VOC's
    'void', which a palette mask is read by the colour of, (224, 224, 192), foreground): of a mask whose every index
    used is of VOC's colour (:data:`VOC_PALETTE`), or whose indices are those :func:`ignored_pixels` reads a grey mask's
    255 as 'ignore' by (0, 255 and a region of some of 1-127 only). None for any other mask (a palette mask of no
    index 255, or of 255 beside no class index, in a palette of other colours: read by its colours as before)."""
    if img.mode != "P":
        return None
    indices = np.asarray(img)  # uint8, a palette image's always
    counts = np.bincount(indices.ravel(), minlength=256)  # (of no pixels: none of index 255, so None below)
    if not counts[IGNORE_VALUE]:
        return None
    palette = img.getpalette() or []
    if all(tuple(palette[3 * i:3 * i + 3]) == VOC_PALETTE[i] for i in np.flatnonzero(counts)):
        return indices == IGNORE_VALUE
    return ignored_pixels(indices)


def read_mask(path: str | Path, data: bytes | None = None, max_pixels: int | None = DEFAULT_MAX_PIXELS,
              ignore: bool = False) -> np.ndarray:
    """Read a mask file as ``(H, W)`` bool (any non-zero pixel is foreground; with ``ignore``, but those of a mask of
    class indices beside 255 'ignore', :func:`ignored_pixels`, or a palette mask's index 255 'ignore',
    :func:`palette_ignored`: no label there, as the background; :func:`read_target` keeps them apart); from ``data``,
    the file's bytes as already read, where given (``path`` then names it in errors): a checksum and the mask then
    come from the same bytes, even where another job rewrites the file between two reads. A mask of more than
    ``max_pixels`` pixels is refused (:class:`ImageTooLargeError`; ``None``: only Pillow's own limit): a batch job's
    masks are read with the limit of their photo's size (:func:`photo_pixels`), which the job's ``--max-pixels`` may
    have raised."""
    plane, band = _mask_and_ignored(Path(path), data, max_pixels, ignore)
    return plane > 0 if band is None else (plane > 0) & ~band


def read_target(path: str | Path, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """A mask file as a training and scoring target: ``(H, W)`` uint8, 1 where :func:`read_mask` (with ``ignore``)
    reads the label, :data:`IGNORE_VALUE` where it reads 'ignore' (:func:`ignored_pixels`, :func:`palette_ignored`:
    counted nowhere, neither label nor background), 0 elsewhere. A mask of no 'ignore' is its label as 0/1."""
    plane, band = _mask_and_ignored(Path(path), None, max_pixels, True)
    target = (plane > 0).astype(np.uint8)
    if band is not None:
        target[band] = IGNORE_VALUE
    return target


def _mask_and_ignored(path: Path, data: bytes | None, max_pixels: int | None,
                      ignore: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """A mask file's plane (:func:`mask_plane`) and, with ``ignore``, where it is 'ignore' (None: nowhere)."""
    try:
        with open_image(path if data is None else io.BytesIO(data), image_formats()) as img:
            check_pixels(img.width, img.height, max_pixels, str(path))
            with _pixel_warning_off_if_large(img):
                plane = mask_plane(img)
                band = palette_ignored(img) if ignore else None
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        reason = re.sub(r"\s*<_io\.BytesIO object at 0x[0-9a-fA-F]+>", "", str(exc))  # (read from ``data``)
        raise ImageReadError(f"{path}: not a readable mask ({reason})") from exc
    if ignore and band is None:
        band = ignored_pixels(plane)
    return plane, band


def photo_pixels(entry) -> int:
    """The pixel limit to read again what a batch job read and wrote for one photo (its record ``entry``: ``height``,
    ``width``): the photo's own size where the job's ``--max-pixels`` let it past :data:`DEFAULT_MAX_PIXELS`, so its
    masks and its report thumbnail are read as the job read the photo."""
    try:
        size = int(entry["height"]) * int(entry["width"])
    except (KeyError, TypeError, ValueError, OverflowError):
        return DEFAULT_MAX_PIXELS
    return max(DEFAULT_MAX_PIXELS, size)


def mask_plane(img: Image.Image) -> np.ndarray:
    """``(H, W)`` values of an opened mask file's pixels, foreground where above 0 (:func:`read_mask`): a palette
    mask by its colours (not its palette indices: a two-colour palette often holds white at index 0), a colour one
    by its channels' maximum; a mask painted on a transparent layer (some pixels fully transparent, some not) by its
    alpha, what was painted, whatever its colour (a transparent white background was all foreground); any other with
    alpha by its colour or grey."""
    if img.mode in ("P", "PA"):
        img = img.convert("RGBA" if img.mode == "PA" or "transparency" in img.info else "RGB")
    elif img.mode not in ("1", "L", "LA", "La", "RGB", "RGBA", "RGBa") and not img.mode.startswith(("I", "F")):
        img = img.convert("RGB")  # CMYK, YCbCr, ...
    arr = np.asarray(img)
    if arr.ndim == 2:
        return arr
    alpha = arr[..., -1] if img.mode in ("LA", "La", "RGBA", "RGBa") else None
    if alpha is not None and alpha.min() == 0 < alpha.max():  # painted on a transparent layer: what was painted (one
        return alpha  # pixel at 254 of an opaque mask, or a mask all transparent, read by its colour)
    if arr.shape[2] == 2:  # grey and alpha: its grey
        return arr[..., 0]
    return np.maximum(np.maximum(arr[..., 0], arr[..., 1]), arr[..., 2])  # (as .max(axis=2), some 25x faster on a
    # 12 MP mask: a reduction over the last axis of 3 is slow in numpy)


APPLE_DOUBLE_MAGIC = b"\x00\x05\x16\x07"  # first bytes of the '._name' files macOS leaves on other disks


def _is_apple_double(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == APPLE_DOUBLE_MAGIC


@dataclass
class ImageListing:
    """What :func:`find_images` found: the images, and every other file met with the reason it was left."""

    images: list = field(default_factory=list)   # Path, sorted within each folder given
    skipped: list = field(default_factory=list)  # (path, reason)


def _read_already(folder: Path, first: Path, loop: bool) -> str:
    """Why ``folder``, the folder read already as ``first``, is not read again: a link back to a folder it lies in (a
    loop), a link to a folder read elsewhere, or the folder itself where a link to it came first (it was called "a
    link back to a folder already read (link loop)", a real folder whose photos were read through a link too)."""
    if loop:
        return "a link back to a folder already read (link loop); not read twice"
    if folder.is_symlink():
        return f"a link to a folder already read, as {first}; not read twice"
    return f"the folder read already as {first} (through a link); not read twice"


def find_images(paths, exclude=()) -> ImageListing:
    """Expand files and folders (recursively, following links to folders) into image paths.

    Nothing is left out silently: files that are not images, macOS's '._' metadata files, broken links, link loops,
    folders that cannot be read, anything below an ``exclude`` folder (e.g. the output folder) and, in an earlier job's output
    folder (:func:`~drywallqa.utils.output_folders.is_output_folder`), the files it wrote (masks, overlays, its report's
    thumbnails: no photos) are listed in ``skipped`` with the reason; photos and folders of the user's there are
    read. Files named directly are taken as they are (reading reports them).
    """
    listing = ImageListing()
    excluded = {Path(e).resolve() for e in exclude}
    for p in map(Path, paths):
        try:
            folder = p.is_dir()
        except OSError:  # cannot even be looked at: reading it names the reason
            folder = False
        if not folder:
            listing.images.append(p)
            continue
        found: list[Path] = []
        seen: dict[tuple[int, int], Path] = {}  # each folder read, by its device and inode: the path it was read by

        def walk(folder: Path, within: frozenset = frozenset()) -> None:
            try:
                st = folder.stat()
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
                outputs = is_output_folder(folder)
            except OSError as exc:
                listing.skipped.append((str(folder), f"folder cannot be read ({exc.strerror or exc})"))
                return
            key = (st.st_dev, st.st_ino)
            if key in seen:
                listing.skipped.append((str(folder), _read_already(folder, seen[key], key in within)))
                return
            seen[key] = folder
            within = within | {key}  # the folders it lies in, as walked: a link to one of them is a loop
            written = 0  # files an earlier job wrote here: said once for the folder
            for entry in entries:
                q = folder / entry.name
                try:
                    if outputs and is_output_file(entry.name):
                        written += entry.name not in OUTPUT_FILES and not entry.name.startswith(".")
                    elif entry.is_dir():  # follows links to folders
                        if q.resolve() in excluded:
                            listing.skipped.append((str(q), "the output folder; not read as input"))
                        else:
                            walk(q, within)
                    elif entry.is_symlink() and not q.exists():
                        listing.skipped.append((str(q), "broken link"))
                    elif not entry.is_file():
                        listing.skipped.append((str(q), "not a regular file"))
                    elif entry.name.startswith("._") and _is_apple_double(q):
                        listing.skipped.append((str(q), "macOS metadata beside a file (AppleDouble '._' file, written "
                                                        "when copying from a Mac); not a photo"))
                    elif q.suffix.lower() in IMAGE_SUFFIXES:
                        found.append(q)
                    else:
                        listing.skipped.append((str(q), f"not an image file ({q.suffix or 'no suffix'}; reads "
                                                        f"{', '.join(IMAGE_SUFFIXES)})"))
                except OSError as exc:  # a link into a folder this user may not read, ...: that entry, not the job
                    listing.skipped.append((str(q), f"cannot be read ({exc.strerror or exc})"))
            if written:
                listing.skipped.append((str(folder), f"an earlier job's output folder: its {written} masks, records and "
                                                     "overlays are not read as photos (the rest of it is)"))

        walk(p)
        listing.images.extend(found)
    return listing
