"""Ray jobs that cannot run (actors that cannot load the model, an address where no Ray answers) and scripts stopped
by Ctrl-C: each a clean error, nothing half-written."""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from drywallqa import Segmenter
from drywallqa.cli import app

from conftest import write_photos


def _broken_copy(model_dir, tmp_path) -> Path:
    """A copy of ``model_dir`` without its weights: what a Ray worker finds where a file of the model is missing."""
    broken = tmp_path / "broken_model"
    broken.mkdir()
    shutil.copy(Path(model_dir) / "config.json", broken)
    return broken


def _ray_data_played_here(monkeypatch) -> list:
    """Ray Data played in this process: the actor made as the job maps its batches (its model loaded here), each batch
    of ``batch_size`` photos given to it; returns the actors made."""
    ray = pytest.importorskip("ray")

    actors = []

    class Dataset:
        def __init__(self, items):
            self.items = items

        def map_batches(self, cls, fn_constructor_kwargs, batch_size, **kwargs):
            self.actor, self.size = cls(**fn_constructor_kwargs), batch_size
            actors.append(self.actor)
            return self

        def take_all(self):
            rows = []
            for i in range(0, len(self.items), self.size):
                out = self.actor({"path": [item["path"] for item in self.items[i:i + self.size]]})
                rows += [dict(zip(out, row)) for row in zip(*out.values())]
            return rows

    monkeypatch.setattr(ray, "is_initialized", lambda: True)
    monkeypatch.setattr(ray.data, "from_items", Dataset)
    return actors


def test_ray_actors_that_cannot_load_the_model_are_one_clean_error_and_write_nothing(tiny_model_dir, tmp_path):
    """The model loads here but not in the actors (a file of it missing on a worker): Ray logged its long traceback of
    the actor's death and every photo was failed with it in a results.json. Now a RayModelError (a ValueError) naming
    the model and the cause, and no results.json (as where the model does not load at all). A real local Ray."""
    pytest.importorskip("ray")
    from drywallqa.engine.batch_ray import RayModelError, predict_paths_ray

    photos = write_photos(tmp_path / "photos", 2)
    broken, out = _broken_copy(tiny_model_dir, tmp_path), tmp_path / "out"
    with pytest.raises(RayModelError) as info:
        predict_paths_ray(broken, [photos], ["segment crack"], out, segmenter=Segmenter.load(tiny_model_dir))
    assert isinstance(info.value, ValueError) and "\n" not in str(info.value)
    assert str(broken) in str(info.value) and "model.safetensors" in str(info.value)
    assert sorted(f.name for f in out.iterdir()) == [".drywallqa-output"]  # no results.json, no markers left


def test_cli_ray_actors_that_cannot_load_the_model_exit_2_and_leave_no_output_folder(tiny_model_dir, tmp_path,
                                                                                    monkeypatch):
    """`predict --executor ray` whose actors cannot load --model-path (here: the folder loaded in this process is
    another, as on a cluster whose nodes lack it) ends as a --model-path that does not load ends: exit 2, one line
    naming the model and the cause, no output folder left behind; a folder there before keeps what it held."""
    from drywallqa.cli import prediction

    actors = _ray_data_played_here(monkeypatch)
    photos = write_photos(tmp_path / "photos", 3)
    broken = _broken_copy(tiny_model_dir, tmp_path)
    monkeypatch.setattr(prediction, "load_segmenter_with", lambda path, kwargs: Segmenter.load(tiny_model_dir, **kwargs))
    out = tmp_path / "made" / "out"
    args = ["predict", str(photos), "-p", "segment crack", "--out", str(out), "--executor", "ray", "--model-path",
            str(broken)]
    res = CliRunner().invoke(app, args, terminal_width=300)
    text = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    assert "--model-path" in text and f"could not load the model {broken}" in text and "model.safetensors" in text
    assert len(actors) == 1 and not (tmp_path / "made").exists()
    # a folder of an earlier job: its results.json is not replaced by one naming every photo not done
    out.mkdir(parents=True)
    (out / "results.json").write_text('{"earlier": true}')
    res = CliRunner().invoke(app, args, terminal_width=300)
    assert res.exit_code == 2 and json.loads((out / "results.json").read_text()) == {"earlier": True}
    assert sorted(f.name for f in out.iterdir()) == [".drywallqa-output", "results.json"]


def test_ray_actors_some_of_which_cannot_load_the_model_keep_the_photos_the_others_did(tiny_model_dir, tmp_path,
                                                                                     monkeypatch):
    """Of a pool whose actors on one node cannot load the model, the photos done by the others are kept; the rest are
    named not done with the cause, for a rerun (no exception: results.json lists them)."""
    from drywallqa.engine import batch_ray

    ray = pytest.importorskip("ray")
    photos = write_photos(tmp_path / "photos", 4)
    broken = _broken_copy(tiny_model_dir, tmp_path)

    class Dataset:  # two actors, the first on a node without the model
        def __init__(self, items):
            self.items = items

        def map_batches(self, cls, fn_constructor_kwargs, batch_size, **kwargs):
            self.actors = [cls(**{**fn_constructor_kwargs, "model_path": m}) for m in (broken, tiny_model_dir)]
            return self

        def take_all(self):
            rows = []
            for i, item in enumerate(self.items):
                out = self.actors[i % 2]({"path": [item["path"]]})
                rows += [dict(zip(out, row)) for row in zip(*out.values())]
            return rows

    monkeypatch.setattr(ray, "is_initialized", lambda: True)
    monkeypatch.setattr(ray.data, "from_items", Dataset)
    summary = batch_ray.predict_paths_ray(tiny_model_dir, [photos], ["segment crack"], tmp_path / "out")
    assert summary.done == [str(photos / "p1.jpg"), str(photos / "p3.jpg")]
    assert [p for p, _ in summary.failed] == [str(photos / "p0.jpg"), str(photos / "p2.jpg")]
    assert all(why.startswith("not done: a Ray worker could not load the model (") and "model.safetensors" in why
               for _, why in summary.failed), summary.failed
    assert len(json.loads((tmp_path / "out" / "results.json").read_text())["failed"]) == 2
