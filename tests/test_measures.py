import numpy as np
import pytest

from drywallqa.measures import joint_measures, mask_measures


def test_horizontal_bar_length_width_area():
    m = np.zeros((50, 100), bool)
    m[20:25, 10:90] = True  # 80 x 5
    r = mask_measures(m, mm_per_px=0.5)
    assert r["components"] == 1 and r["area_px"] == 400
    assert r["area_fraction"] == pytest.approx(400 / 5000)
    assert r["length_px"] == pytest.approx(80, abs=0.5)  # the skeleton's 76 px and its ends' distances to the mask's edge
    assert r["max_width_px"] == 5 and r["mean_width_px"] == pytest.approx(5, abs=0.05)
    assert r["area_mm2"] == pytest.approx(100) and r["length_mm"] == pytest.approx(r["length_px"] / 2)


@pytest.mark.parametrize("width", [1, 2, 3, 4, 7, 8, 20])
def test_strips_of_every_whole_width_measure_their_width_and_length(width):
    m = np.zeros((100, 300), bool)
    m[40:40 + width, 50:250] = True  # 200 px long, `width` px wide
    r = mask_measures(m)
    assert r["max_width_px"] == width  # an even width read one pixel short (2 * dist - 1)
    assert r["mean_width_px"] == pytest.approx(width, abs=0.05)
    assert r["length_px"] == pytest.approx(200, abs=0.6)  # the skeleton alone is up to `width` px short
    assert mask_measures(m.T)["max_width_px"] == width


def test_length_of_lines_dots_and_loops():
    line = np.zeros((10, 120), bool)
    line[5, 10:110] = True
    assert mask_measures(line)["length_px"] == pytest.approx(100)  # 100 pixels, not their 99 links
    dot = np.zeros((9, 9), bool)
    dot[4, 4] = True
    assert mask_measures(dot)["length_px"] == pytest.approx(1)
    ring = np.zeros((40, 40), bool)
    ring[10, 10:30] = ring[29, 10:30] = ring[10:30, 10] = ring[10:30, 29] = True  # a closed square of 76 pixels
    assert mask_measures(ring)["length_px"] == pytest.approx(76, abs=1)  # 4 x 19 between pixel centres; no free end


def test_components_and_empty_mask():
    m = np.zeros((20, 20), bool)
    m[1:3, 1:3] = True
    m[10:15, 10:15] = True
    assert mask_measures(m)["components"] == 2
    assert mask_measures(m, min_component_px=5)["components"] == 1
    e = mask_measures(np.zeros((5, 5), bool))
    assert e["components"] == 0 and e["area_px"] == 0 and e["length_px"] == 0


def test_diagonal_line_length():
    m = np.eye(60, dtype=bool)
    r = mask_measures(m)
    assert r["length_px"] == pytest.approx(59 * np.sqrt(2), rel=0.02)
    assert r["mean_width_px"] == pytest.approx(1.0, abs=0.01)


def test_joints_crossing_diagonal_and_with_a_gap_in_the_tape():
    import cv2

    m = np.zeros((400, 600), bool)
    m[190:210, 50:550] = True     # a horizontal joint, 500 px long, 20 px wide ...
    m[190:210, 250:300] = False   # ... with 50 px of it not taped
    m[20:380, 400:416] = True     # and a vertical joint crossing it
    horizontal, vertical = sorted(joint_measures(m, mm_per_px=0.5), key=lambda j: j["angle_deg"])
    assert horizontal["angle_deg"] == 0.0 and horizontal["length_px"] == pytest.approx(500, abs=0.1)  # one joint
    assert horizontal["coverage"] == pytest.approx(0.9, abs=0.001)  # 450 of its 500 px are taped
    assert horizontal["mean_width_px"] == pytest.approx(20, abs=0.3)
    assert vertical["angle_deg"] == 90.0 and vertical["coverage"] == 1.0
    assert vertical["length_px"] == pytest.approx(360, abs=0.1) and vertical["mean_width_px"] == pytest.approx(16, abs=0.3)
    assert horizontal["length_mm"] == pytest.approx(horizontal["length_px"] * 0.5)
    assert np.allclose(horizontal["start_xy"], [50, 199.5], atol=1) and np.allclose(horizontal["end_xy"], [549, 199.5], atol=1)
    assert np.allclose(vertical["start_xy"], [407.5, 20], atol=1) and np.allclose(vertical["end_xy"], [407.5, 379], atol=1)
    diagonal = np.zeros((400, 600), np.uint8)
    cv2.line(diagonal, (50, 350), (550, 50), 1, 18)
    (joint,) = joint_measures(diagonal.astype(bool))
    assert abs(joint["angle_deg"] - 149.0) <= 1 and joint["coverage"] == 1.0
    assert joint["length_px"] == pytest.approx(np.hypot(500, 300) + 18, abs=3)  # with its round caps
    assert joint["mean_width_px"] == pytest.approx(np.count_nonzero(diagonal) / joint["length_px"], rel=0.05)
    assert joint_measures(np.zeros((50, 50), bool)) == [] and joint_measures(np.ones((3, 3), bool)) == []
    with pytest.raises(ValueError, match="mm_per_px"):
        joint_measures(m, mm_per_px=-1)


def test_a_noisy_mask_measures_a_bounded_number_of_candidate_lines():
    from drywallqa.joints import MAX_CANDIDATES, _candidate_joints

    rng = np.random.default_rng(0)
    segments = [[x, y, x + int(rng.integers(3, 30)), y + int(rng.integers(-30, 30))]
                for x, y in rng.integers(0, 900, (3000, 2)).tolist()]  # a noisy mask: thousands of short segments
    dist = np.full((1000, 1000), 1.0)
    lines = _candidate_joints(segments, dist, 12.0)
    assert len(lines) == MAX_CANDIDATES
    longest = max(segments, key=lambda s: np.hypot(s[2] - s[0], s[3] - s[1]))
    assert np.allclose(lines[0][2], [(longest[0] + longest[2]) / 2, (longest[1] + longest[3]) / 2])  # longest first


def test_a_tilted_joint_with_a_gap_is_one_joint_measured_on_its_tape():
    import cv2

    tape = np.zeros((640, 640), np.uint8)
    cv2.line(tape, (100, 500), (160, 400), 1, 14)  # two pieces of one 14-px tape on one line, 117 px apart
    cv2.line(tape, (220, 300), (280, 200), 1, 14)
    (joint,) = joint_measures(tape.astype(bool))
    assert np.allclose(joint["start_xy"], [280 + 3, 200 - 6], atol=3)  # the upper end first, the round cap's edge
    assert np.allclose(joint["end_xy"], [100 - 3, 500 + 6], atol=3)
    extent = np.hypot(180, 300) + 14  # end to end, with the round caps
    assert joint["length_px"] == pytest.approx(extent, abs=4)
    assert joint["coverage"] == pytest.approx(2 * (np.hypot(60, 100) + 14) / extent, abs=0.03)  # the skeleton's: 0.65
    assert joint["mean_width_px"] == pytest.approx(14.5, abs=1)
    bent = np.zeros((640, 640), np.uint8)  # two pieces a few degrees apart start two candidate lines: one joint
    cv2.line(bent, (545, 425), (610, 325), 1, 14)
    cv2.line(bent, (410, 620), (470, 525), 1, 14)
    assert len(joint_measures(bent.astype(bool))) == 1


@pytest.mark.parametrize("angle", [0, 10, 22.5, 30, 45, 60, 80, 90, 135])
def test_lines_at_any_angle_read_their_length(angle):
    import cv2

    rad = np.radians(angle)
    p0 = (round(300 - 200 * np.cos(rad)), round(300 - 200 * np.sin(rad)))
    p1 = (600 - p0[0], 600 - p0[1])
    for thickness in (1, 5):
        m = np.zeros((600, 600), np.uint8)
        cv2.line(m, p0, p1, 1, thickness)
        true = np.hypot(p1[0] - p0[0], p1[1] - p0[1]) + thickness  # with the line's round caps
        assert mask_measures(m.astype(bool))["length_px"] == pytest.approx(true, rel=0.01)  # chain code: up to 8% long
    strip = np.zeros((600, 600), np.uint8)
    cv2.fillPoly(strip, [np.round(cv2.boxPoints(((300, 300), (400, 20), angle))).astype(np.int32)], 1)
    assert mask_measures(strip.astype(bool))["length_px"] == pytest.approx(400, rel=0.02)  # spurs into corners: +17%


def _strip(length, width, angle, size=500, centre=(250.013, 250.017)):
    """A length x width rectangle turned by ``angle`` degrees: the pixels whose centres lie inside it."""
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    a = np.radians(angle)
    u = (xx - centre[0]) * np.cos(a) + (yy - centre[1]) * np.sin(a)
    v = -(xx - centre[0]) * np.sin(a) + (yy - centre[1]) * np.cos(a)
    return (abs(u) < length / 2) & (abs(v) < width / 2)


@pytest.mark.parametrize("length, width, within", [(200, 20, 0.02), (100, 10, 0.02), (300, 40, 0.02), (60, 20, 0.035)])
def test_short_wide_strips_at_any_angle_read_their_length_and_width(length, width, within):
    """At many angles the skeleton ran one end into a corner of the strip's square end (no junction, so no spur):
    a 200 x 20 strip read 206.8 px long at 49 degrees, 18.65 wide; a 60 x 20 one +7% long, 17% narrow."""
    for angle in range(0, 181, 7):
        r = mask_measures(_strip(length, width, angle))
        assert r["length_px"] == pytest.approx(length, rel=within), angle
        assert r["mean_width_px"] == pytest.approx(width, rel=0.06), angle


def test_an_l_shape_reads_one_length_at_any_turn():
    """The outer corner of an L grows spurs on spurs: pruned once, the same L read 401 px square and 433 px turned by
    21 degrees."""
    def l_shape(angle, width=15, arm=200):
        a, b = np.radians(angle), np.radians(angle + 90)
        half = (arm - width) / 2
        return (_strip(arm + width, width, angle, centre=(250.013 + half * np.cos(a), 250.017 + half * np.sin(a)))
                | _strip(arm + width, width, angle + 90, centre=(250.013 + half * np.cos(b), 250.017 + half * np.sin(b))))

    lengths = [mask_measures(l_shape(angle))["length_px"] for angle in range(0, 91, 7)]
    assert max(lengths) / min(lengths) < 1.025 and min(lengths) == pytest.approx(401, rel=0.01), lengths


@pytest.mark.parametrize("axes, angle", [((6, 8), 65), ((8, 9), 128), ((6, 7), 130)])
def test_a_compact_blob_keeps_its_centre_line(axes, angle):
    """Cutting back both ends of a blob's short line (each covered by the other's disc) left no line: 0 px long and
    wide, so no width rule could flag a spot."""
    import cv2

    m = np.zeros((30, 30), np.uint8)
    cv2.ellipse(m, (15, 15), axes, angle, 0, 360, 1, -1)
    r = mask_measures(m.astype(bool))
    assert r["length_px"] >= 2 * axes[0] and r["max_width_px"] >= 1.5 * axes[0], r


def test_joints_that_cross_or_meet_at_a_corner_and_tape_that_is_no_joint_of_theirs():
    import cv2

    crossing = np.zeros((640, 640), np.uint8)
    cv2.line(crossing, (20, 320), (620, 320), 1, 40)
    cv2.line(crossing, (184, 257), (456, 383), 1, 40)  # 40-px tapes crossing at 25 degrees
    first, second = joint_measures(crossing.astype(bool))  # two joints, not the lines across their crossing
    assert first["angle_deg"] == pytest.approx(0, abs=0.5) and first["length_px"] == pytest.approx(640, abs=2)
    assert second["angle_deg"] == pytest.approx(24.9, abs=1) and second["length_px"] == pytest.approx(300 + 40, abs=5)
    corner = np.zeros((400, 600), bool)
    corner[190:210, 100:400] = True
    corner[155:210, 380:400] = True  # an L: a 55-px arm of 20-px tape
    long, arm = joint_measures(corner)
    assert long["angle_deg"] == 0.0 and long["length_px"] == pytest.approx(300, abs=1)
    assert arm["angle_deg"] == pytest.approx(90, abs=0.5) and arm["length_px"] == pytest.approx(55, abs=1)
    apart = np.zeros((400, 600), bool)
    apart[190:210, 50:300] = True
    apart[195:205, 560:570] = True  # a speck on the joint's line, far past its end
    apart[:, 450:466] = True        # and a vertical joint across that line, not touching the tape
    horizontal = [j for j in joint_measures(apart) if j["angle_deg"] == 0.0]
    assert len(horizontal) == 1 and horizontal[0]["length_px"] == pytest.approx(250, abs=1)
    assert horizontal[0]["coverage"] == 1.0


def test_masks_that_are_no_picture_are_a_clear_error():
    for bad in (np.zeros((0, 5), bool), np.zeros((5, 0), bool), np.zeros((2, 3, 3), bool)):
        with pytest.raises(ValueError, match="expected an"):
            mask_measures(bad)
        with pytest.raises(ValueError, match="expected an"):
            joint_measures(bad)


def test_a_stubby_cross_keeps_its_arms():
    plus = np.zeros((200, 200), bool)
    plus[85:115, 55:145] = True
    plus[55:145, 85:115] = True  # two 90 x 30 bars crossing: every arm is shorter than the crossing is wide
    assert mask_measures(plus)["length_px"] == pytest.approx(180, abs=2)  # all arms pruned as spurs read 5


def test_joint_pieces_past_gaps_count_and_tape_crossing_the_line_does_not():
    import cv2

    dashed = np.zeros((640, 800), bool)
    for k in range(7):
        dashed[300:340, 20 + 90 * k:80 + 90 * k] = True  # 60-px pieces of 40-px tape, 30 px apart
    (joint,) = joint_measures(dashed)
    assert joint["length_px"] == pytest.approx(600, abs=1) and joint["coverage"] == pytest.approx(0.7, abs=0.01)
    thin = np.zeros((640, 800), np.uint8)
    thin[300:340, :] = 1  # a 40-px tape across the photo, and a 10-px one at 15 degrees whose line runs into it
    cv2.line(thin, (420, 380), (420 + round(300 * np.cos(np.radians(15))), 380 + round(300 * np.sin(np.radians(15)))), 1, 10)
    (tilted,) = [j for j in joint_measures(thin.astype(bool)) if j["angle_deg"] > 5]
    assert tilted["length_px"] == pytest.approx(310, abs=5) and tilted["coverage"] == 1.0
    assert tilted["mean_width_px"] == pytest.approx(10.5, abs=1)


def test_joint_ends_lie_on_the_photo():
    import cv2

    m = np.zeros((480, 640), np.uint8)
    cv2.line(m, (-100, -50), (700, 400), 1, 60)  # a wide tape running off two edges
    for joint in joint_measures(m.astype(bool)):
        for x, y in (joint["start_xy"], joint["end_xy"]):
            assert -0.5 <= x <= 639.5 and -0.5 <= y <= 479.5


def test_thinning_is_guo_hall_as_scikit_image_runs_it():
    import cv2
    from skimage.morphology import thin as reference

    from drywallqa.thinning import thin

    rng = np.random.default_rng(0)
    for i in range(120):
        h, w = rng.integers(3, 70, 2)
        m = rng.random((h, w)) < rng.uniform(0.1, 0.95)
        if i % 3 == 1:
            m = cv2.dilate(m.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        elif i % 3 == 2:
            m = cv2.GaussianBlur(m.astype(np.float32), (0, 0), 2) > 0.4
        assert np.array_equal(thin(m), reference(m)), i
        framed = np.zeros((h + 9, w + 5), bool)  # thinned within its box, as within the whole frame
        framed[i % 7:i % 7 + h, i % 5:i % 5 + w] = m
        assert np.array_equal(thin(framed), reference(framed)), i
    assert not thin(np.zeros((4, 4), bool)).any() and thin(np.ones((1, 1), bool)).all()


def test_a_large_filled_region_reads_its_centre_line():
    m = np.zeros((1200, 900), bool)
    m[100:1100, 100:800] = True  # 1000 x 700: its centre line runs down the middle, spurs into the corners pruned
    r = mask_measures(m, joints=True)
    assert r["length_px"] == pytest.approx(1000, rel=0.01) and r["max_width_px"] == pytest.approx(700, abs=1)
    (joint,) = r["joints"]
    assert joint["angle_deg"] == 90.0 and joint["length_px"] == pytest.approx(1000, abs=1)


def test_a_two_pixel_diagonal_staircase_keeps_its_length():
    m = np.zeros((100, 100), bool)
    for i in range(10, 90):
        m[i, i] = m[i, i + 1] = True  # 2 px wide along a diagonal: Zhang-Suen thinning ate half of it (60 of 113 px)
    assert mask_measures(m)["length_px"] == pytest.approx(80 * np.sqrt(2), rel=0.02)


def test_masks_in_any_memory_order_measure_alike():
    m = np.zeros((60, 200), bool)
    m[20:40, 10:190] = True
    for layout in (np.asfortranarray(m), m.T.copy().T, m.astype(np.uint8) * 255):  # pycocotools decodes in Fortran order
        r = mask_measures(layout, joints=True)
        assert r["length_px"] == pytest.approx(180, abs=1) and r["mean_width_px"] == pytest.approx(20, abs=0.1)
        assert len(r["joints"]) == 1


def test_a_stub_on_a_tapes_side_is_no_joint():
    import cv2

    a = np.radians(25)
    d, c = np.array([np.cos(a), np.sin(a)]), np.array([320.0, 240.0])
    n = np.array([-d[1], d[0]])
    m = np.zeros((480, 640), np.uint8)
    for p0, p1 in ((c - 190 * d, c + 190 * d), (c + 20 * n, c + 38 * n)):  # a 40-px tape, and a 40 x 18 stub on its side
        e = (p1 - p0) / np.linalg.norm(p1 - p0)
        side = np.array([-e[1], e[0]]) * 20
        cv2.fillPoly(m, [np.round(np.array([p0 + side, p1 + side, p1 - side, p0 - side])).astype(np.int32)], 1)
    (joint,) = joint_measures(m.astype(bool))
    assert joint["angle_deg"] == pytest.approx(24.9, abs=0.5) and joint["length_px"] == pytest.approx(382, abs=3)


def test_the_centre_line_within_the_masks_box_is_the_whole_photos():
    """centre_line works within the mask's box and a margin (cheaper on a photo mostly background): every field the
    same as found on the whole photo, also for masks at the photo's border."""
    import cv2

    from drywallqa.centre_line import _centre_line, centre_line

    rng = np.random.default_rng(1)
    for i in range(80):
        h, w = rng.integers(4, 50, 2)
        m = cv2.GaussianBlur((rng.random((h, w)) < 0.5).astype(np.float32), (0, 0), 1 + i % 3) > 0.45
        if not m.any():
            continue
        photo = np.zeros((h + int(rng.integers(0, 40)), w + int(rng.integers(0, 40))), bool)
        y, x = (0, 0) if i % 4 == 0 else (int(rng.integers(0, photo.shape[0] - h + 1)), int(rng.integers(0, photo.shape[1] - w + 1)))
        photo[y:y + h, x:x + w] = m
        boxed, whole = centre_line(photo), _centre_line(photo)
        for field in ("skeleton", "dist", "ys", "xs", "widths", "directions", "steps"):
            assert np.array_equal(getattr(boxed, field), getattr(whole, field)), (i, field)
        assert boxed.reach == whole.reach


def test_the_centre_line_of_an_empty_mask_is_empty():
    """Found within the mask's box, centre_line raised IndexError on an empty mask (a prompt whose thing is not in the
    photo), where it gave an empty line before."""
    from drywallqa.centre_line import centre_line

    line = centre_line(np.zeros((30, 40), bool))
    assert line.ys.size == 0 and line.xs.size == 0 and line.length == 0.0
    assert line.skeleton.shape == (30, 40) and not line.skeleton.any()


def test_a_probability_map_or_odd_values_are_no_mask():
    """``mask_measures(result.probabilities[p])`` measured every pixel not exactly 0 as foreground (area fraction 1.0
    for a map whose thresholded mask was empty), and NaN read as foreground too."""
    from drywallqa.measures import joint_measures, mask_measures

    grid = np.zeros((20, 20), np.float32)
    grid[5:8, 2:18] = 1.0
    assert mask_measures(grid)["area_px"] == 48  # floats of 0 and 1 are a mask
    assert mask_measures((grid * 255).astype(np.uint8))["area_px"] == 48  # and 0/255 numbers
    for bad in (grid * 0.7 + 0.01, np.full((4, 4), np.nan), grid.astype(np.complex64), np.array([["a"]])):
        with pytest.raises(ValueError, match="a mask"):
            mask_measures(bad)
        with pytest.raises(ValueError, match="a mask"):
            joint_measures(bad)
    for value in (float("nan"), 0, "2", 2.5):
        with pytest.raises(ValueError, match="min_component_px"):
            mask_measures(grid, min_component_px=value)
    for kwargs in ({"angle_tolerance_deg": 400}, {"angle_tolerance_deg": float("nan")}, {"min_length_fraction": "0.1"},
                   {"min_length_fraction": float("nan")}):
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            joint_measures(grid, **kwargs)


@pytest.mark.parametrize("half_sides, angle", [((36, 28), 91), ((6, 4), 7), ((6, 4), 84), ((8, 6), 175)])
def test_a_short_wide_box_keeps_its_centre_line(half_sides, angle):
    """The ends of a short centre line (a box not much longer than wide) both lie in the inscribed disc of a pixel
    further along it: each end's cut back ran to the middle, the two cuts touched and left no pixel, and a 73 x 57 px
    box read 0 px long and 0 px wide (a QA rule on its width flagged nothing)."""
    import cv2

    (a, b) = half_sides
    m = np.zeros((100, 100), np.uint8)
    cv2.fillPoly(m, [np.round(cv2.boxPoints(((50, 50), (2 * a, 2 * b), angle))).astype(np.int32)], 1)
    r = mask_measures(m.astype(bool))
    assert r["max_width_px"] == pytest.approx(2 * b + 1, abs=1) and r["mean_width_px"] > b
    assert 2 * a + 1 <= r["length_px"] < 1.35 * (2 * a + 1)
    frame = np.ones((11, 11), bool)  # a photo all mask but two pixels on its edge
    frame[2, 0] = frame[10, 6] = False
    assert mask_measures(frame)["length_px"] > 11 and mask_measures(frame)["max_width_px"] > 9
