import base64
import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from drywallqa import Segmenter
from drywallqa.serve import ServeConfig, create_app

from conftest import held_segmenter


@pytest.fixture
def client(tiny_model_dir):
    app = create_app(ServeConfig(max_upload_mb=0.05, max_concurrency=1), Segmenter.load(tiny_model_dir))
    return TestClient(app)


def _jpeg(w=48, h=32):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


def test_health_models_page_and_docs(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    head = client.head("/healthz")  # a load balancer's probe
    assert head.status_code == 200 and head.content == b""
    described = client.get("/v1/models").json()["models"][0]
    assert described["threshold"] == 0.5 and described["runtime"] == "torch"
    assert described["backend"] == "embedded"  # the 0.4 field keeps its 0.4 value
    assert "<form" in client.get("/").text
    assert "/v1/segment" in client.get("/openapi.json").json()["paths"]


def test_segment_png_and_rle(client):
    files = {"image": ("w.jpg", _jpeg(), "image/jpeg")}
    r = client.post("/v1/segment", files=files, data={"prompts": ["segment crack", "segment taping area"], "mm_per_px": "0.5"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["image"] == {"width": 48, "height": 32}
    assert [x["prompt"] for x in body["results"]] == ["segment crack", "segment taping area"]
    mask = np.asarray(Image.open(io.BytesIO(base64.b64decode(body["results"][0]["mask"]["base64"]))))
    assert mask.shape == (32, 48) and set(np.unique(mask)) <= {0, 255}
    assert body["results"][0]["measures"]["area_px"] == int((mask > 0).sum())
    assert "area_mm2" in body["results"][0]["measures"]
    assert "joints" not in body["results"][0] and isinstance(body["results"][1]["joints"], list)  # taping: per joint
    r = client.post("/v1/segment", files=files, data={"prompts": ["segment crack"], "mask_format": "coco_rle"})
    from pycocotools import mask as mask_utils

    m = r.json()["results"][0]["mask"]
    decoded = mask_utils.decode({"size": m["size"], "counts": m["counts"].encode()})
    assert decoded.shape == (32, 48)


def test_clear_errors(client):
    files = {"image": ("w.jpg", _jpeg(), "image/jpeg")}
    assert client.post("/v1/segment", files=files, data={"prompts": [" "]}).status_code == 422
    assert client.post("/v1/segment", files=files).status_code == 422
    bad = client.post("/v1/segment", files={"image": ("x.jpg", b"not an image", "image/jpeg")}, data={"prompts": ["segment crack"]})
    assert bad.status_code == 400 and "image" in bad.json()["detail"]
    big = client.post("/v1/segment", files={"image": ("big.jpg", b"0" * 100_000, "image/jpeg")}, data={"prompts": ["segment crack"]})
    assert big.status_code == 413 and "send a smaller photo" in big.json()["detail"]  # what to do, and who can raise it
    assert "drywallqa serve --max-upload-mb" in big.json()["detail"]


def test_busy_server_answers_429(tiny_model_dir):
    import threading

    inner = Segmenter.load(tiny_model_dir)
    started, release = threading.Event(), threading.Event()

    client = TestClient(create_app(ServeConfig(max_concurrency=1), held_segmenter(inner, release, started, wait_s=10)))
    files = {"image": ("w.jpg", _jpeg(), "image/jpeg")}
    first = {}
    t = threading.Thread(target=lambda: first.setdefault("r", client.post("/v1/segment", files=files, data={"prompts": ["segment crack"]})))
    t.start()
    assert started.wait(10)
    second = client.post("/v1/segment", files=files, data={"prompts": ["segment crack"]})
    release.set()
    t.join(10)
    assert second.status_code == 429 and second.headers["retry-after"] == "1"
    assert first["r"].status_code == 200


def test_tiles_per_request(client):
    files = {"image": ("w.jpg", _jpeg(w=200, h=150), "image/jpeg")}
    r = client.post("/v1/segment", files=files, data={"prompts": ["segment crack"], "tile": "64"})
    assert r.status_code == 200, r.text
    assert r.json()["tiles"] == 3 * 4 and r.json()["image"] == {"width": 200, "height": 150}
    plain = client.post("/v1/segment", files=files, data={"prompts": ["segment crack"]}).json()
    assert "tiles" not in plain and "tiles" not in r.json()["timings_ms"]
    assert client.post("/v1/segment", files=files, data={"prompts": ["segment crack"], "tile": "8"}).status_code == 422



def test_qa_rules_flag_the_photo(client):
    files = {"image": ("w.jpg", _jpeg(), "image/jpeg")}
    data = {"prompts": ["segment crack"], "mm_per_px": "0.5"}
    r = client.post("/v1/segment", files=files, data={**data, "flag": ["segment crack: area_px >= 0", "segment crack: components > 1000"]})
    assert r.status_code == 200, r.text
    assert r.json()["flags"] == ["segment crack: area_px >= 0"]   # always broken; the other never
    assert client.post("/v1/segment", files=files, data=data).json()["flags"] == []
    for rule, why in (("segment crack: area_px ~ 3", "PROMPT: MEASURE OP NUMBER"), ("segment seam: area_px > 3", "one of the prompts asked"),
                      ("segment crack: bogus > 3", "measure is one of")):
        bad = client.post("/v1/segment", files=files, data={**data, "flag": [rule]})
        assert bad.status_code == 422 and why in bad.json()["detail"], bad.text
    no_scale = client.post("/v1/segment", files=files, data={"prompts": ["segment crack"], "flag": ["segment crack: max_width_mm > 1"]})
    assert no_scale.status_code == 422 and "mm_per_px" in no_scale.json()["detail"]


def test_the_old_backend_field_of_the_server_config_still_works():
    with pytest.warns(DeprecationWarning, match="runtime= or pipeline="):
        config = ServeConfig(backend="zeroshot")
    assert (config.runtime, config.pipeline, config.backend) == ("torch", "zeroshot", None)
    with pytest.warns(DeprecationWarning):
        assert ServeConfig(None, "embedded").runtime == "torch"  # 0.4 positional spelling
    with pytest.raises(ValueError, match="unknown backend 'tflite'"):
        ServeConfig(backend="tflite")


def test_label_shape_per_request(tiny_model_dir):
    """label_shape=box reaches the model for that request only (concurrent requests may differ); other values: 422."""
    inner, asked = Segmenter.load(tiny_model_dir), []

    class Recording(Segmenter):
        threshold = 0.5

        def predict(self, image, prompts, threshold=None, label_shape=None):
            asked.append(label_shape)
            return inner.predict(image, prompts, threshold, label_shape)

    client = TestClient(create_app(ServeConfig(), Recording()))
    files = {"image": ("w.jpg", _jpeg(), "image/jpeg")}
    for data in ({}, {"label_shape": "box"}, {}):
        assert client.post("/v1/segment", files=files, data={"prompts": ["segment taping area"], **data}).status_code == 200
    assert asked == [None, "box", None]
    bad = client.post("/v1/segment", files=files, data={"prompts": ["segment taping area"], "label_shape": "boxes"})
    assert bad.status_code == 422 and "label_shape" in bad.text and len(asked) == 3


def test_a_json_list_in_one_field_is_refused_not_asked_as_one_prompt(client):
    """prompts='["segment crack", "segment taping area"]' was one prompt, read as the nearest of the two: one mask
    where two were asked. A 422 says to repeat the field; brackets in a prompt that is no JSON list are fine."""
    files = {"image": ("w.jpg", _jpeg(), "image/jpeg")}
    for field, value in (("prompts", '["segment crack", "segment taping area"]'), ("prompts", " []"),
                         ("flag", '["segment crack: area_px > 5"]')):
        data = {"prompts": ["segment crack"], field: value}
        r = client.post("/v1/segment", files=files, data=data)
        assert r.status_code == 422 and "JSON list" in r.json()["detail"] and "repeat the field" in r.json()["detail"], r.text
    ok = client.post("/v1/segment", files=files, data={"prompts": ["segment crack [north wall]"]})
    assert ok.status_code == 200, ok.text


def test_head_is_answered_wherever_get_is_and_wrong_paths_and_methods_say_what_there_is(client):
    """HEAD /v1/models, /v1/examples and /docs were 405 (a GET route answers HEAD only where it lists it); a 404 and a
    405 said "Not Found" and "Method Not Allowed", not what there is."""
    for path in ("/", "/healthz", "/v1/models", "/v1/examples", "/docs", "/openapi.json"):
        get, head = client.get(path), client.head(path)
        assert get.status_code == head.status_code == 200 and head.content == b"", path
        assert head.headers["content-type"] == get.headers["content-type"], path
    missing = client.get("/v1/segments")
    assert missing.status_code == 404 and "POST /v1/segment" in missing.json()["detail"]
    photo = client.get("/examples/no_such_photo.jpg")  # a sample photo that is not there: not "the API is ..."
    assert photo.status_code == 404 and photo.json()["detail"] == "no such example photo: GET /v1/examples lists them"
    for method, path, allowed in (("GET", "/v1/segment", "POST"), ("HEAD", "/v1/segment", "POST"),
                                  ("OPTIONS", "/v1/models", "GET, HEAD"), ("DELETE", "/healthz", "GET, HEAD"),
                                  ("POST", "/", "GET, HEAD")):
        r = client.request(method, path)
        assert r.status_code == 405 and r.headers["allow"] == allowed, (method, path, r.headers)
        if method != "HEAD":
            assert r.json()["detail"] == f"this path answers {allowed} only", (method, path, r.text)


def test_a_trailing_slash_is_sent_to_the_path_on_the_same_host_whatever_host_the_request_names(client):
    """Starlette's slash redirect wrote its Location from the Host header (POST /v1/segment/ with Host: evil.example
    was sent to http://evil.example/v1/segment, the client's photo with it); now the Location is relative."""
    for method, path, to in (("POST", "/v1/segment/", "/v1/segment"), ("GET", "/v1/models//", "/v1/models"),
                             ("GET", "/healthz/?full=1", "/healthz?full=1"), ("GET", "/docs/", "/docs")):
        r = client.request(method, path, headers={"Host": "evil.example"}, follow_redirects=False)
        assert r.status_code == 307 and r.headers["location"] == to, (path, r.status_code, r.headers)
        assert "no trailing slash" in r.json()["detail"]
    ok = client.post("/v1/segment/", files={"image": ("a.jpg", _jpeg(), "image/jpeg")},
                     data={"prompts": "segment crack"})  # followed: same host, body sent again (307)
    assert ok.status_code == 200 and ok.json()["results"], ok.text
    for path in ("/nope/", "/examples/"):  # no such route: the 404s they were
        r = client.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
        assert r.status_code == 404 and "location" not in r.headers, (path, r.headers)


def test_a_range_of_an_example_photo_that_cannot_be_served_is_answered_in_json(client):
    """A malformed Range header on /examples/... got a plain-text 400 and one past the file's end an empty 416, where
    every other error of the server is JSON with a detail."""
    name = client.get("/v1/examples").json()["examples"][0]["name"]
    size = len(client.get(f"/examples/{name}").content)
    part = client.get(f"/examples/{name}", headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and len(part.content) == 10  # a range that can be served still is
    for header in ("bytes", "lines=0-9", "bytes=9-2", "bytes=x-y"):
        r = client.get(f"/examples/{name}", headers={"Range": header})
        assert r.status_code == 400 and r.headers["content-type"] == "application/json", (header, r.text)
        assert r.json()["detail"].startswith("the Range header cannot be served (") and "bytes=START-END" in r.text
    for method in ("GET", "HEAD"):
        r = client.request(method, f"/examples/{name}", headers={"Range": f"bytes={size + 10}-"})
        assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{size}", r.headers
        assert r.headers["content-type"] == "application/json"
        if method == "GET":
            assert r.json()["detail"] == (f"the Range header asks for bytes past the end of the file ({size} bytes): "
                                          "ask for bytes=START-END within the file, or leave the Range header out for "
                                          "the whole photo")


def test_field_errors_say_what_to_send(client):
    """An empty upload was "not one of the formats read"; a prompt of spaces "String should match pattern '\\S'"; a
    prompt or a number sent as a file "Input should be a valid string" (or number)."""
    files = {"image": ("w.jpg", _jpeg(), "image/jpeg")}
    empty = client.post("/v1/segment", files={"image": ("w.jpg", b"", "image/jpeg")}, data={"prompts": ["segment crack"]})
    assert empty.status_code == 400 and "empty (0 bytes)" in empty.json()["detail"]
    blank = client.post("/v1/segment", files=files, data={"prompts": ["segment crack", " \u00a0 "]})
    assert blank.status_code == 422 and blank.json()["detail"] == [{"loc": ["body", "prompts", 1], "type": "string_pattern_mismatch",
                                                                     "msg": "a prompt must hold a visible character, e.g. 'segment crack'"}]
    for name, data in (("prompts", {}), ("mm_per_px", {"prompts": ["segment crack"]}), ("flag", {"prompts": ["segment crack"]})):
        r = client.post("/v1/segment", files={**files, name: ("x.txt", b"0.5", "text/plain")}, data=data)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][:2] == ["body", name], r.text
        assert "a file upload where text is expected" in r.json()["detail"][0]["msg"], r.text


def test_a_text_field_over_1_mb_is_told_what_fits(tiny_model_dir):
    """Starlette's "Part exceeded maximum size" was told to send the photo as a file, whichever field it was."""
    client = TestClient(create_app(ServeConfig(), Segmenter.load(tiny_model_dir)))
    for files, data in (({"other": ("w.jpg", _jpeg(), "image/jpeg")}, {"prompts": "x" * 1_100_000}),
                        ({"other": ("w.jpg", _jpeg(), "image/jpeg")}, {"prompts": "segment crack", "image": "x" * 1_100_000}),
                        (None, {"prompts": "segment crack", "image": "x" * 1_100_000})):  # a URL-encoded form
        r = client.post("/v1/segment", files=files, data=data)
        detail = r.json()["detail"]
        assert r.status_code == 400 and "over 1 MB" in detail and "300 characters" in detail and "curl -F image=@" in detail, r.text


def test_preview_returns_the_photo_as_the_server_read_it(client):
    """A browser that cannot decode a TIFF or a HEIC photo had nothing to draw the masks on: with ``preview`` the
    answer holds the photo as the server read it (upright), as a JPEG at the masks' size."""
    buf = io.BytesIO()
    Image.fromarray(np.full((30, 44, 3), 150, np.uint8)).save(buf, format="TIFF")
    files = {"image": ("wall.tif", buf.getvalue(), "image/tiff")}
    r = client.post("/v1/segment", files=files, data={"prompts": "segment crack", "preview": "true"})
    assert r.status_code == 200, r.text
    described = r.json()["image"]
    shown = Image.open(io.BytesIO(base64.b64decode(described["jpeg_base64"])))
    assert shown.format == "JPEG" and shown.size == (described["width"], described["height"]) == (44, 30)
    assert abs(int(np.asarray(shown).mean()) - 150) <= 2
    plain = client.post("/v1/segment", files=files, data={"prompts": "segment crack"}).json()["image"]
    assert plain == {"width": 44, "height": 30}  # only when asked: it is the size of a photo
    twice = client.post("/v1/segment", files=files, data={"prompts": "segment crack", "preview": ["true", "false"]})
    assert twice.status_code == 422 and "'preview'" in twice.json()["detail"]


@pytest.mark.parametrize("size", [(70_000, 2), (3, 66_000)])
def test_a_preview_of_a_photo_longer_than_a_jpeg_holds_is_scaled_to_fit(tiny_model_dir, size):
    """A JPEG holds at most 65,500 px a side: the preview of a photo 70,000 px wide was a 500 (Pillow: "broken data
    stream"). It is scaled down to fit, its aspect kept, and says its size; the masks keep the photo's."""
    buf = io.BytesIO()
    Image.new("RGB", size, (150, 150, 150)).save(buf, format="PNG")
    client = TestClient(create_app(ServeConfig(), Segmenter.load(tiny_model_dir)))
    r = client.post("/v1/segment", files={"image": ("long.png", buf.getvalue(), "image/png")},
                    data={"prompts": "segment crack", "preview": "true"})
    assert r.status_code == 200, r.text
    described = r.json()["image"]
    shown = Image.open(io.BytesIO(base64.b64decode(described["jpeg_base64"])))
    assert (described["width"], described["height"]) == size
    assert shown.size == (described["jpeg_width"], described["jpeg_height"]) and max(shown.size) == 65_500
    assert abs(shown.width / shown.height - size[0] / size[1]) <= 0.1 * size[0] / size[1]
    mask = Image.open(io.BytesIO(base64.b64decode(r.json()["results"][0]["mask"]["base64"])))
    assert mask.size == size


def test_what_the_client_sent_otherwise_than_it_was_read_comes_back_among_the_warnings(client):
    """Only the first frame of an animated GIF was segmented and a prompt sent twice (once with a space after it) was
    answered once, with "warnings": [] in both answers: the notices went to the server's log, which the client never
    sees, and a client pairing results with its prompts by position paired them wrongly."""
    buf = io.BytesIO()
    frames = [Image.fromarray(np.full((32, 48, 3), v, np.uint8)) for v in (40, 200)]
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    r = client.post("/v1/segment", files={"image": ("walk.gif", buf.getvalue(), "image/gif")},
                    data={"prompts": ["segment crack"]})
    assert r.status_code == 200, r.text
    assert r.json()["warnings"][:1] == ["the upload: 2 frames, of which only the first is read (segmented); save each "
                                        "as a file of its own to read the others"]
    files = {"image": ("w.jpg", _jpeg(), "image/jpeg")}
    r = client.post("/v1/segment", files=files,
                    data={"prompts": ["segment crack", "segment crack ", "segment taping area"]})
    body = r.json()
    assert [x["prompt"] for x in body["results"]] == ["segment crack", "segment taping area"]
    assert body["warnings"][0].startswith("1 of the 3 prompts sent repeat another")
    assert "each result's 'prompt' is the prompt as read" in body["warnings"][1]
    r = client.post("/v1/segment", files=files, data={"prompts": ["segment crack", "segment taping area"]})
    assert not [w for w in r.json()["warnings"] if "prompts sent" in w or "as read" in w]  # nothing to say


def test_a_refused_prompt_or_rule_is_named_by_its_place_not_quoted(client):
    """Of several prompts (or QA rules: the page's lines), the 422 said why one was refused but not which: a prompt
    holding an invisible text-direction override among eight chips, a wrong line among ten rules, left to guess."""
    files = {"image": ("w.jpg", _jpeg(), "image/jpeg")}
    hidden = client.post("/v1/segment", files=files, data={"prompts": ["segment crack", "segment \u202ekcarc", "seam"]})
    assert hidden.status_code == 422 and hidden.json()["detail"].startswith("prompts 2: a prompt may not hold control"), hidden.text
    assert "kcarc" not in hidden.text  # still no input echoed back
    rules = ["segment crack: area_px > 5", "segment crack: regions > 1", "segment taping area: area_px > 5"]
    for sent, said in ((rules, "flag 2: a rule's measure is one of"), (rules[::2], "flag 2: a rule's prompt must be one of"),
                       (rules[1:2], "flag: a rule's measure is one of")):  # one rule: nothing to tell it from
        r = client.post("/v1/segment", files=files, data={"prompts": ["segment crack"], "flag": sent})
        assert r.status_code == 422 and r.json()["detail"].startswith(said), (sent, r.text)
    alone = client.post("/v1/segment", files=files, data={"prompts": ["a\x07b"]})
    assert alone.json()["detail"].startswith("prompts: a prompt may not hold control"), alone.text


def test_the_url_of_an_example_photo_is_a_url_whatever_its_name(tiny_model_dir, tmp_path):
    """A sample photo named "wall #3.jpg" (ServeConfig.examples_dir, a folder of one's own) was listed at
    /examples/wall #3.jpg, which a browser fetches as /examples/wall: the page's gallery said it could not load it."""
    for name in ("wall #3.jpg", "a?b.jpg", "50%.jpg", "ü.jpg"):
        (tmp_path / "ex").mkdir(exist_ok=True)
        (tmp_path / "ex" / name).write_bytes(_jpeg())
    client = TestClient(create_app(ServeConfig(examples_dir=str(tmp_path / "ex")), Segmenter.load(tiny_model_dir)))
    listed = client.get("/v1/examples").json()["examples"]
    assert sorted(ex["name"] for ex in listed) == ["50%.jpg", "a?b.jpg", "wall #3.jpg", "ü.jpg"]
    for ex in listed:
        r = client.get(ex["url"])
        assert r.status_code == 200 and r.content == _jpeg(), (ex, r.status_code)
