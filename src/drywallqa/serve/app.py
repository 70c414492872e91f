"""FastAPI app: ``POST /v1/segment``, ``GET /v1/models``, ``GET /healthz`` and a web page at ``/``.

The model is loaded once when the app is made. At most ``max_concurrency`` requests are segmented at a
time; one more is answered 429 at once rather than queued without bound.
"""

from __future__ import annotations

import asyncio
import base64
import io
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from PIL import Image
from pydantic import StringConstraints
from typing_extensions import Annotated

from ..engine.predictor import Segmenter, validate_prompts
from ..engine.tiling import TiledSegmenter
from ..measures import mask_measures
from ..rules import flags, parse_rules
from ..utils.image_io import ImageReadError, to_rgb_array

PAGE = Path(__file__).with_name("page.html")


@dataclass
class ServeConfig:
    model_path: str | None = None
    backend: str = "embedded"
    max_upload_mb: float = 20.0
    max_concurrency: int = 2
    max_prompts: int = 8


def encode_mask(mask: np.ndarray, fmt: str) -> dict:
    if fmt == "png":
        buf = io.BytesIO()
        Image.fromarray(mask.astype(np.uint8) * 255).save(buf, format="PNG")
        return {"format": "png", "base64": base64.b64encode(buf.getvalue()).decode()}
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"format": "coco_rle", "size": list(rle["size"]), "counts": rle["counts"].decode()}


def decode_image(data: bytes) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            return to_rgb_array(img)
    except (OSError, ValueError, ImageReadError) as exc:
        raise HTTPException(status_code=400, detail=f"the uploaded file is not a readable image ({exc})") from exc


def create_app(config: ServeConfig | None = None, segmenter: Segmenter | None = None) -> FastAPI:
    config = config or ServeConfig()
    seg = segmenter or Segmenter.load(config.model_path, backend=config.backend)
    slots = asyncio.Semaphore(config.max_concurrency)
    limit = int(config.max_upload_mb * 2**20)
    app = FastAPI(title="drywallqa", version="0.1.0",
                  description="Prompted segmentation for construction QA: photo + text prompts -> masks + QA measures.")

    @app.middleware("http")
    async def refuse_large_uploads(request: Request, call_next):
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit:
            return JSONResponse({"detail": f"upload larger than {config.max_upload_mb:g} MB"}, status_code=413)
        return await call_next(request)

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/v1/models")
    def models() -> dict:
        meta = getattr(seg, "metadata", {})
        return {"models": [{"backend": config.backend, "model_type": meta.get("model_type"),
                            "threshold": getattr(seg, "threshold", None),
                            "prompt_thresholds": getattr(seg, "prompt_thresholds", {}), "text_encoder": meta.get("text_encoder"),
                            "image_size": getattr(seg, "image_size", None)}]}

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return PAGE.read_text()

    error = {"content": {"application/json": {"schema": {"type": "object", "properties": {"detail": {}}}}}}
    errors = {
        400: {"description": "The upload is not a readable image.", **error},
        413: {"description": f"The upload is larger than {config.max_upload_mb:g} MB.", **error},
        422: {"description": "Missing or empty prompts, or a bad option.", **error},
        429: {"description": "All segmentation slots are busy; retry after a second.", **error},
    }

    @app.post("/v1/segment", responses=errors)
    async def segment(
        image: UploadFile = File(..., description="The photo (JPEG, PNG, ...)."),
        prompts: list[Annotated[str, StringConstraints(pattern=r"\S")]] = Form(
            ..., min_length=1, description="Text prompts, each with a visible character (repeat the field for several)."
        ),
        mask_format: str = Form("png", description="png (base64) or coco_rle."),
        include_probabilities: bool = Form(False, description="Also return a 0..255 probability PNG per prompt."),
        mm_per_px: float | None = Form(None, gt=0, description="Scale, for QA measures in millimetres."),
        tile: int | None = Form(None, ge=32, le=16384, description=(
            "Predict a photo larger than this many pixels on overlapping tiles of this size: for photos of a "
            "larger stretch of wall than one training photo showed (overrides the server's --tile).")),
        flag: list[str] = Form([], description=(
            "QA rule 'PROMPT: MEASURE OP NUMBER' (repeat the field for several), e.g. "
            "'segment crack: max_width_mm > 0.3'; the rules the photo breaks come back under flags.")),
    ) -> dict:
        try:
            prompts = validate_prompts(prompts)
            rules = parse_rules(flag, prompts, mm_per_px)
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        if len(prompts) > config.max_prompts:
            raise HTTPException(status_code=422, detail=f"at most {config.max_prompts} prompts per request")
        if mask_format not in ("png", "coco_rle"):
            raise HTTPException(status_code=422, detail="mask_format must be png or coco_rle")
        data = await image.read(limit + 1)
        if len(data) > limit:
            raise HTTPException(status_code=413, detail=f"upload larger than {config.max_upload_mb:g} MB")
        if slots.locked():
            raise HTTPException(status_code=429, detail="the server is busy; retry shortly", headers={"Retry-After": "1"})
        async with slots:
            t0 = time.perf_counter()
            rgb = await run_in_threadpool(decode_image, data)
            base = seg.inner if isinstance(seg, TiledSegmenter) else seg
            predictor = TiledSegmenter(base, tile) if tile else seg
            result = await run_in_threadpool(predictor.predict, rgb, prompts)
            total = 1e3 * (time.perf_counter() - t0)
        out = []
        for p in prompts:
            item = {"prompt": p, "mask": encode_mask(result.masks[p], mask_format),
                    "measures": mask_measures(result.masks[p], mm_per_px)}
            if p in result.scores:
                item["confidence"] = result.scores[p]
            if include_probabilities:
                buf = io.BytesIO()
                Image.fromarray((result.probabilities[p] * 255).round().astype(np.uint8)).save(buf, format="PNG")
                item["probability_png_base64"] = base64.b64encode(buf.getvalue()).decode()
            out.append(item)
        broken = flags({"prompts": {item["prompt"]: item["measures"] for item in out}}, rules)
        return {"image": {"width": rgb.shape[1], "height": rgb.shape[0]}, "results": out, "flags": broken,
                "timings_ms": {**result.timings_ms, "total_ms": total}}

    return app
