"""Pack a reduced copy of the training images for a machine that has no copy of the datasets.

The copy keeps each dataset's folder layout and file names (so split manifests and annotation files
work unchanged through ``DRYWALLQA_DATASETS``), holds only the images of the named parts of the
group-clean splits (never the published valid/test images), and shrinks them: longer side at most
``--size`` and WebP-encoded (under the original ``.jpg`` name; readers go by content). Masks of
mask-folder datasets are resized with nearest neighbour; COCO annotation files are copied as they are
(the trainer rasterises at the annotated size and resizes image and mask to its cache size alike).

The files are dealt into ``--chunks`` folders (``<out>/chunk<k>/datasets/...``) so that each fits a
transfer limit; the text-embedding cache of the training prompts goes into ``<out>/chunk0/cache``.

    python scripts/pack_training_images.py docs/experiments/gpu_finetune_v020/gpu_finetune.yaml --out .remote/pack --size 512 --chunks 2
    # on the remote machine: merge the chunks into one folder, then
    DRYWALLQA_DATASETS=<merged>/datasets DRYWALLQA_CACHE=<merged>/cache drywallqa train docs/experiments/gpu_finetune_v020/gpu_finetune.yaml
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from drywallqa.data.grouping import samples_of_part
from drywallqa.data.registry import get_dataset_config
from drywallqa.engine.config import TrainConfig
from drywallqa.text.encoder import TextEncoder
from drywallqa.utils.image_io import read_image


def shrink(image: np.ndarray, size: int, interpolation: int) -> np.ndarray:
    h, w = image.shape[:2]
    scale = size / max(h, w)
    if scale >= 1:
        return image
    return cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=interpolation)


def pack(cfg: TrainConfig, out: Path, size: int = 512, quality: int = 82, chunks: int = 1) -> dict:
    """Write the reduced copy (see the module docstring); returns counts and sizes."""
    d = cfg.data
    if out.exists():
        shutil.rmtree(out)
    jobs = []
    for name in d.datasets:
        ds = get_dataset_config(name)
        if Path(ds.folder).is_absolute():  # a YAML-declared dataset: its copy would land on the original
            raise SystemExit(f"dataset {ds.name!r} lives at an absolute folder ({ds.folder}); packing supports datasets "
                             "below the datasets folder ($DRYWALLQA_DATASETS)")
        root = ds.root(d.datasets_dir)
        for part in (d.train_part, d.val_part):
            jobs += [(ds, root, s) for s in samples_of_part(ds.name, part, d.splits_dir, d.datasets_dir, d.exclude_published)]
    total = 0
    for i, (ds, root, s) in enumerate(tqdm(jobs, desc="packing")):
        dest_root = out / f"chunk{i % chunks}" / "datasets" / ds.folder
        dest = dest_root / s.image_path.relative_to(root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        rgb = shrink(read_image(s.image_path), size, cv2.INTER_AREA)
        ok, buf = cv2.imencode(".webp", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_WEBP_QUALITY, quality])
        if not ok:
            raise RuntimeError(f"{s.image_path}: WebP encoding failed")
        dest.write_bytes(buf.tobytes())
        total += len(buf)
        if s.mask_path is not None:
            mask = cv2.imread(str(s.mask_path), cv2.IMREAD_UNCHANGED)
            mask = cv2.resize(mask, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_NEAREST)
            (dest.parent / "_masks").mkdir(exist_ok=True)
            cv2.imwrite(str(dest.parent / "_masks" / s.mask_path.name), mask)
        ann = s.image_path.parent / "_annotations.coco.json"
        if s.mask_path is None and ann.is_file():
            for k in range(chunks):  # every chunk carries the (small) annotation files of its folders
                target = out / f"chunk{k}" / "datasets" / ds.folder / ann.relative_to(root)
                if not target.is_file():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(ann, target)
    # the prompts' embeddings, so the remote machine needs no text-encoder weights
    prompts = [p for name in d.datasets for p in get_dataset_config(name).prompts]
    TextEncoder(cfg.text_encoder, cache_dir=out / "chunk0" / "cache").encode(prompts)
    chunk_mb = [sum(f.stat().st_size for f in (out / f"chunk{k}").rglob("*") if f.is_file()) / 1e6 for k in range(chunks)]
    return {"images": len(jobs), "webp_mb": total / 1e6, "chunk_mb": chunk_mb, "prompts": prompts}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", help="training config naming datasets, splits and parts")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--size", type=int, default=512, help="longest side of the packed images")
    ap.add_argument("--quality", type=int, default=82, help="WebP quality")
    ap.add_argument("--chunks", type=int, default=1)
    args = ap.parse_args()
    result = pack(TrainConfig.from_yaml(args.config), args.out, args.size, args.quality, args.chunks)
    for k, mb in enumerate(result["chunk_mb"]):
        print(f"chunk{k}: {mb:.1f} MB")
    print(f"{result['images']} images, {result['webp_mb']:.1f} MB of WebP; prompts cached: {result['prompts']}")


if __name__ == "__main__":
    main()
