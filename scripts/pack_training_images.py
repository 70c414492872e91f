"""Pack a reduced copy of the training images for a machine that has no copy of the datasets.

The copy keeps each dataset's folder layout and file names (so split manifests and annotation files
work unchanged through ``DRYWALLQA_DATASETS``), holds only the images of the named parts of the
group-clean splits (never the published valid/test images), and shrinks them: longer side at most
``--size`` and WebP-encoded (under the original ``.jpg`` name; readers go by content). Masks of
mask-folder datasets are read as training reads them (any format the photos may be in), resized with nearest
neighbour and written as black and white PNGs under their own names (a mask with 'ignore' pixels as a VOC palette
PNG whose index 255, VOC's 'void', is read back as 'ignore'); COCO annotation files are copied as they are
(the trainer rasterises at the annotated size and resizes image and mask to its cache size alike).

The files are dealt into ``--chunks`` folders (``<out>/chunk<k>/datasets/...``) so that each fits a
transfer limit; the text-embedding cache of every prompt the run asks (its datasets' prompts, and the generated
paraphrases and unrelated prompts where the config trains on them) goes into ``<out>/chunk0/cache``.

A dataset declared in a YAML file (its folder anywhere, e.g. masks refined from boxes in ``runs/``) is packed
under ``datasets/declared/<name>/`` with a declaration of the copy beside it (``declared/<name>.dataset.yaml``);
the script prints the ``data.datasets=[...]`` override that points the run at those declarations.

A photo (or mask) that cannot be read or encoded is left out, not the pack: each such sample is named, with why, in
``<out>/failed.json`` and in a warning at the end, and is in no packed file (nor its COCO file's entries); the run
there says the split manifest names photos it does not find. A part none of whose photos can be packed is an error.

    python scripts/pack_training_images.py docs/experiments/gpu_finetune_v020/gpu_finetune.yaml --out .remote/pack --size 512 --chunks 2
    # on the remote machine: merge the chunks into one folder, then
    DRYWALLQA_DATASETS=<merged>/datasets DRYWALLQA_CACHE=<merged>/cache drywallqa train docs/experiments/gpu_finetune_v020/gpu_finetune.yaml
    # (add the printed data.datasets=[...] override when the config names YAML-declared datasets)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

import yaml

import cv2
import numpy as np

from drywallqa.data.grouping import samples_of_part, why_part_is_empty
from drywallqa.data.registry import get_dataset_config
from drywallqa.engine.config import TrainConfig
from drywallqa.engine.trainer import training_prompts
from drywallqa.text.encoder import TextEncoder
from drywallqa.utils.argtypes import at_least, positive_int
from drywallqa.utils.files import replace_dir, temp_dir, write_atomic
from drywallqa.utils.image_io import IGNORE_VALUE, VOC_PALETTE, ImageReadError, read_image
from drywallqa.utils.progress import progress_bar


DECLARED = "declared"  # the folder of the packed copies of YAML-declared datasets
CHUNK = re.compile(r"chunk\d+")  # the folders of a pack
COPIES = "copies.json"  # in chunk0 of a deduplicated pack: the photos left out as copies of packed ones
FAILED = "failed.json"  # beside the chunks: the samples left out as their photo or mask could not be packed


def shrink(image: np.ndarray, size: int, interpolation: int) -> np.ndarray:
    h, w = image.shape[:2]
    scale = size / max(h, w)
    if scale >= 1:
        return image
    return cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=interpolation)


def pack(cfg: TrainConfig, out: Path, size: int = 512, quality: int = 82, chunks: int = 1,
         chunk_mib: float | None = None, dedupe: bool = False) -> dict:
    """Write the reduced copy (see the module docstring); returns counts and sizes. With ``chunk_mib``, the images
    are dealt into as many chunks (at least ``chunks``) as keep each within about that many MiB: they are all
    encoded first, so nothing is encoded twice. With ``dedupe``, a photo that two datasets share (the taping strips
    and the taping boxes are one set of photos) is packed once and listed in ``chunk0/copies.json`` (copy -> packed
    path, both under ``datasets/``): :func:`restore_copies` writes the copies back after the chunks are merged.
    A sample whose photo or mask cannot be read or encoded is left out and listed (``failed`` of the result, and
    ``<out>/failed.json``: its dataset, part, the file and why); a part none of whose photos can be packed raises
    ValueError, as an empty one does."""
    d = cfg.data
    # absolute, links not followed (a link is refused below): "." has no name to write the pack beside it under (it
    # was encoded whole, then its rename failed: "PosixPath('.') has an empty name")
    out = Path(os.path.abspath(out))
    if not 1 <= quality <= 100:  # above 100 OpenCV encodes lossless, without a word: a pack about 3 times as large
        raise ValueError(f"--quality {quality}: WebP quality runs from 1 to 100")
    if out.is_symlink() or out.exists():  # replaced whole: only an earlier pack (chunk<k> folders, its failed.json),
        # never other files
        if out.is_symlink() or not out.is_dir():
            raise ValueError(f"--out {out} is {'a link' if out.is_symlink() else 'a file'}; give a folder for the pack")
        other = next((p.name for p in out.iterdir()
                      if not (p.is_dir() and CHUNK.fullmatch(p.name)) and not (p.is_file() and p.name == FAILED)), None)
        if other is not None:
            raise ValueError(f"--out {out} holds {other!r}, which is no pack's chunk folder: it is replaced whole, so "
                             "give a new folder (or an earlier pack's)")
    jobs, declared, names = [], {}, []
    for entry in d.datasets:
        ds = get_dataset_config(entry)
        folder = ds.folder
        if ds.declared:  # declared in a YAML file: its copy goes under declared/<name>
            folder = f"{DECLARED}/{ds.name}"
            declared[ds.name] = ds
            names.append(f"{{datasets}}/{DECLARED}/{ds.name}.dataset.yaml")
        else:
            names.append(ds.name)
        root = ds.root(d.datasets_dir)
        for part in (d.train_part, d.val_part):
            samples = samples_of_part(ds.name, part, d.splits_dir, d.datasets_dir, d.exclude_published)
            if not samples:  # an empty pack was written (exit 0), the training it was made for refused there
                why = why_part_is_empty(ds.name, part, d.splits_dir, d.datasets_dir, d.exclude_published,
                                        "data.exclude_published", "data.datasets_dir")
                raise ValueError(f"dataset {ds.name!r} has no images in part {part!r} to pack: {why}")
            jobs += [(ds.name, part, folder, root, s) for s in samples]
    if chunks > len(jobs):  # each chunk got a copy of every annotation file: --chunks 100000 filled the disk with them
        raise ValueError(f"--chunks {chunks}: more chunks than the {len(jobs)} photos to pack; give at most {len(jobs)}")
    files, annotated = [], {}  # per image: [(path in its chunk's datasets/, bytes)], the image first
    packed, copies = {}, {}  # source photo -> its packed path; with dedupe, copy -> packed path
    failed = []  # the samples left out: a photo or mask that cannot be read or encoded (one bad file lost the pack)
    for name, part, folder, root, s in progress_bar(jobs, desc="packing"):
        dest = Path(folder) / s.image_path.relative_to(root)
        source = s.image_path.resolve()
        if dedupe and source in packed and s.mask_path is None:
            copies[dest.as_posix()] = packed[source].as_posix()
            _note_annotated(annotated, s, folder, root)
            continue
        try:
            files.append(_encoded(s, dest, size, quality))
        except _Unpackable as exc:  # left out whole: neither its photo, its mask nor its COCO entry is packed
            failed.append({"dataset": name, "part": part, "path": str(exc.path), "reason": exc.reason})
            continue
        packed.setdefault(source, dest)
        _note_annotated(annotated, s, folder, root)
    tried = Counter(job[:2] for job in jobs)
    for (name, part), lost in Counter((f["dataset"], f["part"]) for f in failed).items():
        if lost == tried[name, part]:  # as a part with no photos: a training there would be refused
            first = next(f for f in failed if (f["dataset"], f["part"]) == (name, part))
            raise ValueError(f"dataset {name!r}: none of the {lost} photos of its part {part!r} can be packed (e.g. "
                             f"{first['path']}: {first['reason']}); check its files")
    # written beside it, then renamed into place: an earlier pack is kept until this one is whole, and a run stopped
    # part way (Ctrl-C, a full disk) leaves no half pack, missing photos, that would be carried and trained from
    out.parent.mkdir(parents=True, exist_ok=True)
    with temp_dir(out.parent, f".{out.name}-") as tmp:
        total = sum(len(data) for group in files for _, data in group)
        if chunk_mib is not None:
            chunks = max(chunks, int(total / 2**20 // (0.9 * chunk_mib)) + 1)
        for i, group in enumerate(files):
            for rel, data in group:
                target = tmp / f"chunk{i % chunks}" / "datasets" / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        total = sum(len(group[0][1]) for group in files)  # the WebP images
        for (ann, folder, root), names_here in annotated.items():
            entries = packed_coco(ann, names_here)
            for k in range(chunks):  # every chunk carries the (small) annotation files of its folders
                target = tmp / f"chunk{k}" / "datasets" / folder / ann.relative_to(root)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(entries))
        for ds in declared.values():  # a declaration of each copy, in every chunk (any merge of them has it)
            packed_splits = {split for split, source in ds.splits.items()
                             if any(tmp.glob(f"chunk*/datasets/{DECLARED}/{ds.name}/{source.folder}"))}
            text = yaml.safe_dump(declaration_of_copy(ds, packed_splits), sort_keys=False)
            for k in range(chunks):
                target = tmp / f"chunk{k}" / "datasets" / DECLARED / f"{ds.name}.dataset.yaml"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
        if copies:
            (tmp / "chunk0").mkdir(parents=True, exist_ok=True)
            (tmp / "chunk0" / COPIES).write_text(json.dumps(copies, indent=0))
        if failed:
            (tmp / FAILED).write_text(json.dumps(failed, indent=1))
        # every prompt the run asks, embedded, so the remote machine needs no text-encoder weights
        prompts, _ = training_prompts(cfg)
        print(f"embedding the run's {len(prompts)} prompts into {out / 'chunk0' / 'cache'}...", file=sys.stderr, flush=True)
        TextEncoder(cfg.text_encoder, cache_dir=tmp / "chunk0" / "cache").encode(prompts)
        replace_dir(tmp, out)
    chunk_mb = [sum(f.stat().st_size for f in (out / f"chunk{k}").rglob("*") if f.is_file()) / 1e6 for k in range(chunks)]
    if failed:  # at the end, where it is seen: the bar and the embedding lines scrolled it away
        print(f"warning: {len(failed)} of the {len(jobs)} photos could not be packed and are left out, listed in "
              f"{out / FAILED} (e.g. {failed[0]['path']}: {failed[0]['reason']})", file=sys.stderr, flush=True)
    return {"images": len(jobs) - len(failed), "copies": len(copies), "webp_mb": total / 1e6, "chunk_mb": chunk_mb,
            "prompts": prompts, "datasets": names if declared else None, "failed": failed}


class _Unpackable(Exception):
    """A sample's photo or mask that cannot be read or encoded: ``path`` and ``reason``."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


def _encoded(sample, dest: Path, size: int, quality: int) -> list:
    """The packed files of ``sample``: ``[(dest, WebP bytes)]``, then its mask's where it has one.

    Raises:
        _Unpackable: its photo or mask cannot be read or encoded.
    """
    try:
        rgb = shrink(read_image(sample.image_path), size, cv2.INTER_AREA)
    except ImageReadError as exc:  # (its OSErrors too) the message names the file: kept without that name
        raise _Unpackable(sample.image_path, str(exc).removeprefix(f"{sample.image_path}: ")) from None
    ok, buf = cv2.imencode(".webp", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_WEBP_QUALITY, quality])
    if not ok:
        raise _Unpackable(sample.image_path, "WebP encoding failed")
    out = [(dest, buf.tobytes())]
    if sample.mask_path is not None:
        out.append((dest.parent / "_masks" / sample.mask_path.name, _packed_mask(sample, rgb.shape[1], rgb.shape[0])))
    return out


def _packed_mask(sample, width: int, height: int) -> bytes:
    """``sample``'s target as training here reads it (:meth:`~drywallqa.data.sample.Sample.load_target`: any format
    the photos are read in, a palette mask by its colours, 'ignore' pixels apart), resized to ``width`` x ``height``
    by the nearest pixel, as a black and white PNG (under the mask's own name; readers go by content): the run the
    pack is for reads the target this one trains on. A target with 'ignore' pixels is packed as a palette PNG of
    VOC's colours (index 0 background, 1 the label, 255 VOC's 'void'), which the reader takes as 'ignore' whatever
    the label's share (:func:`~drywallqa.utils.image_io.palette_ignored`): a grey 0/1/255 PNG is read so only where
    the label is 1% of it or more, and the band was packed as background before, trained there as 'no crack'.
    (The mask was read with OpenCV after a look at its header: one OpenCV reads no such file of, a GIF or TGA mask,
    was left out as unreadable, its photo with it.)

    Raises:
        _Unpackable: the mask cannot be read (or is not of its photo's size).
    """
    import io

    from PIL import Image

    try:
        target = sample.load_target()
    except (OSError, ValueError) as exc:  # ImageReadError among them: its message names the file
        raise _Unpackable(sample.mask_path, str(exc).removeprefix(f"{sample.mask_path}: ")) from None
    if (target == IGNORE_VALUE).any():  # 0/1/255 as VOC palette indices: its 255 read back as 'ignore'
        small = Image.fromarray(target)  # mode L, made P by its palette
        small.putpalette([v for colour in VOC_PALETTE for v in colour])
    else:  # a label alone: as before, byte for byte
        small = Image.fromarray((target == 1).astype(np.uint8) * 255)  # (H, W) uint8: mode L
    if small.size != (width, height):
        small = small.resize((width, height), Image.NEAREST)
    buf = io.BytesIO()
    small.save(buf, format="PNG")
    return buf.getvalue()


def _note_annotated(annotated: dict, sample, folder: str, root: Path) -> None:
    """Record that ``sample``'s photo is packed, so its COCO file is cut down to the photos packed."""
    ann = sample.image_path.parent / "_annotations.coco.json"
    if sample.mask_path is None and ann.is_file():
        annotated.setdefault((ann, folder, root), set()).add(sample.image_path.name)


def restore_copies(merged: Path) -> int:
    """Write back the copies a deduplicated pack left out (``pack(dedupe=True)``): ``merged`` is the folder the chunks
    were merged into (holding ``datasets/`` and ``copies.json``). Returns how many were written: a copy already
    there is kept, and each is written whole (renamed into place), so two runs may merge one bundle side by side.

    Raises:
        FileNotFoundError: a packed photo a copy is made from is not there (a chunk did not arrive).
    """
    listed = merged / COPIES
    if not listed.is_file():
        return 0
    copies = json.loads(listed.read_text())
    written = 0
    for copy, packed in copies.items():
        source, target = merged / "datasets" / packed, merged / "datasets" / copy
        if not source.is_file():
            raise FileNotFoundError(f"{source}: the packed photo of {copy} is missing; merge every chunk first")
        if target.is_file() and target.stat().st_size == source.stat().st_size:
            continue  # restored already (by a run beside this one, which may be reading it)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, lambda tmp: shutil.copyfile(source, tmp))  # whole or not at all
        written += 1
    return written


def packed_coco(path: Path, file_names: set) -> dict:
    """The COCO file ``path`` cut down to the images packed (``file_names``) and their annotations: the photos left
    out on purpose (published valid/test, the test part) are then not reported missing on the other machine."""
    coco = json.loads(path.read_text())
    images = [im for im in coco.get("images", []) if Path(str(im.get("file_name", ""))).name in file_names]
    ids = {im.get("id") for im in images}
    return {**coco, "images": images, "annotations": [a for a in coco.get("annotations", []) if a.get("image_id") in ids]}


def declaration_of_copy(ds, splits=None) -> dict:
    """The YAML declaration of a packed copy of the YAML-declared dataset ``ds``: the same name, prompts, splits
    (those in ``splits``, the ones packed; default all), label shape, concept and manifest, its folder the copy
    beside the declaration."""
    return {"name": ds.name, "folder": ds.name, "prompts": list(ds.prompts),
            "splits": {k: {"kind": v.kind, "folder": v.folder} for k, v in ds.splits.items() if splits is None or k in splits},
            "label_shape": ds.label_shape, "concept": ds.concept_name, "manifest": ds.manifest_name}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", help="training config naming datasets, splits and parts")
    ap.add_argument("--out", required=True, type=Path, help="a new folder, or an earlier pack's (replaced whole)")
    ap.add_argument("--size", type=at_least(32), default=512, help="longest side of the packed images")
    ap.add_argument("--quality", type=at_least(1), default=82, help="WebP quality, 1 to 100")
    ap.add_argument("--chunks", type=positive_int, default=1)
    args = ap.parse_args()
    try:  # a config, dataset or split manifest that cannot be read: one line naming it, no traceback
        result = pack(TrainConfig.from_yaml(args.config), args.out, args.size, args.quality, args.chunks)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from None
    for k, mb in enumerate(result["chunk_mb"]):
        print(f"chunk{k}: {mb:.1f} MB")
    print(f"{result['images']} images, {result['webp_mb']:.1f} MB of WebP; {len(result['prompts'])} prompts cached")
    if result["datasets"]:
        listed = ", ".join(result["datasets"]).replace("{datasets}", "<merged>/datasets")
        print(f"the config names YAML-declared datasets: train with the override data.datasets='[{listed}]'")


if __name__ == "__main__":
    from drywallqa.utils.signals import run_main

    run_main(main)  # Ctrl-C: one line and exit 130, as a drywallqa command
