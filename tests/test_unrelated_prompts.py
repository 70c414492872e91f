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


def test_trainer_asks_paraphrases_and_unrelated_prompts(write_train_config, tiny_kwargs, tmp_path):
    path = write_train_config("film_unet", tiny_kwargs)
    raw = yaml.safe_load(path.read_text())
    raw["data"].update(paraphrases=True, unrelated_ratio=0.5)
    cfg = TrainConfig.from_dict(raw)
    trainer = Trainer(cfg, progress=False)
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
