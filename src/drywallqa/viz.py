"""Pictures: mask overlays, taped joints, qualitative grids, training curves."""

from __future__ import annotations

import colorsys
import functools
import math
from pathlib import Path

import numpy as np

from .utils.files import write_atomic
from .utils.slug import shown

COLORS = [(255, 40, 40), (40, 200, 255), (255, 200, 0), (120, 255, 80), (255, 80, 255)]
# the colours of a job's prompts after the first five (COLORS), each far from those before it and none grey (a white
# or grey tint does not show on a white or grey wall)
MORE_COLORS = [(0, 70, 255), (255, 130, 0), (140, 40, 255), (0, 160, 110), (255, 150, 200), (130, 80, 30),
               (190, 255, 0), (140, 140, 0), (0, 255, 210), (150, 0, 70), (0, 110, 140), (210, 0, 130)]


@functools.lru_cache(maxsize=64)
def prompt_colors(n: int) -> tuple:
    """``n`` colours, all different: each prompt of a job its own (an overlay, a report's thumbnail, where every prompt
    is tinted on one picture). :data:`COLORS` first, then :data:`MORE_COLORS`, then hues a golden angle apart
    (each far from those before while one is found)."""
    colors = list(dict.fromkeys(COLORS + MORE_COLORS))[:n]
    k = 0
    while len(colors) < n:
        rgb = colorsys.hsv_to_rgb(k * 0.618033988749895 % 1, 1.0, (1.0, 0.7, 0.45)[k % 3])  # full: none greyish
        color = tuple(round(255 * c) for c in rgb)
        far = all(sum((a - b) ** 2 for a, b in zip(color, c)) >= 80 ** 2 for c in colors)  # from every one before
        if color not in colors and (far or k > 20 * n):
            colors.append(color)
        k += 1
    return tuple(colors)


def overlay(image: np.ndarray, mask: np.ndarray, color=(255, 40, 40), alpha: float = 0.5) -> np.ndarray:
    """``(H, W, 3)`` uint8 image with the ``(H, W)`` bool mask tinted in ``color``."""
    out = image.astype(np.float32).copy()
    m = mask.astype(bool)
    out[m] = (1 - alpha) * out[m] + alpha * np.asarray(color, np.float32)
    return out.clip(0, 255).astype(np.uint8)


IGNORE_COLOR = (255, 0, 255)  # a target's 'ignore' pixels (no label, scored nowhere) in a picture of its ground truth
IGNORE_SHOWN = "magenta: 'ignore'"  # what a picture's ground truth column says where it shows any


def truth_title(ignored: bool) -> str:
    """A picture's ground truth column's title: naming the colour of 'ignore' (:data:`IGNORE_SHOWN`) where it shows
    any."""
    return f"ground truth\n({IGNORE_SHOWN})" if ignored else "ground truth"


def ground_truth(image: np.ndarray, label: np.ndarray, ignore: np.ndarray | None = None) -> np.ndarray:
    """``image`` with its ground truth: the label tinted green, a target's 'ignore' pixels (``ignore``, where given)
    :data:`IGNORE_COLOR`, apart from both the label and the background (the label drawn over it: a picture shrunk
    from a large photo keeps every pixel each touches)."""
    out = image if ignore is None else overlay(image, ignore.astype(bool) & ~label.astype(bool), IGNORE_COLOR)
    return overlay(out, label, (0, 255, 0))


def draw_joints(image: np.ndarray, joints: list[dict], scale: float = 1.0, color=(0, 0, 0)) -> np.ndarray:
    """``(H, W, 3)`` uint8 image with taped joints (:func:`~drywallqa.measures.joint_measures`) drawn on it: each
    joint's line from ``start_xy`` to ``end_xy``, white edged in ``color`` (its prompt's), and its number (1 = the
    longest, as listed) at its start, on ``color``. ``scale``: this image's size over that of the mask the joints
    were measured on (a thumbnail's). The joints' ends are pixel centres of that mask: pixel ``x`` spans ``x * scale``
    to ``(x + 1) * scale`` here, its centre ``(x + 0.5) * scale - 0.5`` in this image's pixels (not ``x * scale``: half a
    pixel of the mask off)."""
    from PIL import Image, ImageDraw, ImageFont

    drawn = []
    for k, j in enumerate(joints, 1):
        try:  # records of an older version have no ends; a hand-edited one may hold anything
            (x0, y0), (x1, y1) = ((scale * (float(x) + 0.5) - 0.5, scale * (float(y) + 0.5) - 0.5)
                                  for x, y in (j["start_xy"], j["end_xy"]))
        except (KeyError, TypeError, ValueError):
            continue
        if all(math.isfinite(v) for v in (x0, y0, x1, y1)):
            drawn.append((k, x0, y0, x1, y1))
    if not drawn:
        return image
    picture = Image.fromarray(image)
    pen = ImageDraw.Draw(picture)
    h, w = image.shape[:2]
    width = max(2, round(max(h, w) / 300))
    font = ImageFont.load_default(size=max(11, 5 * width))
    for k, x0, y0, x1, y1 in drawn:
        pen.line([(x0, y0), (x1, y1)], fill=tuple(color), width=width + 2)
        pen.line([(x0, y0), (x1, y1)], fill=(255, 255, 255), width=width)
        left, top, right, bottom = pen.textbbox((0, 0), str(k), font=font, anchor="lt")
        x = min(max(x0 - right / 2, 0), w - right - 2)  # the number's box inside the picture
        y = min(max(y0 - bottom / 2, 0), h - bottom - 2)
        pen.rectangle([x - 2, y - 1, x + right + 1, y + bottom + 1], fill=tuple(color), outline=(0, 0, 0))
        ink = (0, 0, 0) if sum(color) > 380 else (255, 255, 255)  # dark on a light colour, light on a dark one
        pen.text((x, y), str(k), fill=ink, font=font, anchor="lt")
    return np.asarray(picture)


# colours of error_map: found, outline too wide / too narrow, spurious region, missed region
ERROR_COLORS = {"tp": (40, 200, 40), "fp_boundary": (255, 200, 0), "fn_boundary": (255, 120, 0),
                "fp_region": (255, 30, 30), "fn_region": (60, 90, 255)}
IGNORED_HATCH = ((90, 90, 90), (200, 200, 200))  # error_map's pixels counted nowhere: stripes of these two greys


def hatch(image: np.ndarray, mask: np.ndarray, colors=IGNORED_HATCH, alpha: float = 0.7) -> np.ndarray:
    """``(H, W, 3)`` uint8 image with the ``(H, W)`` bool mask drawn as diagonal stripes of ``colors`` (neutral greys:
    no colour of :data:`ERROR_COLORS`), about 24 stripes along the longer side."""
    h, w = mask.shape[:2]
    width = max(2, round(max(h, w) / 48))
    stripes = ((np.arange(h)[:, None] + np.arange(w)[None, :]) // width) % 2 == 0
    m = mask.astype(bool)
    return overlay(overlay(image, m & stripes, colors[0], alpha), m & ~stripes, colors[1], alpha)


def error_map(image: np.ndarray, pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """``(H, W, 3)`` uint8 image tinted by :func:`~drywallqa.metrics.error_masks` of ``pred`` against ``gt``
    (``ERROR_COLORS``): where a prediction loses IoU, at a glance. With ``valid`` (where the label is counted:
    :func:`~drywallqa.metrics.valid_pixels`), the errors are those within it, as the scores count them, and the pixels
    outside it (the label's 'ignore') are hatched grey (:func:`hatch`), no error; None: every pixel counted."""
    from .metrics import error_masks

    out = image
    for kind, mask in error_masks(pred, gt, valid=valid).items():
        out = overlay(out, mask, ERROR_COLORS[kind], alpha=0.7)
    return out if valid is None else hatch(out, ~valid)


def _plain_text(draw):
    """Run a matplotlib drawing with its text taken as plain text: a ``$`` in a photo's, prompt's or dataset's name
    is a dollar sign, never mathtext (``price_$5_$`` stopped a whole evaluation with a parse error). A character its
    font lacks (a prompt in Chinese) is drawn as a box without a warning per glyph on the console."""
    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        import warnings

        import matplotlib

        matplotlib.use("Agg")
        with matplotlib.rc_context({"text.parse_math": False, "text.usetex": False}), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning)
            return draw(*args, **kwargs)
    return wrapper


def _save(fig, path: str | Path, dpi: int, **savefig) -> None:
    """Write ``fig`` whole (a temporary file, then a rename): a reader never sees half a picture. ``savefig``: more
    of ``Figure.savefig``'s options."""
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=Path(path).suffix.lstrip(".").lower() or "png",
                                               **savefig))


@_plain_text
def plot_curves(history: list[dict], path: str | Path) -> None:
    import matplotlib.pyplot as plt  # (the backend is Agg: set by _plain_text)

    if not history:
        return
    epochs = [r["epoch"] for r in history]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for k in [k for k in history[0] if k.startswith("train_")]:
        axes[0].plot(epochs, [r.get(k) for r in history], label=k[6:])
    axes[0].set(title="training loss", xlabel="epoch")
    axes[0].legend()
    for k in [k for k in history[0] if k.startswith("val_")]:
        values = [np.nan if r.get(k) is None else r[k] for r in history]  # NaN (None: an older row): not measured
        axes[1].plot(epochs, values, label=k[4:] if np.isfinite(values).any() else f"{k[4:]} (n/a)")
    axes[1].set(title="validation", xlabel="epoch", ylim=(0, 1))
    axes[1].legend()
    fig.tight_layout()
    _save(fig, path, 100)
    plt.close(fig)


def heatmap(probability: np.ndarray) -> np.ndarray:
    """``(H, W)`` probabilities in [0, 1] -> ``(H, W, 3)`` uint8 RGB picture (matplotlib's viridis)."""
    from matplotlib import colormaps

    return (colormaps["viridis"](np.clip(probability, 0, 1))[..., :3] * 255).astype(np.uint8)


def _label(text) -> str:
    """A picture's title or row label: its line breaks kept (a label of several lines, the error map's legend), each
    line :func:`shown` (a file name's control characters and bytes that are no UTF-8 escaped; the line breaks were
    too, and every label of several lines read "\\n" in one long line over its neighbours')."""
    return "\n".join(shown(line) for line in str(text).split("\n"))


def fit_in_cell(image: np.ndarray, cell: int) -> np.ndarray:
    """``image`` scaled to fit a ``cell`` x ``cell`` square with its aspect kept, centred on white (a portrait photo
    was squashed into the square: a crack's width and a joint's slope drawn wrong)."""
    import cv2

    h, w = image.shape[:2]
    scale = cell / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_NEAREST)
    white = np.iinfo(image.dtype).max if image.dtype.kind in "iu" else 1  # (a float picture's white is 1.0)
    out = np.full((cell, cell, *image.shape[2:]), white, dtype=image.dtype)
    top, left = (cell - size[1]) // 2, (cell - size[0]) // 2
    out[top:top + size[1], left:left + size[0]] = small.reshape(size[1], size[0], *image.shape[2:])
    return out


@_plain_text
def grid(rows: list[list[np.ndarray]], titles: list[str], path: str | Path, cell: int = 192,
         row_labels: list[str] | None = None) -> None:
    """Save a grid PNG: one row per image, one column per title (e.g. Input | GT | prompt ...), with an
    optional label left of each row."""
    import matplotlib.pyplot as plt  # (the backend is Agg: set by _plain_text)

    n, m = len(rows), len(titles)
    fig, axes = plt.subplots(n, m, figsize=(m * cell / 80, n * cell / 80 + 0.4), squeeze=False)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            ax = axes[i][j]
            ax.imshow(fit_in_cell(img, cell))
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(_label(titles[j]), fontsize=8)  # a file name's bytes that are no UTF-8: escaped
            if j == 0 and row_labels:
                ax.set_ylabel(_label(row_labels[i]), fontsize=6)
    fig.tight_layout()
    # (cropped to what is drawn: a title of several lines, the error legend, lost its first line above one row)
    _save(fig, path, 80, bbox_inches="tight", pad_inches=0.05)
    plt.close(fig)


@_plain_text
def plot_confidence_curves(curves: dict, path: str | Path) -> None:
    """``label -> confidence_ranking(...)`` as mIoU of the kept masks against the fraction kept (most confident
    first; dashed: kept by their true IoU, the best a confidence could do)."""
    import matplotlib.pyplot as plt  # (the backend is Agg: set by _plain_text)

    fig, ax = plt.subplots(figsize=(6, 4))
    colors = prompt_colors(len(curves))  # each curve its own (a sixth took the first's colour)
    for (label, r), rgb in zip(curves.items(), colors):
        color = np.asarray(rgb) / 255
        xs = sorted(r["kept"])
        spearman = r["spearman"]  # undefined (NaN) where every confidence or every IoU is the same: "n/a", as report.md
        spearman = f"{spearman:.2f}" if isinstance(spearman, (int, float)) and math.isfinite(spearman) else "n/a"
        ax.plot(xs, [r["kept"][x] for x in xs], "-o", color=color, label=f"{label} (Spearman {spearman})")
        ax.plot(xs, [r["oracle_kept"][x] for x in xs], "--", color=color, alpha=0.6)
    ax.invert_xaxis()
    ax.set_xlabel("share of masks kept (most confident first)")
    ax.set_ylabel("mIoU of the kept masks")
    ax.set_title("Confidence: dashed = kept by true IoU (oracle)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path, 110)
    plt.close(fig)
