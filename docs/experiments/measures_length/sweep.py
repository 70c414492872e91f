"""Length (and width) of synthetic cracks whose truth is known analytically: straight bands at many angles and
lengths, arcs and whole rings of several radii, widths 1-9 px. Writes every row to OUT.npz and prints the error
summary (worst, median, 95th percentile).

    PYTHONPATH=src python docs/experiments/measures_length/sweep.py OUT.npz [--quick]

Based on the sweep behind 0.6.29's numbers (not committed); its arcs of 180 degrees started at 10 degrees and ran past atan2's +-180,
so they were 170 degrees long against a truth of 180: the "-6% on a 1-px curve" it reported (docs, until measures
version 10) was that. Here an arc is cut by the angle measured from its own start, so any span is what it says."""

import math
import sys
import time

import numpy as np

from drywallqa.measures import mask_measures


def band(length, width, angle, cx, cy, shape):
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    a = math.radians(angle)
    u = (xx - cx) * math.cos(a) + (yy - cy) * math.sin(a)
    v = -(xx - cx) * math.sin(a) + (yy - cy) * math.cos(a)
    return (abs(u) < length / 2) & (abs(v) < width / 2)


def arc(radius, width, start, span, off):
    """A band ``width`` wide along ``span`` degrees of a circle (a whole ring for 360), radial ends; its true length."""
    n = int(2 * radius + 2 * width + 20)
    c = n / 2 + off[0], n / 2 + off[1]
    yy, xx = np.mgrid[0:n, 0:n].astype(float)
    rr = np.hypot(xx - c[0], yy - c[1])
    t = (np.degrees(np.arctan2(yy - c[1], xx - c[0])) - start) % 360
    m = abs(rr - radius) < width / 2
    if span < 360:
        m &= t < span
    return m, math.radians(span) * radius


def straight(quick):
    rows = []
    rng = np.random.default_rng(0)
    for length in (20, 50, 100, 200, 400):
        for width in range(1, 10):
            if width * 2 > length:
                continue
            n = int(length + 2 * width + 20)
            for angle in np.arange(0, 180, 6 if quick else 3):
                ox, oy = rng.random(2)
                m = band(length, width, angle, n / 2 + ox, n / 2 + oy, (n, n))
                r = mask_measures(m)
                rows.append((length, width, angle, r["length_px"], r["mean_width_px"], r["max_width_px"], length))
    return np.array(rows)


def curves(quick):
    rows = []
    rng = np.random.default_rng(1)
    for radius in (20, 40, 80, 150, 300):
        for width in range(1, 10):
            if width * 3 > radius:
                continue
            for span in (90, 180, 360):
                for start in (0, 17, 40) if not quick else (17,):
                    m, true = arc(radius, width, start, span, rng.random(2))
                    r = mask_measures(m)
                    rows.append((radius, width, span, r["length_px"], r["mean_width_px"], r["max_width_px"], true))
    return np.array(rows)


def summary(name, rows, groups):
    key, width, _, got, mean_width, max_width, true = rows.T
    err = got - true
    rel = err / true * 100
    print(f"{name} (n={len(rows)})")
    for label, sel in groups(rows):
        if not sel.any():
            continue
        e, q = err[sel], rel[sel]
        j = np.argmax(abs(e))
        print(f"  {label:22s} n={sel.sum():5d} length err px: median {np.median(e):+6.2f} p95|e| "
              f"{np.percentile(abs(e), 95):5.2f} worst {e[j]:+6.2f} ({q[j]:+5.1f}%, {rows[sel][j][:3].tolist()}); "
              f"% median {np.median(q):+5.2f} p95|%| {np.percentile(abs(q), 95):5.2f} worst {q[np.argmax(abs(q))]:+5.1f}")
    w = mean_width / width - 1
    print(f"  mean width / drawn - 1: median {np.median(w):+.3f} [{w.min():+.3f}, {w.max():+.3f}]; "
          f"max width - drawn: [{(max_width - width).min():+.2f}, {(max_width - width).max():+.2f}]")


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    outs = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(outs) != 1:
        sys.exit("usage: sweep.py OUT.npz [--quick]")
    t = time.time()
    s = straight(quick)
    c = curves(quick)
    np.savez(outs[0], straight=s, curves=c)
    summary("STRAIGHT", s, lambda r: [("all", r[:, 0] > 0)] + [(f"L={L:.0f}", r[:, 0] == L) for L in np.unique(r[:, 0])]
            + [(f"w={w:.0f}", r[:, 1] == w) for w in np.unique(r[:, 1])])
    summary("CURVES", c, lambda r: [("all", r[:, 0] > 0)] + [(f"R={R:.0f}", r[:, 0] == R) for R in np.unique(r[:, 0])]
            + [(f"w={w:.0f}", r[:, 1] == w) for w in np.unique(r[:, 1])]
            + [(f"span={s:.0f}", r[:, 2] == s) for s in np.unique(r[:, 2])])
    print(f"{time.time() - t:.0f} s")
