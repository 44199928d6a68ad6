#!/usr/bin/env python3
"""Writes the reference values that the Java ViT-family tests compare against, computed by the real libraries:

1. a tiny seeded timm VisionTransformer (created through timm's own `vit_base_patch16_224` registration with
   img_size 32, patch_size 8, embed_dim 32, depth 2, num_heads 4; class token, global_pool 'token', no pre-norm)
   under open_clip TimmModel's 'linear' head (a bias-free Linear to 24), saved with open_clip key names
   (`visual.trunk.*`, `visual.head.proj.weight`) — BiomedCLIP's image tower in miniature (spec 04 §3);
2. a tiny seeded HF SiglipModel (vision: image 32, patch 8, hidden 32, 2 layers, 4 heads; text: vocab 100, hidden 24,
   4 heads, 2 layers, 16 positions, projection_size 32), saved with save_pretrained (config.json + model.safetensors),
   with its pooled image output, text embeddings and sigmoid logits.

Requirements: Python 3.10+, torch (CPU), transformers, timm, safetensors, numpy (tested with torch 2.13.0+cpu,
transformers 5.17.0, timm 1.0.29, safetensors 0.8.0, numpy 2.4.6; versions.json in the output folder records the
ones of the last run). Only needed to regenerate the committed files; the Java build never runs Python.

timm declares torchvision as a dependency and imports it at module import time (data transforms, FrozenBatchNorm2d),
but the VisionTransformer forward never calls it. Where torchvision is not installed (it is not on the machines this
project runs on) or does not import, this script installs an inert stand-in module for `torchvision.*`
(torchvision_stand_in.py) before importing timm, so the model under test is timm's real code; versions.json records whether the stand-in was used. open_clip is not imported
(it needs torchvision at import time too): the head is rebuilt exactly as open_clip 3.3.0's TimmModel builds it for
`proj='linear'` (`nn.Sequential(OrderedDict(drop=nn.Dropout(0.), proj=nn.Linear(width, embed_dim, bias=False)))`,
trunk made with `reset_classifier(0)` and its default pool), and saved under the same module names.

Run from the repository root (a few seconds):
    /tmp/venv/bin/python models/scripts/make_vit_fixtures.py

Writes java/src/test/resources/vit/ (README.md, generated too, lists every file with its shape); the script checks itself
(the saved weights reload into fresh models with identical outputs, a manual MAP-head computation equals HF's) and
fails on any mismatch.
"""
import json
import os
import platform
import shutil
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn

import torchvision_stand_in  # noqa: E402  (beside this script)

STAND_IN = torchvision_stand_in.install()

import safetensors  # noqa: E402
import timm  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import SiglipConfig, SiglipModel  # noqa: E402

OUT = "java/src/test/resources/vit"
N = 3  # batch
TIMM_EMBED = 24
SEQ = 16
PAD = 1
SDPA_NOTE = ["(not measured)"]


def reinit(model, seed, special=None):
    """Larger-than-default init so activations are O(1) and errors show: matrices N(0, 0.2), LayerNorm gamma
    1 + 0.1 N(0,1), beta and biases 0.1 N(0,1); `special(name)` may return a std for other parameters. Parameters are
    visited in sorted name order so values do not depend on module definition order."""
    g = torch.Generator().manual_seed(seed)
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name in sorted(params):
            p = params[name]
            noise = torch.randn(p.shape, generator=g, dtype=torch.float32)
            is_norm = 'norm' in name.split('.')[-2] if '.' in name else False
            std = special(name) if special else None
            if std is not None:
                p.copy_(noise * std)
            elif is_norm and name.endswith('.weight'):
                p.copy_(1 + 0.1 * noise)
            elif name.endswith('bias') or is_norm:
                p.copy_(0.1 * noise)
            else:
                p.copy_(0.2 * noise)


def check(cond, what):
    if not cond:
        raise SystemExit("self-check failed: " + what)


def max_abs(a, b):
    return float((a - b).abs().max())


def save_npy(name, arr, files):
    arr = np.ascontiguousarray(arr.detach().numpy() if isinstance(arr, torch.Tensor) else arr)  # C order for Java
    np.save(os.path.join(OUT, name), arr)
    files.append((name, list(arr.shape), str(arr.dtype)))


class OpenClipTimmVisual(nn.Module):
    """open_clip TimmModel (3.3.0) for pool='' (keep the trunk's 'token' pool) and proj='linear'."""

    def __init__(self, trunk, embed_dim):
        super().__init__()
        trunk.reset_classifier(0)  # TimmModel: reset_kwargs = {} when pool is '' -> the default pool stays
        self.trunk = trunk
        self.head = nn.Sequential(OrderedDict(
            drop=nn.Dropout(0.0), proj=nn.Linear(trunk.num_features, embed_dim, bias=False)))

    def forward(self, x):
        return self.head(self.trunk(x))


class Wrapper(nn.Module):  # gives the state dict the `visual.` prefix of a CustomTextCLIP
    def __init__(self, visual):
        super().__init__()
        self.visual = visual


def make_timm(files):
    trunk = timm.create_model('vit_base_patch16_224', pretrained=False, img_size=32, patch_size=8, embed_dim=32,
                              depth=2, num_heads=4, num_classes=0)
    check(trunk.global_pool == 'token' and trunk.has_class_token and isinstance(trunk.norm_pre, nn.Identity),
          "timm trunk is token-pooled with a class token and no pre-norm")
    model = Wrapper(OpenClipTimmVisual(trunk, TIMM_EMBED)).eval()
    reinit(model, 1234, special=lambda n: 0.5 if n.endswith(('cls_token', 'pos_embed')) else None)
    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(sd, os.path.join(OUT, "timm_vit.safetensors"), metadata={"format": "pt"})

    g = torch.Generator().manual_seed(99)
    pixels = torch.randn(N, 3, 32, 32, generator=g)
    with torch.no_grad():
        pooled = trunk(pixels)              # forward_features (norm over all tokens) + forward_head ('token' pool)
        embeds = model.visual(pixels)
        # reload into a fresh model: the file alone reproduces the outputs
        fresh = Wrapper(OpenClipTimmVisual(timm.create_model(
            'vit_base_patch16_224', pretrained=False, img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4,
            num_classes=0), TIMM_EMBED)).eval()
        fresh.load_state_dict(load_file(os.path.join(OUT, "timm_vit.safetensors")), strict=True)
        check(torch.equal(fresh.visual(pixels), embeds), "timm reload reproduces the embeddings")
    save_npy("timm_pixel_values.npy", pixels, files)
    save_npy("timm_trunk_pooled.npy", pooled, files)
    save_npy("timm_image_embeds.npy", embeds, files)
    return sorted(sd.keys())


def siglip_config():
    return SiglipConfig(
        text_config=dict(vocab_size=100, hidden_size=24, intermediate_size=40, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=SEQ, projection_size=32, pad_token_id=PAD,
                         bos_token_id=None, eos_token_id=PAD),
        vision_config=dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=4))


def make_siglip(files):
    config = siglip_config()
    model = SiglipModel(config).eval()
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")
    check(model.vision_model.config._attn_implementation == "eager" and model.text_model.config._attn_implementation == "eager",
          "eager attention in both towers")

    def special(name):
        if name.endswith("probe"):
            return 1.0
        if name.endswith(("embedding.weight",)) and "patch" not in name:
            return 0.5
        return None

    reinit(model, 4321, special=special)
    with torch.no_grad():
        model.logit_scale.fill_(float(np.log(10.0)))
        model.logit_bias.fill_(-1.5)
    mdir = os.path.join(OUT, "siglip")
    model.save_pretrained(mdir, safe_serialization=True)

    g = torch.Generator().manual_seed(77)
    pixels = torch.randn(N, 3, 32, 32, generator=g)
    lengths = [5, 11, 16]
    ids = torch.full((N, SEQ), PAD, dtype=torch.long)
    mask = torch.zeros((N, SEQ), dtype=torch.long)
    for r, n in enumerate(lengths):
        ids[r, :n] = torch.randint(2, 100, (n,), generator=g)
        mask[r, :n] = 1
    with torch.no_grad():
        vision = model.vision_model(pixel_values=pixels)
        text = model.text_model(input_ids=ids)
        text_masked = model.text_model(input_ids=ids, attention_mask=mask)
        out = model(input_ids=ids, pixel_values=pixels)
        pooled = vision.pooler_output
        check(max_abs(out.image_embeds, pooled / pooled.norm(dim=-1, keepdim=True)) < 1e-6,
              "SiglipModel.image_embeds is the normalized vision pooler_output")
        check(max_abs(out.text_model_output.pooler_output, text.pooler_output) == 0,
              "SiglipModel runs the text tower without a mask when none is given")
        # the MAP head by hand, from the post-LN tokens: nn.MultiheadAttention with the probe as the only query
        head = model.vision_model.head
        h = head.attention(head.probe.repeat(N, 1, 1), vision.last_hidden_state, vision.last_hidden_state)[0]
        manual = (h + head.mlp(head.layernorm(h)))[:, 0]
        check(max_abs(manual, vision.pooler_output) == 0, "manual MAP head equals HF's")
        fresh = SiglipModel.from_pretrained(mdir, attn_implementation="eager").eval()
        check(max_abs(fresh(input_ids=ids, pixel_values=pixels).logits_per_image, out.logits_per_image) == 0,
              "siglip reload reproduces the logits")
        sdpa = SiglipModel.from_pretrained(mdir, attn_implementation="sdpa").eval()
        SDPA_NOTE[0] = "max |diff| %.1e on the logits, %.1e on the pooled image output" % (
            max_abs(sdpa(input_ids=ids, pixel_values=pixels).logits_per_image, out.logits_per_image),
            max_abs(sdpa.vision_model(pixel_values=pixels).pooler_output, pooled))
    save_npy("siglip_pixel_values.npy", pixels, files)
    save_npy("siglip_input_ids.npy", ids.to(torch.int32), files)
    save_npy("siglip_attention_mask.npy", mask.to(torch.int32), files)
    save_npy("siglip_vision_pooled.npy", vision.pooler_output, files)
    save_npy("siglip_text_embeds.npy", text.pooler_output, files)
    save_npy("siglip_text_embeds_masked.npy", text_masked.pooler_output, files)
    save_npy("siglip_logits_per_image.npy", out.logits_per_image, files)
    save_npy("siglip_probs_per_image.npy", torch.sigmoid(out.logits_per_image), files)
    return sorted(load_file(os.path.join(mdir, "model.safetensors")).keys())


README = """# ViT-family reference fixtures (timm ViT + open_clip head, HF SigLIP)

Written by `models/scripts/make_vit_fixtures.py` (run from the repository root:
`/tmp/venv/bin/python models/scripts/make_vit_fixtures.py`; it deletes and rewrites this folder). CI never runs it.
Read by `TimmFixtureTest` and `SiglipFixtureTest` (java/src/test/java/io/vlm4j/model/vit/).

Versions (also in `versions.json`): {versions}.
CPU, float32, `torch.set_num_threads(1)`; HF attention `eager` (SDPA differs from it here by {sdpa}).

**timm without torchvision.** timm declares torchvision as a dependency and imports it when `timm` is imported, but
torchvision is not installable on this project's machines (not in the offline wheel set). timm was installed with
`pip install --no-deps` and the script answers `import torchvision...` with an inert stand-in module
(`torchvision_stand_in.py`, also used where an installed torchvision does not import); the ViT code that runs is timm's own (`timm.create_model`). Pillow is needed by
`timm.data` at import time. open_clip (also needing torchvision) is not imported: its `TimmModel` head for
`timm_proj="linear"` is rebuilt as open_clip 3.3.0 builds it, `nn.Sequential(OrderedDict(drop=Dropout(0),
proj=Linear(width, embed_dim, bias=False)))`, under the same module names.

Weights are re-initialized (seeded, parameters visited in sorted name order) at a larger scale than the libraries'
init so activations are O(1): matrices N(0, 0.2), LayerNorm gamma 1 + 0.1 N(0,1), beta and biases 0.1 N(0,1);
timm `cls_token`/`pos_embed` and SigLIP token/position embeddings N(0, 0.5); SigLIP `head.probe` N(0, 1).

## timm ViT + open_clip head (BiomedCLIP's image tower in miniature, spec 04 §3)

`timm.create_model('vit_base_patch16_224', pretrained=False, img_size=32, patch_size=8, embed_dim=32, depth=2,
num_heads=4, num_classes=0)`: class token, `global_pool='token'`, no pre-norm (so the patch conv has a bias), final
`norm` over all tokens, exact GELU, qkv bias, LayerNorm eps 1e-6, MLP 128; then the 'linear' head to 24.

- `timm_vit.safetensors`: the state dict with open_clip `CustomTextCLIP` names: `visual.trunk.*`
  ({timm_count} tensors) and `visual.head.proj.weight` [24, 32].
- `timm_pixel_values.npy` [3, 3, 32, 32]: N(0, 1) inputs.
- `timm_trunk_pooled.npy` [3, 32]: `trunk(pixels)`, i.e. `norm(x)[:, 0]` (the head input).
- `timm_image_embeds.npy` [3, 24]: `visual(pixels)` = `head.proj(trunk(pixels))`, not normalized.

## HF SigLIP (spec 06 §6.2)

`siglip/`: `SiglipModel.save_pretrained` (config.json + model.safetensors, {siglip_count} tensors). Vision: image 32, patch 8
(16 tokens, no class token), hidden 32, MLP 64, 2 layers, 4 heads. Text: vocab 100, hidden 24, MLP 40, 2 layers,
4 heads, 16 positions, `projection_size` 32 (so the text `head` maps 24 → 32), pad = eos = 1, bos None. Both:
`gelu_pytorch_tanh`, eps 1e-6. `logit_scale` = ln 10, `logit_bias` = −1.5.

- `siglip_pixel_values.npy` [3, 3, 32, 32]: N(0, 1) inputs.
- `siglip_input_ids.npy` int32 [3, 16]: rows of 5, 11 and 16 random ids in [2, 100), right-padded with 1 to 16.
- `siglip_attention_mask.npy` int32 [3, 16]: 1 on the non-pad positions (used only for the `_masked` output).
- `siglip_vision_pooled.npy` [3, 32]: `vision_model(pixels).pooler_output` (the MAP head output = SigLIP's image
  embedding, not normalized). The script checks it against the MAP head computed by hand.
- `siglip_text_embeds.npy` [3, 32]: `text_model(input_ids).pooler_output` (no mask, as SigLIP runs).
- `siglip_text_embeds_masked.npy` [3, 32]: the same with `attention_mask`.
- `siglip_logits_per_image.npy` [3, 3]: `SiglipModel(input_ids, pixel_values).logits_per_image`
  = exp(logit_scale)·cos(image_i, text_j) + logit_bias.
- `siglip_probs_per_image.npy` [3, 3]: `sigmoid(logits_per_image)`.
"""


def write_readme(versions, sdpa, timm_keys, siglip_keys):
    text = README.format(versions=", ".join(f"{k} {v}" for k, v in sorted(versions.items())), sdpa=sdpa,
                         timm_count=sum(k.startswith("visual.trunk.") for k in timm_keys), siglip_count=len(siglip_keys))
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write(text)


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    files = []
    timm_keys = make_timm(files)
    siglip_keys = make_siglip(files)
    versions = dict(python=platform.python_version(), torch=torch.__version__, transformers=transformers.__version__,
                    timm=timm.__version__, safetensors=safetensors.__version__, numpy=np.__version__,
                    torchvision="stand-in (not installed or not importable)" if STAND_IN else __import__("torchvision").__version__)
    with open(os.path.join(OUT, "versions.json"), "w") as f:
        json.dump(versions, f, indent=2, sort_keys=True)
        f.write("\n")
    write_readme(versions, SDPA_NOTE[0], timm_keys, siglip_keys)
    print(json.dumps(versions))
    for name, shape, dtype in files:
        print(f"{name:42s} {dtype:8s} {shape}")


if __name__ == "__main__":
    main()
