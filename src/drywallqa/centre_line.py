"""The centre line of a binary mask, which QA lengths and widths are read from (:mod:`drywallqa.measures`).

The centre line is the skeleton of the mask without its pinholes (:func:`without_pinholes`), without its spurs (the
short branches a skeleton grows into a strip's corners and the bumps of its edge, pruned until none is left) and
without an end's run into one corner of a square end (:func:`trim_covered_ends`). Then:

- **width** at a centre-line pixel is the mask's width across it: twice the distance to the background, taken
  on the mask at twice its size, so that strips of every whole width read exactly (a 1-px line is 1 px wide, a
  4-px strip 4);
- **length** sums, over the centre line's pixels, the length each stands for along the line's local direction
  (1 px along a row or a column, sqrt(2) on a diagonal, 1 / cos(angle) between: a digital straight line at any
  angle reads its own length), plus, at each free end, the reach from that pixel to the mask's edge along the
  line, since a skeleton stops about half a width short of a strip's end (of a line 3 px wide or more, from where
  its distances to the background stop growing towards the end, along the line behind it: past any run of the
  skeleton into a corner of a square end, :func:`_anchors`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import cv2
import numpy as np

from .thinning import ORDER, mask_box, neighbour_codes, thin

DIRECTION_RADIUS = 4  # px: the centre line's local direction is that of its pixels within this reach
STRAY = 1 / 12  # px²: the spread of a digital line's pixels across its run (uniform over a pixel), at most
SPUR_REACH = 1.5      # a branch from a free end to a junction is a spur when no longer than this x the junction's
                      # distance to the background (+1 px): it stays inside the strip's width there


class CentreLine(NamedTuple):
    """A mask's centre line (:func:`centre_line`)."""

    skeleton: np.ndarray  #: (H, W) bool, 1 px wide, without spurs
    dist: np.ndarray      #: (H, W) float32: each pixel's distance to the nearest background pixel
    ys: np.ndarray        #: (N,) rows of the centre line's pixels
    xs: np.ndarray        #: (N,) their columns
    widths: np.ndarray    #: (N,) the mask's width across each of them, px
    directions: np.ndarray  #: (N,) the line's local direction at each, radians in (-pi/2, pi/2] (0: along a row)
    steps: np.ndarray     #: (N,) the length of centre line each stands for, px
    reach: float          #: the free ends' reach to the mask's edge, px, all ends together

    @property
    def length(self) -> float:
        return float(self.steps.sum()) + self.reach


_STEPS = tuple(tuple(ORDER[i] for i in range(8) if code >> i & 1) for code in range(256))  # a code's neighbours
_NEIGHBOURS_OF = np.array([len(steps) for steps in _STEPS], np.uint8)  # and how many
_ROW_MAJOR = tuple(sorted(ORDER))  # the neighbours in the order pruning looks at them again (which corner goes first)


def _neighbour_count(s: np.ndarray) -> np.ndarray:
    """(H, W) uint8: how many of each pixel's 8 neighbours are on in ``s`` (beyond the border: off)."""
    return _NEIGHBOURS_OF[neighbour_codes(s)]


def _walk_from_end(codes: np.ndarray, end: tuple[int, int], limit: float):
    """``(path, junction, length)``: the pixels of a padded line from its free ``end`` on (``codes``: each pixel's
    :func:`~drywallqa.thinning.neighbour_codes` on the line), up to the first junction (a pixel of 3 or more
    neighbours: not in the path, returned as ``junction``), the line's other end, or ``limit`` px along the line
    (``junction`` None then); ``length`` is how far it went (to the junction, or the step past the limit, included)."""
    path, length, previous = [end], 0.0, None
    while True:
        cy, cx = path[-1]
        ahead = [(cy + dy, cx + dx) for dy, dx in _STEPS[codes[cy, cx]] if (cy + dy, cx + dx) != previous]
        if not ahead:  # the other end: a branch on its own
            return path, None, length
        ny, nx = ahead[0]
        length += 1.0 if ny == cy or nx == cx else math.sqrt(2)
        if len(_STEPS[codes[ny, nx]]) >= 3:
            return path, (ny, nx), length
        if length > limit:
            return path, None, length
        previous = (cy, cx)
        path.append((ny, nx))


def _walk_limit(dist: np.ndarray) -> float:
    """How far along the line a walk from an end goes at most: :data:`SPUR_REACH` x the mask's largest distance to
    the background, + 1 px."""
    return SPUR_REACH * float(dist.max()) + 1


def _walks_from_ends(skeleton: np.ndarray, dist: np.ndarray, near: np.ndarray | None = None,
                     limit: float | None = None):
    """``(s, d, walks)``: the line and the distances padded by a pixel, and from each free end of the line (within
    ``near`` where given) its :func:`_walk_from_end` as ``(end, path, junction, length)``, at most
    ``limit`` (default :func:`_walk_limit`) long."""
    s = np.pad(skeleton.astype(bool), 1)
    d = np.pad(dist, 1)
    codes = neighbour_codes(s)  # read on the line only: a walk steps from its pixels to their neighbours on it
    limit = _walk_limit(dist) if limit is None else limit
    free = s & (_NEIGHBOURS_OF[codes] == 1)
    if near is not None:
        free &= np.pad(near, 1)
    return s, d, [((y, x), *_walk_from_end(codes, (y, x), limit)) for y, x in np.argwhere(free).tolist()]


def _prune_round(skeleton: np.ndarray, dist: np.ndarray, near: np.ndarray | None = None,
                 limit: float | None = None) -> tuple[np.ndarray, list]:
    """``skeleton`` without its spurs: branches from a free end to a junction no longer than :data:`SPUR_REACH` x
    the junction's distance to the background, + 1 px. All are found on the skeleton as given, then removed
    together, so both spurs into a strip's two corners go and the junction between them becomes the end (unless
    that leaves a knot, a loop no longer than the mask is wide: a stubby + keeps its arms); then without the corner
    pixels the line can do without (two neighbours that touch), which would read as ends. With ``near``, only the
    branches from ends within it are looked at (:func:`_pruned`: those the last round may have changed). Returns the
    line and the walks looked at (:func:`_walks_from_ends`, padded coordinates)."""
    s, d, walks = _walks_from_ends(skeleton, dist, near, limit)
    spurs = [(junction, path) for _, path, junction, length in walks
             if junction is not None and length <= SPUR_REACH * d[junction] + 1]
    for _, path in spurs:
        r = np.asarray(path)
        s[r[:, 0], r[:, 1]] = False
    if spurs:  # a junction that was all spurs (a stubby + or star) is left a knot: its arms are the line after all
        n, labels = cv2.connectedComponents(s.astype(np.uint8), connectivity=8)
        count = _neighbour_count(s)
        free = np.zeros(n, bool)
        free[np.unique(labels[s & (count <= 1)])] = True
        size = np.bincount(labels[s], minlength=n)
        widest = np.zeros(n)
        np.maximum.at(widest, labels[s], d[s])
        knot = ~free & (size <= 2 * widest + 4)  # a loop no longer than the mask is wide there: no ring
        knot[0] = False
        for junction, path in spurs:
            if knot[labels[junction]]:
                r = np.asarray(path)
                s[r[:, 0], r[:, 1]] = True
    if near is not None and not spurs:  # a later round that removed nothing: its corners were cleared before
        return s[1:-1, 1:-1], walks
    todo = np.argwhere(s & _CORNER[neighbour_codes(s)]).tolist()  # corners: one at a time, as the line is now
    while todo:
        y, x = todo.pop()
        if s[y, x] and _touching(s, y, x):
            s[y, x] = False
            todo += [[y + dy, x + dx] for dy, dx in _ROW_MAJOR if s[y + dy, x + dx]]  # they may be corners now
    return s[1:-1, 1:-1], walks


WINDOW_PIXELS = 4_000_000  # a round of pruning from a few ends looks at windows around them while they hold fewer
MAX_PRUNING_ROUNDS = 8  # rounds of pruning spurs (on spurs), each on the line the last one left
COVER = math.sqrt(2)  # a square end's corners lie sqrt(2) x the half width from the end of its medial axis
CORNER_DROP = 0.5  # and the mask narrows towards the end at least this much a pixel: a run into a corner, not a
                   # line's own end (a long strip's skeleton ends as wide as it runs: not cut, its joints kept)
NARROWING_SLACK = 0.5  # px: give or take this much (if it narrows at all), as a distance is read to the nearest
                       # background pixel's centre, 0.5 to 1 px past the mask's edge: an end pixel's up to 1, another's
                       # 0.5 (a 4-px crack at 126 degrees: an end's run narrowed 1.24 px over 3.16 px where 1.58 was
                       # asked: kept, and the crack read 6 px too long)
COVER_SLACK = 1.0  # px: an end pixel within this of a further pixel's inscribed disc is covered by it
ANCHOR_WIDTH = 1.4  # px: a line whose distances to the background reach this near an end (3 px wide or more) has its
                    # end's reach read from where they stop growing (:func:`_anchors`): a run into a corner the
                    # trimming kept read a 4-px crack up to 3.3 px long


def trim_covered_ends(skeleton: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """``skeleton`` with each end run that lies inside the inscribed disc of a pixel further along the line cut back
    to that pixel: the run a skeleton bends into one corner of a strip's square end (no junction: no spur) added up to
    the strip's half width at an angle and read the corner's narrow widths; the line's end is then where the disc is,
    and the reach along the line (:func:`_reach`) measures the rest. The walk from an end stops at a junction."""
    s, d, walks = _walks_from_ends(skeleton, dist)
    ends = {end for end, *_ in walks}
    cut: set = set()
    reached: set = set()  # the cut pixels and their neighbours
    for (y, x), path, junction, _ in walks:  # each to a junction, the other end, or the limit
        if junction is None and len(path) > 1 and path[-1] in ends:
            continue  # a line with no junction that the walk crossed whole (a blob's short line): kept, all of it
        covered = 0
        for i, (py, px) in enumerate(path[1:], start=1):
            far = math.hypot(py - y, px - x)
            if (far + d[y, x] <= COVER * d[py, px] + COVER_SLACK and d[py, px] > d[y, x]
                    and d[py, px] - d[y, x] + NARROWING_SLACK >= CORNER_DROP * far):
                covered = i
        if covered and reached.isdisjoint(path[:covered]):  # two cuts that would meet (overlap, or touch: the two
            cut.update(path[:covered])                       # halves of a short line) would leave nothing between them
            reached.update((py + dy, px + dx) for py, px in path[:covered] for dy in (-1, 0, 1) for dx in (-1, 0, 1))
    if not cut:
        return skeleton  # itself: nothing cut
    r = np.asarray(sorted(cut))
    s[r[:, 0], r[:, 1]] = False
    return s[1:-1, 1:-1]


def _pruned(skeleton: np.ndarray, dist: np.ndarray, near: np.ndarray | None = None) -> np.ndarray:
    """:func:`_prune_round` again on what it leaves, until nothing changes (at most :data:`MAX_PRUNING_ROUNDS`): a
    spur on a spur (an L's outer corner grows a tree of them) is a spur once the first is gone; one round read the
    same L shape 8% longer turned 21 degrees than square. Each round after the first walks only from the ends whose
    branch may be judged otherwise now (:func:`_ends_to_walk_again`; the first from those in ``near``, where given),
    each within a window of the line around it where they are few (whole rounds over a 12 MP mask of a few dozen such
    ends tripled its cost)."""
    limit = _walk_limit(dist)
    margin = int(2 * limit) + 4  # a walk's reach and the knot a pruned junction may leave there
    for _ in range(MAX_PRUNING_ROUNDS):
        if near is None:
            pruned, walks = _prune_round(skeleton, dist, None, limit)
            if np.array_equal(pruned, skeleton):
                break
            near = _ends_to_walk_again(skeleton, pruned, walks)
            skeleton = pruned
        else:
            skeleton, near = _prune_near(skeleton, dist, near, limit, margin)
        if not near.any():  # no branch can be judged otherwise now
            break
    return skeleton


def _prune_near(skeleton: np.ndarray, dist: np.ndarray, near: np.ndarray, limit: float,
                margin: int) -> tuple[np.ndarray, np.ndarray]:
    """A round of pruning from the ends in ``near`` only: ``(line, ends to walk again)``. Few ends: each within its
    window of ``margin`` px, one after another on the line as the last left it; many: one round over the line."""
    ends = np.argwhere(near)
    side = 2 * margin + 1
    if len(ends) * side * side > WINDOW_PIXELS:  # (not the line's size: the same line within a box or a photo is
        # pruned the same way)
        pruned, walks = _prune_round(skeleton, dist, near, limit)
        return pruned, _ends_to_walk_again(skeleton, pruned, walks)
    line, again = skeleton.copy(), np.zeros(skeleton.shape, bool)
    for y, x in ends.tolist():
        box = (slice(max(y - margin, 0), y + margin + 1), slice(max(x - margin, 0), x + margin + 1))
        here = np.zeros(line[box].shape, bool)
        here[y - box[0].start, x - box[1].start] = True
        before = line[box].copy()
        pruned, walks = _prune_round(before, dist[box], here, limit)
        line[box] = pruned
        again[box] |= _ends_to_walk_again(before, pruned, walks)
    return line, again & line


def _ends_to_walk_again(before: np.ndarray, after: np.ndarray, walks: list) -> np.ndarray:
    """(H, W) bool: the free ends of the line ``after`` a round of pruning whose branch may be judged otherwise now:
    those that were no ends before (a junction left with one branch), and those whose walk ended at a junction the
    round changed (it lost a branch: the walk goes on past it now). A walk that met no change meets the same line."""
    count_before = _neighbour_count(np.pad(before, 1))
    count_after = _neighbour_count(np.pad(after, 1))
    ends = np.pad(after, 1) & (count_after == 1)
    again = ends & ~(np.pad(before, 1) & (count_before == 1))
    for end, _, junction, _ in walks:
        if junction is not None and ends[end] and count_after[junction] != count_before[junction]:
            again[end] = True
    return again[1:-1, 1:-1]


def _corner_table() -> np.ndarray:
    """(256,) bool: the neighbour codes (:func:`~drywallqa.thinning.neighbour_codes`) with exactly two neighbours
    that touch."""
    table = np.zeros(256, bool)
    for code in range(256):
        table[code] = _two_touching([ORDER[i] for i in range(8) if code >> i & 1])
    return table


def _two_touching(near) -> bool:
    """Whether ``near`` is exactly two positions (absolute, or offsets from one pixel) that touch each other."""
    return len(near) == 2 and max(abs(near[0][0] - near[1][0]), abs(near[0][1] - near[1][1])) == 1


_CORNER = _corner_table()


def _touching(s: np.ndarray, y: int, x: int) -> bool:
    """Whether pixel (y, x) of padded ``s`` has exactly two neighbours and they touch each other: it can go
    without cutting the line (a corner a skeleton or a pruned junction left behind)."""
    return _two_touching([(y + dy, x + dx) for dy, dx in ORDER if s[y + dy, x + dx]])


def _free_ends(s: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """(N,) the number of free ends at each centre-line pixel: 2 for a pixel on its own, 1 for one neighbour."""
    count = _neighbour_count(np.pad(s, 1))[ys + 1, xs + 1]
    return np.where(count == 0, 2, np.where(count == 1, 1, 0))


def _directions(s: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """(N,) the centre line's local direction at each pixel (radians, the principal axis of its pixels within
    :data:`DIRECTION_RADIUS`). Which way an end points: :func:`_own_offsets`."""
    r = DIRECTION_RADIUS
    top, left = max(int(ys.min()) - r, 0), max(int(xs.min()) - r, 0)
    crop = np.pad(s[top:int(ys.max()) + r + 1, left:int(xs.max()) + r + 1], r)
    cy, cx = ys - top + r, xs - left + r
    # the window sums (pixels, their offsets and squared offsets) are whole numbers, the same however they are added
    if ys.size * (2 * r + 1) < crop.size:  # few pixels for the box (a few long tapes in a 48 MP photo): at each pixel
        off = np.arange(-r, r + 1)         # its window, a row of it at a time (filtering the box: 6 s)
        n, sx, sy, sxx, syy, sxy = (np.zeros(ys.size, np.int64) for _ in range(6))
        for dy in range(-r, r + 1):
            row = crop[(cy + dy)[:, None], cx[:, None] + off].astype(np.int64)
            count, first = row.sum(axis=1), row @ off
            n += count
            sx += first
            sy += dy * count
            sxx += row @ (off * off)
            syy += dy * dy * count
            sxy += dy * first
        n, sx, sy, sxx, syy, sxy = (v.astype(np.float64) for v in (n, sx, sy, sxx, syy, sxy))
    else:
        crop = crop.astype(np.float32)
        one, off = np.ones(2 * r + 1, np.float32), np.arange(-r, r + 1, dtype=np.float32)  # separable window sums
        n, sx, sy, sxx, syy, sxy = (cv2.sepFilter2D(crop, cv2.CV_32F, kx, ky, borderType=cv2.BORDER_CONSTANT)[cy, cx]
                                    .astype(np.float64)
                                    for kx, ky in ((one, one), (off, one), (one, off), (off * off, one),
                                                   (one, off * off), (off, off)))
    mx, my = sx / n, sy / n
    cxx, cyy, cxy = sxx / n - mx * mx, syy / n - my * my, sxy / n - mx * my
    # a digital line's pixels stray from it across its run only (one a column of a line flatter than 45 degrees: up
    # and down; one a row of a steeper one), which turned the axis read towards 45 degrees (0.2 degrees at 20-40) and
    # read every tilted line 0.18% long (up to 0.3%; a ring of radius 300 px 3.5 px): that spread, the pixels' spread
    # off the axis over the share of it that falls across the line, is taken out of it (none on a line of 0 or 45
    # degrees, nor on a window of one step: exact as before)
    theta = 0.5 * np.arctan2(2 * cxy, cxx - cyy)
    off_axis = np.maximum((cxx + cyy) / 2 - np.sqrt(((cxx - cyy) / 2) ** 2 + cxy ** 2), 0.0)
    flat = np.abs(np.cos(theta)) >= np.abs(np.sin(theta))
    stray = np.minimum(off_axis / np.maximum(np.cos(theta) ** 2, np.sin(theta) ** 2), STRAY)
    return 0.5 * np.arctan2(2 * cxy, np.where(flat, cxx, cxx - stray) - np.where(flat, cyy - stray, cyy))


def _own_offsets(s: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,) x and (N,) y: the mean offset of the pixels of each pixel's own piece of line (8-connected) within
    :data:`DIRECTION_RADIUS`, which points back along the line at an end. (With the pixels of every piece, the next
    dash of a broken hairline a pixel or two past an end pulled it that way: the end's reach was read back across its
    own dash, and 3-px dashes 2 px apart read more than twice their length, longer than the whole row of them.)"""
    r = DIRECTION_RADIUS
    top, left = max(int(ys.min()) - r, 0), max(int(xs.min()) - r, 0)
    _, labels = cv2.connectedComponents(s[top:int(ys.max()) + r + 1, left:int(xs.max()) + r + 1].astype(np.uint8),
                                        connectivity=8)
    labels = np.pad(labels, r)  # 0: background, as beyond the crop
    row = labels.shape[1]
    at = (ys - top + r) * row + (xs - left + r)  # flat
    labels = labels.ravel()
    mine = labels[at]
    n, sx, sy = (np.zeros(ys.size, np.int32) for _ in range(3))
    for dy in range(-r, r + 1):  # an offset at a time (all at once: a second more for 138 000 specks)
        for dx in range(-r, r + 1):
            own = labels[at + (dy * row + dx)] == mine
            n += own
            sx[own] += dx
            sy[own] += dy
    return sx / n, sy / n


def _reach(m: np.ndarray, ys: np.ndarray, xs: np.ndarray, theta: np.ndarray, mx: np.ndarray, my: np.ndarray,
           steps: np.ndarray, both: np.ndarray, bound: np.ndarray) -> float:
    """The reach of free ends to the mask's edge, along the line and away from it (both ways for a pixel on its
    own), less the half step each end pixel's own length already covers; each end looks at most ``bound`` px far
    (ends are sampled in groups of about their bound, so a thousand specks do not each look as far as the widest
    strip's end)."""
    if ys.size == 0:
        return 0.0
    ux, uy = np.cos(theta), np.sin(theta)
    out = np.where(ux * mx + uy * my > 0, -1.0, 1.0)  # away from the rest of the line
    rays = [(ys, xs, out * ux, out * uy, steps, bound)]
    if both.any():
        rays.append((ys[both], xs[both], -out[both] * ux[both], -out[both] * uy[both], steps[both], bound[both]))
    total = 0.0
    for y, x, vx, vy, step, far in rays:
        group = np.ceil(np.log2(np.maximum(far, 1.0))).astype(int)
        for g in np.unique(group):
            i = group == g
            k = (np.arange(4 * 2 ** int(g) + 2) + 0.5) * 0.25  # every quarter pixel, none on a pixel's border
            px = np.floor(x[i, None] + 0.5 + vx[i, None] * k).astype(np.int64)
            py = np.floor(y[i, None] + 0.5 + vy[i, None] * k).astype(np.int64)
            inside = (px >= 0) & (px < m.shape[1]) & (py >= 0) & (py < m.shape[0])
            on = np.zeros(px.shape, bool)
            on[inside] = m[py[inside], px[inside]]
            edge = np.where(on.all(axis=1), k[-1], k[np.argmin(on, axis=1)] - 0.125)  # between the last sample on the
            total += float(np.maximum(edge - step[i] / 2, 0.0).sum())                # mask and the first off it
    return total


def without_pinholes(m: np.ndarray) -> np.ndarray:
    """``m`` with its pinholes filled: each hole (background the mask encloses, 4-connected) no wider than the mask is
    thick around it. The skeleton runs around every hole: 20 pinholes in a 400 x 20 px strip made it read 507 px
    long and 13 px wide. A loop of cracks (its hole wider than the cracks) keeps its hole."""
    back = np.pad(~m, 1, constant_values=True).astype(np.uint8)
    n, labels = cv2.connectedComponents(back, connectivity=4)  # 0: the mask; labels[0, 0]: the background outside
    if n <= 2:  # no hole
        return m
    hole = (labels != 0) & (labels != labels[0, 0])
    filled = np.pad(m, 1) | hole
    which = labels[hole]
    order = np.argsort(which, kind="stable")  # each hole's pixels together (np.maximum.at: 4 s for a noisy mask)
    which = which[order]
    starts = np.flatnonzero(np.r_[True, which[1:] != which[:-1]])
    wide, deep = (np.maximum.reduceat(cv2.distanceTransform(a.astype(np.uint8), cv2.DIST_L2, 5)[hole][order], starts)
                  for a in (hole, filled))  # each hole's largest distance to the mask, and to the background outside
    pinhole = np.zeros(n, bool)
    pinhole[which[starts]] = 2 * (wide - 0.5) <= deep - wide  # its width (a pixel's: 1) against the mask's around it
    return (np.pad(m, 1) | (hole & pinhole[labels]))[1:-1, 1:-1]


def exact_distances(m: np.ndarray) -> np.ndarray:
    """(H, W) float32: each pixel's Euclidean distance to the nearest background pixel (0 on the background), exact:
    the ends' trimming compares them to a few hundredths of a pixel, and OpenCV's 5 x 5 mask reads a 4-px crack's
    middle 2.197 px from its edge, not 2.236 (the crack's end then read 3 px too long). Each squared distance is
    rounded to the whole number it is, so a crop of the photo reads the same distances as the whole photo (exact
    to float32's precision: about 1000 px)."""
    d = cv2.distanceTransform(m.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    on = np.nonzero(d)  # rounded where the mask is only (the background's 0 stays 0): over a whole 48 MP photo, three
    d[on] = np.sqrt(np.rint(np.square(d[on], dtype=np.float64)))  # float64 copies of it took 10 s and 1 GB
    return d


def centre_line(m: np.ndarray) -> CentreLine:
    """The :class:`CentreLine` of a non-empty ``(H, W)`` bool mask. Found within the mask's box and a margin of
    background wider than any window it looks through (the line's direction, a pixel's neighbours), the same as
    within the whole photo, in the photo's coordinates: a crack across a tenth of a photo costs about a tenth."""
    box = mask_box(m, margin=DIRECTION_RADIUS + 2)
    if box is None or m[box].size == m.size:  # an empty mask (an empty line), or a box that is the whole photo
        return _centre_line(m)
    line = _centre_line(np.ascontiguousarray(m[box]))
    skeleton, dist = np.zeros(m.shape, bool), np.zeros(m.shape, np.float32)
    skeleton[box], dist[box] = line.skeleton, line.dist
    return line._replace(skeleton=skeleton, dist=dist, ys=line.ys + box[0].start, xs=line.xs + box[1].start)


def _centre_line(m: np.ndarray) -> CentreLine:
    """:func:`centre_line` within ``m`` as it is."""
    m = without_pinholes(m)
    dist = exact_distances(np.pad(m, 1))[1:-1, 1:-1]
    thinned = _pruned(thin(m), dist)
    trimmed = trim_covered_ends(thinned, dist)
    if trimmed is not thinned:  # a stub an end's cut left at a junction is a spur now
        thinned = _pruned(trimmed, dist, _ends_to_walk_again(thinned, trimmed, []))  # from the new ends
    ys, xs = np.nonzero(thinned)
    if ys.size == 0:
        empty = np.zeros(0)
        return CentreLine(thinned, dist, ys, xs, empty, empty, empty, 0.0)
    # widths: on the mask at twice its size (nearest) a strip of any whole width w is 2w wide and its middle pixels
    # lie w from the background, where at its own size an even width has no middle pixel
    rows, cols = mask_box(m)  # the mask's box: the rest is background
    widths = _doubled_widths(np.pad(m[rows, cols], 1), ys - rows.start + 1, xs - cols.start + 1,
                             int(2 * float(dist.max())) + 8)
    theta = _directions(thinned, ys, xs)
    steps = 1.0 / np.maximum(np.abs(np.cos(theta)), np.abs(np.sin(theta)))
    ends = _free_ends(thinned, ys, xs)
    at = ends > 0
    one = ends == 1  # a pixel on its own reaches both ways: which way is out does not matter (its offset: none)
    mx, my = np.zeros(ys.size), np.zeros(ys.size)
    if one.any():
        mx[one], my[one] = _own_offsets(thinned, ys[one], xs[one])
    ry, rx, rtheta, rmx, rmy, rstep = ys[at], xs[at], theta[at], mx[at], my[at], steps[at]
    cut = 0.0  # the steps of ends' runs into a corner: their reach is read from further back (_anchors)
    if one.any():
        index = np.full(thinned.shape, -1, np.int64)
        index[ys, xs] = np.arange(ys.size)
        where = {int(k): j for j, k in enumerate(np.flatnonzero(at))}
        for end, anchor, ux, uy, removed in _anchors(thinned, dist):
            j, a = where[int(index[end])], int(index[anchor])
            ray = _reach(m, ys[a:a + 1], xs[a:a + 1], np.array([math.atan2(uy, ux)]), np.array([-ux]), np.array([-uy]),
                         steps[a:a + 1], np.zeros(1, bool), np.array([2 * dist[ys[a], xs[a]] + 2 + 2 * DIRECTION_RADIUS]))
            along = (end[1] - xs[a]) * ux + (end[0] - ys[a]) * uy
            across = abs((end[0] - ys[a]) * ux - (end[1] - xs[a]) * uy)  # a corner's end pixel: within half the width
            if ray + steps[a] / 2 < along - 0.5 or along <= 0 or across > dist[ys[a], xs[a]] + 1:  # and a pixel
                continue  # the ray left the mask short of the end pixel: the line bends there (a 3-px arc of radius
                # 20 px read 2.5 px short); or the end pixel lies behind the anchor or off its strip (a straight
                # band's corner runs: within 0.6 px of its half width; these 2.5-3 px past it), where a line
                # widening from its end (a C whose back is wider, a crack running into a wider one) took the anchor
                # round a bend (a 3-px C read 31.6 px long, then 21.8: the reach read the wrong way): read from the
                # end pixel
            ry[j], rx[j], rtheta[j], rmx[j], rmy[j], rstep[j] = ys[a], xs[a], math.atan2(uy, ux), -ux, -uy, steps[a]
            cut += float(steps[index[tuple(np.asarray(removed).T)]].sum())
    reach = _reach(m, ry, rx, rtheta, rmx, rmy, rstep, ends[at] == 2, 2 * dist[ry, rx] + 2 + 2 * DIRECTION_RADIUS) - cut
    return CentreLine(thinned, dist, ys, xs, widths.astype(np.float64), theta, steps, reach)


WIDTH_BAND_PIXELS = 8_000_000  # the mask's box is doubled and its distances taken a band of about this many of its
                               # pixels at a time (the whole of a 48 MP photo's box doubled: 1.7 GB)


def _doubled_widths(box: np.ndarray, ys: np.ndarray, xs: np.ndarray, margin: int) -> np.ndarray:
    """(N,) float32: the width of the ``(h, w)`` bool mask ``box`` (background all around its border) across its
    pixels ``(ys, xs)``: the largest distance to the background of the 2 x 2 block each is of the mask doubled
    (nearest). Taken in bands of rows, each with ``margin`` rows more on either side: more than any of the pixels'
    distance to the background (in the band's rows), so that the band reads what the whole box reads there."""
    step = max(WIDTH_BAND_PIXELS // box.shape[1], 1)
    widths = np.zeros(ys.size, np.float32)
    for a in range(0, box.shape[0], step):
        here = (ys >= a) & (ys < a + step)
        if not here.any():
            continue
        lo, hi = max(a - margin, 0), min(a + step + margin, box.shape[0])
        up = cv2.resize(box[lo:hi].astype(np.uint8), None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
        up_dist = cv2.distanceTransform(up, cv2.DIST_L2, 5)
        r, c = 2 * (ys[here] - lo), 2 * xs[here]  # pixel (y, x): the 2 x 2 block from there of the doubled band
        widths[here] = np.maximum.reduce([up_dist[r, c], up_dist[r + 1, c], up_dist[r, c + 1], up_dist[r + 1, c + 1]])
    return widths


def _anchors(skeleton: np.ndarray, dist: np.ndarray):
    """For each free end of a line at least 3 px wide (its distances to the background reach :data:`ANCHOR_WIDTH`
    within twice that of the end), where its distances first come within half a pixel of the largest there: the
    pixel the end's reach is read from instead (:func:`_centre_line`), past any run of the line into a corner of a
    square end. Yields ``(end, anchor, ux, uy, cut)``: the end and anchor pixels, the line's direction behind the
    anchor (the axis of the :data:`DIRECTION_RADIUS` x 2 + 1 pixels of the walk from it on, pointing out towards the
    end) and the pixels from the end to the anchor (not the anchor), whose steps the reach replaces. Ends whose walk
    meets a junction or the line's other end before that are left out (read from their own pixel), and so is an end
    whose pixels another's cut or anchor took."""
    r = DIRECTION_RADIUS
    _, d, walks = _walks_from_ends(skeleton, dist, limit=2 * float(dist.max()) + 2 * r + 4)
    taken: set = set()
    for end, path, _, _ in walks:
        dd = np.array([d[p] for p in path])
        k, h = 1, float(dd[0])
        while k < dd.size and k <= 2 * h + 2:  # the end's own width: as far along as twice the widest seen so far
            h = max(h, float(dd[k]))
            k += 1
        if h < ANCHOR_WIDTH:
            continue
        i = int(np.argmax(dd[:k] >= h - 0.5))
        if i == 0 or len(path) < i + 2 * r + 1 or not taken.isdisjoint(path[:i + 2 * r + 1]):
            continue
        taken.update(path[:i + 2 * r + 1])
        pts = np.asarray(path[i:i + 2 * r + 1], np.float64)
        _, _, vt = np.linalg.svd(pts - pts.mean(axis=0), full_matrices=False)
        vy, vx = vt[0]
        if vy * (pts[0, 0] - pts[-1, 0]) + vx * (pts[0, 1] - pts[-1, 1]) < 0:
            vy, vx = -vy, -vx
        yield ((end[0] - 1, end[1] - 1), (path[i][0] - 1, path[i][1] - 1), float(vx), float(vy),
               [(py - 1, px - 1) for py, px in path[:i]])
