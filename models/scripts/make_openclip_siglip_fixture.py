#!/usr/bin/env python3
"""Writes a tiny open_clip SigLIP checkpoint, as open_clip itself builds and saves one, and its reference embeddings, for
the Java test OpenClipSiglipTest (ClipModel.load of an open_clip_config.json + open_clip_model.safetensors directory).

The model is a real open_clip `CustomTextCLIP` (open_clip's own model code: `TimmModel` around timm's
`vit_base_patch16_siglip_224` entry with `timm_pool "map"`, `timm_proj "none"`, and the native `TextTransformer` with
`no_causal_mask`, `pool_type "last"`, `proj_bias`, LayerNorm eps 1e-6: the text_cfg of open_clip's ViT-B-16-SigLIP.json),
made tiny by passing size overrides to timm's registry entry (embed_dim 24, depth 2, mlp_ratio 2, img_size 48; the
entry's own num_heads 12, class_token False, global_pool 'map' and exact-GELU act_layer stay), every parameter seeded
random. The weights are rounded to float32, then the reference is computed in float64 from exactly those weights.

Requirements: Python 3.10+, torch (CPU is enough), timm, safetensors, numpy, and open_clip's model code (tested with
torch 2.13.0+cpu, timm 1.0.29, open_clip_torch 3.3.0, safetensors 0.8.0, numpy 2.4.6; versions.json records the last
run). open_clip is imported when installed; otherwise pass --open-clip-src DIR, a directory holding the `open_clip`
package, e.g. an unpacked wheel (`pip download open_clip_torch==3.3.0 --no-deps` then unzip). torchvision, imported by
timm and open_clip but not used here, is answered by an inert stand-in where it is missing (torchvision_stand_in.py).
Only needed to regenerate the committed files; the Java build never runs Python.

Run from the repository root (a few seconds):
    /tmp/venv/bin/python models/scripts/make_openclip_siglip_fixture.py --open-clip-src /tmp/oc

Writes java/src/test/resources/openclip_siglip/:
- model/open_clip_config.json ({"model_cfg": ..., "preprocess_cfg": ...} as open_clip's hub export writes it) and
  model/open_clip_model.safetensors (float32, open_clip's state_dict names: visual.trunk.*, text.*, logit_scale, logit_bias);
- pixel_values.npy float32 [2, 3, 48, 48] N(0, 1); input_ids.npy int32 [3, 8] random ids (no mask, as SigLIP runs);
- image_embeds.npy [2, 24] = model.encode_image(pixels), text_embeds.npy [3, 24] = model.encode_text(ids), float64,
  not normalized; logits.npy [2, 3] = exp(logit_scale)·cos + logit_bias (open_clip's SigLIP logits, logits_per_image).
"""
import argparse
import json
import os
import platform
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torchvision_stand_in  # noqa: E402  beside this script

STAND_IN = False
OUT = os.path.join(HERE, "..", "..", "java", "src", "test", "resources", "openclip_siglip")

MODEL_CFG = {
    "embed_dim": 24,
    "init_logit_bias": -10,
    "custom_text": True,
    "vision_cfg": {
        "image_size": 48,
        "timm_model_name": "vit_base_patch16_siglip_224",
        "timm_model_pretrained": False,
        "timm_pool": "map",
        "timm_proj": "none",
    },
    "text_cfg": {
        "context_length": 8,
        "vocab_size": 100,
        "hf_tokenizer_name": "timm/ViT-B-16-SigLIP",
        "tokenizer_kwargs": {"clean": "canonicalize"},
        "width": 20,
        "heads": 4,
        "layers": 2,
        "no_causal_mask": True,
        "proj_bias": True,
        "pool_type": "last",
        "norm_kwargs": {"eps": 1e-6},
    },
}
PREPROCESS_CFG = {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "interpolation": "bicubic", "resize_mode": "squash"}
TRUNK_OVERRIDES = dict(embed_dim=24, depth=2, mlp_ratio=2.0, img_size=48)


def import_open_clip(src):
    global STAND_IN
    STAND_IN = torchvision_stand_in.install()
    if src:
        sys.path.insert(0, os.path.abspath(src))
    try:
        import open_clip
    except ImportError as e:
        raise SystemExit(f"open_clip cannot be imported ({e}); pass --open-clip-src DIR (an unpacked open_clip_torch wheel)")
    return open_clip


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--open-clip-src", help="directory holding the open_clip package (unpacked wheel)")
    args = ap.parse_args()
    open_clip = import_open_clip(args.open_clip_src)
    import safetensors.torch
    import timm
    import open_clip.timm_model as tm

    real_create = tm.timm.create_model

    def tiny_create(name, **kw):  # the registry entry itself, with size overrides only
        assert name == MODEL_CFG["vision_cfg"]["timm_model_name"], name
        return real_create(name, **kw, **TRUNK_OVERRIDES)

    tm.timm.create_model = tiny_create
    torch.manual_seed(0)
    model = open_clip.model.CustomTextCLIP(
        MODEL_CFG["embed_dim"], MODEL_CFG["vision_cfg"], MODEL_CFG["text_cfg"], init_logit_bias=MODEL_CFG["init_logit_bias"])
    tm.timm.create_model = real_create
    trunk = model.visual.trunk
    assert type(trunk).__name__ == "VisionTransformer" and trunk.global_pool == "map" and trunk.cls_token is None
    assert trunk.blocks[0].mlp.act.__class__ is torch.nn.GELU and trunk.blocks[0].mlp.act.approximate == "none"
    assert model.text.attn_mask is None and model.text.pool_type == "last"
    assert isinstance(model.text.text_projection, torch.nn.Linear) and model.text.text_projection.bias is not None

    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g, dtype=torch.float64)
            if name in ("logit_scale", "logit_bias"):
                p.copy_(p + 0.3 * noise)
            elif name.endswith(".weight") and p.ndim == 1:  # LayerNorm gains
                p.copy_(1 + 0.2 * noise)
            else:
                p.copy_(0.2 * noise)
    model.eval()
    state = {k: v.detach().to(torch.float32).contiguous() for k, v in model.state_dict().items()}

    os.makedirs(os.path.join(OUT, "model"), exist_ok=True)
    safetensors.torch.save_file(state, os.path.join(OUT, "model", "open_clip_model.safetensors"))
    with open(os.path.join(OUT, "model", "open_clip_config.json"), "w") as f:
        json.dump({"model_cfg": MODEL_CFG, "preprocess_cfg": PREPROCESS_CFG}, f, indent=2)
        f.write("\n")

    model = model.double()  # the float32-rounded weights, evaluated in float64
    pixels = torch.randn(2, 3, 48, 48, generator=g).to(torch.float32)
    ids = torch.randint(0, MODEL_CFG["text_cfg"]["vocab_size"], (3, MODEL_CFG["text_cfg"]["context_length"]), generator=g)
    with torch.no_grad():
        image = model.encode_image(pixels.double())
        text = model.encode_text(ids)
        image_n, text_n, scale, bias = model(pixels.double(), ids)  # normalized features, exp(logit_scale), logit_bias
        logits = scale * image_n @ text_n.T + bias
    np.save(os.path.join(OUT, "pixel_values.npy"), pixels.numpy())
    np.save(os.path.join(OUT, "input_ids.npy"), ids.numpy().astype(np.int32))
    np.save(os.path.join(OUT, "image_embeds.npy"), image.numpy())
    np.save(os.path.join(OUT, "text_embeds.npy"), text.numpy())
    np.save(os.path.join(OUT, "logits.npy"), logits.numpy())
    versions = {"python": platform.python_version(), "torch": torch.__version__, "timm": timm.__version__,
                "open_clip": open_clip.__version__, "open_clip_file": os.path.relpath(open_clip.__file__, args.open_clip_src or "/"),
                "numpy": np.__version__, "torchvision_stand_in": STAND_IN}
    with open(os.path.join(OUT, "versions.json"), "w") as f:
        json.dump(versions, f, indent=2)
        f.write("\n")
    print("keys:", len(state), "logit_scale", float(state["logit_scale"]), "logit_bias", float(state["logit_bias"]))
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
