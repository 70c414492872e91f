"""Every long loop of a command or script shows a bar through drywallqa.utils.progress (on standard error, in whole
lines where that is no terminal), and a long step that cannot show one says what it does before it starts."""

import sys


def test_pack_script_shows_its_photos_through_the_progress_helper(write_train_config, tiny_kwargs, tmp_path, load_script,
                                                                  capsys):
    """scripts/pack_training_images.py drew tqdm's bar itself: in a log (standard error a file, as under nohup) one line
    of carriage-return redraws, not the helper's whole lines."""
    from drywallqa.engine.config import TrainConfig

    script = load_script("pack_training_images")
    cfg = TrainConfig.from_yaml(write_train_config("film_unet", tiny_kwargs))
    result = script.pack(cfg, tmp_path / "pack", size=48, quality=80)
    err = capsys.readouterr().err
    assert "\r" not in err
    assert any(line.startswith("packing") and f"{result['images']}/{result['images']}" in line for line in err.splitlines()), err
