"""Review of 0.6.26 (helper 223): what the release's changes left wrong."""

from __future__ import annotations

import pytest

from test_second_look_0626 import _hed_trainer  # a Trainer on a tiny hed_vgg16, frozen_stages as given


def test_a_train_only_of_frozen_blocks_alone_is_refused_before_the_photos_are_decoded():
    """The Trainer checks train_only in __init__ "before the photos are decoded"; a train_only naming only blocks
    that frozen_stages keeps frozen was refused only by freeze(), in setup(), after build_data decoded every photo
    (minutes). check_train_only says it."""
    with pytest.raises(ValueError, match=r"train_only \['encoder.vgg.blocks.0'\]: every parameter it names is one "
                                         r"the model keeps frozen .*frozen_stages"):
        _hed_trainer(2).check_train_only(["encoder.vgg.blocks.0"])
    _hed_trainer(2).check_train_only(["encoder."])  # names trainable blocks too: fine
    _hed_trainer(0).check_train_only(["encoder.vgg.blocks.0"])


def test_plugins_are_imported_once_when_two_server_threads_miss_a_name_at_once(tmp_path, monkeypatch):
    """load_plugins was a bare functools.cache: two threads (the server's) missing a registry name at once both ran
    it, so a plugin that fails was imported, and warned of, twice (one that registers a name before it fails then
    failed the second time with 'already registered' in place of its own words). One runs it; the other waits for
    its result."""
    import sys
    import threading
    import types

    from drywallqa.utils.plugins import load_plugins

    sync = types.ModuleType("dq_review_sync")
    sync.count, sync.entered, sync.release = 0, threading.Event(), threading.Event()
    monkeypatch.setitem(sys.modules, "dq_review_sync", sync)
    (tmp_path / "dq_review_slow_plugin.py").write_text(
        "import dq_review_sync as s\ns.count += 1\ns.entered.set()\ns.release.wait(30)\n"
        "raise RuntimeError('the plugin fails')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("DRYWALLQA_PLUGINS", "dq_review_slow_plugin")
    load_plugins.cache_clear()
    results = []
    try:
        first = threading.Thread(target=lambda: results.append(load_plugins()))
        first.start()
        assert sync.entered.wait(30)
        second = threading.Thread(target=lambda: results.append(load_plugins()))
        second.start()
        plugins_file = sys.modules[load_plugins.__module__].__file__
        for _ in range(3000):  # until the second thread is inside load_plugins (waiting there, or about to import)
            frame = sys._current_frames().get(second.ident)
            while frame is not None and frame.f_code.co_filename != plugins_file:
                frame = frame.f_back
            if frame is not None:
                break
            threading.Event().wait(0.01)
        sync.release.set()
        first.join(30)
        second.join(30)
    finally:
        sync.release.set()
        sys.modules.pop("dq_review_slow_plugin", None)
        load_plugins.cache_clear()
    assert sync.count == 1
    assert [list(r) for r in results] == [["dq_review_slow_plugin"]] * 2
    assert "the plugin fails" in results[0]["dq_review_slow_plugin"]


def test_evaluate_reads_no_split_for_the_cross_prompt_check_of_datasets_in_folders_apart(tmp_path, monkeypatch):
    """photos_held (ca5387c: a photo two datasets of one export label is asked neither's prompt as another thing) read
    every split of every dataset of every evaluate with two concepts, the default cracks and taping too, whose folders
    share no photo: their train splits read and their problems warned of again, for nothing. Only datasets whose
    folders hold one another's photos are read."""
    from drywallqa.data import registry
    from drywallqa.data.registry import DatasetConfig, SplitSource
    from drywallqa.engine import evaluator

    read = []
    monkeypatch.setattr(evaluator, "load_all_splits", lambda d, datasets_dir=None: (read.append(d), ([], []))[1])
    specs = {"rv_stains": ("export", "water stain"), "rv_nails": ("export", "nail pop"),
             "rv_cracks": ("cracks", "crack"), "rv_tape": ("tape", "taping area")}
    for name, (folder, thing) in specs.items():
        registry.register_dataset(DatasetConfig(name=name, folder=str(tmp_path / folder),
                                                prompts=(f"segment {thing}",),
                                                splits={"train": SplitSource("coco", "train")}))
    try:
        assert evaluator.photos_held(["rv_cracks", "rv_tape"]) == {}
        assert read == []
        held = evaluator.photos_held(["rv_stains", "rv_nails", "rv_cracks"])
        assert sorted(read) == ["rv_nails", "rv_stains"] and sorted(held) == ["rv_nails", "rv_stains"]
    finally:
        for name in specs:
            registry.DATASETS.remove(name)


def test_no_warning_of_unrelated_prompts_left_out_that_training_never_asks(caplog):
    """unrelated_prompts (13d22a0) warned that "the unrelated prompts about 'socket' are left out" for a dataset asking
    "segment socket", though 'socket' is a test-part word of the vocabulary: training asks no unrelated prompt about it,
    so nothing was left out. Only things whose prompts training asks are said; a train-part one still is."""
    import logging

    from drywallqa.engine.trainer import unrelated_prompts
    from drywallqa.text import vocabulary

    held_out = next(w for w in vocabulary.UNRELATED_WORDS if vocabulary.part_of(w) == "test")
    trained = next(w for w in vocabulary.UNRELATED_WORDS if vocabulary.part_of(w) == "train")
    with caplog.at_level(logging.WARNING, logger="drywallqa.engine.trainer"):
        assert unrelated_prompts({"own": [f"segment {held_out}"]}) == vocabulary.unrelated("train")
    assert not [r for r in caplog.records if "unrelated prompts about" in r.getMessage()]
    with caplog.at_level(logging.WARNING, logger="drywallqa.engine.trainer"):
        kept = unrelated_prompts({"own": [f"segment {trained}"]})
    assert f"segment {trained}" not in kept and len(kept) < len(vocabulary.unrelated("train"))
    assert [r for r in caplog.records if f"unrelated prompts about {trained!r}" in r.getMessage()]


def test_datasets_sharing_a_split_folder_by_absolute_path_are_still_read(tmp_path, monkeypatch):
    """(The check above looks at split folders, not dataset folders alone: a split's folder may be absolute, so two
    datasets declared in folders apart can read one export.)"""
    from drywallqa.data import registry
    from drywallqa.data.registry import DatasetConfig, SplitSource
    from drywallqa.engine import evaluator

    read = []
    monkeypatch.setattr(evaluator, "load_all_splits", lambda d, datasets_dir=None: (read.append(d), ([], []))[1])
    export = tmp_path / "export" / "train"
    for name, thing in (("rv_abs_stains", "water stain"), ("rv_abs_nails", "nail pop")):
        registry.register_dataset(DatasetConfig(name=name, folder=str(tmp_path / name), prompts=(f"segment {thing}",),
                                                splits={"train": SplitSource("coco", str(export))}))
    try:
        assert sorted(evaluator.photos_held(["rv_abs_stains", "rv_abs_nails"])) == ["rv_abs_nails", "rv_abs_stains"]
    finally:
        for name in ("rv_abs_stains", "rv_abs_nails"):
            registry.DATASETS.remove(name)
