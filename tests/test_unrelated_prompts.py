"""Training data for free text: generated paraphrases of each dataset's prompts as positives, and generated
prompts about unrelated things asked of the training photos against empty masks."""

import numpy as np
import yaml

from drywallqa.data.prompted import PromptedSegmentationDataset
from drywallqa.engine.config import TrainConfig
from drywallqa.engine.trainer import Trainer
from drywallqa.text import vocabulary


def test_dataset_appends_unrelated_items_with_empty_masks():
    images = np.full((4, 16, 16, 3), 120, np.uint8)
    masks = np.ones((4, 16, 16), bool)
    ds = PromptedSegmentationDataset(images, masks, [0, 0, 1, 1], [["segment crack"], ["segment taping area"]],
                                     negative_ratio=0.0, unrelated_prompts=[2, 3, 4], unrelated_ratio=1.5)
    assert len(ds) == 4 + 6
    asked = set()
    for index in range(4, 10):
        item = ds[index]
        assert item["prompt_index"] in (2, 3, 4) and not item["mask"].any()
        asked.add(item["prompt_index"])
    assert len(asked) > 1
    assert all(ds[i]["mask"].all() and ds[i]["prompt_index"] in (0, 1) for i in range(4))  # own prompts untouched


def test_trainer_asks_paraphrases_and_unrelated_prompts(write_train_config, tiny_kwargs, tmp_path, monkeypatch):
    import dataclasses

    from drywallqa.data import registry

    # the synthetic cracks as the cracks concept: its generated paraphrases exist (the synthetic datasets' own names
    # have none, and data.paraphrases is refused for them)
    syn_crack = registry.DATASETS.get("syn_crack")
    monkeypatch.setitem(registry.DATASETS._items, "syn_crack", dataclasses.replace(syn_crack, concept="cracks"))
    path = write_train_config("film_unet", tiny_kwargs)
    raw = yaml.safe_load(path.read_text())
    raw["data"].update(paraphrases=True, unrelated_ratio=0.5)
    cfg = TrainConfig.from_dict(raw)
    trainer = Trainer(cfg, progress=False)
    assert set(vocabulary.paraphrases("cracks", "train")) <= set(trainer.prompts)
    unrelated = vocabulary.unrelated("train")
    assert trainer.prompts[-len(unrelated):] == unrelated
    assert not set(vocabulary.unrelated("test")) & set(trainer.prompts)  # held out
    assert trainer.text_embeddings.shape[0] == len(trainer.prompts)
    trainer.build_data()
    n = len(trainer.train_set.images)
    assert len(trainer.train_set) >= n + round(n * 0.5)
    item = trainer.train_set[len(trainer.train_set) - 1]
    assert trainer.prompts[item["prompt_index"]] in unrelated and not item["mask"].any()
    final = trainer.train()
    assert "val_score" in final


def test_paraphrases_join_a_known_concepts_prompts():
    from drywallqa.data.registry import get_dataset_config

    cfg = TrainConfig.from_dict({"data": {"paraphrases": True}})
    prompts = Trainer.train_prompts(type("T", (), {"config": cfg})(), get_dataset_config("cracks"))
    assert prompts[:2] == get_dataset_config("cracks").prompts
    assert set(vocabulary.paraphrases("cracks", "train")) <= set(prompts)
    assert not set(vocabulary.paraphrases("cracks", "test")) & set(prompts)


def test_a_dataset_asked_with_a_concepts_own_prompts_gets_its_paraphrases():
    """The taping strips (concept taping, asked "segment taping area") are trained with the taping paraphrases;
    the box labels under "bounding box of taped joint" (concept taping too) are not: a paraphrase of the tape
    must not ask for boxes."""
    from drywallqa.data.registry import DatasetConfig, get_dataset_config
    from drywallqa.engine.trainer import dataset_train_prompts

    data = TrainConfig.from_dict({"data": {"paraphrases": True}}).data
    taping = get_dataset_config("taping").prompts
    strips = DatasetConfig("strips_x", "/nowhere", taping, concept="taping")
    boxes = DatasetConfig("boxes_x", "/nowhere", ("bounding box of taped joint",), label_shape="box", concept="taping")
    other = DatasetConfig("other_x", "/nowhere", ("segment mould",))
    assert set(dataset_train_prompts(strips, data)) == {*taping, *vocabulary.paraphrases("taping", "train")}
    assert dataset_train_prompts(boxes, data) == ("bounding box of taped joint",)
    assert dataset_train_prompts(other, data) == ("segment mould",)
    data.paraphrases = False
    assert dataset_train_prompts(strips, data) == taping


def test_negatives_never_ask_a_dataset_that_labels_the_same_thing():
    """Strips refined from the taping boxes and the boxes themselves share a concept: on a taping photo the other
    one's prompt is not a negative (that would teach an empty mask where the tape is); cracks still are."""
    ids = [0, 0, 1, 1, 2, 2]
    images = np.stack([np.full((16, 16, 3), 40 * (d + 1), np.uint8) for d in ids])  # the photo tells its dataset
    masks = np.ones((6, 16, 16), bool)
    prompts = [["segment crack"], ["segment taping area"], ["bounding box of taped joint"]]

    def negatives(**kwargs):
        ds = PromptedSegmentationDataset(images, masks, ids, prompts, negative_ratio=20.0, **kwargs)
        pairs = set()
        for index in range(6, len(ds)):
            item = ds[index]
            assert not item["mask"].any()
            pairs.add((round(float(item["pixel_values"][0, 0, 0]) * 255 / 40) - 1, item["prompt_index"]))
        return pairs  # (the photo's dataset, the prompt asked against an empty mask)

    shared = negatives(concepts=["cracks", "taping", "taping"])
    assert shared == {(0, 1), (0, 2), (1, 0), (2, 0)}
    assert negatives() == {(a, b) for a in range(3) for b in range(3) if a != b}  # without concepts: all pairs
