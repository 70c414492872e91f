"""Thinning of a binary mask to 1-px lines (the skeleton :mod:`drywallqa.centre_line` starts from).

The algorithm is Guo and Hall's parallel thinning (Z. Guo, R. W. Hall, "Parallel thinning with two-subiteration
algorithms", Communications of the ACM 32(3), 1989; algorithm A1), the one ``skimage.morphology.thin`` runs, with
the same result pixel for pixel. scikit-image evaluates every pixel of the image in every subiteration, which costs
the image's area times half the width of its thickest part: a 3000 x 2300 px filled region took 20 s. Here only
the pixels that can change are looked at: those that could be removed, and the neighbours of those removed in the
subiteration before, so the cost follows the pixels removed (the same region: about 1.5 s).
"""

from __future__ import annotations

import cv2
import numpy as np

# bit i of a pixel's neighbourhood code is its neighbour ORDER[i] (row, column offsets), clockwise from north-west
ORDER = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))


def _lookup_table() -> np.ndarray:
    """(256,) uint8: for each neighbourhood code, bit 1 set when the pixel may go in the first subiteration, bit 2
    when in the second (Guo and Hall's conditions G1, G2, and G3 or G3')."""
    table = np.zeros(256, np.uint8)
    for code in range(256):
        nw, n, ne, e, se, s, sw, w = ((code >> i) & 1 for i in range(8))
        x = (e, ne, n, nw, w, sw, s, se, e)  # x[0..7]: Guo and Hall's x1..x8, counter-clockwise from east; x[8] = x1
        crossings = sum(1 for i in (0, 2, 4, 6) if not x[i] and (x[i + 1] or x[i + 2]))  # G1: C(p) = 1
        n1 = sum(1 for k in (0, 2, 4, 6) if x[k] or x[k + 1])
        n2 = sum(1 for k in (1, 3, 5, 7) if x[k] or x[k + 1])
        if crossings != 1 or min(n1, n2) not in (2, 3):  # G2
            continue
        first = not ((x[1] or x[2] or not x[7]) and x[0])   # G3:  (x2 or x3 or not x8) and x1 == 0
        second = not ((x[5] or x[6] or not x[3]) and x[4])  # G3': (x6 or x7 or not x4) and x5 == 0
        table[code] = (1 if first else 0) | (2 if second else 0)
    return table


_TABLE = _lookup_table()


def neighbour_codes(mask: np.ndarray) -> np.ndarray:
    """``(H, W)`` uint8: bit i of each pixel's code set where its neighbour :data:`ORDER`\\ [i] is on (beyond the
    border: off)."""
    mask = np.asarray(mask)
    if mask.dtype == bool and mask.ndim == 2:
        ys, xs = np.nonzero(mask)
        if ys.size * 64 < mask.size:  # a line in a large photo: each pixel that is on sets its bit in its neighbours'
            codes = np.zeros(mask.shape, np.uint8)  # codes (filtering the whole photo: 0.4 s a time at 48 MP)
            for bit, (dy, dx) in enumerate(ORDER):
                py, px = ys - dy, xs - dx  # the pixels whose neighbour ORDER[bit] each is
                inside = (py >= 0) & (py < mask.shape[0]) & (px >= 0) & (px < mask.shape[1])
                codes[py[inside], px[inside]] |= np.uint8(1 << bit)  # each pixel once a bit: no repeated index
            return codes
    weights = np.zeros((3, 3), np.float32)
    for bit, (dy, dx) in enumerate(ORDER):
        weights[dy + 1, dx + 1] = 1 << bit
    return cv2.filter2D(np.asarray(mask, np.uint8), cv2.CV_32F, weights, borderType=cv2.BORDER_CONSTANT).astype(np.uint8)


def thin(mask: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool: the 1-px wide, 8-connected lines that thinning leaves of an ``(H, W)`` mask (equal to
    ``skimage.morphology.thin(mask)``)."""
    mask = np.asarray(mask, bool)
    if mask.ndim != 2:
        raise ValueError(f"expected an (H, W) mask, got shape {mask.shape}")
    # thinned within the mask's box, the same as within the whole photo (beyond the box all is background, as beyond
    # the border): a crack across a tenth of a photo costs a tenth of its area's set-up
    out = np.zeros(mask.shape, bool)
    box = mask_box(mask)
    if box is not None:
        out[box] = _thin_box(mask[box])
    return out


def mask_box(mask: np.ndarray, margin: int = 0) -> tuple[slice, slice] | None:
    """``(rows, columns)`` slices of the smallest box holding every pixel of a ``(H, W)`` mask that is on, grown by
    ``margin`` pixels on each side within the mask's bounds; None for an empty mask."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return (slice(max(int(rows[0]) - margin, 0), min(int(rows[-1]) + margin + 1, mask.shape[0])),
            slice(max(int(cols[0]) - margin, 0), min(int(cols[-1]) + margin + 1, mask.shape[1])))


def _thin_box(mask: np.ndarray) -> np.ndarray:
    """:func:`thin` of a non-empty ``(H, W)`` bool mask."""
    # a border of background (every pixel has 8 neighbours), in C order: ravel() must be a view that writes through
    s = np.ascontiguousarray(np.pad(mask, 1), dtype=np.uint8)
    flat = s.ravel()
    value = np.where(s == 1, _TABLE[neighbour_codes(s)], 0).ravel()
    pending = np.flatnonzero(value)  # pixels that may go, and in which subiteration (value)
    pending_value = value[pending]
    offsets = np.array([dy * s.shape[1] + dx for dy, dx in ORDER], np.int64)
    bits = (1 << np.arange(8)).astype(np.int64)
    # scratch for removing repeated indices: a place in the list looked at, which holds at most 9 per pixel (each
    # pending one and 8 neighbours of each removed one); int32 where that fits (a 48 MP photo: 192 MB, not 384)
    slot = np.zeros(flat.size, np.int32 if 9 * flat.size < 2**31 else np.int64)
    subiteration, idle = 1, 0
    while pending.size and idle < 2:  # until neither subiteration removes a pixel
        go = (pending_value & subiteration) != 0
        if go.any():
            gone = pending[go]
            flat[gone] = 0  # all at once: each decision was taken on the mask as it was before
            near = (gone[:, None] + offsets).ravel()
            look = np.concatenate([pending[~go], near[flat[near] == 1]])
            slot[look] = np.arange(look.size)
            look = look[slot[look] == np.arange(look.size)]
            found = _TABLE[(flat[look[:, None] + offsets] * bits).sum(axis=1)]
            pending, pending_value = look[found != 0], found[found != 0]
            idle = 0
        else:
            idle += 1
        subiteration = 3 - subiteration
    return s[1:-1, 1:-1].astype(bool)
