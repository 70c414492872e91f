import json

import pytest
import torch

from drywallqa.engine.config import TrainConfig
from drywallqa.engine.trainer import Trainer, warmup_cosine
from drywallqa.losses import dice_loss
from drywallqa.models import create_model
from drywallqa.models.base import PromptedSegmentationModel



def _batch(seed=0, n=4, size=64):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, size, size, generator=g)
    y = torch.zeros(n, 1, size, size)
    y[:, :, 20:40, 10:30] = 1
    x[:, :, 20:40, 10:30] += 0.5
    return x.clamp(0, 1), torch.randn(n, 384, generator=g), y


def test_forward_shapes_and_feature_reuse(tiny_kwargs):
    torch.manual_seed(0)
    model = create_model("film_unet", **tiny_kwargs).eval()
    x, t, _ = _batch()
    with torch.no_grad():
        logits = model(x, t)
        assert logits.shape == (4, 1, 64, 64)
        feats = model.encode_image(x[:1])
        many = model.decode(feats.repeat(3), t[:3])
        assert many.shape == (3, 1, 64, 64)
        torch.testing.assert_close(many[0], model(x[:1], t[:1])[0])


def test_one_training_step_lowers_the_loss(tiny_kwargs, one_training_step):
    torch.manual_seed(0)
    model = create_model("film_unet", **tiny_kwargs)
    x, t, y = _batch()
    before, after = one_training_step(model, x, t, y, lr=3e-3)
    assert after < before


def test_dice_loss_of_perfect_and_empty_predictions():
    y = torch.zeros(1, 1, 8, 8)
    y[..., :4, :] = 1
    perfect = (y * 2 - 1) * 50
    assert float(dice_loss(perfect, y)) < 1e-3
    assert float(dice_loss(torch.full_like(y, -50.0), torch.zeros_like(y))) < 1e-3


def test_save_load_gives_identical_outputs(tmp_path, tiny_kwargs):
    torch.manual_seed(0)
    model = create_model("film_unet", **tiny_kwargs)
    x, t, y = _batch()
    model.train()
    model(x, t)  # move the batch-norm running statistics away from their initial values
    model.eval()
    model.save_pretrained(tmp_path / "m", extra={"threshold": 0.4})
    loaded = PromptedSegmentationModel.from_pretrained(tmp_path / "m")
    with torch.no_grad():
        assert torch.equal(model(x, t), loaded(x, t))
    model.save_pretrained(tmp_path / "m16", dtype=torch.float16)
    half = PromptedSegmentationModel.from_pretrained(tmp_path / "m16")
    with torch.no_grad():
        assert torch.allclose(torch.sigmoid(model(x, t)), torch.sigmoid(half(x, t)), atol=2e-2)


def test_loading_a_non_model_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        PromptedSegmentationModel.from_pretrained(tmp_path)


def test_schedule_warms_up_then_decays():
    f = [warmup_cosine(s, 100, 10, 0.1) for s in range(100)]
    assert f[0] < f[5] < f[9] == 1.0
    assert f[50] < 1.0 and abs(f[99] - 0.1) < 0.01


def test_config_rejects_unknown_keys():
    with pytest.raises(ValueError, match="unknown"):
        TrainConfig.from_dict({"optim": {"learning_rate": 1}})


def _tiny_config(root, splits, out, tiny_kwargs):
    return TrainConfig.from_dict({
        "model_config": tiny_kwargs,
        "data": {"datasets": ["syn_crack", "syn_tape"], "datasets_dir": str(root), "splits_dir": str(splits),
                 "cache_size": 72, "cache_dir": None, "negative_ratio": 0.5},
        "optim": {"lr": 3e-3, "batch_size": 4, "epochs": 2, "warmup_steps": 2},
        "output_dir": str(out), "checkpoint_every": 2, "bf16": False, "device": "cpu",
    })


def test_trainer_runs_checkpoints_and_resumes(synthetic_datasets, tmp_path, tiny_kwargs):
    from drywallqa.data.grouping import make_group_split

    splits = tmp_path / "splits"
    for ds in ("syn_crack", "syn_tape"):
        make_group_split(ds, synthetic_datasets, {"train": 0.5, "val": 0.25, "test": 0.25}, seed=0).to_json(splits / f"{ds}.json")
    cfg = _tiny_config(synthetic_datasets, splits, tmp_path / "run", tiny_kwargs)
    result = Trainer(cfg, progress=False).train(max_minutes=1e-9)  # stops after the first step
    assert result["stopped"] == "time"
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    assert state["step"] == 1
    trainer = Trainer(cfg, progress=False)
    final = trainer.train(resume=True)
    assert trainer.epoch == 2 and "val_score" in final and "finished_before" not in final
    (tmp_path / "run" / "metrics.json").unlink()  # (a record a kill cut short: written again from last.pt)
    finished = Trainer(cfg, progress=False)
    finished.build_data = lambda: pytest.fail("a finished run's photos were decoded to say nothing was trained")
    again = finished.train(resume=True)  # a finished run: nothing trained, said so (the CLI a note)
    assert again == {**final, "finished_before": True}
    out = tmp_path / "run"
    for name in ("metrics.csv", "metrics.json", "curves.png", "best/config.json", "best/model.safetensors", "train_files.json"):
        assert (out / name).is_file(), name
    meta = (out / "best" / "config.json").read_text()
    assert '"threshold"' in meta
    # published valid images never reach training
    import json

    files = json.loads((out / "train_files.json").read_text())
    assert not any("/valid/" in f for group in files["train"] for f in group)
    # best/ holds the list too: evaluate --model-path RUN/best (or a copy of it) knows what the model trained on
    assert json.loads((out / "best" / "train_files.json").read_text()) == files


def test_a_resume_mid_epoch_reports_the_mean_loss_of_all_the_epoch_s_steps(synthetic_datasets, syn_splits, tmp_path,
                                                                            tiny_kwargs, monkeypatch):
    """metrics.csv's train_loss of the epoch a run stopped in was the mean of the steps after the resume alone."""
    steps = []  # each step's loss, in the stopped run and the resumed one
    one_step = Trainer.train_step

    def recorded(self, batch):
        steps.append(one_step(self, batch)["loss"])
        return {"loss": steps[-1]}

    monkeypatch.setattr(Trainer, "train_step", recorded)
    cfg = _tiny_config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs)
    assert Trainer(cfg, progress=False).train(max_minutes=1e-9)["stopped"] == "time"  # after its first step
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    assert state["step"] == 1 and state["epoch_losses"] == [{"loss": steps[0]}]
    resumed = Trainer(cfg, progress=False)
    resumed.train(resume=True)
    n = resumed.steps_per_epoch
    assert n > 2 and len(steps) == 2 * n and [h["step"] for h in resumed.history] == [n, 2 * n]
    assert resumed.history[0]["train_loss"] == pytest.approx(sum(steps[:n]) / n, rel=1e-6)  # 1 step before, n-1 after
    assert resumed.history[1]["train_loss"] == pytest.approx(sum(steps[n:]) / n, rel=1e-6)
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=False)["epoch_losses"] == []  # at an epoch's end


def test_a_run_stopped_mid_epoch_and_resumed_is_the_run_it_continues(synthetic_datasets, syn_splits, tmp_path,
                                                                     tiny_kwargs):
    whole = Trainer(_tiny_config(synthetic_datasets, syn_splits, tmp_path / "whole", tiny_kwargs), progress=False)
    whole.train()
    cfg = _tiny_config(synthetic_datasets, syn_splits, tmp_path / "stopped", tiny_kwargs)
    assert Trainer(cfg, progress=False).train(max_minutes=1e-9)["stopped"] == "time"  # after its first step
    resumed = Trainer(cfg, progress=False)
    resumed.train(resume=True)
    for done, again in zip(whole.history, resumed.history, strict=True):
        for key in ("train_loss", "val_score"):
            assert again[key] == pytest.approx(done[key], rel=1e-5, abs=1e-7), (key, done, again)


def test_init_from_starts_from_saved_weights(tiny_model_dir, tmp_path, tiny_kwargs):
    cfg = TrainConfig.from_dict({"model_config": tiny_kwargs, "init_from": str(tiny_model_dir),
                                 "output_dir": str(tmp_path / "ft"), "device": "cpu"})
    trainer = Trainer(cfg, progress=False)
    saved = PromptedSegmentationModel.from_pretrained(tiny_model_dir).state_dict()
    for k, v in trainer.model.state_dict().items():
        assert torch.equal(v, saved[k]), k


def test_init_from_refuses_a_changed_model_config(tiny_model_dir, tmp_path, tiny_kwargs):
    """(It warned and fine-tuned the saved model: a run asking for another head_dim or encoder got the old one.)"""
    cfg = TrainConfig.from_dict({"model_config": {**tiny_kwargs, "head_dim": 4}, "init_from": str(tiny_model_dir),
                                 "output_dir": str(tmp_path / "ft"), "device": "cpu"})
    with pytest.raises(ValueError, match="model_config.head_dim 4, the saved model's 8"):
        Trainer(cfg, progress=False)


def test_init_from_may_change_the_training_size(tiny_model_dir, tmp_path, tiny_kwargs, recwarn):
    """Crops and validation at another input size; the weights are the saved ones."""
    size = tiny_kwargs["image_size"] + 32
    cfg = TrainConfig.from_dict({"model_config": {"image_size": size}, "init_from": str(tiny_model_dir),
                                 "output_dir": str(tmp_path / "ft"), "device": "cpu"})
    trainer = Trainer(cfg, progress=False)
    assert trainer.image_size == trainer.model.config.image_size == size and not recwarn.list
    saved = PromptedSegmentationModel.from_pretrained(tiny_model_dir).state_dict()
    assert all(torch.equal(v, saved[k]) for k, v in trainer.model.state_dict().items())


def test_canonical_prompt_set(synthetic_datasets, tmp_path, tiny_kwargs):
    cfg = TrainConfig.from_dict({"model_config": tiny_kwargs, "output_dir": str(tmp_path / "c"), "device": "cpu",
                                 "data": {"datasets": ["syn_crack", "syn_tape"], "prompt_set": "canonical"}})
    assert Trainer(cfg, progress=False).prompts == ["segment crack", "segment taping area"]
    with pytest.raises(ValueError, match="prompt_set"):
        TrainConfig.from_dict({"data": {"prompt_set": "some"}})



def test_each_item_is_drawn_alike_by_any_worker_and_after_a_resume(synthetic_datasets, syn_splits, tmp_path, tiny_kwargs):
    """Loader streams seeded per (epoch, skipped batches, worker) gave the rest of an epoch resumed mid-way other
    augmentations and negative pairs than the run it continued had (its val scores went another way: 0.585 -> 0.460
    at the last epoch of a small run); now each item's draws come from the seed, the epoch and the item alone."""
    from torch.utils.data import DataLoader, Subset

    from drywallqa.engine.trainer import _WorkerSeeder

    cfg = _tiny_config(synthetic_datasets, syn_splits, tmp_path / "w", tiny_kwargs)
    cfg.data.negative_ratio = 1.0
    trainer = Trainer(cfg, progress=False)
    trainer.build_data()

    def items(loader):
        return [(b["pixel_values"][k], int(b["prompt_index"][k]), b["mask"][k]) for b in loader
                for k in range(len(b["prompt_index"]))]

    def same(a, b):
        return len(a) == len(b) and all(torch.equal(x[0], y[0]) and x[1] == y[1] and torch.equal(x[2], y[2])
                                        for x, y in zip(a, b))

    whole = items(trainer._epoch_loader(1, 0))
    resumed = items(trainer._epoch_loader(1, 2))  # the first two batches done before the stop
    assert same(resumed, whole[2 * cfg.optim.batch_size:])
    cfg.data.num_workers = 2
    assert same(items(trainer._epoch_loader(1, 0)), whole)  # two workers: the same items
    assert not same(items(trainer._epoch_loader(2, 0)), whole)  # another epoch: other draws
    # forked workers draw each item from its own seed, not from one copied random state
    trainer.train_set.seed_items([0, 0])
    loader = DataLoader(Subset(trainer.train_set, [0, 1, 0, 1]), batch_size=1, num_workers=2,
                        worker_init_fn=_WorkerSeeder(0, 0))
    drawn = items(loader)
    assert same(drawn[:2], drawn[2:]) and not torch.equal(drawn[0][0], drawn[1][0])


def test_ema_weights_are_validated_saved_and_resumed(synthetic_datasets, syn_splits, tmp_path, tiny_kwargs, load_script):
    cfg = _tiny_config(synthetic_datasets, syn_splits, tmp_path / "ema", tiny_kwargs)
    cfg.optim.ema_decay, cfg.optim.epochs = 0.5, 1
    assert Trainer(cfg, progress=False).train(max_minutes=1e-9)["stopped"] == "time"  # one step, then a checkpoint
    state = torch.load(tmp_path / "ema" / "last.pt", weights_only=False)
    assert state["ema"] is not None
    resumed = Trainer(cfg, progress=False)
    resumed.build_data()
    resumed.setup(resume=True)
    for k, v in resumed.ema.state_dict().items():
        assert torch.equal(v, state["ema"][k]), k
    resumed.train(resume=True)
    best = PromptedSegmentationModel.from_pretrained(tmp_path / "ema" / "best").state_dict()
    ema, raw = resumed.ema.module.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(best[k], ema[k]) for k in best)  # the EMA copy is what gets saved
    assert not all(torch.equal(best[k], raw[k]) for k in best)  # and it is not the raw weights
    # scripts/export_checkpoint.py: the final weights (or final EMA copy) of last.pt as a model folder
    export = load_script("export_checkpoint").export
    assert export(tmp_path / "ema", tmp_path / "final")["step"] == resumed.step
    export(tmp_path / "ema", tmp_path / "final_ema", ema=True)
    for dest, expected in (("final", raw), ("final_ema", ema)):
        got = PromptedSegmentationModel.from_pretrained(tmp_path / dest / "best").state_dict()
        assert all(torch.equal(got[k], expected[k]) for k in got), dest
        assert (tmp_path / dest / "train_files.json").is_file()
    with pytest.raises(SystemExit, match="last.pt: not found"):
        export(tmp_path / "final", tmp_path / "again")  # an exported folder is not a run
    cfg.optim.ema_decay = 1.5
    with pytest.raises(ValueError, match="ema_decay"):
        Trainer(cfg, progress=False).setup()


def test_lovasz_hinge_is_zero_when_right_with_margin_and_follows_iou():
    from drywallqa.losses import lovasz_hinge

    y = torch.zeros(1, 1, 8, 8)
    y[..., :4, :] = 1
    assert float(lovasz_hinge((y * 2 - 1) * 2.0, y)) == 0.0  # every pixel right with margin >= 1
    # all logits 0: every error is 1, and the loss is the Jaccard loss of predicting everything wrong (= 1)
    assert float(lovasz_hinge(torch.zeros_like(y), y)) == pytest.approx(1.0)
    # a prediction missing half the object loses more than one missing a quarter of it
    half, quarter = (y * 2 - 1) * 2.0, (y * 2 - 1) * 2.0
    half[..., :2, :] = -2.0
    quarter[..., :1, :] = -2.0
    assert float(lovasz_hinge(half, y)) > float(lovasz_hinge(quarter, y)) > 0
    # an empty target: only the highest logit is pushed down
    logits = torch.full((1, 1, 4, 4), -3.0, requires_grad=True)
    with torch.no_grad():
        logits[0, 0, 1, 2] = 0.5
    lovasz_hinge(logits, torch.zeros(1, 1, 4, 4)).backward()
    assert torch.count_nonzero(logits.grad) == 1 and logits.grad[0, 0, 1, 2] > 0


def test_init_from_default_is_the_shipped_model(tmp_path):
    from drywallqa.models.shipped import shipped_model_dir

    cfg = TrainConfig.from_dict({"init_from": "default", "output_dir": str(tmp_path / "d"), "device": "cpu"})
    model = Trainer.build_model(cfg)
    shipped = PromptedSegmentationModel.from_pretrained(shipped_model_dir()).state_dict()
    assert all(torch.equal(v, shipped[k]) for k, v in model.state_dict().items())


def test_config_composite_pairs_add_transplant_items(synthetic_datasets, syn_splits, tmp_path, tiny_kwargs):
    cfg = _tiny_config(synthetic_datasets, syn_splits, tmp_path / "t", tiny_kwargs)
    trainer = Trainer(cfg, progress=False)
    trainer.build_data()
    plain = len(trainer.train_set)
    cfg.data.composite_pairs, cfg.data.composite_ratio = [["syn_crack", "syn_tape"]], 0.5
    trainer = Trainer(cfg, progress=False)
    trainer.build_data()
    assert len(trainer.train_set) == plain + round(0.5 * len(trainer.train_set.images))
    assert trainer.train_set.composite_pairs == [(0, 1)]
    assert trainer.train_set[len(trainer.train_set) - 1]["mask"].shape == (1, 64, 64)
    cfg.data.composite_pairs = [["syn_crack", "cracks_typo"]]
    with pytest.raises(ValueError, match="cracks_typo"):
        Trainer(cfg, progress=False).build_data()


def test_train_only_moves_the_named_parameters_and_nothing_else(synthetic_datasets, syn_splits, tmp_path, tiny_kwargs):
    cfg = _tiny_config(synthetic_datasets, syn_splits, tmp_path / "run", {**tiny_kwargs, "refine_channels": 4})
    cfg.train_only = ["refine"]  # the refinement level (refine_lateral.*, refine.*)
    trainer = Trainer(cfg, progress=False)
    trainer.build_data()
    trainer.setup()
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    loader = torch.utils.data.DataLoader(trainer.train_set, batch_size=4)
    for _, batch in zip(range(2), loader):
        trainer.train_step(batch)
    after = trainer.model.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved and all(k.startswith("refine") for k in moved), sorted(moved)
    assert any(k.startswith("refine.out") for k in moved)
    assert any("running_mean" in k for k in moved)  # the trained level's own batch norms do update
    cfg.train_only = ["nothing_like_this"]
    with pytest.raises(ValueError, match="matches no parameter"):
        Trainer(cfg, progress=False).setup()


def test_validation_runs_the_weights_in_the_layout_a_loaded_model_has(synthetic_datasets, syn_splits, tmp_path, tiny_kwargs):
    """Training keeps the weights channels-last, a loaded model has them contiguous, and the two layouts give
    results that differ in the last bits (which flip pixels at a threshold now and then): the trainer validates
    in the loaded layout and trains on in channels-last, with the same parameter objects."""
    cfg = _tiny_config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs)
    cfg.optim.ema_decay = 0.9
    trainer = Trainer(cfg, progress=False)
    trainer.build_data()
    trainer.setup()
    weights = lambda m: [p for p in m.parameters() if p.dim() == 4]
    identity = [id(p) for p in weights(trainer.model)]
    seen = []

    class Spy:
        def __call__(self, segmenter):
            seen.append([p.is_contiguous() for p in weights(segmenter.model)])
            return self

        def shared(self):
            return {"val_score": 0.0}

    trainer.validator = Spy()
    assert trainer.validate() == {"val_score": 0.0}
    assert seen and all(seen[0]), "validated in channels-last, not as a loaded model"
    assert trainer.eval_model is not trainer.model  # the EMA copy is what is validated
    for model in (trainer.model, trainer.eval_model):
        assert all(p.is_contiguous(memory_format=torch.channels_last) for p in weights(model))
    assert [id(p) for p in weights(trainer.model)] == identity


def test_the_kept_checkpoint_scores_in_evaluate_what_the_trainer_recorded(synthetic_datasets, syn_splits, tmp_path, tiny_kwargs):
    """Training, ``evaluate`` and shipping share one validator: the val mIoU the trainer recorded for ``best/``
    is what ``evaluate`` measures for that folder on the same photos at the same threshold (the synthetic
    photos are at the model's input size, the one setting the trainer's fast mode changes)."""
    from drywallqa.data.grouping import samples_of_part
    from drywallqa.engine.evaluator import EvalSet, evaluate_set
    from drywallqa.engine.segmenter import Segmenter

    cfg = _tiny_config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs)
    cfg.optim.epochs = 1
    Trainer(cfg, progress=False).train()
    meta = json.loads((tmp_path / "run" / "best" / "config.json").read_text())
    seg = Segmenter.load(tmp_path / "run" / "best")
    assert seg.threshold == meta["threshold"]
    for ds in ("syn_crack", "syn_tape"):
        samples = samples_of_part(ds, "val", syn_splits, synthetic_datasets, cfg.data.exclude_published)
        rows = evaluate_set(seg, EvalSet("group-clean val", ds, samples), ["syn_crack", "syn_tape"], progress=False).rows
        assert rows[0]["mIoU"] == pytest.approx(meta["val"][f"val_mIoU_{ds}"], abs=1e-6), ds


def test_a_kill_while_a_model_is_written_leaves_the_earlier_one_whole(tmp_path, tiny_kwargs, monkeypatch):
    """save_pretrained writes each file whole (config last), and the trainer's best/ is replaced whole: a kill
    mid-write (here: an error inside safetensors) leaves the earlier model loadable, with its own outputs."""
    import drywallqa.models.base as base

    torch.manual_seed(0)
    old = create_model("film_unet", **tiny_kwargs)
    folder = old.save_pretrained(tmp_path / "model", extra={"epoch": 1})
    assert len({(folder / name).stat().st_mode for name in ("config.json", "model.safetensors")}) == 1  # not private
    old.save_pretrained(tmp_path / "best", extra={"epoch": 1})
    x, emb = torch.rand(1, 3, 64, 64), torch.randn(1, 384)
    with torch.no_grad():
        expected = old.eval()(x, emb)
    new = create_model("film_unet", **tiny_kwargs)
    with torch.no_grad():
        for p in new.parameters():
            p.add_(1.0)

    def killed(state, filename, metadata=None):
        open(filename, "wb").write(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(base, "save_file", killed)
    with pytest.raises(KeyboardInterrupt):
        new.save_pretrained(folder, extra={"epoch": 2})
    trainer = Trainer.__new__(Trainer)  # only what save_best uses
    trainer.out = tmp_path
    monkeypatch.setattr(Trainer, "eval_model", property(lambda self: new))
    with pytest.raises(KeyboardInterrupt):
        trainer.save_best(extra={"epoch": 2})
    for kept in (folder, tmp_path / "best"):
        assert sorted(p.name for p in kept.iterdir()) == ["config.json", "model.safetensors"]
        loaded = PromptedSegmentationModel.from_pretrained(kept).eval()
        assert json.loads((kept / "config.json").read_text())["epoch"] == 1
        with torch.no_grad():
            assert torch.equal(loaded(x, emb), expected)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no half-written folder left either


def test_resume_refuses_other_settings_and_damaged_checkpoints(synthetic_datasets, syn_splits, tmp_path, tiny_kwargs):
    """Another batch size once skipped or repeated steps silently, another model failed in load_state_dict; a damaged
    last.pt was a traceback. Epochs (and where the data lie) may change."""
    import dataclasses

    cfg = _tiny_config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs)
    Trainer(cfg, progress=False).train(max_minutes=1e-9)
    bigger = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, batch_size=8, lr=1e-3))
    with pytest.raises(ValueError, match=r"optim.batch_size: 4 in the run, 8 now; optim.lr: 0.003 in the run, 0.001 now"):
        Trainer(bigger, progress=False).train(resume=True)
    longer = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, epochs=3))
    assert Trainer(longer, progress=False).train(resume=True, max_minutes=1e-9)["stopped"] == "time"
    last = tmp_path / "run" / "last.pt"
    for damage in (lambda: last.write_bytes(last.read_bytes()[:1000]), lambda: last.write_bytes(b""),
                   lambda: torch.save({"step": 1}, last)):
        damage()
        with pytest.raises(ValueError, match=str(last)):
            Trainer(cfg, progress=False).train(resume=True)


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def test_resume_loads_no_code_a_last_pt_names(synthetic_datasets, syn_splits, tmp_path, tiny_kwargs):
    """last.pt was loaded with full pickle (weights_only=False): a file there that names code ran it on resume."""
    cfg = _tiny_config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs)
    Trainer(cfg, progress=False).train(max_minutes=1e-9)
    last, ran = tmp_path / "run" / "last.pt", tmp_path / "ran"
    state = torch.load(last, weights_only=False)
    assert Trainer(cfg, progress=False).train(resume=True, max_minutes=1e-9)["stopped"] == "time"  # its own: resumes
    torch.save({**state, "history": [_RunsCode(ran)]}, last)
    with pytest.raises(ValueError, match="which a checkpoint never holds"):
        Trainer(cfg, progress=False).train(resume=True)
    assert not ran.exists()


def test_overwrite_replaces_the_old_run_whole_and_bad_folders_are_named_before_the_data(
        synthetic_datasets, syn_splits, tmp_path, tiny_kwargs):
    import dataclasses

    cfg = _tiny_config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs)
    Trainer(dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, epochs=1)), progress=False).train()
    assert (tmp_path / "run" / "best").is_dir() and (tmp_path / "run" / "metrics.json").is_file()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    assert Trainer(cfg, progress=False).train(overwrite=True, max_minutes=1e-9)["stopped"] == "time"
    left = {p.name for p in (tmp_path / "run").iterdir()}
    assert "best" not in left and "metrics.json" not in left and {"last.pt", "notes.txt"} <= left  # not the old best
    (tmp_path / "file").write_text("x")
    for where in ({"output_dir": str(tmp_path / "file")}, {"output_dir": str(tmp_path / "file" / "run")},
                  {"data": dataclasses.replace(cfg.data, cache_dir=str(tmp_path / "file")), "output_dir": str(tmp_path / "new")}):
        trainer = Trainer(dataclasses.replace(cfg, **where), progress=False)
        trainer.build_data = lambda: pytest.fail("the data were read first")
        with pytest.raises(ValueError, match="output_dir|data.cache_dir"):
            trainer.train()


@pytest.mark.parametrize("override, words", [
    ("model_config.foo=1", "model_config has no key foo"), ("model_config.encoder=bogus", "unknown encoder 'bogus'"),
    ("model_config.image_size=0", "image_size must be a whole multiple of 32"), ("model=bogus", "unknown model 'bogus'"),
    ("data.datasets=[bogus]", "unknown dataset 'bogus'"), ("device=cudaXYZ", "device must be auto, cpu, cuda, cuda:N or mps")])
def test_config_values_no_run_can_use_are_named_before_anything_runs(override, words):
    with pytest.raises(ValueError, match=words):
        TrainConfig().with_overrides([override]).validate()


def test_a_device_this_machine_lacks_is_a_value_error_when_it_is_used(tiny_model_dir):
    """A config may name a GPU on a machine without one (a GPU bundle is made on a CPU machine); the trainer and
    Segmenter.load, which would use it, refuse it with a ValueError (torch asserts)."""
    from drywallqa import Segmenter

    if torch.cuda.device_count() > 7:
        pytest.skip("this machine has 8 GPUs")
    config = TrainConfig().with_overrides(["device=cuda:7"]).validate()
    with pytest.raises(ValueError, match="device 'cuda:7': this machine has"):
        Trainer(config, progress=False)
    with pytest.raises(ValueError, match="device 'cuda:7': this machine has"):
        Segmenter.load(tiny_model_dir, device="cuda:7")


def test_without_workers_the_batches_repeat_run_to_run_and_match_one_worker(synthetic_datasets, syn_splits, tmp_path,
                                                                             tiny_kwargs):
    """albumentations draws from a generator of its own: unseeded in the main process, two runs of one config
    trained on other augmentations (num_workers: 0, every CPU config)."""
    def batches(workers):
        cfg = _tiny_config(synthetic_datasets, syn_splits, tmp_path / "w", tiny_kwargs)
        cfg.data.num_workers = workers
        trainer = Trainer(cfg, progress=False)
        trainer.build_data()
        trainer.train_set.transform.set_random_seed(workers + 123)  # whatever state an earlier run left
        return [b["pixel_values"] for b in trainer._epoch_loader(1, 0)]

    first, second, one_worker = batches(0), batches(0), batches(1)
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    assert all(torch.equal(a, b) for a, b in zip(first, one_worker))


def test_an_empty_val_part_is_named_as_such(synthetic_datasets, syn_splits, tmp_path, tiny_kwargs):
    """The photos were there; the manifest put none in val (a small dataset), which the message once hid."""
    import shutil

    splits = tmp_path / "splits_no_val"
    shutil.copytree(syn_splits, splits)
    manifest = json.loads((splits / "syn_crack.json").read_text())
    manifest["parts"]["train"] += manifest["parts"]["val"]
    manifest["parts"]["val"] = []
    (splits / "syn_crack.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="has no images in part 'val': .*syn_crack.json puts no photo in it"):
        Trainer(_tiny_config(synthetic_datasets, splits, tmp_path / "run", tiny_kwargs), progress=False).build_data()


def test_a_val_part_of_published_photos_only_says_what_to_do(synthetic_datasets, syn_splits, tmp_path, tiny_kwargs):
    """A small export whose val part fell wholly in its published valid split (left out by data.exclude_published):
    the run stopped naming the setting and nothing to do."""
    import shutil

    splits = tmp_path / "splits_val_published"
    shutil.copytree(syn_splits, splits)
    manifest = json.loads((splits / "syn_crack.json").read_text())
    everything = [f for files in manifest["parts"].values() for f in files]
    manifest["parts"] = {"train": [f for f in everything if not f.startswith("valid/")],
                         "val": [f for f in everything if f.startswith("valid/")], "test": []}
    (splits / "syn_crack.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"has no images in part 'val': all \d+ of its photos are from the published "
                                         r"splits left out \(valid, test; data.exclude_published: split the dataset "
                                         r"again .*drywallqa data split.*data.exclude_published: \[\]"):
        Trainer(_tiny_config(synthetic_datasets, splits, tmp_path / "run", tiny_kwargs), progress=False).build_data()


def test_resume_takes_an_earlier_release_checkpoint_and_the_runs_own_config_yaml(synthetic_datasets, syn_splits,
                                                                                 tmp_path, tiny_kwargs):
    """A checkpoint of 0.4 lacks the keys added since (their defaults are what it trained with), and config.yaml
    gives tuples back as lists: neither is a changed setting."""
    cfg = _tiny_config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs)
    cfg.model_config = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.model_config.items()}
    Trainer(cfg, progress=False).train(max_minutes=1e-9)
    last = tmp_path / "run" / "last.pt"
    state = torch.load(last, weights_only=False)
    del state["config"]["distill"], state["config"]["optim"]["encoder_lr_ratio"], state["config"]["train_only"]
    torch.save(state, last)
    again = TrainConfig.from_yaml(tmp_path / "run" / "config.yaml")
    assert Trainer(again, progress=False).train(resume=True, max_minutes=1e-9)["stopped"] == "time"


def test_overwrite_never_removes_the_weights_a_run_starts_from_and_a_failed_run_leaves_no_folder(
        synthetic_datasets, syn_splits, tmp_path, tiny_kwargs):
    import dataclasses

    cfg = _tiny_config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs)
    Trainer(dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, epochs=1)), progress=False).train()
    start = dataclasses.replace(cfg, init_from=str(tmp_path / "run" / "best"), model_config={})
    with pytest.raises(ValueError, match="init_from .* lies in output_dir"):
        Trainer(start, progress=False).train(overwrite=True)
    assert (tmp_path / "run" / "best" / "model.safetensors").is_file()
    typo = dataclasses.replace(cfg, output_dir=str(tmp_path / "typo" / "run"),
                               data=dataclasses.replace(cfg.data, datasets_dir=str(tmp_path / "nowhere")))
    with pytest.raises(ValueError):
        Trainer(typo, progress=False).train()
    assert not (tmp_path / "typo").exists()


def test_a_checkpoint_written_under_numpy_1_still_loads(tmp_path, monkeypatch):
    """numpy 1 pickles its arrays (numpy's random state in last.pt) as numpy.core.multiarray._reconstruct, numpy 2 as
    numpy._core...: a run begun before numpy was upgraded must resume, not be refused as naming code."""
    import random

    import numpy as np

    from drywallqa.engine.run_folder import read_checkpoint

    core = pytest.importorskip("numpy._core.multiarray")
    state = {"model": {}, "optimizer": {}, "step": 0, "epoch": 0, "best_score": -1.0, "history": []}
    state["rng"] = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    monkeypatch.setattr(core._reconstruct, "__module__", "numpy.core.multiarray")  # as numpy 1 names it
    torch.save(state, tmp_path / "last.pt")
    monkeypatch.undo()
    assert b"numpy.core.multiarray" in (tmp_path / "last.pt").read_bytes()
    back = read_checkpoint(tmp_path / "last.pt", "cpu")
    assert np.array_equal(back["rng"]["numpy"][1], state["rng"]["numpy"][1])


def test_the_training_crop_keeps_each_mask_on_its_pixels():
    """The random crop resized the photo by pixel centres (linear) and the mask by OpenCV's nearest, which is half a
    pixel off: on a 7-px checkerboard enlarged about twice, 6% of pixels (9% at worst) were labelled as their
    neighbour; a 2-px crack's label slid off it."""
    import random

    import numpy as np

    from drywallqa.data.transforms import train_transform

    board = np.kron((np.indices((20, 20)).sum(0) % 2).astype(np.uint8) * 255, np.ones((7, 7), np.uint8))
    crop = train_transform(256).transforms[0]
    wrong = []
    for seed in range(30):
        random.seed(seed)
        np.random.seed(seed)
        crop.set_random_seed(seed)
        out = crop(image=np.stack([board] * 3, -1), mask=(board > 127).astype(np.uint8))
        wrong.append(float(((out["image"][..., 0] > 127) != out["mask"].astype(bool)).mean()))
    assert max(wrong) < 0.002, max(wrong)


@pytest.mark.parametrize("part, said", [("train", "shares"), ("test", "no longer held out"), ("val", None)])
def test_a_val_part_that_is_no_held_out_val_part_is_warned_of(synthetic_datasets, syn_splits, tmp_path, tiny_kwargs,
                                                               caplog, part, said):
    """``data.val_part=train`` chose best/ on the photos it trained on (its val mIoU as good as the train loss let it
    be), and ``test`` on the part it is then scored on: recorded in selected_on, without a word."""
    cfg = _tiny_config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs)
    cfg.data.val_part = part
    with caplog.at_level("WARNING", logger="drywallqa.engine.trainer"):
        Trainer(cfg, progress=False).build_data()
    warned = [r.getMessage() for r in caplog.records if "data.val_part" in r.getMessage()]
    assert (len(warned) == 1 and said in warned[0]) if said else not warned, warned


def test_a_resume_with_more_epochs_says_how_the_learning_rate_moves(synthetic_datasets, syn_splits, tmp_path,
                                                                      tiny_kwargs, caplog):
    """More epochs on --resume is allowed (what a resume is for), but the warm-up/cosine schedule is stretched to the
    new end, so the rate jumps up at the step resumed from: it happened without a word."""
    cfg = _tiny_config(synthetic_datasets, syn_splits, tmp_path / "run", tiny_kwargs)
    cfg.optim.epochs = 1
    Trainer(cfg, progress=False).train()
    cfg.optim.epochs = 3
    with caplog.at_level("WARNING", logger="drywallqa.engine.trainer"):
        Trainer(cfg, progress=False).train(resume=True, max_minutes=1e-9)
    said = [r.getMessage() for r in caplog.records if "optim.epochs 1 -> 3" in r.getMessage()]
    assert len(said) == 1 and "now ends at epoch 3" in said[0], caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="drywallqa.engine.trainer"):  # resumed again as it now trains: no word
        Trainer(cfg, progress=False).train(resume=True, max_minutes=1e-9)
    assert "optim.epochs" not in caplog.text, caplog.text
