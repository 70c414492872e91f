"""A second look at the commits of 0626 (h218): init_from's training settings, the lock wait, plugins, one reader of a
photo and its label, the training cache's resize."""

import sys
import threading
import time

import pytest

from drywallqa.utils import locks


def test_a_folder_lock_waited_for_while_its_holder_removes_the_folder_is_taken(tmp_path, monkeypatch):
    """A command waiting for a folder's lock (LOCK_WAIT_S) while the one holding it ends, and removes the folder it
    made: the lock was then 'cannot be opened (No such file or directory) ... remove it'; it is taken."""
    monkeypatch.setattr(locks, "LOCK_WAIT_S", 10.0)
    folder, held = tmp_path / "new" / "eval", threading.Event()

    def first():
        with locks.folder_lock(folder, ".lock", "evaluation", "choose another --out"):
            held.set()
            time.sleep(0.3)

    thread = threading.Thread(target=first)
    thread.start()
    held.wait()
    try:
        with locks.folder_lock(folder, ".lock", "evaluation", "choose another --out") as out:
            assert out.is_dir()
    finally:
        thread.join()
    assert not (tmp_path / "new").exists()  # made for it, and removed again, as by the first


def test_a_plugin_that_exits_as_it_is_imported_is_named_and_ends_nothing(tmp_path, monkeypatch):
    """A module named as a plugin that calls sys.exit on import (a script parsing its own arguments): the first
    registry miss of any command (the server's too) ended the process with the plugin's words alone."""
    from drywallqa.models.encoders import ENCODERS
    from drywallqa.utils.plugins import load_plugins

    (tmp_path / "dq_exits_on_import.py").write_text("import sys\nsys.exit('usage: train.py --data DIR')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("DRYWALLQA_PLUGINS", "dq_exits_on_import")
    load_plugins.cache_clear()
    try:
        with pytest.raises(KeyError) as err:
            ENCODERS.get("no_such_encoder")
        said = str(err.value)
        assert "plugin 'dq_exits_on_import' could not be imported" in said and "usage: train.py" in said, said
    finally:
        sys.modules.pop("dq_exits_on_import", None)
        load_plugins.cache_clear()


def test_a_photo_taller_than_its_coco_entry_is_no_shrunk_copy(tmp_path):
    """A photo 1 px narrower and 1 px taller than its COCO entry declares (199x201 for 200x200) passed the reader as
    a uniformly shrunk copy, while its label, drawn at 200x200, was left at that size (label_at_photo shrinks only):
    data stats --preview ended in an IndexError traceback (overlay), evaluate and calibration skipped it. The
    reader now says it is of another size, as a wider one."""
    import json

    import numpy as np
    from PIL import Image

    from drywallqa.data import registry
    from drywallqa.data.registry import DatasetConfig, SplitSource
    from drywallqa.data.sample import load_split, photo_and_label
    from drywallqa.data.stats import preview

    folder = tmp_path / "ds" / "tall" / "train"
    folder.mkdir(parents=True)
    images = []
    for i, (h, w) in enumerate([(201, 199), (200, 200), (100, 100)]):
        Image.fromarray(np.full((h, w, 3), 128, np.uint8)).save(folder / f"p{i}.png")
        images.append({"id": i, "file_name": f"p{i}.png", "height": 200, "width": 200})
    anns = [{"id": i, "image_id": i, "category_id": 1, "bbox": [10, 10, 50, 50], "segmentation": [], "area": 2500}
            for i in range(3)]
    (folder / "_annotations.coco.json").write_text(json.dumps({"images": images, "annotations": anns, "categories": []}))
    registry.register_dataset(DatasetConfig("syn_tall", "tall", ("segment taping area",),
                                            {"train": SplitSource("coco", "train")}, label_shape="box"))
    samples, problems = load_split("syn_tall", "train", tmp_path / "ds")
    assert sorted(s.image_path.name for s in samples) == ["p1.png", "p2.png"]  # p2: a shrunk copy (100x100)
    assert any("p0.png" in p.path and "199x201" in p.message for p in problems), problems
    for s in samples:
        image, label = photo_and_label(s)
        assert label.shape == image.shape[:2]
    assert preview("syn_tall", tmp_path / "preview.png", datasets_dir=tmp_path / "ds") == 2


def _hed_trainer(frozen_stages: int):
    """A Trainer holding a tiny film_unet on a 3-block hed_vgg16 (its first ``frozen_stages`` blocks frozen), as
    ``setup`` finds it (what freeze() needs of it)."""
    from drywallqa.engine.trainer import Trainer
    from drywallqa.models import create_model

    trainer = Trainer.__new__(Trainer)
    trainer.model = create_model("film_unet", image_size=64, encoder="hed_vgg16", decoder_channels=(8, 8, 8, 8),
                                 head_dim=4, text_dim=8,
                                 encoder_options={"stages": 3, "frozen_stages": frozen_stages, "weights": None})
    return trainer


def test_train_only_keeps_the_blocks_frozen_stages_froze():
    """train_only [encoder.] with encoder_options.frozen_stages 2 (a second stage from init_from, say) trained the
    two frozen VGG blocks as well: requires_grad set on every parameter the prefixes name; best/'s config then
    said them frozen. They stay frozen; a train_only naming only frozen blocks is refused, said why."""
    trainer = _hed_trainer(2)
    trainable = {id(p) for p in trainer.freeze(["encoder."])}
    blocks = trainer.model.encoder.vgg.blocks
    assert [any(p.requires_grad for p in b.parameters()) for b in blocks] == [False, False, True]
    assert not any(id(p) in trainable for b in blocks[:2] for p in b.parameters())
    assert all(id(p) in trainable for p in blocks[2].parameters())
    assert not any(p.requires_grad for n, p in trainer.model.named_parameters() if not n.startswith("encoder."))
    with pytest.raises(ValueError, match=r"train_only \['encoder.vgg.blocks.0'\]: every parameter it names is one "
                                         r"the model keeps frozen .*frozen_stages"):
        _hed_trainer(2).freeze(["encoder.vgg.blocks.0"])


def test_model_config_of_an_init_from_is_checked_as_its_model_type(tiny_clipseg_dir, tmp_path):
    """init_from defines the model, and a config need not name its type: model_config was still checked as the
    config's `model` (film_unet by default), so CLIPSeg's freeze_backbone, which init_from may now change, was
    refused ("model_config has no key freeze_backbone for model film_unet") before the run began."""
    from drywallqa.engine.config import TrainConfig
    from drywallqa.models import create_model

    folder = tmp_path / "clipseg_run_best"
    create_model("clipseg", pretrained=str(tiny_clipseg_dir), image_size=64).save_pretrained(folder)
    base = {"init_from": str(folder), "data": {"datasets": ["cracks"]}, "device": "cpu"}
    cfg = TrainConfig.from_dict({**base, "model_config": {"freeze_backbone": True}})
    assert cfg.model_config == {"freeze_backbone": True}
    cfg = TrainConfig.from_dict(base).with_overrides(["model_config.freeze_backbone=true"])
    assert cfg.model_config == {"freeze_backbone": True}
    with pytest.raises(ValueError, match=r"no key encoder for model clipseg \(init_from .*clipseg_run_best\)"):
        TrainConfig.from_dict({**base, "model_config": {"encoder": "scratch"}})


def test_an_encoder_option_a_saved_model_left_at_its_default_is_that_default(tmp_path):
    """A hed_vgg16 model trained without `stages` (5, its default) saved no `stages`: a second stage whose
    encoder_options name it, {stages: 5, frozen_stages: 0}, was refused as another model ("model_config.encoder_options.
    stages 5, the saved model's None"). An option left out is at the encoder's default; another value still refused."""
    from drywallqa.engine.config import TrainConfig
    from drywallqa.engine.trainer import InitFromConflict, Trainer
    from drywallqa.models import create_model

    folder = tmp_path / "hed"
    create_model("film_unet", image_size=64, encoder="hed_vgg16", decoder_channels=(8, 8, 8, 8), head_dim=4,
                 text_dim=8, encoder_options={"frozen_stages": 1, "weights": None}).save_pretrained(folder)

    def build(options):
        return Trainer.build_model(TrainConfig(init_from=str(folder), device="cpu",
                                               model_config={"encoder_options": options}))

    model = build({"stages": 5, "frozen_stages": 0})
    assert [any(p.requires_grad for p in b.parameters()) for b in model.encoder.vgg.blocks] == [True] * 5
    with pytest.raises(InitFromConflict, match=r"encoder_options.stages 4, the saved model's 5"):
        build({"stages": 4})


@pytest.fixture
def broken_plugin(tmp_path, monkeypatch):
    """$DRYWALLQA_PLUGINS names a module that fails as it is imported (a library it needs is missing here)."""
    from drywallqa.utils.plugins import load_plugins

    (tmp_path / "dq_needs_cupy.py").write_text("raise ImportError('No module named cupy')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("DRYWALLQA_PLUGINS", "dq_needs_cupy")
    load_plugins.cache_clear()
    yield
    load_plugins.cache_clear()


def test_names_a_broken_plugin_would_give_say_so_outside_the_registries_get_too(broken_plugin, tiny_model_dir):
    """Registry.get named a plugin that could not be imported in its unknown-name error, but the checks with their
    own words did not: a config's encoder ('unknown encoder ...; registered: hed_vgg16, scratch'), a model folder's
    post-processor or model type ('a model from a newer drywallqa? Upgrade the package', the wrong advice)."""
    import json

    from drywallqa.engine.config import TrainConfig
    from drywallqa.models.base import PromptedSegmentationModel
    from drywallqa.engine.torch_runtime import check_model_settings

    broken = "plugin 'dq_needs_cupy' could not be imported (ImportError: No module named cupy)"
    with pytest.raises(ValueError) as err:
        TrainConfig.from_dict({"model_config": {"encoder": "cupy_encoder"}, "data": {"datasets": ["cracks"]}})
    assert "unknown encoder 'cupy_encoder'" in str(err.value) and broken in str(err.value)
    meta = json.loads((tiny_model_dir / "config.json").read_text())
    with pytest.raises(ValueError) as err:
        check_model_settings({**meta, "postprocess": {"segment crack": {"name": "cupy_skeleton"}}})
    assert "'cupy_skeleton'" in str(err.value) and broken in str(err.value) and "install the plugin" in str(err.value)
    (tiny_model_dir / "config.json").write_text(json.dumps({**meta, "model_type": "cupy_model"}))
    with pytest.raises(ValueError) as err:
        PromptedSegmentationModel.from_pretrained(tiny_model_dir)
    assert "'cupy_model'" in str(err.value) and broken in str(err.value) and "install the plugin" in str(err.value)


def test_a_file_named_as_a_plugin_is_said_to_be_one(tmp_path, monkeypatch):
    """$DRYWALLQA_PLUGINS=./my_plugin.py (a file's path, for the module name the docs ask): the error said "the
    'package' argument is required to perform a relative import", or "No module named '/home/me/my_plugin'"."""
    from drywallqa.models.encoders import ENCODERS
    from drywallqa.utils.plugins import load_plugins

    monkeypatch.setenv("DRYWALLQA_PLUGINS", f"./dq_file_plugin.py, {tmp_path / 'dq_file_plugin.py'}")
    load_plugins.cache_clear()
    try:
        with pytest.raises(KeyError) as err:
            ENCODERS.get("no_such_encoder")
    finally:
        load_plugins.cache_clear()
    said = str(err.value)
    assert said.count("names modules, not files: give 'dq_file_plugin' (the module's name) and put its folder on "
                      "PYTHONPATH") == 2, said


def test_the_config_a_clipseg_model_was_trained_with_starts_it_again(tiny_clipseg_dir, tmp_path):
    """A CLIPSeg config naming its tokenizer's folder (a local hub copy): the saved model's config names its own
    folder (it holds the tokenizer), so a second stage from the same config plus freeze_backbone was refused as
    another model ("model_config.tokenizer '.../hf_clipseg', the saved model's '.../s1'"), as hed_vgg16's weights
    were. Ignored with a warning, as pretrained is."""
    from drywallqa.engine.config import TrainConfig
    from drywallqa.engine.trainer import Trainer
    from drywallqa.models import create_model

    stage1 = {"pretrained": str(tiny_clipseg_dir), "tokenizer": str(tiny_clipseg_dir), "image_size": 64}
    folder = tmp_path / "s1"
    create_model("clipseg", **stage1).save_pretrained(folder)
    with pytest.warns(UserWarning, match="tokenizer"):
        model = Trainer.build_model(TrainConfig(init_from=str(folder), device="cpu", model="clipseg",
                                                model_config={**stage1, "freeze_backbone": True}))
    assert model.config.freeze_backbone is True and model.config.tokenizer == str(folder)
