"""OSErrors a user causes from the command line with a path: a name longer than the file system allows
(ENAMETOOLONG: Python 3.11's Path.exists raises it), said as a one-line error naming the option, not a traceback."""

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from drywallqa.cli import app

from conftest import says

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "drywallqa" / "examples"
LONG = "x" * 300  # one name over the 255 bytes of a name most file systems allow
DEEP = "/".join(["d" * 200] * 25)  # a path over the 4096 bytes of a path Linux allows


def _run(args):
    result = CliRunner().invoke(app, args)
    assert not (result.exception and not isinstance(result.exception, SystemExit)), repr(result.exception)
    return result


@pytest.mark.parametrize("args", [["ship", LONG, "--out", "sh"], ["export", "onnx", "--model-path", LONG, "--out", "o"],
                                  ["predict", "a.jpg", "-p", "segment crack", "--model-path", LONG, "-o", "out"]])
def test_a_model_path_whose_name_is_too_long_is_no_model_folder(tmp_path, monkeypatch, args):
    # resolve_model_dir's Path.exists raised ENAMETOOLONG: a traceback (ship, export onnx), or "[Errno 36] File name
    # too long" blamed on --model-path / --model / --pipeline
    monkeypatch.chdir(tmp_path)
    result = _run(args)
    assert result.exit_code == 2, result.output
    assert says(result.output, "no model folder", "no shipped model of that name"), result.output


@pytest.mark.parametrize("out", [LONG, DEEP, f"{LONG}/masks"])
def test_predict_out_whose_name_is_too_long_is_a_usage_error(tmp_path, monkeypatch, tiny_model_dir, out):
    # folders_to_make's Path.exists raised ENAMETOOLONG: an OSError traceback, after the model had loaded
    monkeypatch.chdir(tmp_path)
    shutil.copy(EXAMPLES / "cracks_2363_jpg.jpg", "a.jpg")
    result = _run(["predict", "a.jpg", "-p", "segment crack", "--model-path", str(tiny_model_dir), "-o", out])
    assert result.exit_code == 2, result.output
    assert says(result.output, "Invalid value for --out", "File name too long", "give another path"), result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg", "tiny_model"]


# check_name_length's, of every command's model path (h301: these said "<the whole path> is not a drywallqa model
# folder: there is no such folder", or "...: neither a drywallqa model folder nor a training run")
TOO_LONG = "no model folder", "the name is longer than the file system allows"


@pytest.mark.parametrize("args", [["calibrate-gate", "--model-path", LONG], ["calibrate-confidence", "--model-path", DEEP],
                                  ["export", "onnx", "--model-path", DEEP, "--out", "o"]])
def test_a_model_folder_to_write_into_whose_name_is_too_long_is_no_model_folder(tmp_path, monkeypatch, args):
    # check_model_file's and not_a_model_folder's Path.exists raised ENAMETOOLONG: an OSError traceback
    monkeypatch.chdir(tmp_path)
    result = _run(args)
    assert result.exit_code == 2, result.output
    assert says(result.output, "Invalid value for --model-path", *TOO_LONG), result.output


@pytest.mark.parametrize("model_path", [LONG, DEEP])
def test_train_model_path_whose_name_is_too_long_is_no_model_folder(tmp_path, monkeypatch, model_path):
    # train's own Path.exists of --model-path raised ENAMETOOLONG: an OSError traceback
    monkeypatch.chdir(tmp_path)
    Path("cfg.yaml").write_text("model: film_unet\ndata:\n  datasets: [cracks]\noutput_dir: run\n")
    result = _run(["train", "cfg.yaml", "--model-path", model_path])
    assert result.exit_code == 2, result.output
    assert says(result.output, "Invalid value for --model-path: no model folder"), result.output
    assert not Path("run").exists()


def test_ship_source_over_the_path_limit_is_no_model_folder(tmp_path, monkeypatch):
    # model_folder's Path.is_file of SOURCE/config.json raised ENAMETOOLONG: an OSError traceback
    monkeypatch.chdir(tmp_path)
    result = _run(["ship", DEEP, "--out", "shipped"])
    assert result.exit_code == 2, result.output
    assert says(result.output, "Invalid value for SOURCE", *TOO_LONG), result.output


@pytest.mark.parametrize("config", [LONG, DEEP])
def test_zeroshot_config_whose_name_is_too_long_cannot_be_read(tmp_path, monkeypatch, config):
    # ZeroShotConfig.from_yaml's Path.is_dir raised ENAMETOOLONG: an OSError traceback
    monkeypatch.chdir(tmp_path)
    shutil.copy(EXAMPLES / "cracks_2363_jpg.jpg", "a.jpg")
    result = _run(["zeroshot", "a.jpg", "-o", "zs", "--config", config])
    assert result.exit_code == 2, result.output
    assert says(result.output, "Invalid value for --config: zero-shot config", "cannot be read", "File name too long")
    assert not Path("zs").exists()


@pytest.mark.parametrize("splits_dir", [LONG, DEEP])
def test_splits_dir_whose_name_is_too_long_has_no_manifest(tmp_path, monkeypatch, tiny_model_dir, splits_dir):
    # check_split_manifest's Path.is_file raised ENAMETOOLONG: an OSError traceback (evaluate --splits val), or "error: [Errno 36]
    # File name too long" with exit code 1 (ship)
    from drywallqa.data.grouping import check_split_manifest

    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as caught:
        check_split_manifest("cracks", splits_dir)
    assert "no split manifest (cannot be looked at (File name too long))" in str(caught.value)
    result = _run(["ship", str(tiny_model_dir), "--out", "shipped", "--splits-dir", splits_dir])
    assert result.exit_code == 2, result.output
    assert says(result.output, "no split manifest (cannot be looked at (File name too long))"), result.output


@pytest.mark.parametrize("cache", [LONG, DEEP])
def test_an_onnx_cache_whose_name_is_too_long_is_not_used(tmp_path, monkeypatch, tiny_model_dir, cache, caplog):
    # $DRYWALLQA_CACHE longer than the disk allows: --runtime onnx failed with "Invalid value for --model-path / --model
    # / --pipeline: [Errno 36] File name too long", blaming the model; a cache that cannot be used is exported around
    monkeypatch.chdir(tmp_path)
    from drywallqa.export import onnx_cache

    monkeypatch.setenv("DRYWALLQA_CACHE", cache)
    monkeypatch.setattr(onnx_cache, "_EXPORTS_FOR_THIS_RUN", {})  # (made once a process: the warning with it)
    shutil.copy(EXAMPLES / "cracks_2363_jpg.jpg", "a.jpg")
    result = _run(["predict", "a.jpg", "-p", "segment crack", "--model-path", str(tiny_model_dir), "--runtime", "onnx",
                   "-o", "out"])
    assert result.exit_code == 0, result.output
    assert Path("out/a__segment_crack.png").is_file()
    assert any("the ONNX export cache" in r.getMessage() and "cannot be used (File name too long" in r.getMessage()
               for r in caplog.records)
