import time, numpy as np, cv2, math
def band(length, width, angle, cx, cy, shape):
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    a = math.radians(angle)
    u = (xx - cx) * math.cos(a) + (yy - cy) * math.sin(a)
    v = -(xx - cx) * math.sin(a) + (yy - cy) * math.cos(a)
    return (abs(u) < length / 2) & (abs(v) < width / 2)
cases = {"crack 600x6 @30 in 640": band(600, 6, 30, 320, 320, (640, 640)),
         "tape 600x30 @0": band(600, 30, 0, 320, 320, (640, 640)),
         "blob half": np.hypot(*np.mgrid[0:640, 0:640] - 320) < 250}
for name, m in cases.items():
    for label, a in (("640", m.astype(np.uint8)), ("1280 (widths' doubled)", cv2.resize(m.astype(np.uint8), None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST))):
        res = {}
        for mk, nm in ((5, "mask5"), (cv2.DIST_MASK_PRECISE, "precise")):
            cv2.distanceTransform(a, cv2.DIST_L2, mk)
            ts = []
            for _ in range(30):
                t = time.perf_counter(); cv2.distanceTransform(a, cv2.DIST_L2, mk); ts.append(time.perf_counter() - t)
            res[nm] = 1000 * np.median(ts)
        print(f"{name:28s} {label:24s} mask5 {res['mask5']:.2f} ms  precise {res['precise']:.2f} ms  diff {res['precise']-res['mask5']:+.2f}")
print(cv2.__version__, cv2.getNumThreads())
from scipy.ndimage import distance_transform_edt
for name, m in cases.items():
    for label, a in (("640", m.astype(np.uint8)), ("1280", cv2.resize(m.astype(np.uint8), None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST))):
        ts = []
        for _ in range(10):
            t = time.perf_counter(); distance_transform_edt(a); ts.append(time.perf_counter() - t)
        print(f"edt {name:28s} {label} {1000*np.median(ts):.2f} ms")
