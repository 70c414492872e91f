"""Tiled prediction for large photos: any runtime or pipeline, run on overlapping square tiles, stitched at full size.

A model sees its whole input at a fixed size (512 px for the shipped one), so a 4000x3000 phone photo of a
whole wall shrinks eightfold and a 5-px crack vanishes. :class:`TiledSegmenter` cuts the photo into
overlapping ``tile`` x ``tile`` crops, asks the wrapped segmenter for every prompt's probabilities on each
(the image encoded once per tile, each prompt decoded on it), blends the crops with weights that fall off
towards tile edges that lie inside the photo, and only then thresholds and post-processes the full-size
map with the wrapped segmenter's own per-prompt thresholds and post-processing (so boxes span tiles).
Each mask's confidence is measured on the stitched map (:meth:`Segmenter.mask_confidence`); a model that
predicts its own masks' quality (SAM's IoU head) reports the mean over tiles instead, and with a
``min_confidence`` a tile it scores lower adds no probability for that prompt. Masks whose confidence
falls below the wrapped segmenter's ``min_confidence`` come back empty.

    seg = Segmenter.load(tile=640)                  # or TiledSegmenter(Segmenter.load(), tile=640)
    seg.predict("wall_4000x3000.jpg", ["segment crack"])

Pick ``tile`` so that one tile shows about as much wall as one training photo did, and no smaller than the model's
input size (512 px for the shipped model). A tile is seen at the model's input size, or at its own where that is
smaller (each input size, ``scales``, above the tile is the tile's side): a 256 px tile is not enlarged, but it shows
the model less of the wall around a crack than a training photo did (:meth:`TiledSegmenter.tile_warning`).
``enlarge=True`` (``Segmenter.load(tile_enlarge=True)``, ``--enlarge-tiles``) resizes it to the input size as up to
0.6.28, which scored lower on the group-clean val photos (a 256 px tile at 512 px shows each crack twice as wide as
the model learnt it: docs/batch.md, Large photos).
"""

from __future__ import annotations

import logging
import math
import numbers
import time

import numpy as np

from ..postprocess import make_mask
from ..utils.checks import flag, whole_number
from ..utils.deprecation import deprecated_names
from .segmenter import (EncodedImage, SegmentationResult, Segmenter, register_wrapper, validate_label_shape,
                        validate_prompts, validate_threshold)


logger = logging.getLogger(__name__)


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of side ``tile`` covering ``0..length`` with at least ``overlap`` px shared
    between neighbours; first at 0, last ending at ``length`` (one tile when ``length <= tile``)."""
    if length <= tile:
        return [0]
    n = math.ceil((length - tile) / (tile - overlap)) + 1
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


def tile_count(height: int, width: int, tile: int, overlap: float = 0.25) -> int:
    """How many tiles :class:`TiledSegmenter` cuts a ``height`` x ``width`` photo into (1 when it fits one)."""
    overlap_px = int(round(overlap * tile))
    return len(tile_starts(height, tile, overlap_px)) * len(tile_starts(width, tile, overlap_px))


def tiling_facts(segmenter: Segmenter) -> dict | None:
    """How ``segmenter`` cuts photos into tiles, as a report (``evaluate``'s model facts) or a batch job's
    ``results.json`` states it: ``tile`` (its side in the photo's pixels), ``overlap`` (the fraction of a tile its
    neighbours share), ``enlarge`` (``--enlarge-tiles``: a tile smaller than the input size enlarged to it) and
    ``scales`` (the input sizes each tile is seen at, :meth:`TiledSegmenter.tile_scales`; None where the model has
    none: a pipeline, or a tiling wrapper of another class); None where it predicts photos whole. From
    :meth:`Segmenter.describe`."""
    described = segmenter.describe()
    if described.get("tile") is None:
        return None
    seen = segmenter.tile_scales() if isinstance(segmenter, TiledSegmenter) else None
    return {"tile": described["tile"], "overlap": described.get("tile_overlap"),
            "enlarge": described.get("tile_enlarge"), "scales": [int(s) for s in seen] if seen else None}


def tiles_photo(sides, tile) -> bool:
    """Whether a photo of these ``sides`` (height, width: pixels) is predicted tile by tile with tiles of ``tile`` px:
    a side is longer than one tile (else it is predicted whole, :meth:`TiledSegmenter.decode`)."""
    return max(sides) > tile


def tiling_text(tiling: dict) -> str:
    """:func:`tiling_facts` as a reader is told it: "512 px tiles, overlap 0.25, each seen at 512 px, not enlarged
    (--enlarge-tiles not given)" (a report.md's Model, a batch job's report.html); values edited by hand into a
    results.json are shown as they are."""
    seen = tiling.get("scales")
    at = f", each seen at {' and '.join(f'{s} px' for s in seen)}" if isinstance(seen, list) and seen else ""
    how = ("enlarged to the input size (--enlarge-tiles)" if tiling.get("enlarge") else
           "not enlarged (--enlarge-tiles not given)")
    return f"{tiling.get('tile')} px tiles, overlap {tiling.get('overlap')}{at}, {how}"


def edge_weights(length: int, ramp: int, fade_start: bool, fade_end: bool) -> np.ndarray:
    """``(length,)`` weights in (0, 1]: rising over ``ramp`` px at a faded start, falling at a faded end."""
    w = np.ones(length, np.float32)
    if ramp > 0:
        rise = (np.arange(length, dtype=np.float32) + 1) / (ramp + 1)
        if fade_start:
            w = np.minimum(w, rise)
        if fade_end:
            w = np.minimum(w, rise[::-1])
    return w


@register_wrapper("tiled")
class TiledSegmenter(Segmenter):
    """Wraps a :class:`Segmenter`; photos larger than ``tile`` (either side) are predicted tile by tile.
    Everything else (thresholds, post-processing, prompt gate, confidence) is the wrapped segmenter's.

    Args:
        inner: the segmenter that predicts each tile.
        tile: tile side in the photo's pixels (>= 32).
        overlap: fraction of ``tile`` that neighbouring tiles share (0 <= overlap < 0.9).
        max_tiles: a photo this tile size would cut into more tiles is refused (ValueError) before any work,
            rather than run for minutes (a small tile on a large photo makes thousands); None: no limit.
        enlarge: each tile resized to every input size of the wrapped segmenter (its ``scales``), a larger one
            enlarging it; default: a tile is seen at no size larger than its own (:meth:`tile_scales`).
    """

    def __init__(self, inner: Segmenter, tile: int, overlap: float = 0.25, max_tiles: int | None = None,
                 enlarge: bool = False):
        if not whole_number(tile) or tile < 32:
            raise ValueError(f"tile must be a whole number of at least 32 px, got {tile!r}")
        if isinstance(overlap, bool) or not isinstance(overlap, numbers.Real) or not 0 <= overlap < 0.9:
            raise ValueError(f"tile overlap must be a number in [0, 0.9), got {overlap!r}")
        if max_tiles is not None and (not whole_number(max_tiles) or max_tiles < 1):
            raise ValueError(f"max_tiles must be a whole number of at least 1, got {max_tiles!r}")
        self.inner, self.tile, self.overlap = inner, int(tile), float(overlap)
        self.max_tiles = None if max_tiles is None else int(max_tiles)
        self.enlarge = flag(enlarge, "enlarge")

    @property
    def input_size(self) -> int | None:
        """The smallest size (px) the wrapped segmenter resizes a photo to (its ``scales``; 512 for the shipped model), None
        where it has none (a pipeline). A tile of at least this size is seen as a photo is; a larger scale is a
        test-time view that enlarges a photo of that size just the same."""
        scales = getattr(self.inner, "scales", None)
        try:
            return min(int(s) for s in scales) if scales else None
        except (TypeError, ValueError):
            return None

    def tile_scales(self) -> tuple | None:
        """The input sizes each tile is seen at: the wrapped segmenter's ``scales``, each larger than the tile capped
        to it unless ``enlarge`` (a runtime whose input size is fixed keeps its own); None where it has none."""
        scales = getattr(self.inner, "scales", None)
        if not scales:
            return None
        capped = getattr(self.inner, "tile_scales", None)
        return tuple(scales) if self.enlarge or capped is None else tuple(capped(self.tile))

    def tile_warning(self) -> str | None:
        """What a tile smaller than the model's input size (:attr:`input_size`) does, or None: it shows less of the
        wall than a training photo, and where it is enlarged (``enlarge``, a fixed input size), by how much at each
        input size larger than the tile."""
        size, seen = self.input_size, self.tile_scales()
        if size is None or not seen or self.tile >= size:
            return None
        scales = sorted({int(s) for s in self.inner.scales})
        head = (f"tile={self.tile} is smaller than the model's input size ({size} px): " if len(scales) == 1 else
                f"tile={self.tile} is smaller than the model's smallest input size ({size} px, of "
                f"{', '.join(map(str, scales))}): ")
        advice = (f"use tile={size} or more, and no tile for a photo framed like a training photo (docs/batch.md, "
                  "Large photos)")
        larger = [s for s in seen if s > self.tile]
        if not larger:
            at = " and ".join(f"{s} px" for s in seen)
            # an input size capped to the tile's side goes down to a multiple of 32 (tile_scales): a 48 px tile at 32
            cut = [s for s in seen if s < self.tile and s not in scales]
            how = (f"not enlarged, but made {self.tile / cut[0]:.3g} times smaller, to a multiple of 32 px, so cracks "
                   f"and joints look that much narrower: tile={cut[0]} is seen at its own size" if cut else
                   "not enlarged")
            return (head + f"each {self.tile} px tile is seen at {at} ({how}), so the model sees less of the "
                    "wall around a crack or joint than in a training photo (a lower IoU than a whole photo framed like "
                    "one). The tile is the side, in the photo's pixels, of the square the model sees: " + advice)
        hows = []
        for s in larger:  # (to 2 digits a 62 px tile at 64 px read "enlarged 1 times ... 1 times as wide")
            factor = s / self.tile
            hows.append(f"enlarged {factor:.3g} times to {s} px, so cracks and joints look {factor:.3g} times as wide "
                        "to the model as" if factor >= 1.1 else
                        f"enlarged to {s} px, so cracks and joints look {100 * (factor - 1):.2g}% wider to the model "
                        "than")
        return (head + f"each {self.tile} px tile is " + "; and ".join(f"{h} they are in the photo" for h in hows)
                + " (wider masks, lower confidence, a lower IoU). The tile is the side, in the photo's pixels, of the "
                f"square the model sees at {' and '.join(f'{s} px' for s in larger)}: "
                + ("leave out --enlarge-tiles (tile_enlarge=True) to see each tile at its own size, or " if self.enlarge
                   else "") + advice)

    upscale_warning = tile_warning  # (its name in 0.6.28)

    def __repr__(self) -> str:
        """Short: its tiling and the segmenter it tiles."""
        if "max_tiles" not in self.__dict__:  # (one whose __init__ failed, shown by a debugger: as TorchSegmenter's)
            return f"{type(self).__name__}(not made)"
        return (f"{type(self).__name__}(tile={self.tile}, overlap={self.overlap}, max_tiles={self.max_tiles}, "
                f"enlarge={self.enlarge}, inner={self.inner!r})")

    @classmethod
    def retiled(cls, segmenter: Segmenter, tile: int | None = None, max_tiles: int | None = None,
                enlarge: bool | None = None) -> "TiledSegmenter":
        """``segmenter`` predicting on tiles of ``tile`` px (default: its own tile size) with at most ``max_tiles``
        tiles a photo, small tiles enlarged or not as ``enlarge`` says (default: as it does; not where it is not
        tiled): a tiled one gets the new values (its overlap kept), not a second tiling."""
        own = segmenter if isinstance(segmenter, cls) else None
        if tile is None and own is None:
            raise ValueError("a tile size is needed to tile a segmenter that is not tiled")
        return cls(own.inner if own else segmenter, own.tile if tile is None else tile, own.overlap if own else 0.25,
                   max_tiles if max_tiles is not None else own.max_tiles if own else None,
                   enlarge if enlarge is not None else own.enlarge if own else False)

    def check_tiles(self, height: int, width: int, advice: str = "use a larger tile (--tile, tile=) or raise the limit (--max-tiles, max_tiles=)") -> int:
        """How many tiles a ``height`` x ``width`` photo is cut into; ValueError (ending in ``advice``) when more
        than ``max_tiles``."""
        n = tile_count(height, width, self.tile, self.overlap)
        if self.max_tiles is not None and n > self.max_tiles:
            raise ValueError(f"tile={self.tile} would cut this {width}x{height} photo into {n} tiles; at most "
                             f"{self.max_tiles}: {advice}")
        return n

    @property
    def threshold(self) -> float:
        return self.inner.threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self.inner.threshold = value

    @property
    def min_confidence(self) -> float | None:
        return self.inner.min_confidence

    @min_confidence.setter
    def min_confidence(self, value: float | None) -> None:
        self.inner.min_confidence = value

    @property
    def label_shape(self) -> str | None:
        return self.inner.label_shape

    @label_shape.setter
    def label_shape(self, value: str | None) -> None:  # (it had none: an AttributeError, where the inner takes it)
        self.inner.label_shape = value

    def num_parameters(self) -> int | None:
        return self.inner.num_parameters()

    def weights_stamp(self) -> list | None:
        return self.inner.weights_stamp()

    def settings(self) -> dict:
        """The wrapped segmenter's, with the tiling; ``enlarge`` only where it changes the input sizes a tile is seen
        at (a tile smaller than one of them, on a runtime that sees it at its own size): elsewhere the masks are
        alike either way, and as 0.6.28's (whose key had none), so a batch job of either resumes."""
        capped = getattr(self.inner, "tile_scales", None)
        scales = getattr(self.inner, "scales", None)
        matters = bool(scales) and capped is not None and tuple(capped(self.tile)) != tuple(scales)
        return {"class": type(self).__name__, "tile": self.tile, "overlap": self.overlap,
                **({"enlarge": self.enlarge} if matters else {}), "inner": self.inner.settings()}

    def describe(self) -> dict:
        return {**self.inner.describe(), "tile": self.tile, "tile_overlap": self.overlap, "tile_enlarge": self.enlarge}

    def postprocess_for(self, prompt: str, label_shape: str | None = None) -> dict | None:
        return self.inner.postprocess_for(prompt, label_shape)

    def match_prompts(self, prompts) -> dict:
        return self.inner.match_prompts(prompts)

    def prompt_warnings(self, matches: dict, off_switch: str | None = None) -> list[str]:
        return self.inner.prompt_warnings(matches, off_switch)

    def threshold_for(self, prompt: str, threshold: float | None = None) -> float:
        return self.inner.threshold_for(prompt, threshold)

    def mask_confidence(self, prompt: str, probability, mask, threshold: float | None = None,
                        concept: str | None = None) -> float:
        return self.inner.mask_confidence(prompt, probability, mask, threshold, concept)

    def encode(self, image) -> EncodedImage:
        """The photo read only (each tile is encoded in :meth:`decode`), its ``read_ms`` timed: a tiled result's
        ``read_ms`` counts reading the photo once, as an untiled one's does, beside its tiles'."""
        t0 = time.perf_counter()
        encoded = super().encode(image)
        encoded.timings_ms = {"read_ms": 1e3 * (time.perf_counter() - t0)}
        return encoded

    def decode(self, encoded: EncodedImage, prompts, threshold: float | None = None,
               label_shape: str | None = None) -> SegmentationResult:
        """Each tile encoded and decoded by the wrapped segmenter (the photo itself is only read here)."""
        prompts = validate_prompts(prompts)
        validate_threshold(threshold)
        validate_label_shape(label_shape)
        t0 = time.perf_counter()
        ms = (encoded.timings_ms or {}).get("read_ms")
        read = {"read_ms": float(ms)} if isinstance(ms, numbers.Real) else {}  # the photo's read (encode)
        rgb = encoded.rgb
        h, w = rgb.shape[:2]
        if not tiles_photo((h, w), self.tile):
            whole = self.inner.predict(rgb, prompts, threshold, label_shape)
            for step, ms in read.items():
                whole.timings_ms[step] = whole.timings_ms.get(step, 0.0) + ms
            return whole
        self.check_tiles(h, w)
        overlap_px = int(round(self.overlap * self.tile))
        ys, xs = tile_starts(h, self.tile, overlap_px), tile_starts(w, self.tile, overlap_px)
        total = np.zeros((len(prompts), h, w), np.float32)
        weight = np.zeros((h, w), np.float32)
        scores: dict[str, list] = {}
        min_confidence = self.inner.min_confidence
        kind = "map"
        stages = dict(read)  # the model's stages (read_ms, encode_ms, decode_ms), summed over the tiles, the photo's read
        sizes = self.tile_scales()  # (an input size larger than the tile: its own side, unless enlarge)
        own = None if sizes is None or sizes == tuple(self.inner.scales) else sizes
        for y in ys:
            for x in xs:
                th, tw = min(self.tile, h - y), min(self.tile, w - x)
                crop = rgb[y:y + th, x:x + tw]
                part = (self.inner.predict(crop, prompts, threshold, label_shape) if own is None else
                        self.inner.decode(self.inner.encode(crop, scales=own), prompts, threshold, label_shape))
                wy = edge_weights(th, overlap_px, y > 0, y + th < h)
                wx = edge_weights(tw, overlap_px, x > 0, x + tw < w)
                win = wy[:, None] * wx[None, :]
                kind = part.confidence_kind
                for step, ms in part.timings_ms.items():
                    if step != "total_ms" and isinstance(ms, numbers.Real):
                        stages[step] = stages.get(step, 0.0) + float(ms)
                for i, p in enumerate(prompts):
                    if kind == "model" and p in part.confidence:
                        scores.setdefault(p, []).append(part.confidence[p])
                        if min_confidence is not None and part.confidence[p] < min_confidence:
                            continue  # the model does not trust this tile's mask: it adds nothing
                    total[i, y:y + th, x:x + tw] += win * part.probabilities[p]
                weight[y:y + th, x:x + tw] += win
        probs = total / weight[None]
        masks = {p: make_mask(probs[i], self.threshold_for(p, threshold), self.postprocess_for(p, label_shape),
                              threshold is not None) for i, p in enumerate(prompts)}
        if kind == "model":
            confidence = {p: float(np.mean(v)) for p, v in scores.items()}
        else:
            confidence = {p: self.inner.mask_confidence(p, probs[i], masks[p], threshold,
                                                        part.concepts.get(p, {}).get("concept"))
                          for i, p in enumerate(prompts)}
        for p, match in part.concepts.items():
            if not match.get("known", True):  # a prompt the model does not know (the same for every tile)
                confidence[p] = 0.0
        timings = {**stages, "total_ms": 1e3 * (time.perf_counter() - t0) + read.get("read_ms", 0.0)}
        said = self.tile_warning()
        return SegmentationResult(masks=masks, probabilities={p: probs[i] for i, p in enumerate(prompts)},
                                  timings_ms=timings, confidence=confidence, confidence_kind=kind,
                                  concepts=part.concepts,  # concepts and warnings: the same for every tile
                                  warnings=[*part.warnings, *([said] if said else [])],
                                  tiles=len(ys) * len(xs)).keep_confident(min_confidence)


__getattr__ = deprecated_names(__name__, {"DEFAULT_MAX_TILES": ("drywallqa.utils.image_io", "DEFAULT_MAX_TILES")})  # 0.6.20
