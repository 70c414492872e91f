"""scripts/pack_training_images.py: a reduced copy of the training images that a machine without the
datasets trains from (how the shipped model's GPU stages were run)."""

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from drywallqa.data.grouping import samples_of_part
from drywallqa.engine.config import TrainConfig
from drywallqa.engine.trainer import Trainer
from drywallqa.text.encoder import TextEncoder



def test_pack_then_train_from_the_pack(write_train_config, tiny_kwargs, tmp_path, load_script):
    pack = load_script("pack_training_images").pack
    cfg = TrainConfig.from_yaml(write_train_config("film_unet", tiny_kwargs))
    result = pack(cfg, tmp_path / "pack", size=48, quality=80, chunks=2)

    d = cfg.data
    wanted = {(name, s.image_path.name) for name in d.datasets for part in (d.train_part, d.val_part)
              for s in samples_of_part(name, part, d.splits_dir, d.datasets_dir, d.exclude_published)}
    packed = sorted((tmp_path / "pack").glob("chunk*/datasets/*/*/*.jpg"))
    assert result["images"] == len(packed) == len(wanted) > 0
    assert not any(p.parent.name == "valid" for p in packed)  # published valid images never travel
    assert {p.parent.name for p in (tmp_path / "pack" / "chunk0").glob("datasets/*/*/*.jpg")} == {"train"}
    assert len(list((tmp_path / "pack" / "chunk1").glob("datasets/*/*/*.jpg"))) == len(packed) // 2
    for p in packed:
        with Image.open(p) as im:
            assert im.format == "WEBP" and max(im.size) == 48  # shrunk from 64 px, read by content
            size = im.size
        mask = p.parent / "_masks" / f"{p.stem}.png"
        if p.parts[-3] == "crack":  # the mask-folder dataset: masks shrunk alike
            with Image.open(mask) as m:
                assert m.size == size and set(np.unique(np.asarray(m))) <= {0, 255}
    cache = TextEncoder(cfg.text_encoder, cache_dir=tmp_path / "pack" / "chunk0" / "cache")
    assert set(cache.cached_prompts()) == {"segment crack", "segment taping area", "segment joint/tape"}
    # each COCO file lists just the photos packed beside it (not the test part's, left out on purpose)
    import json

    annotation_files = sorted((tmp_path / "pack").glob("chunk*/datasets/*/*/_annotations.coco.json"))
    assert annotation_files
    for ann in annotation_files:
        listed = {im["file_name"] for im in json.loads(ann.read_text())["images"]}
        folder = ann.parent.relative_to(ann.parents[3])
        assert listed == {p.name for p in packed if p.parent.relative_to(p.parents[3]) == folder}

    merged = tmp_path / "merged"
    for chunk in sorted((tmp_path / "pack").glob("chunk*")):
        shutil.copytree(chunk, merged, dirs_exist_ok=True)

    def n_train(datasets_dir):
        return sum(len(samples_of_part(n, d.train_part, d.splits_dir, datasets_dir, d.exclude_published)) for n in d.datasets)

    assert n_train(merged / "datasets") == n_train(d.datasets_dir)  # every training image readable from the pack
    cfg.data.datasets_dir = str(merged / "datasets")
    cfg.output_dir = str(tmp_path / "run_from_pack")
    trainer = Trainer(cfg, progress=False)
    final = trainer.train()
    assert trainer.epoch == 1 and "val_score" in final
    assert len(trainer.train_set.images) == n_train(merged / "datasets")


def test_a_yaml_declared_dataset_and_every_prompt_travel(write_train_config, synthetic_datasets, tiny_kwargs, tmp_path,
                                                         load_script):
    """A dataset declared in a YAML file outside the datasets folder (as masks refined from boxes are, in runs/)
    is packed with a declaration of its copy, and the embedding cache holds every prompt the run asks (the
    unrelated ones too), so the run needs neither the original files nor the text encoder's weights."""
    import yaml

    from drywallqa.data.registry import DATASETS, get_dataset_config
    from drywallqa.text import vocabulary

    pack = load_script("pack_training_images").pack
    declared = tmp_path / "decl" / "syn_strips.dataset.yaml"
    declared.parent.mkdir()
    declared.write_text(yaml.safe_dump({"name": "syn_strips", "folder": str(synthetic_datasets / "crack"),
                                        "prompts": ["segment strip"], "splits": {"train": {"kind": "mask_folder"}},
                                        "concept": "syn_crack", "manifest": "syn_crack"}))
    cfg = TrainConfig.from_yaml(write_train_config("film_unet", tiny_kwargs))
    cfg.data.datasets = ["syn_tape", str(declared)]
    cfg.data.unrelated_ratio = 0.5
    d = cfg.data
    try:
        get_dataset_config(str(declared))  # registers it under its name
        originals = {n: len(samples_of_part(n, d.train_part, d.splits_dir, d.datasets_dir, d.exclude_published))
                     for n in ("syn_tape", "syn_strips")}
        result = pack(cfg, tmp_path / "pack", size=48, quality=80, chunks=2)
        assert result["datasets"] == ["syn_tape", "{datasets}/declared/syn_strips.dataset.yaml"]
        cache = TextEncoder(cfg.text_encoder, cache_dir=tmp_path / "pack" / "chunk0" / "cache")
        wanted = {"segment taping area", "segment joint/tape", "segment strip", *vocabulary.unrelated("train")}
        assert set(cache.cached_prompts()) == wanted
        merged = tmp_path / "merged"
        for chunk in sorted((tmp_path / "pack").glob("chunk*")):
            shutil.copytree(chunk, merged, dirs_exist_ok=True)
    finally:
        DATASETS.remove("syn_strips")  # the remote machine's process has never seen the original declaration
    try:
        cfg.data.datasets = [n.format(datasets=merged / "datasets") for n in result["datasets"]]
        cfg.data.datasets_dir = str(merged / "datasets")
        cfg.output_dir = str(tmp_path / "run_from_pack")
        trainer = Trainer(cfg, progress=False)
        trainer.train()
        copy = DATASETS.get("syn_strips")
        assert Path(copy.folder) == merged / "datasets" / "declared" / "syn_strips"
        assert (copy.concept_name, copy.manifest_name, copy.prompts) == ("syn_crack", "syn_crack", ("segment strip",))
        assert len(trainer.train_set.images) == sum(originals.values())
    finally:
        DATASETS.remove("syn_strips")


def test_an_out_holding_other_files_is_refused_not_deleted(write_train_config, tiny_kwargs, tmp_path, load_script):
    """The pack replaces --out whole: a folder of anything else (--out runs, --out .) was deleted without a word."""
    import pytest

    pack = load_script("pack_training_images").pack
    cfg = TrainConfig.from_yaml(write_train_config("film_unet", tiny_kwargs))
    keep = tmp_path / "runs" / "my_run" / "last.pt"
    keep.parent.mkdir(parents=True)
    keep.write_bytes(b"weeks of training")
    with pytest.raises(ValueError, match="holds 'my_run', which is no pack's chunk folder"):
        pack(cfg, tmp_path / "runs", size=48)
    assert keep.read_bytes() == b"weeks of training"
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        pack(cfg, tmp_path / "a_file", size=48)
    pack(cfg, tmp_path / "pack", size=48, chunks=2)
    pack(cfg, tmp_path / "pack", size=48)  # an earlier pack is replaced
    assert sorted(p.name for p in (tmp_path / "pack").iterdir()) == ["chunk0"]
