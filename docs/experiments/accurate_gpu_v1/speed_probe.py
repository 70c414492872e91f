"""The candidate shipped to out/ship_accurate (README: "Chosen options on val") against CLIPSeg-rd64, in float32 and
in bfloat16, same run, 2 threads, first prompt end to end from a 640 px JPEG (20 published valid crack photos).

    python docs/experiments/accurate_gpu_v1/speed_probe.py [MODEL_DIR] [--images 20]
"""

import argparse
import json
import sys
from pathlib import Path

import cv2
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from encoder_speed import time_predict  # noqa: E402

from drywallqa import Segmenter  # noqa: E402
from drywallqa.data.sample import load_split  # noqa: E402
from drywallqa.utils.image_io import read_image  # noqa: E402


def clipseg(bf16: bool):
    """CLIPSeg-rd64 as benchmarks/encoder_speed.py builds it (random weights), optionally under bf16 autocast."""
    from transformers import CLIPSegConfig, CLIPSegForImageSegmentation

    torch.manual_seed(0)
    config = CLIPSegConfig(vision_config={"patch_size": 16}, reduce_dim=64, use_complex_transposed_convolution=True)
    model = CLIPSegForImageSegmentation(config).eval()
    mean = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
    std = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)
    ids = torch.tensor([[49406, 9857, 6020, 49407]])

    @torch.inference_mode()
    def predict(path):
        rgb = read_image(path)
        x = torch.from_numpy(cv2.resize(rgb, (352, 352), interpolation=cv2.INTER_AREA)).permute(2, 0, 1)[None].float() / 255
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(input_ids=ids, pixel_values=(x - mean) / std, interpolate_pos_encoding=True).logits.float()
        prob = torch.sigmoid(torch.nn.functional.interpolate(logits.reshape(1, 1, 352, 352), size=rgb.shape[:2], mode="bilinear"))
        return prob[0, 0].numpy() > 0.5

    return predict


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir", nargs="?", default="out/ship_accurate")
    ap.add_argument("--images", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(2)
    paths = [s.image_path for s in load_split("cracks", "valid")[0][: args.images]]
    rows = {}
    for precision in ("float32", "bfloat16"):
        seg = Segmenter.load(args.model_dir, precision=precision)
        rows[f"candidate {precision}"] = time_predict(lambda p: seg.predict(p, ["segment crack"]), paths)
        rows[f"CLIPSeg-rd64 {precision}"] = time_predict(clipseg(precision == "bfloat16"), paths)
    print(json.dumps({k: round(v, 1) for k, v in rows.items()}))


if __name__ == "__main__":
    main()
