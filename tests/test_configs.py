from pathlib import Path

import pytest

from drywallqa.engine.config import TrainConfig
from drywallqa.models import get_model_class

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_configs_parse(path):
    cfg = TrainConfig.from_yaml(path)
    model_cls = get_model_class(cfg.model)
    model_cls.config_class(**{k: v for k, v in cfg.model_config.items()})
