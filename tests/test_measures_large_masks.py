"""The QA measures' cheaper ways on large photos give what the straightforward ones give, to the last bit: each is
checked against that straightforward way (the code as it was), on random masks and on masks placed in a large empty
frame."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from drywallqa import centre_line as cl


def _random_masks(seed: int, n: int = 6, shape=(180, 240)):
    """Random masks: lines of random widths (some crossing), blobs and specks, some with pinholes."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        m = np.zeros(shape, np.uint8)
        for _ in range(int(rng.integers(1, 6))):
            p0 = tuple(int(v) for v in rng.integers(0, shape[1], 2) % np.array([shape[1], shape[0]]))
            p1 = tuple(int(v) for v in rng.integers(0, shape[1], 2) % np.array([shape[1], shape[0]]))
            cv2.line(m, p0, p1, 1, int(rng.integers(1, 30)))
        if rng.random() < 0.5:
            cv2.circle(m, tuple(int(v) for v in rng.integers(20, 160, 2)), int(rng.integers(3, 40)), 1, -1)
        m = m.astype(bool)
        if rng.random() < 0.5:
            m ^= rng.random(shape) < 0.01  # specks, and pinholes in the lines
        yield m


def _framed(m: np.ndarray, frame=(700, 900), at=(311, 457)) -> np.ndarray:
    """``m`` placed in a larger empty frame at ``at`` (row, column)."""
    out = np.zeros(frame, bool)
    out[at[0]:at[0] + m.shape[0], at[1]:at[1] + m.shape[1]] = m
    return out


def _reference_exact_distances(m: np.ndarray) -> np.ndarray:
    """exact_distances as it was: rounded over the whole array."""
    d = cv2.distanceTransform(m.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.sqrt(np.rint(np.square(d, dtype=np.float64))).astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_distances_equal_the_whole_array_rounding(seed):
    for m in _random_masks(seed):
        for a in (m, np.pad(m, 1), _framed(m)):
            got, want = cl.exact_distances(a), _reference_exact_distances(a)
            assert got.dtype == want.dtype == np.float32 and got.shape == want.shape
            assert np.array_equal(got, want)
    big = np.zeros((1500, 1200), bool)
    big[100:1400, 300:900] = True  # distances past a thousand pixels... of a pixel, all whole-number squares
    big[700, 600] = False
    assert np.array_equal(cl.exact_distances(big), _reference_exact_distances(big))


def _reference_directions(s: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """_directions as it was: the window sums by filtering the whole box."""
    r = cl.DIRECTION_RADIUS
    top, left = max(int(ys.min()) - r, 0), max(int(xs.min()) - r, 0)
    crop = np.pad(s[top:int(ys.max()) + r + 1, left:int(xs.max()) + r + 1], r).astype(np.float32)
    cy, cx = ys - top + r, xs - left + r
    one, off = np.ones(2 * r + 1, np.float32), np.arange(-r, r + 1, dtype=np.float32)
    n, sx, sy, sxx, syy, sxy = (cv2.sepFilter2D(crop, cv2.CV_32F, kx, ky, borderType=cv2.BORDER_CONSTANT)[cy, cx]
                                .astype(np.float64)
                                for kx, ky in ((one, one), (off, one), (one, off), (off * off, one), (one, off * off),
                                               (off, off)))
    mx, my = sx / n, sy / n
    cxx, cyy, cxy = sxx / n - mx * mx, syy / n - my * my, sxy / n - mx * my
    theta = 0.5 * np.arctan2(2 * cxy, cxx - cyy)
    off_axis = np.maximum((cxx + cyy) / 2 - np.sqrt(((cxx - cyy) / 2) ** 2 + cxy ** 2), 0.0)
    flat = np.abs(np.cos(theta)) >= np.abs(np.sin(theta))
    stray = np.minimum(off_axis / np.maximum(np.cos(theta) ** 2, np.sin(theta) ** 2), cl.STRAY)
    return 0.5 * np.arctan2(2 * cxy, np.where(flat, cxx, cxx - stray) - np.where(flat, cyy - stray, cyy))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_directions_equal_those_of_the_filtered_box(seed):
    """Both ways _directions sums the windows (at each pixel where they are few for the box, else filtering the box)
    read the same directions as filtering the box: on skeletons (few pixels: the first way), on whole masks (many:
    the second), in a frame, on its border, and at a few of a line's pixels only."""
    from drywallqa.thinning import thin
    rng = np.random.default_rng(seed)
    for m in _random_masks(seed):
        for s in (thin(m), m, _framed(thin(m)), np.pad(thin(m), ((0, 0), (3, 0)))):
            ys, xs = np.nonzero(s)
            if ys.size == 0:
                continue
            some = np.sort(rng.choice(ys.size, size=min(ys.size, 7), replace=False))
            for y, x in ((ys, xs), (ys[some], xs[some])):
                got = cl._directions(s, y, x)
                assert got.dtype == np.float64 and np.array_equal(got, _reference_directions(s, y, x))


@pytest.mark.parametrize("seed", [0, 1])
def test_thin_equals_scikit_image_alone_and_in_a_frame(seed):
    """thin (its scratch of places now int32) leaves what skimage.morphology.thin leaves, of a mask alone and placed
    in a larger empty frame."""
    morphology = pytest.importorskip("skimage.morphology")
    from drywallqa.thinning import thin
    for m in _random_masks(seed, n=4):
        want = morphology.thin(m)
        assert np.array_equal(thin(m), want)
        assert np.array_equal(thin(_framed(m)), _framed(want))


def _reference_boxes(mask, quantile=0.0, min_area_fraction=0.0005, split_below_fill=0.0):
    """postprocess.boxes as it was: each component's quantiles read from its pixels in the whole label image."""
    from drywallqa.postprocess import crossing_strips
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    out = np.zeros(mask.shape, dtype=bool)
    for k in range(1, n):
        area = stats[k, cv2.CC_STAT_AREA]
        if area < min_area_fraction * mask.size:
            continue
        x0, y0, w, h = stats[k, :4]
        if area < split_below_fill * w * h:
            strips = crossing_strips(labels[y0 : y0 + h, x0 : x0 + w] == k)
            if strips is not None:
                out[y0 : y0 + h, x0 : x0 + w] |= strips
                continue
        if quantile > 0:
            ys, xs = np.nonzero(labels == k)
            y0, y1 = np.quantile(ys, [quantile, 1 - quantile]).round().astype(int)
            x0, x1 = np.quantile(xs, [quantile, 1 - quantile]).round().astype(int)
        else:
            x1, y1 = x0 + w - 1, y0 + h - 1
        out[y0 : y1 + 1, x0 : x1 + 1] = True
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_boxes_quantiles_read_in_each_box_equal_those_of_the_whole_label_image(seed):
    from drywallqa.postprocess import boxes
    for m in _random_masks(seed):
        for a in (m, _framed(m)):
            for kw in ({"quantile": 0.02, "min_area_fraction": 0.0}, {"quantile": 0.1},
                       {"quantile": 0.25, "split_below_fill": 0.4, "min_area_fraction": 0.0}, {"quantile": 0.0}):
                got, want = boxes(a, **kw), _reference_boxes(a, **kw)
                assert np.array_equal(got, want), kw


def _reference_widths(box: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """The widths as they were read: the whole box doubled at once."""
    up = cv2.resize(box.astype(np.uint8), None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    up_dist = cv2.distanceTransform(up, cv2.DIST_L2, 5)
    r, c = 2 * ys, 2 * xs
    return np.maximum.reduce([up_dist[r, c], up_dist[r + 1, c], up_dist[r, c + 1], up_dist[r + 1, c + 1]])


@pytest.mark.parametrize("band", [1, 7, 3000, 10**9])
def test_widths_read_in_bands_equal_those_of_the_whole_doubled_box(monkeypatch, band):
    """Bands of rows as narrow as one row, with the margin _centre_line gives them, read every mask pixel's width as
    the whole doubled box does; and so do the centre lines of masks in a frame, alone and taken in bands."""
    for m in _random_masks(3, n=5):
        box = np.pad(m[cl.mask_box(m)], 1)
        dist = cl.exact_distances(box)
        ys, xs = np.nonzero(box)
        monkeypatch.setattr(cl, "WIDTH_BAND_PIXELS", band * box.shape[1])
        got = cl._doubled_widths(box, ys, xs, int(2 * float(dist.max())) + 8)
        assert got.dtype == np.float32 and np.array_equal(got, _reference_widths(box, ys, xs))
        line = cl.centre_line(_framed(m))
        monkeypatch.setattr(cl, "WIDTH_BAND_PIXELS", 10**12)
        alone = cl.centre_line(m)
        assert np.array_equal(line.widths, alone.widths) and line.length == alone.length


def _reference_neighbour_codes(mask: np.ndarray) -> np.ndarray:
    """neighbour_codes as they were: the whole mask filtered."""
    from drywallqa.thinning import ORDER
    weights = np.zeros((3, 3), np.float32)
    for bit, (dy, dx) in enumerate(ORDER):
        weights[dy + 1, dx + 1] = 1 << bit
    return cv2.filter2D(np.asarray(mask, np.uint8), cv2.CV_32F, weights, borderType=cv2.BORDER_CONSTANT).astype(np.uint8)


@pytest.mark.parametrize("seed", [0, 1])
def test_neighbour_codes_of_few_pixels_equal_those_of_the_filtered_mask(seed):
    """Every pixel's code, off the mask too, on its border and in its corners: of lines in a large frame (few pixels:
    set from each pixel on), of whole masks (filtered), of a mask of 0/1 numbers."""
    from drywallqa.thinning import neighbour_codes, thin
    for m in _random_masks(seed, n=4):
        edge = np.zeros(m.shape, bool)
        edge[[0, 0, -1, -1, 0, 5, -1], [0, -1, 0, -1, 7, 0, 9]] = True  # corners and borders
        for a in (m, thin(m), _framed(thin(m)), _framed(thin(m), at=(0, 0)), _framed(thin(m), at=(520, 660)), edge,
                  m.astype(np.uint8)):
            got = neighbour_codes(a)
            assert got.dtype == np.uint8 and np.array_equal(got, _reference_neighbour_codes(a))


def test_joints_read_the_widths_and_directions_the_photo_sized_arrays_held():
    """The widths and directions measure_joints reads at centre-line pixels (_line_values) are those the photo-sized
    float32 arrays it filled held there: at every pixel, at a few, of lines alone and in a frame, and of a line whose
    pixels come in another order."""
    from drywallqa.joints import _line_values
    rng = np.random.default_rng(5)
    for m in _random_masks(4, n=5):
        for a in (m, _framed(m)):
            line = cl.centre_line(a)
            if line.ys.size == 0:
                continue
            width_at = np.zeros(a.shape, np.float32)
            width_at[line.ys, line.xs] = line.widths
            angle_at = np.zeros(a.shape, np.float32)
            angle_at[line.ys, line.xs] = np.degrees(line.directions) % 180.0
            shuffled = rng.permutation(line.ys.size)
            for ln in (line, line._replace(ys=line.ys[shuffled], xs=line.xs[shuffled], widths=line.widths[shuffled],
                                           directions=line.directions[shuffled])):
                widths, angles = _line_values(ln, a.shape)
                some = rng.choice(line.ys.size, size=min(9, line.ys.size), replace=False)
                for ys, xs in ((line.ys, line.xs), (line.ys[some], line.xs[some])):
                    assert widths(xs, ys).dtype == angles(xs, ys).dtype == np.float32
                    assert np.array_equal(widths(xs, ys), width_at[ys, xs])
                    assert np.array_equal(angles(xs, ys), angle_at[ys, xs])
