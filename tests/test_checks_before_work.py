"""A job's arguments that can be checked at once are checked before any slow work (a model load, a dataset scan)."""

import json

import pytest

from drywallqa.engine import batch_ray

from conftest import says, write_photos


class _Loaded(Exception):
    """Raised by a loader stubbed in: the slow work began."""


@pytest.fixture
def no_ray_no_model(monkeypatch):
    """predict_paths_ray without Ray (a stand-in module) and with a model load that fails the test."""
    monkeypatch.setattr(batch_ray, "import_ray", lambda: object())

    def load(*a, **k):
        raise _Loaded("the model was loaded before the job's options were checked")

    monkeypatch.setattr(batch_ray.Segmenter, "load", load)


@pytest.mark.parametrize("option, says_", [
    ({"rules": ["segment window: max_width_mm > 0.3"]}, "segment window"),
    ({"rules": ["segment crack: nonsense"]}, "nonsense"),
    ({"threshold": 1.5}, "threshold"),
    ({"mm_per_px": -1.0}, "mm_per_px"),
    ({"max_pixels": 0}, "max_pixels"),
])
def test_predict_paths_ray_checks_the_jobs_options_before_the_model_loads(tmp_path, no_ray_no_model, option, says_):
    photos = write_photos(tmp_path / "imgs", 1)
    with pytest.raises(ValueError) as err:
        batch_ray.predict_paths_ray(tmp_path / "model", [photos], ["segment crack"], tmp_path / "out", **option)
    assert says_ in str(err.value)
    assert not (tmp_path / "out").exists()


def test_predict_paths_ray_checks_the_out_folder_before_the_model_loads(tmp_path, no_ray_no_model):
    photos = write_photos(tmp_path / "imgs", 1)
    with pytest.raises(ValueError, match="also an input folder"):
        batch_ray.predict_paths_ray(tmp_path / "model", [photos], ["segment crack"], photos)
    out = tmp_path / "theirs"
    out.mkdir()
    (out / "results.json").write_text("{}")  # another program's
    with pytest.raises(ValueError, match="no drywallqa job wrote"):
        batch_ray.predict_paths_ray(tmp_path / "model", [photos], ["segment crack"], out)


def test_predict_paths_ray_checks_the_names_rule_before_the_model_loads(tmp_path, tiny_model_dir, monkeypatch):
    from drywallqa import Segmenter
    from drywallqa.engine.batch import predict_paths

    photos = write_photos(tmp_path / "imgs", 1)
    predict_paths(Segmenter.load(tiny_model_dir), [photos], ["segment crack"], tmp_path / "out", progress=False)
    monkeypatch.setattr(batch_ray, "import_ray", lambda: object())
    monkeypatch.setattr(batch_ray.Segmenter, "load", lambda *a, **k: pytest.fail("the model loaded first"))
    with pytest.raises(ValueError, match="names-from-folders"):
        batch_ray.predict_paths_ray(tiny_model_dir, [photos], ["segment crack"], tmp_path / "out",
                                    names_from_folders=True)


def test_a_splits_folder_below_a_file_names_the_file_not_data_split(synthetic_datasets, tmp_path):
    """--splits-dir results.json/splits once said to run `data split --out results.json/splits`, which fails too."""
    from drywallqa.data.grouping import check_split_manifest

    (tmp_path / "results.json").write_text("{}")
    with pytest.raises(FileNotFoundError) as err:
        check_split_manifest("syn_crack", tmp_path / "results.json" / "splits")
    said = str(err.value)
    assert says(said, "lies below", str(tmp_path / "results.json"), "which is a file")
    assert "data split -d" not in said and f"--out {tmp_path / 'results.json'}" not in said


@pytest.fixture
def no_model_load(monkeypatch):
    """The CLI's model loads fail the test: the argument's error must come first."""
    from drywallqa.cli import common, prediction

    def load(*a, **k):
        pytest.fail("the model loaded before the arguments were checked")

    monkeypatch.setattr(prediction, "load_segmenter_with", load)
    monkeypatch.setattr(common, "load_segmenter_with", load)


def _cli(args):
    from typer.testing import CliRunner

    from drywallqa.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], terminal_width=300)


def test_predict_checks_its_out_folder_before_the_model_loads(tmp_path, no_model_load):
    photos = write_photos(tmp_path / "imgs", 1)
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "results.json").write_text("{}")  # another program's
    (tmp_path / "f.txt").write_text("x")
    for out, said in ((photos, "also an input folder"), (theirs, "no drywallqa job wrote"),
                      (tmp_path / "f.txt", "is a file"), (tmp_path / "f.txt" / "sub", "lies below a file")):
        res = _cli(["predict", photos, "-p", "segment crack", "--out", out])
        assert res.exit_code == 2 and "Traceback" not in res.output, res.output
        assert says(res.output, said), res.output
    assert not (tmp_path / "f.txt").is_dir()


@pytest.mark.parametrize("override, code, said", [
    ("data.splits_dir={tmp}/nosplits", 2, "no split manifest"),
    ("data.splits_dir={tmp}/results.json/splits", 2, "which is a file"),
    ("data.datasets_dir={tmp}/nodatasets", 2, "data.datasets_dir"),
    ("data.train_part=tran", 1, "has no part 'tran'"),
    ("data.val_part=vall", 1, "has no part 'vall'"),
])
def test_train_checks_its_manifests_parts_and_dataset_folders_before_the_model_is_built(
        write_train_config, tiny_kwargs, tmp_path, monkeypatch, override, code, said):
    from drywallqa.engine import trainer

    monkeypatch.setattr(trainer.Trainer, "build_model",
                        staticmethod(lambda *a, **k: pytest.fail("the model was built before the data was checked")))
    (tmp_path / "results.json").write_text("{}")
    config = write_train_config("film_unet", tiny_kwargs)
    res = _cli(["train", config, override.format(tmp=tmp_path), "--out", tmp_path / "run1"])
    assert res.exit_code == code and "Traceback" not in res.output, res.output
    assert says(res.output, said), res.output


def test_evaluate_checks_its_split_manifests_before_the_model_loads(synthetic_datasets, tmp_path, monkeypatch):
    from drywallqa.cli import evaluation

    monkeypatch.setattr(evaluation, "load_segmenter", lambda *a, **k: pytest.fail("the model loaded first"))
    (tmp_path / "results.json").write_text("{}")
    common = ["evaluate", "-d", "syn_crack", "--out", tmp_path / "eval", "--speed-images", "0"]
    for args, hint, said in (
            (["--splits", "group", "--splits-dir", tmp_path / "nosplits", "--datasets-dir", synthetic_datasets],
             "--splits", "no split manifest"),
            (["--splits", "val", "--splits-dir", tmp_path / "results.json" / "splits", "--datasets-dir",
              synthetic_datasets], "--splits", "which is a file")):
        res = _cli(common + args)
        assert res.exit_code == 2 and "Traceback" not in res.output, res.output
        assert says(res.output, hint, said), res.output



def test_evaluate_checks_that_the_manifest_has_the_part_it_scores_before_the_model_loads(synthetic_datasets, syn_splits,
                                                                                        tmp_path, monkeypatch):
    from drywallqa.cli import evaluation

    monkeypatch.setattr(evaluation, "load_segmenter", lambda *a, **k: pytest.fail("the model loaded first"))
    (tmp_path / "noval").mkdir()
    manifest = json.loads((syn_splits / "syn_crack.json").read_text())
    del manifest["parts"]["val"]
    (tmp_path / "noval" / "syn_crack.json").write_text(json.dumps(manifest))
    res = _cli(["evaluate", "-d", "syn_crack", "--splits", "val", "--splits-dir", tmp_path / "noval", "--datasets-dir",
                synthetic_datasets, "--out", tmp_path / "eval", "--speed-images", "0"])
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    assert says(res.output, "--splits-dir", "has no part 'val'"), res.output


def test_export_onnx_checks_its_out_folder_before_the_model_loads(tiny_model_dir, tmp_path, monkeypatch):
    from drywallqa.engine.torch_runtime import TorchSegmenter

    monkeypatch.setattr(TorchSegmenter, "from_path", classmethod(lambda cls, *a, **k: pytest.fail("loaded first")))
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    for out in (tiny_model_dir, theirs):
        res = _cli(["export", "onnx", "--model-path", tiny_model_dir, "--out", out])
        assert res.exit_code == 2 and "Traceback" not in res.output, res.output
        assert says(res.output, "--out"), res.output
    assert (theirs / "notes.txt").read_text() == "mine"


def test_data_split_update_checks_every_manifest_before_any_dataset_is_scanned(synthetic_datasets, syn_splits, tmp_path,
                                                                               monkeypatch):
    from drywallqa.data import grouping

    monkeypatch.setattr(grouping, "update_group_split", lambda *a, **k: pytest.fail("a dataset was scanned first"))
    manifest = json.loads((syn_splits / "syn_tape.json").read_text())
    manifest["parts"] = {"training": manifest["parts"]["train"]}
    manifest["fractions"] = {"training": 1.0}
    (syn_splits / "syn_tape.json").write_text(json.dumps(manifest))
    res = _cli(["data", "split", "-d", "syn_crack", "-d", "syn_tape", "--update", "--out", syn_splits,
                "--datasets-dir", synthetic_datasets])
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    assert says(res.output, "syn_tape.json has no part named train"), res.output
    (syn_splits / "syn_tape.json").write_text("{damaged")
    res = _cli(["data", "split", "-d", "syn_crack", "-d", "syn_tape", "--update", "--out", syn_splits,
                "--datasets-dir", synthetic_datasets])
    assert res.exit_code == 1 and says(res.output, "syn_tape.json is damaged"), res.output


def test_train_resume_of_a_folder_without_a_checkpoint_is_said_before_the_model_is_built(
        write_train_config, tiny_kwargs, tmp_path, monkeypatch):
    from drywallqa.engine import trainer

    monkeypatch.setattr(trainer.Trainer, "build_model",
                        staticmethod(lambda *a, **k: pytest.fail("the model was built before --resume was checked")))
    res = _cli(["train", write_train_config("film_unet", tiny_kwargs), "--out", tmp_path / "rnu", "--resume"])
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    assert says(res.output, "--resume", "no checkpoint at", str(tmp_path / "rnu" / "last.pt")), res.output
