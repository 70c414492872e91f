"""Scripts and benchmarks that users run by hand (benchmarks/*.py, scripts/*.py): what they are given wrong, said in
one line before anything is written or lost."""

import sys

import pytest

from drywallqa.engine.config import TrainConfig


def test_a_pack_with_no_photo_of_a_part_is_refused_and_the_earlier_pack_kept(write_train_config, tiny_kwargs,
                                                                             tmp_path, load_script):
    """With the datasets not where the config says (a wrong DRYWALLQA_DATASETS), the pack held no photo at all and the
    script said "0 images" and exited 0 (gpu_run bundle too): the training it was made for then stopped on the GPU
    machine; and an earlier pack in --out was deleted first."""
    pack = load_script("pack_training_images").pack
    cfg = TrainConfig.from_yaml(write_train_config("film_unet", tiny_kwargs))
    out = tmp_path / "pack"
    pack(cfg, out, size=48, quality=80)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    (tmp_path / "elsewhere").mkdir()
    cfg.data.datasets_dir = str(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="dataset 'syn_crack' has no images in part 'train' to pack: no folder"):
        pack(cfg, out, size=48, quality=80)
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
