import re
from pathlib import Path

import pytest

from drywallqa.engine.config import TrainConfig
from drywallqa.models import get_model_class
from drywallqa.models.shipped import SHIPPED_MODELS

from conftest import says

ROOT = Path(__file__).parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
# the configs of past runs (init_from a run folder only their machine had), kept next to their experiment record
# (dataset declarations beside them are named *.dataset.yaml)
RECORDS = sorted(p for p in (ROOT / "docs" / "experiments").glob("*/*.yaml") if not p.name.endswith(".dataset.yaml"))


@pytest.mark.parametrize("path", CONFIGS + RECORDS, ids=[str(p.relative_to(ROOT)) for p in CONFIGS + RECORDS])
def test_shipped_configs_parse(path):
    cfg = TrainConfig.from_yaml(path)
    model_cls = get_model_class(cfg.model)
    model_cls.config_class(**{k: v for k, v in cfg.model_config.items()})


def fresh_clone_problem(init_from: str | None) -> str | None:
    """Why a config starting from ``init_from`` would not run on a fresh clone (None: it would)."""
    if init_from is None or init_from in SHIPPED_MODELS:
        return None
    path = Path(init_from)
    resolved = (path if path.is_absolute() else ROOT / path).resolve()
    inside = resolved.is_relative_to(ROOT.resolve())
    if not inside:
        return f"init_from {init_from!r} lies outside the repository"
    if resolved.relative_to(ROOT.resolve()).parts[:1] == ("runs",):
        return f"init_from {init_from!r} is a run folder (runs/...), which a fresh clone does not have"
    if not resolved.is_dir():
        return f"init_from {init_from!r} is not a folder of the repository"
    return None


def test_configs_are_recipes_that_run_on_a_fresh_clone():
    """configs/ holds recipes: each starts from scratch, from a shipped model (init_from: default, fast) or from a
    model folder in the repository, never from runs/ (those configs belong next to their experiment record in
    docs/experiments/<name>/)."""
    assert len(CONFIGS) >= 5
    problems = {p.name: why for p in CONFIGS if (why := fresh_clone_problem(TrainConfig.from_yaml(p).init_from))}
    assert not problems, problems
    for bad in ("runs/default/best", "./runs/x", str(ROOT / "runs" / "x"), "configs/../runs/x", "/tmp/elsewhere"):
        assert fresh_clone_problem(bad), bad
    assert fresh_clone_problem("src/drywallqa/weights/fast") is None


def test_key_value_overrides_reach_every_field():
    cfg = TrainConfig().with_overrides(["optim.epochs=3", "optim.lr=5e-4", "data.datasets=[taping]", "seed=7",
                                        "model_config.encoder=hed_vgg16", "model_config.encoder_options={stages: 3}",
                                        "data.dataset_repeats.taping=2", "optim.ema_decay=null", "output_dir=runs/x"])
    assert cfg.optim.epochs == 3 and cfg.optim.lr == 5e-4 and cfg.data.datasets == ["taping"] and cfg.seed == 7
    assert cfg.model_config == {"encoder": "hed_vgg16", "encoder_options": {"stages": 3}}
    assert cfg.data.dataset_repeats == {"taping": 2} and cfg.optim.ema_decay is None and cfg.output_dir == "runs/x"
    assert TrainConfig().with_overrides([]).to_dict() == TrainConfig().to_dict()
    for bad, words in (("optim.epoch=3", "unknown key 'optim.epoch'"), ("epochs", "KEY=VALUE"), ("optim=3", None),
                       ("seed.x=1", "has no keys"), ("optim.lr=[1", "not YAML")):
        with pytest.raises((ValueError, TypeError), match=words):
            TrainConfig().with_overrides([bad])


def test_train_cli_refuses_bad_overrides_before_reading_data(tmp_path):
    from typer.testing import CliRunner

    from drywallqa.cli import app

    config = tmp_path / "c.yaml"
    config.write_text("output_dir: " + str(tmp_path / "run") + "\n")
    for override, words in (("optim.epochs=0", "optim.epochs"), ("optim.epoch=3", "unknown key")):
        r = CliRunner().invoke(app, ["train", str(config), override], terminal_width=300)
        assert r.exit_code == 2 and words in r.output, r.output
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("override, read", [("optim.epochs=1_0", "10"), ("optim.epochs=1:30", "90"),
                                            ("optim.batch_size=010", "8"), ("data.cache_size=0x200", "512"),
                                            ("optim.lr=0b1", "1")])
def test_an_override_number_yaml_reads_otherwise_than_in_decimal_is_refused(override, read):
    """YAML 1.1 reads "1_0" as 10 (a typo of 1.0, which --epochs refuses), "010" as 8 (octal) and "1:30" as 90 (base
    60): ``optim.epochs=1_0`` trained 10 epochs, ``optim.batch_size=010`` batches of 8, without a word."""
    with pytest.raises(ValueError, match=re.escape(f"would be read as {read}")):
        TrainConfig().with_overrides([override])
    for fine, value in (("optim.epochs=+5", 5), ("optim.lr=5e-4", 5e-4), ("optim.lr=.5", 0.5), ("seed=007", 7),
                        ("optim.lr=1.", 1.0)):
        cfg = TrainConfig().with_overrides([fine])
        assert getattr(cfg.optim if fine.startswith("optim") else cfg, fine.split("=")[0].split(".")[-1]) == value


@pytest.mark.parametrize("override, key", [
    ("data.cache_size=-5", "data.cache_size"), ("data.cache_size=abc", "data.cache_size"),
    ("data.negative_ratio=abc", "data.negative_ratio"), ("data.num_workers=-1", "data.num_workers"),
    ("loss.bce=abc", "loss.bce"), ("loss.dice=-1", "loss.dice"), ("model_config=5", "model_config"),
    ("output_dir=[1, 2]", "output_dir"), ("data.datasets=cracks", "data.datasets"), ("data.datasets=[]", "data.datasets"),
    ("optim.lr='0.001'", "optim.lr"), ("optim.lr=true", "optim.lr"), ("seed=1.5", "seed"), ("bf16=maybe", "bf16"),
    ("optim.ema_decay=2", "optim.ema_decay"), ("data.dataset_repeats.taping=0", "data.dataset_repeats"),
    ("data.max_images=0", "data.max_images"), ("threads=0", "threads"), ("train_only=refine", "train_only"),
])
def test_every_config_value_is_checked_before_a_run(override, key):
    """A value of the wrong type or out of range is refused naming its key, not met as a traceback mid-run."""
    with pytest.raises(ValueError, match=re.escape(key)):
        TrainConfig().with_overrides([override])


def test_a_yaml_exponent_is_a_number_in_a_config_file(tmp_path):
    (tmp_path / "c.yaml").write_text("optim: {lr: 5e-4}\nloss: {lovasz: 1e-1}\n")  # YAML 1.1 reads these as text
    cfg = TrainConfig.from_yaml(tmp_path / "c.yaml")
    assert cfg.optim.lr == 5e-4 and cfg.loss.lovasz == 0.1


def test_train_without_the_datasets_says_where_it_looked(tmp_path):
    from typer.testing import CliRunner

    from drywallqa.cli import app

    res = CliRunner().invoke(app, ["train", str(ROOT / "configs" / "default.yaml"), f"data.datasets_dir={tmp_path / 'none'}",
                                   "data.max_images=2", "--output-dir", str(tmp_path / "run")], terminal_width=300)
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit), (res.output, res.exception)  # before work
    said = re.sub(r"[\s│]+", " ", res.output)  # (the message in a box: a long path broken across its lines)
    assert "dataset 'cracks':" in said and "not found" in said and "DRYWALLQA_DATASETS" in said, res.output


def test_a_config_that_is_no_mapping_and_malformed_pairs_are_named(tmp_path):
    from drywallqa.engine.config import TrainConfig

    for text, kind in (("- a\n- b\n", "list"), ("3\n", "int")):
        (tmp_path / "c.yaml").write_text(text)
        with pytest.raises(ValueError, match=f"c.yaml: a training config is a mapping .*got {kind}"):
            TrainConfig.from_yaml(tmp_path / "c.yaml")
    with pytest.raises(ValueError, match=r"data.composite_pairs must be a list of \[source, target\]"):
        TrainConfig().with_overrides(["data.composite_pairs=[cracks]"]).validate()


def test_train_out_empty_is_refused_not_ignored(tmp_path):
    from typer.testing import CliRunner

    from drywallqa.cli import app

    res = CliRunner().invoke(app, ["train", str(Path(__file__).parents[1] / "configs" / "default.yaml"), "--out", ""])
    assert res.exit_code == 2 and "--out: must not be empty" in " ".join(res.output.replace("│", " ").split())


def test_a_key_given_twice_in_a_yaml_file_is_named_not_dropped(tmp_path):
    """PyYAML keeps the last of two equal keys: a second `optim:` section silently dropped the first one's lr and
    batch size (a dataset YAML's prompts, a zero-shot config's options the same). Merge keys still override."""
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.data.registry import load_dataset_config
    from drywallqa.zeroshot.pipeline import ZeroShotConfig

    (tmp_path / "c.yaml").write_text("optim:\n  lr: 0.01\n  batch_size: 4\nseed: 1\noptim:\n  epochs: 3\n")
    res = CliRunner().invoke(app, ["train", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "c.yaml")],  # no run
                             terminal_width=300)
    assert res.exit_code == 2 and says(res.output, "c.yaml: not valid YAML (line 5, column 1: the key 'optim' is given "
                                       "twice in one mapping (first on line 1)"), res.output
    with pytest.raises(ValueError, match="the key 'encoder' is given twice"):
        TrainConfig().with_overrides(["model_config={encoder: scratch, encoder: hed_vgg16}"])
    (tmp_path / "d.yaml").write_text("name: d\nfolder: .\nprompts: [segment crack]\nprompts: [segment wall]\n")
    with pytest.raises(ValueError, match=r"d.yaml: not valid YAML \(line 4, column 1: the key 'prompts' is given twice"):
        load_dataset_config(tmp_path / "d.yaml")
    (tmp_path / "z.yaml").write_text("box_threshold: 0.3\nbox_threshold: 0.2\n")
    with pytest.raises(ValueError, match="the key 'box_threshold' is given twice"):
        ZeroShotConfig.from_yaml(tmp_path / "z.yaml")
    (tmp_path / "m.yaml").write_text("optim: &o {lr: 0.01, epochs: 3}\ndistill: {}\nloss: {bce: 1.0}\n"
                                     "data: {cache_size: 64}\nmodel_config: {}\n")
    assert TrainConfig.from_yaml(tmp_path / "m.yaml").optim.lr == 0.01
    from drywallqa.utils.yamlfile import safe_load

    assert safe_load("a: &x {b: 1}\nc:\n  <<: *x\n  b: 2\n") == {"a": {"b": 1}, "c": {"b": 2}}


@pytest.mark.parametrize("args, words", [
    (["optim.epochs=3", "optim.epochs=5"], "'optim.epochs=3' and 'optim.epochs=5' both set optim.epochs: give it once"),
    (["optim.epochs=3", "--epochs", "5"], "--epochs and the override optim.epochs=... both set optim.epochs: give one"),
    (["optim.lr=0.1", "--lr", "0.2"], "--lr and the override optim.lr=... both set optim.lr"),
    (["device=cpu", "--device", "cuda"], "--device and the override device=... both set device")])
def test_a_setting_given_twice_on_the_command_line_is_refused(tmp_path, args, words):
    """The last override, or the option over the override, silently won."""
    from typer.testing import CliRunner

    from drywallqa.cli import app

    (tmp_path / "file").write_text("x")  # --out a file: the old code stopped there rather than train
    res = CliRunner().invoke(app, ["train", str(ROOT / "configs" / "default.yaml"), *args, "--out", str(tmp_path / "file")],
                             terminal_width=300)
    said = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and words in said, res.output


def test_a_leading_tilde_in_a_config_path_is_the_home_folder(tmp_path, monkeypatch):
    """``output_dir: ~/runs/x`` wrote its run into a folder named "~" in the working one (and ``splits_dir: ~/splits``
    was "no split manifest" beside manifests that were there), where ``--model-path ~/m`` is the home folder's."""
    monkeypatch.setenv("HOME", str(tmp_path))
    config = tmp_path / "c.yaml"
    config.write_text("output_dir: ~/runs/x\ninit_from: ~/start\ndata:\n  datasets: [~/mine.dataset.yaml, cracks]\n"
                      "  splits_dir: ~/splits\n  cache_dir: ~/cache\n  datasets_dir: ~/datasets\ndistill: {teacher: ~/t}\n")
    cfg = TrainConfig.from_yaml(config)
    assert cfg.output_dir == str(tmp_path / "runs" / "x") and cfg.init_from == str(tmp_path / "start")
    assert cfg.data.datasets == [str(tmp_path / "mine.dataset.yaml"), "cracks"]
    assert (cfg.data.splits_dir, cfg.data.cache_dir, cfg.data.datasets_dir, cfg.distill.teacher) == tuple(
        str(tmp_path / n) for n in ("splits", "cache", "datasets", "t"))
    assert TrainConfig().with_overrides(["data.cache_dir=~/c"]).data.cache_dir == str(tmp_path / "c")
    assert TrainConfig().with_overrides(["init_from=fast"]).init_from == "fast"  # a shipped name stays a name
