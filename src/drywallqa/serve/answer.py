"""The layout of ``POST /v1/segment``'s 200 answer, for its OpenAPI schema (``/openapi.json``, ``/docs``): what
docs/serving.md's table "The answer and results.json" says, field by field, so that a client generated from the
schema knows the answer's fields. Typed dicts used only to describe the answer (``responses={200: {"model":
SegmentAnswer}}``), never to check it at run time: a key the schema does not name is answered as it is, not refused
with a 500. A key that is left out where it says nothing (``tiles``, the mm measures, ``joints``, ...) is
NotRequired."""

from pydantic import Field
from typing_extensions import Annotated, Literal, NotRequired, TypedDict


def doc(text: str):
    """A field's description in the schema."""
    return Field(description=text)


class PngMask(TypedDict):
    """A mask as a PNG (``mask_format=png``, the default): 0 / 255, at the photo's size."""

    format: Annotated[Literal["png"], doc("png")]
    base64: Annotated[str, doc("The PNG file, base64.")]


class CocoRleMask(TypedDict):
    """A mask as COCO's run-length encoding (``mask_format=coco_rle``; pycocotools' ``mask.decode`` reads it)."""

    format: Annotated[Literal["coco_rle"], doc("coco_rle")]
    size: Annotated[list[int], doc("[height, width] of the photo.")]
    counts: Annotated[str, doc("COCO's compressed RLE counts, as text.")]


class Measures(TypedDict):
    """A mask's QA measures in px (docs/qa_measures.md); in mm and mm^2 too where ``mm_per_px`` was sent."""

    components: Annotated[int, doc("Regions of the mask (8-connected).")]
    area_px: Annotated[int, doc("Pixels of the mask.")]
    area_fraction: Annotated[float, doc("The mask's share of the photo, 0..1.")]
    length_px: Annotated[float, doc("Length of the mask's centre line, px.")]
    mean_width_px: Annotated[float, doc("Mean width along the centre line, px.")]
    max_width_px: Annotated[float, doc("Largest width along the centre line, px.")]
    mm_per_px: NotRequired[Annotated[float, doc("The scale sent (with mm_per_px).")]]
    area_mm2: NotRequired[Annotated[float, doc("Area in mm^2 (with mm_per_px).")]]
    length_mm: NotRequired[Annotated[float, doc("Centre-line length in mm (with mm_per_px).")]]
    mean_width_mm: NotRequired[Annotated[float, doc("Mean width in mm (with mm_per_px).")]]
    max_width_mm: NotRequired[Annotated[float, doc("Largest width in mm (with mm_per_px).")]]


class Joint(TypedDict):
    """One straight taped joint of a taping mask (docs/qa_measures.md, "Taped joints")."""

    length_px: Annotated[float, doc("From the first to the last taped pixel along it.")]
    mean_width_px: Annotated[float, doc("The tape's area along it over its taped length.")]
    coverage: Annotated[float, doc("The share of its length that is taped, 0..1.")]
    angle_deg: Annotated[float, doc("In [0, 180): 0 horizontal, 90 vertical, growing clockwise on the photo.")]
    start_xy: Annotated[list[float], doc("[x, y] of its upper (else left) end, in the photo's pixels.")]
    end_xy: Annotated[list[float], doc("[x, y] of its other end.")]
    length_mm: NotRequired[Annotated[float, doc("Length in mm (with mm_per_px).")]]
    mean_width_mm: NotRequired[Annotated[float, doc("Mean width in mm (with mm_per_px).")]]


class Concept(TypedDict):
    """What the model's prompt gate read of the prompt (docs/prompts.md)."""

    concept: Annotated[str, doc("The nearest known concept, e.g. cracks.")]
    nearest_prompt: Annotated[str, doc("That concept's prompt, e.g. segment crack.")]
    similarity: Annotated[float, doc("Cosine similarity to the nearest known prompt.")]
    margin: Annotated[float, doc("The similarity less that to the nearest unrelated prompt.")]
    known: Annotated[bool, doc("Whether the prompt is answered (false: its mask is empty and a warning says why).")]
    understood_as: NotRequired[Annotated[str, doc("The prompt the model was asked, where not the one sent.")]]


class PromptResult(Measures):
    """One prompt's item: its record as results.json keeps it (docs/serving.md, "The answer and results.json"), led
    by ``prompt``, with the mask itself and the measures again under ``measures`` (the layout of 0.6.29)."""

    prompt: Annotated[str, doc("The prompt, as asked (in the order sent, repeats merged).")]
    mask: Annotated[PngMask | CocoRleMask, doc("The mask at the photo's size, in mask_format.")]
    measures: Annotated[Measures, doc("The QA measures again (the layout of 0.6.29 and before, kept for its clients).")]
    joints: NotRequired[Annotated[list[Joint], doc("Per taped joint, longest first (prompts of taped joints).")]]
    confidence: NotRequired[Annotated[float | None, doc("The mask's estimated IoU, 0..1 (null: no number).")]]
    emptied_below: NotRequired[Annotated[float, doc("The min_confidence that emptied a mask that held pixels.")]]
    concept: NotRequired[Annotated[Concept, doc("The prompt gate's reading of the prompt (models with a gate).")]]
    probability_png_base64: NotRequired[Annotated[str, doc(
        "The probability map as a 0..255 PNG, base64 (include_probabilities).")]]


class AnswerImage(TypedDict):
    """The photo as the server read it (upright)."""

    width: Annotated[int, doc("Pixels across.")]
    height: Annotated[int, doc("Pixels down.")]
    jpeg_base64: NotRequired[Annotated[str, doc("The photo as read, as a JPEG, base64 (preview).")]]
    jpeg_width: NotRequired[Annotated[int, doc("The JPEG's width (preview; smaller than width past 65,500 px).")]]
    jpeg_height: NotRequired[Annotated[int, doc("The JPEG's height (preview).")]]


class Timings(TypedDict):
    """Milliseconds: the model's stages (e.g. read_ms, encode_ms, decode_ms; summed over the tiles of a tiled photo)
    and ``total_ms``."""

    total_ms: Annotated[float, doc("From the start of the work to the finished answer, measures, encoding included.")]
    read_ms: NotRequired[Annotated[float, doc("Reading the photo into the model's input.")]]
    encode_ms: NotRequired[Annotated[float, doc("The model's image encoder.")]]
    decode_ms: NotRequired[Annotated[float, doc("The model's decoder, all prompts.")]]


class SegmentAnswer(TypedDict):
    """The answer of ``POST /v1/segment``: one photo's masks and QA measures per prompt, the rules it breaks and the
    warnings (docs/serving.md, "The answer and results.json")."""

    image: Annotated[AnswerImage, doc("The photo as read.")]
    width: Annotated[int, doc("The photo's width as read (upright), as results.json's.")]
    height: Annotated[int, doc("The photo's height as read (upright), as results.json's.")]
    results: Annotated[list[PromptResult], doc("One item per prompt, in the prompts' order.")]
    flags: Annotated[list[str], doc("The rules (flag) the photo breaks; a rule not checked says why.")]
    warnings: Annotated[list[str], doc(
        "What was read otherwise than sent, prompts merged, prompts the model does not know, the tiling's.")]
    timings_ms: Annotated[Timings, doc("Milliseconds.")]
    tiles: NotRequired[Annotated[int, doc("How many tiles the photo was cut into (only where it was tiled).")]]
    stem: Annotated[str, doc("The uploaded file name's stem as drywallqa predict names files (photo where none).")]
    prompt_files: Annotated[dict[str, str], doc(
        "Prompt -> its part of a mask's file name: drywallqa predict writes <stem>__<prompt_files[p]>.png.")]
