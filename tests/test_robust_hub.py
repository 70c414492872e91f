"""Hugging Face folders that cannot serve the backend they are given to (no tokenizer, another model's weights, a
drywallqa folder) are clean load errors, never a model that runs with an empty tokenizer or random weights;
drywallqa's CLIPSeg folders need no hub folder; SAM's predicted IoU stays in [0, 1]. Tiny random models only."""

import json
import shutil

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from drywallqa import Segmenter
from drywallqa.cli import app
from drywallqa.models import create_model
from drywallqa.models.base import PromptedSegmentationModel

from conftest import says

PROMPTS = ["segment crack", "segment taping area", "xyz"]


def _without_tokenizer(hub, dest):
    shutil.copytree(hub, dest)
    for f in dest.glob("tokenizer*"):
        f.unlink()
    return dest


# ------------------------------------------------------------ 1. a CLIPSeg folder without a tokenizer that reads


def test_clipseg_folder_without_tokenizer_files_is_a_clean_error(tiny_clipseg_dir, tmp_path):
    bare = _without_tokenizer(tiny_clipseg_dir, tmp_path / "bare")
    with pytest.raises(ValueError, match=r"bare.*lacks its tokenizer files \(tokenizer\.json, or vocab\.json and "
                                         r"merges\.txt; it holds none of them\)"):
        Segmenter.load(bare, model="clipseg")
    (bare / "tokenizer_config.json").write_text("{}")  # a config without the vocabulary is no tokenizer either
    with pytest.raises(ValueError, match=r"bare.*it holds tokenizer_config\.json\)"):
        create_model("clipseg", pretrained=str(bare))


def test_clipseg_folder_with_vocab_and_merges_only_loads_and_tells_prompts_apart(tiny_clipseg_dir, tmp_path):
    folder = _without_tokenizer(tiny_clipseg_dir, tmp_path / "vm")
    for name in ("vocab.json", "merges.txt"):  # the older layout of a CLIP tokenizer (the fixture's sources)
        shutil.copy(tiny_clipseg_dir.parent / name, folder / name)
    seg = Segmenter.load(folder, model="clipseg")
    maps = seg.predict(np.full((32, 32, 3), 100, np.uint8), PROMPTS).probabilities
    assert not np.allclose(maps["segment crack"], maps["segment taping area"])


def test_a_tokenizer_of_no_words_or_of_another_model_is_refused(tiny_clipseg_dir, tmp_path):
    from transformers import CLIPTokenizer

    def with_vocab(name, words):
        folder = _without_tokenizer(tiny_clipseg_dir, tmp_path / name)
        vocab = {w: i for i, w in enumerate([*words, "<|startoftext|>", "<|endoftext|>"])}
        (tmp_path / f"{name}.json").write_text(json.dumps(vocab))
        (tmp_path / "m.txt").write_text("#version: 0.2\n")
        CLIPTokenizer(str(tmp_path / f"{name}.json"), str(tmp_path / "m.txt")).save_pretrained(str(folder))
        return folder

    with pytest.raises(ValueError, match=r"specials.*holds 0 tokens besides its special ones"):
        create_model("clipseg", pretrained=str(with_vocab("specials", [])))
    with pytest.raises(ValueError, match=r"big.*202 tokens and the CLIPSeg text tower 78"):
        create_model("clipseg", pretrained=str(with_vocab("big", [f"w{i}</w>" for i in range(200)])))


def test_cli_predict_and_train_name_the_missing_tokenizer(tiny_clipseg_dir, write_train_config, tmp_path):
    bare = _without_tokenizer(tiny_clipseg_dir, tmp_path / "bare")
    (tmp_path / "in").mkdir()
    from PIL import Image

    Image.new("RGB", (40, 30)).save(tmp_path / "in" / "w.png")
    runner = CliRunner()
    res = runner.invoke(app, ["predict", str(tmp_path / "in"), "--model", "clipseg", "--model-path", str(bare),
                              "--prompt", "segment crack", "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "tokenizer.json" in res.output, res.output
    res = runner.invoke(app, ["train", str(write_train_config("clipseg", {"image_size": 64})), "--model", "clipseg",
                              "--model-path", str(bare)])
    assert res.exit_code != 0 and isinstance(res.exception, SystemExit), res.output
    assert "lacks its tokenizer files" in res.output and not (tmp_path / "run" / "best").exists()


# ------------------------------------------------------------ 2. a CLIPSeg model folder is self-contained


def test_saved_clipseg_folder_loads_after_the_hub_folder_is_gone(tiny_clipseg_dir, tmp_path):
    hub = shutil.copytree(tiny_clipseg_dir, tmp_path / "hub")
    model = create_model("clipseg", pretrained=str(hub), image_size=64).eval()
    model.save_pretrained(tmp_path / "ours", extra={"threshold": 0.5})
    t = model.prompt_embeddings(PROMPTS, None)
    shutil.rmtree(hub)
    moved = shutil.move(tmp_path / "ours", tmp_path / "moved")  # and the folder moved: its own tokenizer is found
    loaded = PromptedSegmentationModel.from_pretrained(moved)
    assert loaded.config.tokenizer == str(moved)
    assert torch.equal(t, loaded.prompt_embeddings(PROMPTS, None))
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model(x, t[:1]), loaded(x, t[:1]), atol=1e-4)  # same weights; float rounding differs
    (moved / "tokenizer.json").unlink()  # a folder whose tokenizer is damaged: its own files named, not the hub's
    with pytest.raises(ValueError, match=r"moved.*lacks its tokenizer files.*tokenizer_config\.json"):
        PromptedSegmentationModel.from_pretrained(moved)


# ------------------------------------------------------------ 3. a folder of another model type


@pytest.mark.parametrize("model,fixture,found,needed", [
    ("sam_text", "tiny_clipseg_dir", "clipseg", "sam"),
    ("clipseg", "tiny_sam_dir", "sam", "clipseg"),
    ("clipseg", "tiny_owlv2_dir", "owlv2", "clipseg"),
    ("clipseg", "tiny_grounding_dino_dir", "grounding-dino", "clipseg"),
])
def test_a_folder_of_another_model_type_is_a_clean_error(model, fixture, found, needed, request):
    folder = request.getfixturevalue(fixture)
    with pytest.raises(ValueError, match=rf"{folder.name}.*model type '{found}'.*needs a model of type '{needed}'"):
        Segmenter.load(folder, model=model)


def test_load_sam_refuses_another_model_and_cli_predict_exits_2(tiny_clipseg_dir, tmp_path):
    from PIL import Image

    from drywallqa.models.sam_text import load_sam

    with pytest.raises(ValueError, match=r"hf_clipseg.*model type 'clipseg'.*model of type 'sam'"):  # the SAM of refine and zero-shot
        load_sam(str(tiny_clipseg_dir))
    (tmp_path / "in").mkdir()
    Image.new("RGB", (40, 30)).save(tmp_path / "in" / "w.png")
    res = CliRunner().invoke(app, ["predict", str(tmp_path / "in"), "--model", "sam_text", "--model-path",
                                   str(tiny_clipseg_dir), "--prompt", "segment crack", "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "'clipseg'" in res.output, res.output


@pytest.mark.parametrize("model,fixture", [("clipseg", "tiny_clipseg_dir"), ("sam_text", "tiny_sam_dir")])
def test_a_drywallqa_folder_is_no_hugging_face_folder(model, fixture, request, tmp_path):
    """Its config.json says clipseg too, but its weights are drywallqa's: as ``pretrained`` they would all be random."""
    ours = create_model(model, pretrained=str(request.getfixturevalue(fixture)), image_size=64)
    ours.save_pretrained(tmp_path / "ours")
    with pytest.raises(ValueError, match=r"ours.*is a drywallqa model folder.*init_from"):
        create_model(model, pretrained=str(tmp_path / "ours"))


def test_a_model_type_other_than_the_folder_s_own_is_refused(tiny_model_dir, tmp_path):
    """`--model clipseg --model-path <film_unet folder>` ran the film_unet model (the ONNX runtime already refused
    it); its own type, or none, loads it."""
    from PIL import Image

    from drywallqa import Segmenter

    with pytest.raises(ValueError, match=r"holds a 'film_unet' model, not 'clipseg'"):
        Segmenter.load(tiny_model_dir, model="clipseg")
    assert Segmenter.load(tiny_model_dir, model="film_unet").describe()["model_type"] == "film_unet"
    (tmp_path / "in").mkdir()
    Image.new("RGB", (40, 30)).save(tmp_path / "in" / "w.png")
    res = CliRunner().invoke(app, ["predict", str(tmp_path / "in"), "--model", "clipseg", "--model-path",
                                   str(tiny_model_dir), "--prompt", "segment crack", "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "not 'clipseg'" in " ".join(res.output.split()), res.output
    assert not (tmp_path / "out").exists()


def test_train_with_a_model_type_other_than_the_start_folder_s_is_refused(tiny_model_dir, write_train_config, tmp_path):
    """`train --model clipseg --model-path <film_unet folder>` trained the film_unet model (init_from defines it)."""
    config = write_train_config("clipseg", {"image_size": 64})
    for more in (["--model", "clipseg"], ["model=clipseg"]):
        res = CliRunner().invoke(app, ["train", str(config), "--model-path", str(tiny_model_dir), *more])
        assert res.exit_code == 2 and "holds a 'film_unet' model, not 'clipseg'" in " ".join(res.output.split()), res.output
        assert not (tmp_path / "run").exists()


# ------------------------------------------------------------ 4. SAM's predicted IoU in [0, 1]


@pytest.mark.parametrize("bias,expected", [(-0.5, 0.0), (1.5, 1.0)])
def test_sam_confidence_is_clamped_to_0_1(tiny_sam_dir, bias, expected):
    from drywallqa.models.sam_text import sam_box_masks

    model = create_model("sam_text", pretrained=str(tiny_sam_dir), image_size=64).eval()
    head = model.sam.mask_decoder.iou_prediction_head.proj_out
    with torch.no_grad():  # a constant IoU prediction outside [0, 1], as an untrained head gives (-2.1e-06 was seen)
        head.weight.zero_()
        head.bias.fill_(bias)
        _, iou = model.decode_with_scores(model.encode_image(torch.rand(2, 3, 64, 64)), torch.randn(2, 384))
    assert iou.tolist() == [expected, expected]
    _, ious = sam_box_masks(model.sam, np.full((30, 40, 3), 120, np.uint8), [[2, 3, 10, 12]])  # refine, zero-shot
    assert ious == [expected]


def test_refine_masks_with_a_folder_of_another_model_is_a_clean_error(synthetic_datasets, tiny_clipseg_dir, tmp_path):
    res = CliRunner().invoke(app, ["data", "refine-masks", "-d", "syn_tape", "--out", str(tmp_path / "r"),
                                   "--datasets-dir", str(synthetic_datasets), "--with", "sam",
                                   "--model-path", str(tiny_clipseg_dir)])
    assert res.exit_code == 2 and "'clipseg'" in res.output and "Traceback" not in res.output, res.output


# ------------------------------------------------------------ a hub that cannot be reached
class _Recorder:
    """A ``from_pretrained`` loader that records how it was asked, and finds nothing (as an empty cache)."""

    calls: list = []

    @classmethod
    def from_pretrained(cls, name, **kwargs):
        cls.calls.append(kwargs)
        raise OSError(f"{name} is not in the cache")


def test_a_hub_that_cannot_be_reached_is_read_from_the_cache_alone_and_said(monkeypatch):
    """Without internet, a hub id sat ~30 s per file in the Hugging Face client's retries (the zero-shot pipeline's
    models 3 minutes) before the error: now one quick probe, the cache alone, and the error says why."""
    import socket

    from drywallqa.models import hub

    probes = []

    def no_dns(address, timeout=None):
        probes.append(address)
        raise socket.gaierror(-2, "Name or service not known")

    for variable in (*hub.PROXY_VARIABLES, "HF_HUB_OFFLINE", "HF_ENDPOINT"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(socket, "create_connection", no_dns)
    hub.hub_unreachable.cache_clear()
    _Recorder.calls = []
    for _ in range(2):
        with pytest.raises(OSError, match=r"\(huggingface.co cannot be reached: Name or service not known\): it is "
                                          r"neither a local folder nor in the Hugging Face cache"):
            hub.load_hub_or_local(_Recorder, "owner/model", "a test model")
    assert _Recorder.calls == [{"local_files_only": True}] * 2 and probes == [("huggingface.co", 443)]  # asked once
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")  # reached through a proxy: no direct probe
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("probed past the proxy"))
    _Recorder.calls = []
    with pytest.raises(OSError, match="neither a local folder"):
        hub.load_hub_or_local(_Recorder, "owner/model", "a test model")
    assert _Recorder.calls == [{}]
    hub.hub_unreachable.cache_clear()


def test_hf_hub_offline_spelt_true_reads_the_cache_alone_without_a_probe(monkeypatch):
    """The Hugging Face client takes HF_HUB_OFFLINE=true (ON, YES) as =1; only "1" was read so: the hub was probed (a
    connection out of a machine told to stay offline) and the error did not say why the cache alone was read."""
    import socket

    from drywallqa.models import hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "true")
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("probed while offline"))
    hub.hub_unreachable.cache_clear()
    _Recorder.calls = []
    with pytest.raises(OSError, match=r"\(HF_HUB_OFFLINE=true is set\): it is neither a local folder"):
        hub.load_hub_or_local(_Recorder, "owner/model", "a test model")
    assert _Recorder.calls == [{"local_files_only": True}]


def test_an_hf_endpoint_that_is_no_url_is_left_to_the_hugging_face_client(monkeypatch):
    """An HF_ENDPOINT with a port out of range or not a number raised urllib's ValueError ("Port could not be cast to
    integer value") out of the probe, which promises to leave such an endpoint to the Hugging Face client."""
    import socket

    from drywallqa.models import hub

    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("probed"))
    for endpoint in ("https://hub.example:99999", "https://hub.example:abc", "https://[::1"):
        assert hub.hub_unreachable.__wrapped__(endpoint) is None


def test_a_name_lookup_that_does_not_answer_is_bounded(monkeypatch):
    """The socket timeout does not bound the name lookup: a resolver that never answered held every hub load."""
    import socket
    import threading
    import time

    from drywallqa.models import hub

    release = threading.Event()

    def hung_lookup(address, timeout=None):
        release.wait(30)
        raise socket.gaierror(-3, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "create_connection", hung_lookup)
    monkeypatch.setattr(hub, "HUB_PROBE_TIMEOUT_S", 0.2)
    start = time.monotonic()
    try:
        why = hub.hub_unreachable.__wrapped__("https://hub.example")
    finally:
        release.set()
    assert time.monotonic() - start < 5 and why == "hub.example cannot be reached: no answer within 0.4 s"


# ------------------------------------------------------------ damaged Hugging Face folders


@pytest.mark.parametrize("damage, said", [
    (lambda d: (d / "model.safetensors").write_bytes((d / "model.safetensors").read_bytes()[:5000]), "SafetensorError"),
    (lambda d: (d / "model.safetensors").write_bytes(b"x" * 100), "SafetensorError"),
    (lambda d: (d / "config.json").write_text("[1, 2]"), "must be a mapping"),
    (lambda d: (d / "config.json").unlink(), "it holds no config.json"),
    (lambda d: (d / "config.json").write_text(json.dumps({**json.loads((d / "config.json").read_text()),
                                                          "vision_config": {"hidden_size": 48}})),
     "its weights are of other sizes than its config.json says"),
])
def test_a_hugging_face_folder_whose_files_are_damaged_is_a_clean_error(tiny_sam_dir, tmp_path, damage, said):
    """A weights file cut short or of no format, a config.json that is no object or is missing, weights of other sizes
    than the config's: a SafetensorError, TypeError or RuntimeError traceback from every command loading it."""
    from drywallqa.models.sam_text import load_sam

    folder = tmp_path / "damaged"
    shutil.copytree(tiny_sam_dir, folder)
    damage(folder)
    with pytest.raises(OSError, match=r"cannot load SAM model from '.*damaged'.*files are damaged") as info:
        load_sam(str(folder))
    assert said in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(OSError, match=r"it is a file, not a folder"):
        load_sam(str(tiny_sam_dir / "model.safetensors"))


def test_zeroshot_with_a_damaged_sam_folder_exits_2(tiny_sam_dir, tiny_grounding_dino_dir, tmp_path):
    from PIL import Image

    folder = tmp_path / "damaged"
    shutil.copytree(tiny_sam_dir, folder)
    (folder / "model.safetensors").write_bytes(b"x" * 100)
    (tmp_path / "in").mkdir()
    Image.new("RGB", (40, 30)).save(tmp_path / "in" / "w.png")
    res = CliRunner().invoke(app, ["zeroshot", str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--detector-path",
                                   str(tiny_grounding_dino_dir), "--sam-path", str(folder)])
    assert res.exit_code == 2 and says(res.output, "files are damaged"), res.output


@pytest.mark.parametrize("detector, fixture", [("grounding-dino", "tiny_grounding_dino_dir"), ("owlv2", "tiny_owlv2_dir")])
def test_a_detector_folder_without_tokenizer_files_is_refused(detector, fixture, request, tmp_path):
    """Grounding DINO's processor loaded without them with an empty tokenizer (its 5 special tokens): every prompt of
    the zero-shot pipeline was one [UNK] query, and the job wrote the same boxes for each, exit 0."""
    from drywallqa.zeroshot.detection import DETECTORS

    bare = _without_tokenizer(request.getfixturevalue(fixture), tmp_path / "bare")
    for f in bare.glob("vocab*"):
        f.unlink()
    with pytest.raises(ValueError, match=r"bare.*holds \d tokens besides its special ones, so every prompt would read "
                                         r"the same"):
        DETECTORS.get(detector)(str(bare))


def test_sam_box_masks_are_brought_to_the_photos_size_a_few_at_a_time(tiny_sam_dir, monkeypatch):
    """All boxes' float maps were upsampled to the photo's size at once: 64 boxes on a 12 MP photo took 4 GB (the
    zero-shot pipeline asks SAM for every box of every prompt)."""
    import torch.nn.functional as F

    from drywallqa.models.sam_text import box_prompts, load_sam, sam_box_masks

    sam = load_sam(str(tiny_sam_dir)).eval()
    image = np.random.default_rng(0).integers(0, 255, (90, 120, 3), dtype=np.uint8)
    boxes = [[i, i, 40, 30] for i in range(10)]
    sizes, interpolate = [], F.interpolate

    def recorded(x, *args, **kwargs):
        if kwargs.get("size") == (90, 120):  # to the photo's size (SAM's own layers upsample too)
            sizes.append(len(x))
        return interpolate(x, *args, **kwargs)

    monkeypatch.setattr(box_prompts.F, "interpolate", recorded)
    masks, ious = sam_box_masks(sam, image, boxes)
    assert max(sizes) <= box_prompts.UPSAMPLE_BOXES and sum(sizes) == 10 and len(masks) == len(ious) == 10
    monkeypatch.setattr(box_prompts, "UPSAMPLE_BOXES", 100)  # the same masks as all at once
    assert all((a == b).all() and a.shape == (90, 120) for a, b in zip(masks, sam_box_masks(sam, image, boxes)[0]))


@pytest.mark.parametrize("error", [ImportError("this model needs the sentencepiece package"), MemoryError()])
def test_a_missing_package_or_memory_is_not_said_to_be_damaged_files(error):
    """Every loading error was said to be damaged files ("download it again ... --force-download"): a package the
    model needs or memory are said as they are."""
    from drywallqa.models.hub import load_hub_or_local

    class Loader:
        @staticmethod
        def from_pretrained(name, **kwargs):
            raise error

    with pytest.raises(type(error)) as info:
        load_hub_or_local(Loader, "/no/such/folder/but/a/path", "SAM model")
    assert info.value is error


def test_a_prompt_longer_than_clipseg_reads_is_named(tiny_clipseg_dir):
    """A prompt of more tokens than CLIP's text encoder reads (77: a 300-character prompt of CJK text, of numbers)
    failed every photo with transformers' "Sequence length must be less than max_position_embeddings", which named no
    prompt; now the prompt is named with the limit (a ValueError: a photo's failure, an HTTP 422)."""
    model = create_model("clipseg", pretrained=str(tiny_clipseg_dir), image_size=64).eval()
    assert model.prompt_embeddings(["crack " * 10], None).shape == (1, 16)  # under 77 tokens of this one
    with pytest.raises(ValueError, match=r"the prompt 'crack crack .*\.\.\.' is 227 tokens long to CLIPSeg, whose text "
                                         "encoder reads at most 77: shorten it"):
        model.prompt_embeddings(["hole", "crack " * 45], None)
    seg = Segmenter.load(str(tiny_clipseg_dir), model="clipseg")
    with pytest.raises(ValueError, match="tokens long to CLIPSeg"):
        seg.predict(np.zeros((40, 40, 3), np.uint8), ["crack " * 45])
