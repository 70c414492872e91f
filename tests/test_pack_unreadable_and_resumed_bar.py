"""A pack that one unreadable photo or mask no longer stops (scripts/pack_training_images.py, and the bundle
of scripts/gpu_run.py that consumes it), and a resumed epoch's progress bar starting where the run picked up."""

import json
import shutil

import pytest

from drywallqa.data.grouping import samples_of_part
from drywallqa.engine.config import TrainConfig


def _truncate(path, keep):
    """``path`` cut to its first ``keep`` bytes: its header still read (the dataset lists it), its pixels not."""
    path.write_bytes(path.read_bytes()[:keep])


def _part(cfg, name, part="train", datasets_dir=None):
    d = cfg.data
    return samples_of_part(name, part, d.splits_dir, datasets_dir or d.datasets_dir, d.exclude_published)


def test_an_unreadable_photo_or_mask_is_left_out_of_the_pack_and_named(write_train_config, tiny_kwargs, tmp_path,
                                                                      load_script, capsys):
    """One truncated photo (a COCO dataset) and one truncated mask (a mask folder) stopped the whole pack with an
    error (the mask: an OpenCV traceback). Each is now left out whole, named with why in failed.json and in a
    warning at the end, and the packed COCO file does not list the photo."""
    pack = load_script("pack_training_images").pack
    cfg = TrainConfig.from_yaml(write_train_config("film_unet", tiny_kwargs))
    d = cfg.data
    before = {n: {p: len(_part(cfg, n, p)) for p in (d.train_part, d.val_part)} for n in d.datasets}
    bad_photo = _part(cfg, "syn_tape")[0].image_path
    bad_sample = _part(cfg, "syn_crack")[0]
    _truncate(bad_photo, 700)
    _truncate(bad_sample.mask_path, 60)
    assert len(_part(cfg, "syn_tape")) == before["syn_tape"]["train"]  # still listed: only decoding finds them
    assert len(_part(cfg, "syn_crack")) == before["syn_crack"]["train"]

    result = pack(cfg, tmp_path / "pack", size=48, quality=80, chunks=2)
    total = sum(n for parts in before.values() for n in parts.values())
    assert result["images"] == total - 2
    failed = json.loads((tmp_path / "pack" / "failed.json").read_text())
    assert failed == result["failed"]
    assert {(f["dataset"], f["part"], f["path"]) for f in failed} == {
        ("syn_tape", "train", str(bad_photo)), ("syn_crack", "train", str(bad_sample.mask_path))}
    assert all(f["reason"] and f["path"] not in f["reason"] for f in failed)
    err = capsys.readouterr().err.strip().splitlines()[-1]  # one line, at the end
    assert err.startswith("warning: 2 of the") and str(tmp_path / "pack" / "failed.json") in err

    packed = [p for p in (tmp_path / "pack").glob("chunk*/datasets/**/*") if p.is_file()]
    names = {p.name for p in packed}
    assert bad_photo.name not in names  # neither the photo nor the mask of the sample whose mask failed
    assert bad_sample.image_path.name not in names and bad_sample.mask_path.name not in names
    for ann in (tmp_path / "pack").glob("chunk*/datasets/tape/train/_annotations.coco.json"):
        coco = json.loads(ann.read_text())
        assert bad_photo.name not in {im["file_name"] for im in coco["images"]}
        assert {a["image_id"] for a in coco["annotations"]} <= {im["id"] for im in coco["images"]}

    merged = tmp_path / "merged"  # read there as the run reads it: every packed photo, the left-out ones not
    for chunk in sorted((tmp_path / "pack").glob("chunk*")):
        shutil.copytree(chunk, merged, dirs_exist_ok=True)
    for name, parts in before.items():
        lost = {p: sum(f["dataset"] == name and f["part"] == p for f in failed) for p in parts}
        assert {p: len(_part(cfg, name, p, merged / "datasets")) for p in parts} == \
            {p: n - lost[p] for p, n in parts.items()}

    # mended (by readable files of the same size): the next pack replaces the earlier one, its list too
    shutil.copy(next(p for p in bad_photo.parent.glob("*.jpg") if p != bad_photo), bad_photo)
    shutil.copy(next(p for p in bad_sample.mask_path.parent.glob("*.png") if p != bad_sample.mask_path),
                bad_sample.mask_path)
    assert pack(cfg, tmp_path / "pack", size=48, quality=80)["failed"] == []
    assert not (tmp_path / "pack" / "failed.json").exists()


def test_a_part_none_of_whose_photos_can_be_read_is_still_an_error(write_train_config, tiny_kwargs, tmp_path,
                                                                   load_script):
    pack = load_script("pack_training_images").pack
    cfg = TrainConfig.from_yaml(write_train_config("film_unet", tiny_kwargs))
    val = _part(cfg, "syn_tape", cfg.data.val_part)
    for s in val:
        _truncate(s.image_path, 700)
    with pytest.raises(ValueError, match=rf"dataset 'syn_tape': none of the {len(val)} photos of its part "
                                         rf"'{cfg.data.val_part}' can be packed \(e\.g\. .*truncated"):
        pack(cfg, tmp_path / "pack", size=48)
    assert not (tmp_path / "pack").exists()


def test_a_bundle_with_a_photo_left_out_merges_and_counts_it_out(write_train_config, tiny_kwargs, tmp_path,
                                                                 load_script):
    """gpu_run's merge checks that every packed photo arrived: it counts against the photos packed, not those
    tried, so a photo left out is not taken for a chunk that did not arrive."""
    gpu_run = load_script("gpu_run")
    config = write_train_config("film_unet", tiny_kwargs)
    cfg = TrainConfig.from_yaml(config)
    _truncate(_part(cfg, "syn_crack")[0].image_path, 700)
    meta = gpu_run.bundle(config, tmp_path / "bundle", size=48, chunks=2, budget=40)
    assert meta["failed"] == 1 and json.loads((tmp_path / "bundle" / "bundle.json").read_text())["failed"] == 1
    datasets = gpu_run.merge_chunks(tmp_path / "bundle")
    found = [p for p in datasets.rglob("*.jpg") if "_masks" not in p.parts]
    assert len(found) == meta["images"]


def test_a_resumed_epoch_s_bar_counts_from_where_the_run_picked_up(synthetic_datasets, syn_splits, tmp_path, tiny_kwargs,
                                                                   monkeypatch):
    """A run resumed mid-epoch drew that epoch's bar from 0 to the steps left: the user could not see where it
    picked up. It starts at the steps done and counts to the epoch's steps."""
    import io

    import drywallqa.engine.trainer as trainer_module
    from drywallqa.engine.trainer import Trainer

    cfg = TrainConfig.from_dict({
        "model_config": tiny_kwargs,
        "data": {"datasets": ["syn_crack", "syn_tape"], "datasets_dir": str(synthetic_datasets),
                 "splits_dir": str(syn_splits), "cache_size": 72, "cache_dir": None},
        "optim": {"lr": 1e-3, "batch_size": 4, "epochs": 2, "warmup_steps": 1},
        "output_dir": str(tmp_path / "run"), "checkpoint_every": 100, "bf16": False, "device": "cpu"})
    assert Trainer(cfg, progress=False).train(max_minutes=1e-9)["stopped"] == "time"  # after its first step
    bars, real = [], trainer_module.progress_bar

    def recorded(iterable=None, **kwargs):
        bars.append(real(iterable, **{**kwargs, "file": io.StringIO()}))  # drawn, into a file of its own
        return bars[-1]

    monkeypatch.setattr(trainer_module, "progress_bar", recorded)
    resumed = Trainer(cfg, progress=True)
    resumed.train(resume=True)
    n = resumed.steps_per_epoch
    epochs = [b for b in bars if str(b.desc).startswith("epoch ")]
    assert n > 2 and [b.desc for b in epochs] == ["epoch 1/2", "epoch 2/2"]
    assert [(b.initial, b.total, b.n) for b in epochs] == [(1, n, n), (0, n, n)]
    assert f"{n}/{n}" in epochs[0].fp.getvalue()  # its last state: the epoch's every step
