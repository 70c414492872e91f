"""The picture of docs/qa_measures.md: what the QA measures read on two example photos with the shipped model.

    python docs/qa_measures_picture.py docs/qa_measures.jpg

Left, a crack: the mask (red), its centre line (yellow; lengths and widths are read along it) and the numbers
`results.json` gives. Right, taped joints: the mask (blue) and each joint drawn and numbered as `report.html` does,
with its length, width and coverage.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from drywallqa import Segmenter
from drywallqa.centre_line import centre_line
from drywallqa.measures import mask_measures
from drywallqa.utils.image_io import read_image
from drywallqa.viz import COLORS, draw_joints, overlay

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "drywallqa" / "examples"
CRACK, TAPE = EXAMPLES / "cracks_2363_jpg.jpg", EXAMPLES / "drywall_2000x1500_17_resized_jpg.jpg"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path, help="picture to write (.jpg or .png)")
    args = ap.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seg = Segmenter.load()
    fig, axes = plt.subplots(1, 2, figsize=(11, 6.2))

    photo = read_image(CRACK)
    mask = seg.predict(photo, ["segment crack"]).masks["segment crack"]
    m = mask_measures(mask)
    shown = overlay(photo, mask, COLORS[0], alpha=0.45)
    line = centre_line(mask)
    shown[line.ys, line.xs] = (255, 230, 0)
    axes[0].imshow(shown)
    axes[0].set_title('"segment crack": mask (red), centre line (yellow)', fontsize=10)
    axes[0].set_xlabel(f"length {m['length_px']:.0f} px along the centre line; width {m['mean_width_px']:.1f} px "
                       f"mean, {m['max_width_px']:.1f} px max;\n{m['components']} region(s), {m['area_px']:,} px "
                       f"({100 * m['area_fraction']:.1f}% of the photo)", fontsize=9)

    photo = read_image(TAPE)
    mask = seg.predict(photo, ["segment taping area"]).masks["segment taping area"]
    joints = mask_measures(mask, joints=True)["joints"]
    axes[1].imshow(draw_joints(overlay(photo, mask, COLORS[1], alpha=0.45), joints, color=COLORS[1]))
    axes[1].set_title('"segment taping area": mask (blue), joints numbered', fontsize=10)
    axes[1].set_xlabel("\n".join(f"joint {i}: {j['length_px']:.0f} px long at {j['angle_deg']:.1f} degrees, "
                                 f"{j['mean_width_px']:.1f} px wide, {100 * j['coverage']:.0f}% taped"
                                 for i, j in enumerate(joints, 1)), fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(f".{args.out.name}.tmp{args.out.suffix}")
    fig.savefig(tmp, dpi=110, **({"pil_kwargs": {"quality": 85}} if args.out.suffix.lower() in (".jpg", ".jpeg") else {}))
    tmp.replace(args.out)  # whole or not at all
    print(args.out)


if __name__ == "__main__":
    main()
