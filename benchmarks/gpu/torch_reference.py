"""The PyTorch side of the GPU throughput table (benchmarks/gpu/run.sh): HF CLIPVisionModelWithProjection and
CLIPTextModelWithProjection built from the same architecture presets as `vlm4j bench` (seeded random weights; the
work per image/text is what matters for throughput), eager and SDPA attention, at the given batch sizes and dtype.
Prints one JSON object per measurement, like `vlm4j bench --json`.

Attention variants: eager, sdpa, and sdpa+compile (torch.compile of the SDPA model, default mode; a variant that fails
to compile is reported as a JSON line with "error" and skipped).

With --save-check DIR it instead writes the agreement inputs: a seeded random HF CLIPModel (save_pretrained, safetensors)
in DIR/model, pixels.npy [8,3,S,S], ids.npy [8,77] (int32) and PyTorch's FP32 eager image/text embeddings
(torch_image.npy, torch_text.npy), which run.sh compares with vlm4j's encode-images/encode-texts on the same files.

Requirements: python 3.10+, torch >= 2.1, transformers >= 4.40 (the GPU machine has torch 2.11, transformers 5.17).
    python benchmarks/gpu/torch_reference.py --arch ViT-B/16 --batches 1,8,64,256 --dtype bf16 --device cuda
    python benchmarks/gpu/torch_reference.py --arch ViT-B/16 --save-check /tmp/check --device cuda
"""
import argparse
import json
import os
import sys
import time

import torch
from transformers import CLIPTextConfig, CLIPTextModelWithProjection, CLIPVisionConfig, CLIPVisionModelWithProjection

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "onnx"))
from export_clip import ARCHS  # noqa: E402  (the same presets as vlm4j's ClipConfig)


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def timed(fn, device, warmup, iters):
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]  # median, as vlm4j bench


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="ViT-B/16", choices=sorted(ARCHS))
    ap.add_argument("--batches", default="1,8,64,256")
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "fp16", "fp32"])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--attn", default="eager,sdpa,sdpa+compile")
    ap.add_argument("--save-check", metavar="DIR", help="write the agreement-check model, inputs and PyTorch outputs instead")
    ap.add_argument("--tower", default="both", choices=["vision", "text", "both"])
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    s = ARCHS[a.arch]
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[a.dtype]
    torch.manual_seed(0)
    vcfg = dict(image_size=s["image_size"], patch_size=s["patch_size"], hidden_size=s["width"], intermediate_size=4 * s["width"],
                num_hidden_layers=s["layers"], num_attention_heads=s["heads"], hidden_act="quick_gelu", projection_dim=s["embed"])
    tcfg = dict(hidden_size=s["t_width"], intermediate_size=4 * s["t_width"], num_hidden_layers=s["t_layers"],
                num_attention_heads=s["t_heads"], hidden_act="quick_gelu", projection_dim=s["embed"])
    if a.save_check:
        return save_check(a, s, vcfg, tcfg)
    for variant in a.attn.split(","):
        attn, compile_ = variant.split("+")[0], variant.endswith("+compile")
        towers = []
        if a.tower in ("vision", "both"):
            towers.append(("vision", CLIPVisionModelWithProjection(CLIPVisionConfig(**vcfg, attn_implementation=attn))))
        if a.tower in ("text", "both"):
            towers.append(("text", CLIPTextModelWithProjection(CLIPTextConfig(**tcfg, attn_implementation=attn))))
        for tower, model in towers:
            model = model.to(a.device, dtype).eval()
            if compile_:
                model = torch.compile(model)
            for b in [int(x) for x in a.batches.split(",")]:
                if tower == "vision":
                    x = torch.randn(b, 3, s["image_size"], s["image_size"], device=a.device, dtype=dtype)
                    fn = lambda: model(pixel_values=x)  # noqa: E731
                else:
                    ids = torch.randint(1, 49000, (b, 77), device=a.device)
                    ids[:, 10] = 49407
                    fn = lambda: model(input_ids=ids)  # noqa: E731
                try:
                    with torch.inference_mode():
                        sec = timed(fn, a.device, a.warmup, a.iters)
                except Exception as e:  # torch.compile where it does not work: say so, go on
                    print(json.dumps({"engine": f"torch-{variant}", "arch": a.arch, "tower": tower, "dtype": a.dtype, "batch": b,
                                      "error": f"{type(e).__name__}: {str(e)[:200]}"}), flush=True)
                    break
                key = "images_per_s" if tower == "vision" else "texts_per_s"
                print(json.dumps({"engine": f"torch-{variant}", "arch": a.arch, "tower": tower, "dtype": a.dtype, "batch": b,
                                  key: round(b / sec, 3), "seconds_per_batch": round(sec, 5),
                                  "torch": torch.__version__, "device": torch.cuda.get_device_name(0) if a.device == "cuda" else "cpu"}),
                      flush=True)
            del model
            if a.device == "cuda":
                torch.cuda.empty_cache()


def save_check(a, s, vcfg, tcfg):
    """The agreement check's inputs and PyTorch FP32 outputs (see the module docstring)."""
    import numpy as np
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    cfg = CLIPConfig(vision_config=dict(vcfg, image_size=s["image_size"], patch_size=s["patch_size"]), text_config=tcfg,
                     projection_dim=s["embed"])
    model = CLIPModel(cfg).eval()
    os.makedirs(a.save_check, exist_ok=True)
    model.save_pretrained(os.path.join(a.save_check, "model"), safe_serialization=True)
    g = torch.Generator().manual_seed(1)
    px = torch.randn(8, 3, s["image_size"], s["image_size"], generator=g)
    ids = torch.randint(1, 49000, (8, 77), generator=g)
    for i in range(8):
        ids[i, 0] = 49406
        ids[i, 5 + 7 * i:] = 0
        ids[i, 5 + 7 * i] = 49407
    model = model.to(a.device)
    with torch.inference_mode():
        img = model.visual_projection(model.vision_model(pixel_values=px.to(a.device)).pooler_output)
        txt = model.text_projection(model.text_model(input_ids=ids.to(a.device)).pooler_output)
    np.save(os.path.join(a.save_check, "pixels.npy"), px.numpy().astype(np.float32))
    np.save(os.path.join(a.save_check, "ids.npy"), ids.numpy().astype(np.int32))
    np.save(os.path.join(a.save_check, "torch_image.npy"), img.float().cpu().numpy())
    np.save(os.path.join(a.save_check, "torch_text.npy"), txt.float().cpu().numpy())


if __name__ == "__main__":
    main()
