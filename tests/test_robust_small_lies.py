"""Robustness, class 9: what the tool says of itself is true. /v1/models gives the size the model runs at,
the API's version is the package's, /docs works with no internet, error details are readable, evaluate
works from any folder, and --runtime onnx works on any model folder."""

import io
import re
from importlib.metadata import version

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

import drywallqa
from drywallqa import Segmenter
from drywallqa.cli import app
from drywallqa.serve import ServeConfig, create_app


def test_models_version_and_offline_docs(tiny_model_dir):
    client = TestClient(create_app(ServeConfig(), Segmenter.load(tiny_model_dir, scales=(96,))))
    body = client.get("/v1/models").json()
    assert body["models"][0]["image_size"] == 96 and body["models"][0]["scales"] == [96]  # not the trained 64
    assert body["version"] == drywallqa.__version__ == version("drywallqa")
    assert client.get("/openapi.json").json()["info"]["version"] == drywallqa.__version__
    docs = client.get("/docs")
    assert docs.status_code == 200
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", docs.text) + re.findall(r"url: ?'([^']+)'", docs.text)
    assert assets and all(a.startswith("/") for a in assets), assets  # nothing from another host
    for a in assets:
        assert client.get(a).status_code == 200, a


def test_400_detail_is_readable(tiny_model_dir):
    client = TestClient(create_app(ServeConfig(), Segmenter.load(tiny_model_dir)))
    r = client.post("/v1/segment", files={"image": ("x.jpg", b"not an image at all", "image/jpeg")},
                    data={"prompts": ["segment crack"]})
    assert r.status_code == 400
    assert "0x" not in r.json()["detail"] and "BytesIO" not in r.json()["detail"] and "the upload" in r.json()["detail"]


def test_evaluate_from_another_folder_finds_the_shipped_manifests(tiny_model_dir, tmp_path, monkeypatch):
    from drywallqa.data.grouping import SHIPPED_SPLITS_DIR, split_manifest_path

    monkeypatch.chdir(tmp_path)
    assert split_manifest_path(None, "cracks") == SHIPPED_SPLITS_DIR / "cracks.json"
    res = CliRunner().invoke(app, ["evaluate", "--model-path", str(tiny_model_dir), "-d", "cracks", "--splits", "group",
                                   "--limit", "2", "--speed-images", "0", "--out", str(tmp_path / "e")])
    assert res.exit_code == 0, res.output
    (tmp_path / "splits").mkdir()  # a splits/ folder here without the dataset's manifest: the shipped one still serves
    assert split_manifest_path(None, "cracks") == SHIPPED_SPLITS_DIR / "cracks.json"


def test_onnx_runtime_on_a_torch_model_folder(tiny_model_dir):
    img = np.asarray(Image.open(io.BytesIO(_png())).convert("RGB"))
    a = Segmenter.load(tiny_model_dir).predict(img, ["segment crack"]).probabilities["segment crack"]
    b = Segmenter.load(tiny_model_dir, runtime="onnx").predict(img, ["segment crack"]).probabilities["segment crack"]
    assert np.abs(a - b).max() <= 1e-3


def _png():
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def test_validation_errors_never_echo_the_input(tiny_model_dir):
    client = TestClient(create_app(ServeConfig(), Segmenter.load(tiny_model_dir)))
    files = {"image": ("w.png", _png(), "image/png"), "prompts": ("p.txt", b"segment crack", "text/plain")}
    r = client.post("/v1/segment", files=files)  # a file where text is expected
    assert r.status_code == 422 and "_file" not in r.text and "TemporaryFile" not in r.text
    big = client.post("/v1/segment", files={"image": ("w.png", _png(), "image/png")}, data={"prompts": ["x" * 5000]})
    assert big.status_code == 422 and len(big.text) < 1000
    inf = client.post("/v1/segment", files={"image": ("w.png", _png(), "image/png")},
                      data={"prompts": ["segment crack"], "flag": ["segment crack: area_px > 1e400"]})
    assert inf.status_code == 422 and "finite" in inf.json()["detail"]
    assert client.head("/").status_code == 200
    two = client.post("/v1/segment", files=[("image", ("a.png", _png(), "image/png")), ("image", ("b.png", _png(), "image/png"))],
                      data={"prompts": ["segment crack"]})
    assert two.status_code == 422 and "one image" in two.json()["detail"]


@pytest.mark.parametrize("damage", ["config_null", "config_str", "unknown_key", "no_type", "type_list", "weights_truncated",
                                    "weights_other_shape"])
def test_a_damaged_model_folder_is_a_clean_error(tiny_model_dir, tmp_path, damage):
    """Every way a model folder's files can be damaged loads as one clean error naming the folder (a CLI exit 2)."""
    import json
    import shutil

    from drywallqa import Segmenter
    from drywallqa.cli import app

    folder = tmp_path / "damaged"
    shutil.copytree(tiny_model_dir, folder)
    cfg = json.loads((folder / "config.json").read_text())
    if damage == "config_null":
        cfg["config"] = None
    elif damage == "config_str":
        cfg["config"] = "hello"
    elif damage == "unknown_key":
        cfg["config"]["no_such_option"] = 3
    elif damage == "no_type":
        del cfg["model_type"]
    elif damage == "type_list":
        cfg["model_type"] = ["film_unet"]
    elif damage == "weights_truncated":
        (folder / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes()[:100])
    else:
        cfg["config"]["decoder_channels"] = cfg["config"]["decoder_channels"] * 2
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=f"{folder}.*(damaged|cannot build)"):
        Segmenter.load(folder)
    Image.new("RGB", (40, 30)).save(tmp_path / "w.jpg")
    for args in (["predict", str(tmp_path / "w.jpg"), "-p", "segment crack", "--out", str(tmp_path / "m")],
                 ["export", "onnx", "--out", str(tmp_path / "o")]):
        res = CliRunner().invoke(app, args + ["--model-path", str(folder)])
        assert res.exit_code == 2 and isinstance(res.exception, SystemExit), (args, res.output, res.exception)


def test_python_dash_m_runs_the_command_line():
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "drywallqa", "predict", "--help"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "Usage: drywallqa predict" in res.stdout, res.stderr


def test_an_error_in_a_log_names_a_long_path_whole(tmp_path):
    """Where standard error is no terminal (a log, a CI job), Rich's error box folded a path longer than its 80
    columns mid-word, its border in between ("c.y │ aml"): the path could not be copied from the log."""
    import subprocess
    import sys

    config = tmp_path / ("a_folder_name_long_enough_to_pass_the_width_of_a_log_" * 2) / "config.yaml"
    res = subprocess.run([sys.executable, "-m", "drywallqa", "train", str(config)], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 2 and f"config file {config} not found" in res.stderr, res.stderr
    assert "│" not in res.stderr and "Traceback" not in res.stderr


def test_every_help_text_is_shown_whole():
    """Each command's and option's help is in its --help as written: text in square brackets was read as Rich markup
    and dropped ('data split --join': "a list of , paths", the pair [photo, photo] gone)."""
    import typer

    from conftest import says

    def check(command, argv):
        for name, sub in getattr(command, "commands", {}).items():
            check(sub, [*argv, name])
        shown = CliRunner().invoke(app, [*argv, "--help"], env={"COLUMNS": "400"})
        assert shown.exit_code == 0, shown.output
        for text in [command.help] + [p.help for p in command.params if not getattr(p, "hidden", False)]:
            assert says(shown.output, " ".join((text or "").split())), (argv, text)

    check(typer.main.get_command(app), [])


def test_help_shows_no_value_beside_a_flag_and_one_value_of_a_repeatable_option():
    """Typer 0.29 showed ``--overlay <bool>`` (read as ``--overlay true``, and "true" was then a photo path that
    failed) and ``--dataset <list[str]>`` (read as ``-d [a,b]``), in every command and beside ``--help`` itself."""
    import re

    import typer

    def check(command, argv):
        for name, sub in getattr(command, "commands", {}).items():
            check(sub, [*argv, name])
        shown = CliRunner().invoke(app, [*argv, "--help"], env={"COLUMNS": "300"})
        assert shown.exit_code == 0, shown.output
        options = [line for line in shown.output.splitlines() if re.match(r"\W*(\*\s+)?--\w", line)]
        assert options and "<bool>" not in shown.output, (argv, shown.output)
        assert not [line for line in options if "<list[" in line], (argv, shown.output)  # (an argument's: as Typer has it)

    check(typer.main.get_command(app), [])
    predict = CliRunner().invoke(app, ["predict", "--help"], env={"COLUMNS": "300"}).output
    assert re.search(r"--overlay +Also write overlays", predict) and re.search(r"--prompt +-p +<str> ", predict), predict
    assert re.search(r"--help +Show this message", predict) and re.search(r"--threshold +<float> ", predict)


def test_a_form_field_twice_or_misspelt_is_refused_not_guessed(tiny_model_dir):
    """mm_per_px sent twice (which one?) or misspelt (mm_per_pixel: measures silently in px) is a 422 naming it;
    a photo sent as a text field gets told how to send it."""
    client = TestClient(create_app(ServeConfig(), Segmenter.load(tiny_model_dir)))
    image = {"image": ("w.png", _png(), "image/png")}
    twice = client.post("/v1/segment", files=image, data={"prompts": ["segment crack"], "mm_per_px": ["0.5", "5"]})
    assert twice.status_code == 422 and "'mm_per_px'" in twice.json()["detail"]
    typo = client.post("/v1/segment", files=image, data={"prompts": ["segment crack"], "mm_per_pixel": "0.5"})
    assert typo.status_code == 422 and "'mm_per_pixel'" in typo.json()["detail"] and "mm_per_px" in typo.json()["detail"]
    text = client.post("/v1/segment", data={"prompts": ["segment crack"]}, files={"image": (None, "not a file")})
    assert text.status_code == 422 and "file upload" in str(text.json()["detail"])  # a text field in the form
    form = client.post("/v1/segment", data={"prompts": ["segment crack"], "image": "not a file"})  # URL-encoded: no file
    assert form.status_code == 415 and "carries no file" in form.json()["detail"]
    ok = client.post("/v1/segment", files=image, data={"prompts": ["segment crack", "segment taping area"],
                                                       "flag": ["segment crack: area_px > 5"], "mm_per_px": "0.5"})
    assert ok.status_code == 200, ok.text


def test_models_names_the_model_version_from_its_card_and_suggests_no_box_adapter(tiny_model_dir, tmp_path):
    import shutil

    from drywallqa.serve.app import suggested_prompts

    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    before = Segmenter.load(folder)
    client = TestClient(create_app(ServeConfig(), before))
    assert client.get("/v1/models").json()["models"][0]["version"] is None  # no card: nothing made up
    (folder / "MODEL_CARD.md").write_text("---\nmodel_name: x\nversion: 1.2.3\n---\n# x\nversion: 9\n")
    after = Segmenter.load(folder)
    client = TestClient(create_app(ServeConfig(), after))
    assert client.get("/v1/models").json()["models"][0]["version"] == "1.2.3"
    assert after.settings() == before.settings()  # a card is no setting: finished batch jobs are not redone

    class Described:
        def describe(self):
            box = {"name": "boxes", "prompt": "bounding box of taped joint"}
            return {"prompt_thresholds": {"bounding box of taped joint": 0.4, "segment crack": 0.5, "segment seam": 0.6},
                    "postprocess": {"segment seam": [{"name": "dilate"}, box], "bounding box of taped joint": box}}

    assert suggested_prompts(Described()) == ["segment crack", "segment seam"]


def test_422_details_name_the_field_and_never_echo_it(tiny_model_dir):
    client = TestClient(create_app(ServeConfig(), Segmenter.load(tiny_model_dir)))
    photo = io.BytesIO()
    Image.new("RGB", (40, 30), (120, 120, 120)).save(photo, format="PNG")
    secret = "crack\u202eSECRET-TEXT"
    for data, field in (({"prompts": [secret]}, "prompts"), ({"prompts": ["segment crack"], "flag": ["SECRET-TEXT >> 3"]}, "flag"),
                        ({"prompts": ["segment crack"], "flag": ["SECRET-TEXT: area_px > 3"]}, "flag"),
                        ({"prompts": ["segment crack"], "flag": ["segment crack: SECRETTEXT > 3"]}, "flag")):
        r = client.post("/v1/segment", files={"image": ("w.png", photo.getvalue(), "image/png")}, data=data)
        assert r.status_code == 422 and r.json()["detail"].startswith(f"{field}: "), r.text
        assert "SECRET" not in r.text


def test_a_damaged_exif_block_does_not_make_the_photo_unreadable(tiny_model_dir, tmp_path, monkeypatch):
    from PIL import ImageOps

    from drywallqa.utils.image_io import read_image

    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned a quarter
    Image.new("RGB", (60, 20), (90, 90, 90)).save(tmp_path / "turned.jpg", exif=exif)

    def damaged(image, *args, **kwargs):  # as Pillow does on some damaged EXIF blocks it cannot write back
        raise TypeError("unsupported operand type(s)")

    monkeypatch.setattr(ImageOps, "exif_transpose", damaged)
    assert read_image(tmp_path / "turned.jpg").shape == (60, 20, 3)  # still turned upright
    client = TestClient(create_app(ServeConfig(), Segmenter.load(tiny_model_dir)))
    r = client.post("/v1/segment", files={"image": ("t.jpg", (tmp_path / "turned.jpg").read_bytes(), "image/jpeg")},
                    data={"prompts": ["segment crack"]})
    assert r.status_code == 200, r.text


def test_a_model_whose_maps_hold_nan_is_said_to_fail_not_answered_with_empty_masks(tiny_model_dir, tmp_path):
    """Finite weights that overflow (a run that diverged slowly) make maps of NaN: predict answered each photo with an
    empty mask and a NaN confidence (null in results.json), as if no crack were there, and evaluate scored those."""
    from safetensors.torch import load_file, save_file

    from conftest import says, write_photos
    from drywallqa.engine.batch import predict_paths
    from drywallqa.engine.segmenter import MapsNotFinite

    weights = load_file(str(tiny_model_dir / "model.safetensors"))
    save_file({k: v * 1e8 if v.is_floating_point() and "running_var" not in k else v for k, v in weights.items()},
              str(tiny_model_dir / "model.safetensors"))
    seg = Segmenter.load(tiny_model_dir)
    with pytest.raises(MapsNotFinite, match="'segment crack' holds NaN or infinity"):
        seg.predict(np.zeros((40, 48, 3), np.uint8), ["segment crack"])
    photos = write_photos(tmp_path / "photos", 2)
    summary = predict_paths(seg, [photos], ["segment crack"], tmp_path / "out", progress=False)
    assert not summary.done and len(summary.failed) == 2
    assert all("holds NaN or infinity" in why for _, why in summary.failed), summary.failed
    client = TestClient(create_app(ServeConfig(str(tiny_model_dir)), seg), raise_server_exceptions=False)
    buf = io.BytesIO()
    Image.new("RGB", (20, 20)).save(buf, format="PNG")
    r = client.post("/v1/segment", files={"image": ("w.png", buf.getvalue(), "image/png")},
                    data={"prompts": "segment crack"})
    assert r.status_code == 500 and "the server's model failed" in r.json()["detail"], r.text  # not the client's 422
    assert "segment crack" not in r.json()["detail"]  # no input echoed back
    res = CliRunner().invoke(app, ["predict", str(photos), "-p", "segment crack", "--out", str(tmp_path / "cli"),
                                   "--model-path", str(tiny_model_dir)], terminal_width=300)
    assert res.exit_code == 1 and says(res.output, "holds NaN or infinity") and "Traceback" not in res.output


def test_a_long_path_is_printed_on_one_line_whatever_the_console_width(tiny_model_dir, tmp_path, monkeypatch):
    """Piped to a log (80 columns) or under a narrow terminal, the console broke its lines at its width: a path
    longer than that was cut in two ("report: " on one line, the path over the next), which a script reading the log
    (or a person copying the path) cannot use; the terminal wraps a long line itself."""
    from drywallqa.cli.common import console

    monkeypatch.setattr(console, "width", 40)
    Image.fromarray(np.full((48, 64, 3), 128, np.uint8)).save(tmp_path / "w.png")
    out = tmp_path / ("a_folder_with_a_long_name_" * 3)
    res = CliRunner().invoke(app, ["predict", str(tmp_path / "w.png"), "-p", "segment crack", "--out", str(out),
                                   "--model-path", str(tiny_model_dir)])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert f"report: {out / 'report.html'}" in lines and f"table: {out / 'results.csv'}" in lines, res.output
    assert any(line.endswith(f"0 failed; masks in {out}") for line in lines), res.output
