"""An HTML page of a batch job's results, to look at and to hand on: ``OUT/report.html``.

Built from what :func:`~drywallqa.engine.batch.predict_paths` leaves in its output folder
(``results.json``, the mask PNGs and the original photos), so it also covers images an earlier,
interrupted run finished and jobs run on Ray. Per image: a thumbnail with every prompt's mask tinted in
its colour (``report_files/<stem>.jpg``), the QA measures and the confidence (estimated IoU) of each mask;
photos that break a QA rule (``--flag``) first and marked, then the least confident ones ("review these
first"), then those with the largest findings; a summary per prompt on top and the files that failed at the bottom,
then the photos not done (a job interrupted by Ctrl-C says so on top: running it again finishes it).
"""

from __future__ import annotations

import html
import math
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

import numpy as np
from PIL import Image

from ..rules import MEASURES, decimals_against, emptied_below, limits_of
from ..utils.files import remove_stale_temporaries, write_atomic, write_text_atomic
from ..utils.image_io import ImageReadError, photo_pixels, read_image, read_mask
from ..utils.output_folders import REPORT_FILES
from ..utils.progress import progress_bar
from ..utils.slug import shown
from .batch_results import NOT_READABLE, read_batch_results
from ..viz import draw_joints, overlay, prompt_colors
from .batch import NOT_DONE, entry_path, out_stem, record_name
from .tiling import tiles_photo, tiling_text

THUMB_SIZE = 360  # longest side of the thumbnails, px


def _thumbnail(entry: dict, prompts: list[str], out: Path) -> tuple[str | None, list[str]]:
    """Write the tinted thumbnail of one image: its path relative to ``out`` (None if the photo cannot be read), and
    what of its masks could not be tinted on it (a mask file deleted, unreadable or of another size since): the photo
    is shown without that mask, and the mask named, not the photo said to be unreadable. A thumbnail newer than the
    image's masks and record is kept, so rebuilding the report after a resumed job is quick. Named as its masks are
    (by file stem, or by folder: ``--names-from-folders``; a job of each rule may have written into ``out``)."""
    photo = entry_path(entry)
    rel = Path(REPORT_FILES) / f"{out_stem(photo)}.jpg"  # unique in one output folder
    masks = [out / entry["prompts"][p]["mask"] for p in prompts if p in entry["prompts"]]
    record = out / record_name(photo)  # its joints: when measured again, drawn again
    sources = masks + ([record] if record.is_file() else [])
    colors = list(zip(prompts, prompt_colors(len(prompts))))
    key = repr(colors).encode("utf-8", "backslashreplace")  # kept in the JPEG: tinted in these colours, as the legend
    if (out / rel).is_file() and len(masks) == len(prompts) and all(
            m.is_file() and m.stat().st_mtime <= (out / rel).stat().st_mtime for m in sources) and _tints(out / rel) == key:
        return rel.as_posix(), []
    try:
        limit = photo_pixels(entry)  # the photo and its masks read as the job read them (its --max-pixels)
        image = read_image(entry["image"], limit)
    except (ImageReadError, OSError, ValueError, KeyError):
        return None, []
    thumb, size = Image.fromarray(image), image.shape[:2]
    del image  # (its memory: a large photo's is the report's largest)
    thumb.thumbnail((THUMB_SIZE, THUMB_SIZE))
    # each mask tinted on the thumbnail by the share of each of its pixels it covers (a hairline crack of a large
    # photo still shows), as tinting the photo and then shrinking it did at float32 copies of the whole photo
    # (2 GB and over a minute for a 60 MP photo, more than the report's memory for a larger one)
    small = np.asarray(thumb)
    missing, drawn = [], []
    for p, color in colors:  # each prompt its own colour, as in the legend
        name = str((entry["prompts"].get(p) or {}).get("mask", "?"))
        try:
            if not (out / name).is_file():
                missing.append(f"{p}: its mask file {name} is missing: not tinted on the photo")
                continue
            mask = read_mask(out / name, max_pixels=limit)
        except (ImageReadError, OSError, ValueError) as exc:
            missing.append(f"{p}: its mask file {name} is not readable ({exc}): not tinted on the photo")
            continue
        if mask.shape != size:
            missing.append(f"{p}: its mask file {name} is {mask.shape[1]}x{mask.shape[0]} px, the photo "
                           f"{size[1]}x{size[0]}: not tinted on the photo")
            continue
        small = tinted(small, mask, color)
        drawn.append((p, color))
    thumb = Image.fromarray(small)
    # taped joints, numbered as listed beside the picture, edged in the prompt's colour
    for p, color in drawn:
        thumb = Image.fromarray(draw_joints(np.asarray(thumb), entry["prompts"][p].get("joints") or [],
                                            thumb.width / size[1], color))
    if missing:  # tinted without them: never kept as the whole picture once the masks are back (an older mtime)
        key += repr(missing).encode("utf-8", "backslashreplace")
    (out / rel).parent.mkdir(exist_ok=True)
    # whole or not there: a half-written thumbnail (a kill, a second job's report) would be newer than the masks, so kept
    write_atomic(out / rel, lambda tmp: thumb.save(tmp, format="JPEG", quality=85, comment=key))
    return rel.as_posix(), missing


def _tints(path: Path) -> bytes | None:
    """The prompts and colours a thumbnail was tinted in (its JPEG comment), None where it holds none: one of an
    earlier version (whose sixth prompt took the first's colour) or of a job whose prompts came in another order is
    drawn again, not shown beside a legend of other colours."""
    try:
        with Image.open(path) as im:
            return im.info.get("comment")
    except (OSError, ValueError, SyntaxError):
        return None


def tinted(small: np.ndarray, mask: np.ndarray, color, alpha: float = 0.5) -> np.ndarray:
    """``small`` (a photo shrunk, ``(h, w, 3)`` uint8) with the full-size ``(H, W)`` bool ``mask`` tinted in ``color``:
    each thumbnail pixel by the share of its photo pixels the mask covers (:func:`~drywallqa.viz.overlay` at the
    photo's size, then shrunk)."""
    import cv2

    h, w = small.shape[:2]
    if mask.shape == (h, w):
        return overlay(small, mask, color, alpha)
    cover = cv2.resize(mask.astype(np.uint8) * np.uint8(255), (w, h), interpolation=cv2.INTER_AREA)  # mean: the share
    share = (alpha / 255 * cover.astype(np.float32))[..., None]
    return (small * (1 - share) + np.asarray(color, np.float32) * share).round().clip(0, 255).astype(np.uint8)


def _share(fraction: float, limits=()) -> str:
    """A mask's share of the photo, in % to a hundredth: a few hundred pixels of a 12 MP photo read "0.00%" beside
    "1 region(s)"; now "< 0.01%". More digits where a QA rule's limit (``limits``: of ``area_fraction``) would read as
    crossed otherwise (:func:`~drywallqa.rules.decimals_against`)."""
    if fraction == 0 or 100 * fraction >= 0.005:
        return f"{100 * fraction:.{decimals_against(fraction, 2, limits, 100)}f}%"
    return "&lt; 0.01%"  # (HTML)


def _length(m: dict, limits=None) -> str:  # to a tenth: a flag "length_mm >= 33.6" beside "33.66" must not read "34";
    # more where a rule's limit would read as crossed ("33.6" for 33.59 beside "length_mm >= 33.6" unbroken): ``limits``
    # ``{measure: [its rules' numbers]}``
    key = "length_mm" if "length_mm" in m else "length_px"
    return f"{m[key]:.{decimals_against(m[key], 1, (limits or {}).get(key, ()))}f} {key[-2:]}"


def _width(m: dict, limits=None) -> str:  # to a hundredth of a mm: a flag "max_width_mm > 0.3" beside "0.34" must not
    # read "0.3"; more where a rule's limit would read as crossed ("0.30" for 0.3004 beside "max_width_mm > 0.3" broken)
    key, decimals = ("max_width_mm", 2) if "max_width_mm" in m else ("max_width_px", 1)
    return f"{m[key]:.{decimals_against(m[key], decimals, (limits or {}).get(key, ()))}f} {key[-2:]}"


# the measures a cell shows only where a QA rule holds its prompt to them: (label, decimals, unit), as the others
RULED = {"area_px": ("area", 0, "px"), "area_mm2": ("area", 1, "mm²"), "length_px": ("length", 1, "px"),
         "length_mm": ("length", 1, "mm"), "mean_width_px": ("mean width", 1, "px"),
         "mean_width_mm": ("mean width", 2, "mm"), "max_width_px": ("max width", 1, "px"),
         "max_width_mm": ("max width", 2, "mm")}


def _ruled(m: dict, limits: dict) -> str:
    """The measures of a mask a QA rule checks (``limits``: ``{measure: [its rules' numbers]}``) that its cell does not
    show otherwise (a mean width, an area, the length in px beside the one in mm): a photo flagged by
    "mean_width_px > 3" showed no mean width beside the flag. To the digits that read on the side of the limit the
    value is (:func:`~drywallqa.rules.decimals_against`)."""
    shown = {"components", "area_fraction", "length_mm" if "length_mm" in m else "length_px",
             "max_width_mm" if "max_width_mm" in m else "max_width_px"}
    out = []
    for key, (label, decimals, unit) in RULED.items():
        if limits.get(key) and key not in shown and key in m:
            out.append(f"{label} {m[key]:.{decimals_against(m[key], decimals, limits[key])}f} {unit}")
    return f"<br>{', '.join(out)}" if out else ""


def _joints(m: dict) -> str:
    """Taping prompts: the joints and the share of their length that is taped, then each joint by its number on the
    picture: its length and how much of it is taped (a joint a hand-edited record spoilt is left out)."""
    listed = []
    for k, j in enumerate(m.get("joints") or [], 1):
        try:
            listed.append((k, float(j["length_px"]), float(j["coverage"]), _length(j)))
        except (KeyError, TypeError, ValueError):
            continue
    total = sum(length for _, length, _, _ in listed)
    if not total:
        return ""
    covered = sum(length * coverage for _, length, coverage, _ in listed)
    each = "; ".join(f"{k}: {shown}, {100 * coverage:.0f}%" for k, _, coverage, shown in listed)
    return f'<br>{len(listed)} joint(s), {100 * covered / total:.0f}% of their length taped<br><small>{each}</small>'


def _not_answered(mask: dict) -> bool:
    """Whether the prompt gate left the mask empty: a prompt the model does not know (its empty mask is no finding)."""
    concept = mask.get("concept")
    return isinstance(concept, dict) and concept.get("known") is False


def _refused(m: dict) -> str:
    """The cell of a mask the prompt gate left empty, saying so (as the table's ``answered``): it read "nothing found"
    and "confidence 0.00", as if the model had looked for the thing and not seen it."""
    nearest = html.escape(str(m["concept"].get("concept", "?")))
    return (f'<td class="none"><a href="{_href(m["mask"])}">not answered</a>: not a thing this model knows '
            f"(nearest: {nearest})</td>")


def review_confidence(mask: dict) -> float | None:
    """A mask's confidence as the review order reads it: None when there is none (or no number: a hand-edited
    record), or when its prompt was refused (a prompt the model does not know: its empty mask and confidence 0 say
    nothing about the photo)."""
    if _not_answered(mask):
        return None
    c = mask.get("confidence")
    return float(c) if isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) else None


REVIEW_BELOW = 0.3  # a mask less confident than this, as shown (to a hundredth), is worth a look: named after
# `drywallqa predict`, marked "review" on the web page (its REVIEW_BELOW)


def to_review(results: list[dict]) -> list[tuple[float, str, str]]:
    """``(confidence, image, prompt)`` of the masks of ``results`` (results.json's ``images``) worth a look, least
    confident first: those whose confidence, to a hundredth as printed, is below :data:`REVIEW_BELOW` (a refused
    prompt's never: :func:`review_confidence`); a mask at 1.00, nothing found with certainty, is no reason to look."""
    return sorted((c, e["image"], p) for e in results for p, m in e["prompts"].items()
                  if (c := review_confidence(m)) is not None and float(f"{c:.2f}") < REVIEW_BELOW)


# said once beside masks marked for review where some are of tiled photos (their confidences all read low; the values
# are not changed)
TILED_LOW = "tiled photos' confidences read low: the calibration is of whole photos, docs/confidence.md"


def was_tiled(entry: dict, tiling) -> bool:
    """Whether the photo of ``entry`` (results.json's ``images``) was predicted tile by tile: the job's ``tiling``
    (results.json's, :func:`~drywallqa.engine.tiling.tiling_facts`; None: photos whole) tiles a photo wider or taller
    than its tile (:func:`~drywallqa.engine.tiling.tiles_photo`, as tiled prediction decides it)."""
    tile = tiling.get("tile") if isinstance(tiling, dict) else None
    sides = [v for v in (entry.get("height"), entry.get("width")) if isinstance(v, (int, float))]
    return isinstance(tile, (int, float)) and not isinstance(tile, bool) and bool(sides) and tiles_photo(sides, tile)


def _least_confidence(entry: dict) -> float:
    """The lowest confidence of an image's masks that say something of the photo (1 when none does)."""
    return min((c for m in entry["prompts"].values() if (c := review_confidence(m)) is not None), default=1.0)


def _href(relative: str) -> str:
    """A link to a file of the output folder, as an attribute value: each part URL-encoded and the whole relative to
    the page (``Unit #4B.jpg`` or ``site:A.jpg`` are files, not an anchor or a URL scheme; never ``javascript:``)."""
    return html.escape("./" + quote(relative, safe="/"))


def _confidence(m: dict) -> str:  # to a hundredth; more beside the --min-confidence that emptied the mask: 0.2996
    # read "confidence 0.30" beside "its confidence below --min-confidence 0.3"
    if m.get("confidence") is None:
        return ""
    below = [] if emptied_below(m) is None else [m["emptied_below"]]
    return f'<br><span class="conf">confidence {m["confidence"]:.{decimals_against(m["confidence"], 2, below)}f}</span>'


def _texts(value) -> list[str]:
    """Rules, or a photo's broken rules, of a ``results.json`` as texts: those of a hand-edited one too (one rule given as
    a text is not listed letter by letter; a number, or no list, fails no report)."""
    return [str(v) for v in value] if isinstance(value, list) else [value] if isinstance(value, str) else []


def write_batch_report(out_dir: str | Path, title: str = "drywallqa results", progress: bool = False) -> Path:
    """Write ``out_dir/report.html`` (and its thumbnails) from ``out_dir/results.json``; returns its path.
    ``progress``: a bar over the photos (each photo is read again for its thumbnail: minutes for thousands).

    Raises:
        FileNotFoundError: ``out_dir`` holds no ``results.json`` (no batch job wrote there).
        ValueError: its ``results.json`` is no batch job's (cut short, damaged), naming it.
    """
    out = Path(out_dir)
    results = read_batch_results(out)
    if (out / REPORT_FILES).is_dir():
        remove_stale_temporaries(out / REPORT_FILES)  # thumbnails a killed report left half-written
    prompts, images = list(results["prompts"]), list(results["images"])
    # flagged photos (QA rules broken) first, then the least confident (a person should look at them), then the
    # most affected: the largest masked fraction over all prompts
    images.sort(key=lambda e: (not _texts(e.get("flags")), _least_confidence(e),
                               -max((m["area_fraction"] for m in e["prompts"].values()), default=0.0), e["image"]))
    rules = _texts(results.get("rules"))

    esc = html.escape
    # each prompt its own colour (the thumbnails tint every prompt on one picture), shown in the legend and its column
    chips = [f'<span class="chip" style="background:rgb{color}"></span>' for color in prompt_colors(len(prompts))]
    legend = " ".join(f"{chip}{esc(p)}" for chip, p in zip(chips, prompts))
    summary_rows = []
    for p in prompts:
        found = [e["prompts"][p] for e in images if e["prompts"][p]["components"] > 0]
        total = (f"{sum(m['length_mm'] for m in found):.0f} mm" if found and all("length_mm" in m for m in found)
                 else f"{sum(m['length_px'] for m in found):.0f} px")
        refused = sum(_not_answered(e["prompts"][p]) for e in images)
        refused = f" (not answered on {refused} photo(s): not a thing this model knows)" if refused else ""
        summary_rows.append(f"<tr><td>{esc(p)}</td><td>{len(found)} of {len(images)}{refused}</td><td>{total}</td></tr>")
    # the numbers each prompt's shown measures are held to by the rules: shown with the digits to read on their side
    limits = {p: {key: limits_of(rules, p, key) for key in MEASURES} for p in prompts}
    rows = []
    for e in progress_bar(images, desc="report.html", disable=not progress):
        thumb, missing = _thumbnail(e, prompts, out)
        picture = f'<a href="{_href(thumb)}"><img src="{_href(thumb)}" alt="" loading="lazy"></a>' if thumb else "<em>photo not readable</em>"
        picture += "".join(f'<br><small class="flag">{esc(shown(why))}</small>' for why in missing)
        cells = []
        for p in prompts:
            m = e["prompts"][p]
            held = limits[p]
            if _not_answered(m):
                cells.append(_refused(m))
                continue
            if emptied_below(m) is not None:  # --min-confidence: found, but not trusted enough
                cells.append(f'<td class="none"><a href="{_href(m["mask"])}">emptied</a>: its confidence below '
                             f'--min-confidence {m["emptied_below"]:g}{_confidence(m)}</td>')
                continue
            cells.append(
                f'<td><a href="{_href(m["mask"])}">{m["components"]} region(s)</a><br>{_share(m["area_fraction"], held["area_fraction"])} of the photo'
                f"<br>length {_length(m, held)}, max width {_width(m, held)}{_ruled(m, held)}{_joints(m)}{_confidence(m)}</td>"
                if m["components"] else
                f'<td class="none"><a href="{_href(m["mask"])}">nothing found</a>{_confidence(m)}</td>')
        broken = "".join(f'<br><span class="flag">{esc(f)}</span>' for f in _texts(e.get("flags")))
        read_as = "".join(f'<br><small class="note">{esc(shown(w))}</small>' for w in e.get("warnings", []))
        rows.append(f'<tr{" class=flagged" if broken else ""}><td>{picture}<br><small>{esc(shown(e["image"]))}</small>{broken}'
                    f'{read_as}</td>'
                    f"{''.join(cells)}</tr>")
    # photos a stopped job did not reach (Ctrl-C, a Ray job that stopped) apart from those that failed
    not_done = [(path, why) for path, why in results.get("failed", []) if str(why).startswith(NOT_DONE)]
    # entries of results.json edited (by hand, another program) into what the report cannot read: named, not shown
    unreadable = [(path, why) for path, why in results.get("failed", []) if str(why).startswith(NOT_READABLE)]
    failures = [(path, why) for path, why in results.get("failed", [])
                if not str(why).startswith((NOT_DONE, NOT_READABLE))]
    failed = "".join(f"<li>{esc(shown(path))}: {esc(shown(why))}</li>" for path, why in failures)
    undone = "".join(f"<li>{esc(shown(path))}: {esc(shown(why))}</li>" for path, why in not_done)
    spoilt = "".join(f"<li>{esc(shown(path))}: {esc(shown(why))}</li>" for path, why in unreadable)
    interrupted = (f'<p class="flag">The job was interrupted (Ctrl-C or SIGTERM) before it finished: {len(not_done)} photos are not '
                   "done (listed at the bottom), and this report shows the photos done. Run the same <code>drywallqa "
                   "predict</code> command again to finish it: it skips the photos done, segments the rest and writes "
                   "this report again.</p>") if results.get("interrupted") else ""
    # what the job said once of itself (results.json's warnings: a tile smaller than the model's input size, enlarged
    # or not; prompts the model does not know; records of other settings): they were in no part of the report
    said = "".join(f"<li>{esc(shown(w))}</li>" for w in _texts(results.get("warnings")))
    said = f'<p class="note">The job said:</p><ul class="note">{said}</ul>' if said else ""
    # how the model cut the photos into tiles (results.json's 'tiling'; None: whole photos; absent
    # from an older job's results.json, which reads as before)
    tiling = results.get("tiling")
    tiled = f"; predicted tile by tile: {esc(shown(tiling_text(tiling)))}" if isinstance(tiling, dict) and tiling else ""
    # tiled photos among those put first for review: said once (their confidences read low, each mask is no doubt)
    tiled_low = (f" ({esc(TILED_LOW[:1].upper() + TILED_LOW[1:])}.)"
                 if any(was_tiled(e, tiling) and float(f"{_least_confidence(e):.2f}") < REVIEW_BELOW for e in images)
                 else "")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; }}
td, th {{ border: 1px solid #ccc; padding: 6px 10px; vertical-align: top; text-align: left; }}
td.none {{ color: #888; }}
tr.flagged td:first-child {{ background: #fde8e8; }}
.flag {{ color: #b00; font-weight: bold; }}
.conf {{ color: #555; }}
.note {{ color: #8a5a00; }}
img {{ max-width: {THUMB_SIZE}px; }}
.chip {{ display: inline-block; width: 1em; height: 1em; margin: 0 .3em 0 1em; vertical-align: middle; }}
th .chip {{ margin-left: 0; }}
</style></head><body>
<h1>{esc(title)}</h1>
{interrupted}
{said}
<p>{len(images)} photos, {len(failures)} failed{f", {len(not_done)} not done" if not_done else ""}{
    f", {len(unreadable)} {NOT_READABLE} (listed at the bottom)" if unreadable else ""}; written {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.
Masks: {legend}{tiled}</p>
{f'<p class="flag">{sum(bool(_texts(e.get("flags"))) for e in images)} of {len(images)} photos flagged by: '
   f'{esc("; ".join(rules))}</p>' if rules else ''}
<table><tr><th>prompt</th><th>photos with a finding</th><th>total length</th></tr>{''.join(summary_rows)}</table>
<p>Photos are listed {"flagged first, then " if rules else ""}least confident first: review these first
(confidence = the estimated IoU of a mask with what an annotator would draw, 0 to 1).{tiled_low}</p>
<table><tr><th>photo</th>{''.join(f'<th>{chip}{esc(p)}</th>' for chip, p in zip(chips, prompts))}</tr>
{''.join(rows)}
</table>
{f'<h2>Files that failed</h2><ul>{failed}</ul>' if failed else ''}
{f'<h2>Photos not done</h2><ul>{undone}</ul>' if undone else ''}
{f'<h2>Entries of results.json not readable</h2><ul>{spoilt}</ul>' if spoilt else ''}
</body></html>
"""
    return write_text_atomic(page, out / "report.html")
