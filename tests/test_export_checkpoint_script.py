"""scripts/export_checkpoint.py: a run's last.pt as a model folder, never over the run's own best/."""

import random

import numpy as np
import pytest
import torch

from drywallqa.models import create_model
from drywallqa.models.base import PromptedSegmentationModel


def _run(folder, model_kwargs, last_kwargs):
    """A training run folder as the trainer leaves it: best/ of ``model_kwargs``, last.pt of ``last_kwargs``."""
    torch.manual_seed(0)
    create_model("film_unet", **model_kwargs).save_pretrained(folder / "best", extra={"threshold": 0.5})
    torch.manual_seed(1)
    state = {"model": create_model("film_unet", **last_kwargs).state_dict(), "optimizer": {}, "step": 3, "epoch": 1,
             "best_score": 0.5, "history": [], "ema": None,
             "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}}
    torch.save(state, folder / "last.pt")
    (folder / "metrics.csv").write_text("epoch,loss\n1,0.5\n")
    return folder


def test_dest_the_run_itself_is_refused_and_its_best_kept(tmp_path, tiny_kwargs, load_script):
    """DEST = RUN replaced the run's best/ (the model its trainer chose) by last.pt's weights, then stopped in a
    SameFileError traceback."""
    export = load_script("export_checkpoint").export
    run = _run(tmp_path / "run", tiny_kwargs, tiny_kwargs)
    best = (run / "best" / "model.safetensors").read_bytes()
    for dest in (run, tmp_path / "run" / ".." / "run"):
        with pytest.raises(SystemExit, match="is the run itself"):
            export(run, dest)
    assert (run / "best" / "model.safetensors").read_bytes() == best
    (tmp_path / "file").write_text("x")
    for dest, said in ((tmp_path / "file", "is a file"), (tmp_path / "file" / "d", "lies below a file")):
        with pytest.raises(SystemExit, match=said):
            export(run, dest)
    assert export(run, tmp_path / "final") == {"step": 3, "epoch": 1}
    got = PromptedSegmentationModel.from_pretrained(tmp_path / "final" / "best").state_dict()
    last = torch.load(run / "last.pt", weights_only=False)["model"]
    assert all(torch.equal(got[k], last[k]) for k in got)
    assert (tmp_path / "final" / "metrics.csv").read_text() == "epoch,loss\n1,0.5\n"


def test_a_last_pt_of_another_model_is_named_not_a_traceback(tmp_path, tiny_kwargs, load_script):
    export = load_script("export_checkpoint").export
    wider = dict(tiny_kwargs, decoder_channels=[c * 2 for c in tiny_kwargs["decoder_channels"]])
    run = _run(tmp_path / "run", tiny_kwargs, wider)
    with pytest.raises(SystemExit, match=r"last.pt does not hold weights of the model in .*best \(size mismatch"):
        export(run, tmp_path / "final")
    assert not (tmp_path / "final").exists()


def test_dest_another_run_is_refused_an_earlier_export_replaced(tmp_path, tiny_kwargs, load_script):
    """DEST naming another training run replaced its best/ (the model its trainer chose) and its metrics.csv with
    this run's, without a word."""
    export = load_script("export_checkpoint").export
    run, other = _run(tmp_path / "run", tiny_kwargs, tiny_kwargs), _run(tmp_path / "other", tiny_kwargs, tiny_kwargs)
    (other / "metrics.csv").write_text("epoch,loss\n1,0.9\n")
    best = (other / "best" / "model.safetensors").read_bytes()
    with pytest.raises(SystemExit, match="holds a training run"):
        export(run, other)
    assert (other / "best" / "model.safetensors").read_bytes() == best
    assert (other / "metrics.csv").read_text() == "epoch,loss\n1,0.9\n"
    export(run, tmp_path / "final")
    assert export(run, tmp_path / "final", ema=False)["step"] == 3  # an earlier export: written again


def test_an_export_written_again_leaves_nothing_of_the_earlier_one(tmp_path, tiny_kwargs, load_script):
    """Exported again into the same DEST (after more training, or from another run), DEST/best kept the earlier
    export's other files (a confidence.json or prompt_gate.npz calibrated on the earlier weights, then read with the
    new ones), and DEST the earlier run's curves.png beside this run's metrics."""
    export = load_script("export_checkpoint").export
    run = _run(tmp_path / "run", tiny_kwargs, tiny_kwargs)
    dest = tmp_path / "final"
    export(run, dest)
    (dest / "best" / "confidence.json").write_text("{}")  # calibrate-confidence on the first export
    (dest / "curves.png").write_bytes(b"an earlier run's")
    export(run, dest)
    assert sorted(p.name for p in (dest / "best").iterdir()) == ["config.json", "model.safetensors"]
    assert sorted(p.name for p in dest.iterdir() if not p.name.startswith(".")) == ["best", "metrics.csv"]
    assert PromptedSegmentationModel.from_pretrained(dest / "best") is not None


def test_a_dest_whose_best_holds_other_files_is_refused_not_replaced(tmp_path, tiny_kwargs, load_script):
    export = load_script("export_checkpoint").export
    run = _run(tmp_path / "run", tiny_kwargs, tiny_kwargs)
    (tmp_path / "mine" / "best").mkdir(parents=True)
    (tmp_path / "mine" / "best" / "notes.txt").write_text("keep")
    with pytest.raises(SystemExit, match="holds other files"):
        export(run, tmp_path / "mine")
    assert (tmp_path / "mine" / "best" / "notes.txt").read_text() == "keep"


def test_a_damaged_best_is_named_not_a_traceback(tmp_path, tiny_kwargs, load_script):
    """A run whose best/config.json is no model's (or whose weights are damaged) was a ValueError traceback."""
    export = load_script("export_checkpoint").export
    run = _run(tmp_path / "run", tiny_kwargs, tiny_kwargs)
    (run / "best" / "config.json").write_text("{}")
    with pytest.raises(SystemExit, match="best cannot be loaded: .*not a drywallqa model config"):
        export(run, tmp_path / "final")
