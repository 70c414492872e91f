"""The web page with several photos (tests/browser/sending_states.mjs, in headless Chromium): the states of the photos
sent in turn. A photo taken in the instant after the one before was answered (while that answer was drawn: its
line's picture, or the photo below the list) said the answered photo was on its way again ("Sending photo 1 of 5:
a.png", the button "1 of 5"), its line done."""

import pytest

from page_helpers import photos, server  # noqa: F401  # fixtures: the tiny model, a 20 KB limit
from test_browser import _need_browser, run_page_script


@pytest.mark.parametrize("hold, name", [("render", "a.png"), ("thumbnail", "c.png")])
def test_a_capture_as_a_photo_is_answered_does_not_call_it_sent_again(server, photos, hold, name):
    _need_browser()
    out = run_page_script("sending_states.mjs", server, photos, "between", hold, name, timeout=240)
    assert out["consoleErrors"] == [], out
    during = out["during"]
    if name == "a.png":  # its answer drawn below: a.png done, the others not sent yet
        assert during["list"] == [["a.png", "done"], ["big.png", "refused"], ["lost.png", "waiting"],
                                  ["c.png", "waiting"], ["d.png", "waiting"]], during
        assert during["status"] == "1 of 5 photos segmented, 1 refused, 3 not sent yet.", during
    else:  # its line's picture drawn: c.png done (its line at once), lost.png failed before it
        assert during["list"] == [["a.png", "done"], ["big.png", "refused"], ["lost.png", "failed"],
                                  ["c.png", "done"], ["d.png", "waiting"]], during
        assert during["status"] == "2 of 5 photos segmented, 1 refused, 1 failed, 1 not sent yet.", during
    # no photo's number on the button: none is on its way
    assert not during["button"].split("\u00b7")[0].strip()[:1].isdigit(), during
    after = out["after"]
    assert after["sent"] == ["a.png", "lost.png", "c.png", "d.png"], after
    assert after["list"] == [["a.png", "done"], ["big.png", "refused"], ["lost.png", "failed"], ["c.png", "done"],
                             ["d.png", "done"]], after
    assert after["status"] == ("3 of 5 photos segmented, 1 refused (the reason beside each), 1 failed on the way "
                               "(Segment sends it again)."), after
    assert after["button"] == "Segment 1 remaining photo", after


@pytest.mark.parametrize("chosen", ["one", "list"])
def test_photos_chosen_while_a_photo_of_the_list_is_on_its_way_drop_it_at_once(server, photos, chosen):
    _need_browser()
    out = run_page_script("sending_states.mjs", server, photos, "leave", chosen, timeout=240)
    assert out["consoleErrors"] == [], out
    # Segment free at once (it stayed "1 of 2 · Uploading…", disabled, until a.png's answer came, then dropped)
    left = out["left"]
    assert left["button"] == "Segment" and not left["disabled"], left
    assert left["list"] == ([] if chosen == "one" else [["c.png", "waiting"], ["d.png", "waiting"]]), left
    assert out["failed"] == ["a.png"], out  # its request aborted
    after = out["after"]
    if chosen == "one":
        assert after["sent"] == ["a.png", "d.png"] and after["status"].startswith("Done in") and "d.png" in after["status"], after
    else:
        assert after["sent"] == ["a.png", "c.png", "d.png"], after
        assert after["list"] == [["c.png", "done"], ["d.png", "done"]], after
    assert not after["error"], after


def test_a_capture_while_a_photo_is_sent_again_with_other_prompts_keeps_the_new_answer(server, photos):
    _need_browser()
    out = run_page_script("sending_states.mjs", server, photos, "prompts", timeout=240)
    assert out["consoleErrors"] == [], out
    assert out["first"] == ["segment crack", "segment taping area"], out
    # a.png's line: the answer to the prompts it was sent with now (it took the answer before, to the prompts before,
    # and the one that came was drawn below only)
    answered = out["answered"]
    assert answered["list"] == [["a.png", "done"], ["d.png", "waiting"]], answered
    assert "segment taping area" in answered["said"][0] and "segment crack" not in answered["said"][0], answered
    assert answered["rows"] == ["segment taping area"], answered
    assert answered["button"] == "Segment 1 remaining photo", answered  # d.png only: a.png's answer is to these prompts
    chosen = out["chosen"]
    assert chosen["rows"] == ["segment taping area"] and "segment crack" not in chosen["curl"], chosen


@pytest.fixture
def server_1mb(tiny_model_dir):
    """The tiny model served with a 1 MB upload limit: big.png (32 KB) is under it."""
    from drywallqa import Segmenter
    from drywallqa.serve import ServeConfig, create_app
    from test_browser import serving

    yield from serving(create_app(ServeConfig(max_upload_mb=1), Segmenter.load(tiny_model_dir)))


@pytest.mark.parametrize("chosen", ["one", "list"])
def test_a_limit_raised_since_the_page_loaded_is_read_before_a_photo_is_refused(server_1mb, photos, chosen):
    _need_browser()
    # the page loaded while the server took 0.02 MB; it restarted since with 1 MB (as the refusal advises)
    out = run_page_script("sending_states.mjs", server_1mb, photos, "limit", chosen, timeout=240)
    assert out["consoleErrors"] == [], out
    after = out["after"]
    assert after["models"] == 2 and not after["error"], after  # the limit read again (it said "up to 0.02 MB")
    if chosen == "one":
        assert after["sent"] == ["big.png"] and after["status"].startswith("Done in"), after
    else:
        assert after["sent"] == ["a.png", "big.png"], after
        assert after["list"] == [["a.png", "done"], ["big.png", "done"]], after


def test_the_zip_taken_while_a_photo_is_on_its_way_says_so(server, photos):
    import zipfile

    _need_browser()
    out = run_page_script("sending_states.mjs", server, photos, "zip", timeout=240)
    assert out["consoleErrors"] == [], out
    during = out["during"]
    assert during["list"] == [["a.png", "done"], ["c.png", "sending"]], during
    # c.png on its way, not "not sent yet" (it was sent: its answer had not come)
    assert during["note"] == "1 photo not in the ZIP: 1 still on its way.", during
    with zipfile.ZipFile(photos / "flight.zip") as z:
        assert [n for n in z.namelist() if n.endswith(".png")] == ["a__segment_crack.png", "a__segment_taping_area.png"]
    assert out["after"]["hidden"] and out["after"]["note"] == "", out["after"]  # all in: nothing said


def test_a_photo_answered_after_other_photos_were_chosen_says_they_are_not_segmented(server, photos):
    _need_browser()
    out = run_page_script("sending_states.mjs", server, photos, "single", timeout=240)
    assert out["consoleErrors"] == [], out
    after = out["after"]  # a.png's answer drawn below the list of c.png and d.png, as one photo's is below another chosen
    assert after["list"] == [["c.png", "waiting"], ["d.png", "waiting"]] and after["result"], after
    assert after["status"].startswith("Done in") and " \u00b7 a.png \u00b7 " in after["status"], after
    assert after["status"].endswith("(the photos chosen since are not segmented yet: press Segment)"), after
