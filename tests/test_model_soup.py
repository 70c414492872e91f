"""scripts/model_soup.py: averaging the weights of models of one architecture."""

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from drywallqa import Segmenter
from drywallqa.models import create_model


def _model(tmp_path, name, seed, **kwargs):
    torch.manual_seed(seed)
    return create_model("film_unet", **kwargs).save_pretrained(tmp_path / name, extra={"threshold": 0.4})


def test_soup_is_the_mean_of_the_weights_and_loads(tmp_path, tiny_kwargs, load_script):
    soup = load_script("model_soup")
    a, b = _model(tmp_path, "a", 0, **tiny_kwargs), _model(tmp_path, "b", 1, **tiny_kwargs)
    weights = soup.average_weights([a, b])
    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    for k, v in weights.items():
        if v.is_floating_point():
            torch.testing.assert_close(v, (wa[k] + wb[k]) / 2)
        else:
            assert torch.equal(v, wa[k])  # counters are taken from the first model
    out = soup.write_model(weights, b, tmp_path / "soup")
    seg = Segmenter.load(out)
    assert seg.threshold == 0.4                # the settings come from the given folder
    res = seg.predict(np.zeros((40, 50, 3), np.uint8), ["segment crack"])
    assert res.masks["segment crack"].shape == (40, 50)


def test_soup_refuses_different_architectures(tmp_path, tiny_kwargs, load_script):
    soup = load_script("model_soup")
    a = _model(tmp_path, "a", 0, **tiny_kwargs)
    wider = dict(tiny_kwargs, decoder_channels=[c * 2 for c in tiny_kwargs["decoder_channels"]])
    b = _model(tmp_path, "b", 0, **wider)
    with pytest.raises(ValueError, match="same architecture"):
        soup.average_weights([a, b])


def test_a_weighted_soup_interpolates_and_a_bad_mix_is_refused(tmp_path, tiny_kwargs, load_script):
    soup = load_script("model_soup")
    a, b = _model(tmp_path, "a", 0, **tiny_kwargs), _model(tmp_path, "b", 1, **tiny_kwargs)
    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    weights = soup.average_weights([a, b], soup.parse_mix("0.25,0.75", 2))
    for k, v in weights.items():
        if v.is_floating_point():
            torch.testing.assert_close(v, 0.25 * wa[k] + 0.75 * wb[k])
    assert all(torch.equal(v, wa[k]) for k, v in soup.average_weights([a, b], [1.0, 0.0]).items())
    for bad in ("0.5", "0.5,0.6", "x,y", "1.5,-0.5"):
        with pytest.raises(ValueError, match="--mix"):
            soup.parse_mix(bad, 2)
    with pytest.raises(ValueError, match="summing to 1"):
        soup.average_weights([a, b], [0.5, 0.6])


def _soup_main(soup, monkeypatch, *argv):
    import sys

    monkeypatch.setattr(sys, "argv", ["model_soup.py", *map(str, argv)])
    soup.main()


def test_folders_that_are_no_models_or_do_not_fit_are_named_before_a_soup_is_written(tmp_path, tiny_kwargs, load_script,
                                                                                      monkeypatch, capsys):
    """A missing folder, a file or a training run was a FileNotFoundError traceback from safetensors; a --settings-from
    of another architecture wrote a soup no loader could read (with --no-score, without a word)."""
    soup = load_script("model_soup")
    a, b = _model(tmp_path, "a", 0, **tiny_kwargs), _model(tmp_path, "b", 1, **tiny_kwargs)
    wider = _model(tmp_path, "wider", 0, **dict(tiny_kwargs, decoder_channels=[c * 2 for c in tiny_kwargs["decoder_channels"]]))
    (tmp_path / "file").write_text("x")
    out = tmp_path / "out"
    for argv, said in (([tmp_path / "nope", b], "there is no such folder"), ([tmp_path / "file", b], "it is a file"),
                       ([tmp_path, b], "no config.json"),
                       ([a, b, "--settings-from", wider], "its weights are not those of the model of"),
                       ([a, wider], "its weights are not those of the model of")):
        with pytest.raises(SystemExit) as exc:
            _soup_main(soup, monkeypatch, *argv, "--out", out, "--no-score")
        assert exc.value.code == 2 and said in capsys.readouterr().err, argv
    with pytest.raises(SystemExit):
        _soup_main(soup, monkeypatch, a, b, "--out", tmp_path / "file", "--no-score")
    assert "is a file" in capsys.readouterr().err
    assert not out.exists()
    _soup_main(soup, monkeypatch, a, b, "--out", out, "--no-score")
    assert Segmenter.load(out / "soup").threshold == 0.4


def test_a_soup_written_over_one_of_its_models_is_refused(tmp_path, tiny_kwargs, load_script, monkeypatch, capsys):
    """--out OUT where OUT/soup is one of the models (a soup of an earlier soup) replaced that model, whose row was then
    scored with the new soup's weights under its name."""
    soup = load_script("model_soup")
    a, b = _model(tmp_path, "a", 0, **tiny_kwargs), _model(tmp_path / "earlier", "soup", 1, **tiny_kwargs)
    before = (b / "model.safetensors").read_bytes()
    with pytest.raises(SystemExit) as exc:
        _soup_main(soup, monkeypatch, a, b, "--out", tmp_path / "earlier", "--no-score")
    assert exc.value.code == 2 and "its soup/ is one of the models given" in capsys.readouterr().err
    assert (b / "model.safetensors").read_bytes() == before


def test_a_second_soup_into_an_out_in_use_is_refused(tmp_path, tiny_kwargs, load_script, monkeypatch, capsys):
    """Two soups into one --out (a sweep of --mix run side by side) each scored whichever soup the other had just
    written into OUT/soup, under its own mix, without a word."""
    from filelock import FileLock

    soup = load_script("model_soup")
    a, b = _model(tmp_path, "a", 0, **tiny_kwargs), _model(tmp_path, "b", 1, **tiny_kwargs)
    out = tmp_path / "out"
    out.mkdir()
    with FileLock(str(out / soup.LOCK), timeout=0):  # another soup at work there
        with pytest.raises(SystemExit) as exc:
            _soup_main(soup, monkeypatch, a, b, "--out", out, "--no-score")
    assert exc.value.code == 2 and "is in use by another model soup" in capsys.readouterr().err
    assert not (out / "soup").exists()
    _soup_main(soup, monkeypatch, a, b, "--out", out, "--no-score")
    assert Segmenter.load(out / "soup").threshold == 0.4


def test_a_soup_written_unscored_removes_the_scores_of_the_soup_it_replaces(tmp_path, tiny_kwargs, load_script,
                                                                            monkeypatch, capsys):
    """--no-score into an --out holding an earlier run's soup.json and soup.md left them beside the new soup, its
    scores read as the new one's."""
    soup = load_script("model_soup")
    a, b = _model(tmp_path, "a", 0, **tiny_kwargs), _model(tmp_path, "b", 1, **tiny_kwargs)
    out = tmp_path / "out"
    out.mkdir()
    (out / "soup.json").write_text('{"mix": [0.5, 0.5]}')
    (out / "soup.md").write_text("| soup | 0.6 |\n")
    (out / "notes.txt").write_text("mine")
    _soup_main(soup, monkeypatch, a, b, "--out", out, "--mix", "0.2,0.8", "--no-score")
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["notes.txt", "soup"]
    assert "it scored the soup this one replaced" in capsys.readouterr().err


def test_a_new_soup_leaves_nothing_of_the_earlier_one(tmp_path, tiny_kwargs, load_script):
    """A soup written over an earlier one kept the earlier folder's other files: a confidence.json calibrated on the
    earlier soup's weights was read with the new ones."""
    soup = load_script("model_soup")
    a, b = _model(tmp_path, "a", 0, **tiny_kwargs), _model(tmp_path, "b", 1, **tiny_kwargs)
    out = soup.write_model(soup.average_weights([a, b]), a, tmp_path / "soup")
    (out / "confidence.json").write_text("{}")  # calibrate-confidence on the first soup
    soup.write_model(soup.average_weights([a, b], [0.2, 0.8]), a, out)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert Segmenter.load(out).threshold == 0.4


def test_an_out_whose_soup_folder_holds_other_files_or_a_model_is_refused(tmp_path, tiny_kwargs, load_script,
                                                                          monkeypatch, capsys):
    """OUT/soup is replaced whole: a folder there of other files (a training run), or holding one of the models, is
    refused, not emptied."""
    soup = load_script("model_soup")
    a = _model(tmp_path, "a", 0, **tiny_kwargs)
    b = _model(tmp_path / "out" / "soup", "b", 1, **tiny_kwargs)  # a model kept inside OUT/soup
    with pytest.raises(SystemExit):
        _soup_main(soup, monkeypatch, a, b, "--out", tmp_path / "out", "--no-score")
    assert "/out/soup holds" in capsys.readouterr().err and (b / "model.safetensors").is_file()
    run = tmp_path / "runs" / "soup"
    run.mkdir(parents=True)
    (run / "last.pt").write_bytes(b"a training run")
    with pytest.raises(SystemExit):
        _soup_main(soup, monkeypatch, a, _model(tmp_path, "c", 1, **tiny_kwargs), "--out", tmp_path / "runs", "--no-score")
    assert "holds other files" in capsys.readouterr().err and (run / "last.pt").read_bytes() == b"a training run"
