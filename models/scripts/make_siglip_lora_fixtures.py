#!/usr/bin/env python3
"""Writes the reference values that the Java SigLIP LoRA tests compare against, computed by the real libraries: a tiny
seeded HF SiglipModel, a PEFT LoRA adapter on every Linear of both towers (non-zero B), its outputs unmerged and merged,
and the gradients of HF's own sigmoid loss (`SiglipModel(..., return_loss=True)`) with respect to every adapter matrix;
plus HF's loss and its gradients on small random embeddings (for `Losses.sigmoid` alone).

Requirements: Python 3.10+, torch (CPU is enough), transformers, peft, safetensors and numpy (tested with torch
2.13.0+cpu, transformers 5.17.0, peft 0.21.0, safetensors 0.8.0, numpy 2.4.6; versions.json in the output folder
records the ones of the last run). Only needed to regenerate the committed files; the Java build never runs Python.
transformers imports torchvision, which is not used here: where it is missing or does not import, an inert stand-in
answers the import (torchvision_stand_in.py).

Run from the repository root (a few seconds):
    /tmp/venv/bin/python models/scripts/make_siglip_lora_fixtures.py

Writes java/src/test/resources/siglip_lora/ (README.md, generated too, lists every file). The script checks itself and
fails on any mismatch (see README below).

**PEFT and the pooling head's out_proj.** `nn.MultiheadAttention.forward` reads `out_proj.weight` itself and never calls
the `out_proj` module, so in PEFT's unmerged forward an adapter on `vision_model.head.attention.out_proj` does nothing
(and gets no gradient), while `merge_and_unload()` does add it to the weight. vlm4j gives that adapter its meaning,
W + s·B·A, in both forms. To compute the reference for it with PEFT's own LoRA layers, the head's MultiheadAttention is
run by `mha_calling_out_proj` below: the same attention (nn.MultiheadAttention's math, checked equal to it on the base
model) but with `out_proj` called as a module, so the PEFT LoRA layer there runs. The script checks that this unmerged
forward equals PEFT's merged model.
"""
import json
import os
import platform
import re
import shutil

import numpy as np
import torch
import torch.nn.functional as F

import torchvision_stand_in  # beside this script

STAND_IN = torchvision_stand_in.install()

import peft  # noqa: E402
import safetensors  # noqa: E402
import transformers  # noqa: E402
from peft import LoraConfig, PeftModel, get_peft_model  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import SiglipConfig, SiglipModel  # noqa: E402
from transformers.modeling_outputs import BaseModelOutputWithPooling  # noqa: E402

import make_vit_fixtures as vit  # noqa: E402  (beside this script: the same init as the other SigLIP fixture)
from make_lora_fixtures import LORA_STD, peft_key, randomize_lora  # noqa: E402  (the CLIP LoRA fixtures' conventions)
from make_vit_fixtures import check, max_abs  # noqa: E402

OUT = "java/src/test/resources/siglip_lora"
BASE_DIR = OUT + "/base"
N = 3            # batch
SEQ = 9          # text length = max_position_embeddings
PAD = 1          # pad = eos, as SigLIP
LENGTHS = [4, 7, 9]  # tokens before the padding (the last one eos), per row
LOGIT_SCALE, LOGIT_BIAS = float(np.log(10.0)), -2.0
# every Linear of both towers: encoder q/k/v/out_proj, fc1, fc2; the vision head's out_proj and MLP; the text head
TARGETS = r".*\.(self_attn\.(q_proj|k_proj|v_proj|out_proj)|mlp\.fc1|mlp\.fc2|attention\.out_proj)|text_model\.head"
ADAPTER = dict(r=3, lora_alpha=6, target_modules=TARGETS, rank_pattern={"head": 2}, alpha_pattern={"fc2": 5},
               lora_dropout=0.0, bias="none")
EMB_N, EMB_E = 5, 7  # the loss-only fixture: 5 pairs of 7-dim embeddings


def siglip_config():
    """Odd shapes: vision width 48, 3 heads of 16, 20 px / patch 5 -> 16 tokens, MLP 40; text width 36, 3 heads of 12,
    MLP 40, 9 positions, head 36 -> 48; tanh GELU, eps 1e-6 (SigLIP's)."""
    return SiglipConfig(
        text_config=dict(vocab_size=50, hidden_size=36, intermediate_size=40, num_hidden_layers=2, num_attention_heads=3,
                         max_position_embeddings=SEQ, projection_size=48, pad_token_id=PAD, bos_token_id=None,
                         eos_token_id=PAD),
        vision_config=dict(image_size=20, patch_size=5, hidden_size=48, intermediate_size=40, num_hidden_layers=2,
                           num_attention_heads=3))


def reinit(model, seed):
    """make_vit_fixtures.py's larger-than-default init (matrices N(0, 0.2), LayerNorm gamma 1 + 0.1 N(0,1), biases
    0.1 N(0,1)) with its SigLIP choices (token/position embeddings N(0, 0.5), probe N(0, 1)); then the logit scale and bias."""
    def special(name):
        if name.endswith("probe"):
            return 1.0
        return 0.5 if name.endswith("embedding.weight") and "patch" not in name else None

    vit.reinit(model, seed, special)
    with torch.no_grad():
        model.logit_scale.fill_(LOGIT_SCALE)
        model.logit_bias.fill_(LOGIT_BIAS)


def load_base():
    return SiglipModel.from_pretrained(BASE_DIR, attn_implementation="eager").float()


def mha_calling_out_proj(mha):
    """nn.MultiheadAttention(batch_first, no mask, no dropout) as a forward that calls mha.out_proj as a module."""
    def forward(query, key, value, **kwargs):
        d, h = mha.embed_dim, mha.num_heads
        w, b = mha.in_proj_weight, mha.in_proj_bias
        q, k, v = F.linear(query, w[:d], b[:d]), F.linear(key, w[d:2 * d], b[d:2 * d]), F.linear(value, w[2 * d:], b[2 * d:])
        split = lambda x: x.view(x.shape[0], x.shape[1], h, d // h).transpose(1, 2)  # noqa: E731
        p = torch.softmax(split(q) @ split(k).transpose(-1, -2) / (d // h) ** 0.5, dim=-1)
        o = (p @ split(v)).transpose(1, 2).reshape(query.shape[0], query.shape[1], d)
        return mha.out_proj(o), None
    return forward


def siglip_of(model):
    return model.base_model.model if isinstance(model, PeftModel) else model


def embeds(model, pixels, ids):
    """(vision pooler_output, text pooler_output): SigLIP's un-normalized image and text embeddings."""
    m = siglip_of(model)
    return m.vision_model(pixel_values=pixels).pooler_output, m.text_model(input_ids=ids).pooler_output


FILES = []


def save_npy(name, arr, desc):
    arr = np.ascontiguousarray(arr.detach().numpy() if isinstance(arr, torch.Tensor) else arr)
    if arr.dtype == np.int64:
        arr = arr.astype(np.int32)
    np.save(os.path.join(OUT, name), arr)
    FILES.append((name, list(arr.shape), str(arr.dtype), desc))


def save_st(name, tensors, desc):
    tensors = {k: v.detach().to(torch.float32).contiguous().clone() for k, v in tensors.items()}
    save_file(tensors, os.path.join(OUT, name), metadata={"format": "pt"})
    FILES.append((name, f"{len(tensors)} tensors", "float32", desc))


def make_model_fixture():
    model = SiglipModel(siglip_config()).eval()
    reinit(model, 5150)
    model.save_pretrained(BASE_DIR, safe_serialization=True)
    FILES.append(("base/", "config.json + model.safetensors", "float32", "SiglipModel.save_pretrained of the tiny model"))
    base = load_base().eval()

    g = torch.Generator().manual_seed(17)
    pixels = torch.randn(N, 3, 20, 20, generator=g)
    ids = torch.full((N, SEQ), PAD, dtype=torch.long)
    for r, n in enumerate(LENGTHS):
        ids[r, :n - 1] = torch.randint(2, 50, (n - 1,), generator=g)  # the n-th token is eos = pad
    save_npy("pixel_values.npy", pixels, "N(0, 1) images")
    save_npy("input_ids.npy", ids, f"ids in [2, 50) for {[n - 1 for n in LENGTHS]} tokens, then eos = pad = 1 to length {SEQ}")

    # the attention that calls out_proj as a module is nn.MultiheadAttention's own math
    mha = base.vision_model.head.attention
    with torch.no_grad():
        original = base.vision_model(pixel_values=pixels).pooler_output
        mha.forward = mha_calling_out_proj(mha)
        base_img, base_txt = embeds(base, pixels, ids)
    check(max_abs(original, base_img) < 1e-6, "mha_calling_out_proj == nn.MultiheadAttention (%.1e)" % max_abs(original, base_img))
    save_npy("base_image_embeds.npy", base_img, "base model: vision pooler_output (not normalized)")
    save_npy("base_text_embeds.npy", base_txt, "base model: text pooler_output (not normalized, no mask)")

    pm = get_peft_model(load_base(), LoraConfig(**ADAPTER))
    randomize_lora(pm, 6)
    # 2 layers × 6 per tower, the vision head's out_proj, fc1, fc2 and the text head
    wrapped = sorted({re.sub(r"\.lora_[AB]\..*", "", n) for n, _ in pm.named_parameters() if ".lora_A." in n})
    check(len(wrapped) == 28 and "base_model.model.vision_model.head.attention.out_proj" in wrapped
          and "base_model.model.text_model.head" in wrapped, "the adapter wraps every Linear: %d %s" % (len(wrapped), wrapped))
    pm.save_pretrained(os.path.join(OUT, "adapter"), safe_serialization=True)
    card = os.path.join(OUT, "adapter", "README.md")
    if os.path.exists(card):
        os.remove(card)
    FILES.append(("adapter/", "adapter_config.json + adapter_model.safetensors", "float32",
                  f"PEFT LoRA on the {len(wrapped)} Linears: r 3, alpha 6, rank_pattern head: 2, alpha_pattern fc2: 5, "
                  f"target_modules {TARGETS!r}; A and B N(0, {LORA_STD})"))
    pm.eval()
    peft_mha = siglip_of(pm).vision_model.head.attention
    with torch.no_grad():
        peft_img, _ = embeds(pm, pixels, ids)  # PEFT as it runs: the out_proj adapter is not applied
        peft_mha.forward = mha_calling_out_proj(peft_mha)
        img, txt = embeds(pm, pixels, ids)
    check(max_abs(img, base_img) > 0.1 and max_abs(txt, base_txt) > 0.1, "the adapter changes both towers")
    out_proj_effect = max_abs(img, peft_img)
    check(out_proj_effect > 1e-2, "the out_proj adapter counts in the reference (%.2e)" % out_proj_effect)
    save_npy("image_embeds.npy", img, "with the adapter, unmerged (out_proj's adapter applied, see the script)")
    save_npy("text_embeds.npy", txt, "with the adapter, unmerged")

    # HF's sigmoid loss on the adapted model and its gradients for every adapter matrix
    m = siglip_of(pm)
    out = m(input_ids=ids, pixel_values=pixels, return_loss=True)
    out.loss.backward()
    u, v = F.normalize(img, dim=-1), F.normalize(txt, dim=-1)
    z = np.exp(LOGIT_SCALE) * u @ v.t() + LOGIT_BIAS
    y = 2 * torch.eye(N) - 1
    check(abs(out.loss.item() - float(-F.logsigmoid(y * z).sum() / N)) < 1e-5, "HF return_loss == spec 07 section 2")
    grads = {peft_key(n): p.grad for n, p in pm.named_parameters() if ".lora_" in n}
    check(all(g is not None and float(g.abs().max()) > 0 for g in grads.values()), "every adapter matrix has a gradient")
    save_npy("loss.npy", np.array(out.loss.item(), dtype=np.float64), "SiglipModel(input_ids, pixel_values, return_loss=True).loss")
    save_st("grads.safetensors", grads, "d loss / d every lora_A / lora_B, under PEFT's saved key names")

    # reload through PeftModel.from_pretrained, then merge: the merged model (no out_proj subtlety) gives the same outputs
    re_pm = PeftModel.from_pretrained(load_base(), os.path.join(OUT, "adapter")).eval()
    merged = re_pm.merge_and_unload().eval()
    with torch.no_grad():
        m_img, m_txt = embeds(merged, pixels, ids)
    scale = max(1.0, float(img.abs().max()), float(txt.abs().max()))
    check(max_abs(m_img, img) < 1e-5 * scale and max_abs(m_txt, txt) < 1e-5 * scale,
          "merged (%.1e, %.1e) == unmerged with out_proj called" % (max_abs(m_img, img), max_abs(m_txt, txt)))
    save_npy("merged_image_embeds.npy", m_img, "PeftModel.from_pretrained(...).merge_and_unload(): vision pooler_output")
    save_npy("merged_text_embeds.npy", m_txt, "the same, text pooler_output")
    return out_proj_effect / float(img.abs().max()), max(max_abs(m_img, img), max_abs(m_txt, txt)) / scale


class Fixed(torch.nn.Module):
    """A tower stand-in whose pooler_output is a parameter: HF's SiglipModel.forward then computes its loss on it."""

    def __init__(self, value):
        super().__init__()
        self.value = torch.nn.Parameter(value)

    def forward(self, **kwargs):
        return BaseModelOutputWithPooling(last_hidden_state=None, pooler_output=self.value)


def make_loss_fixture():
    g = torch.Generator().manual_seed(23)
    img, txt = torch.randn(EMB_N, EMB_E, generator=g), torch.randn(EMB_N, EMB_E, generator=g)
    model = SiglipModel(siglip_config()).eval()
    with torch.no_grad():
        model.logit_scale.fill_(0.8)
        model.logit_bias.fill_(-1.3)
    model.vision_model, model.text_model = Fixed(img.clone()), Fixed(txt.clone())
    out = model(input_ids=torch.ones(EMB_N, 2, dtype=torch.long), pixel_values=torch.zeros(EMB_N, 3, 20, 20),
                return_loss=True)
    out.loss.backward()
    save_st("sigmoid_loss.safetensors", {
        "image_embeds": img, "text_embeds": txt, "logit_scale": model.logit_scale.detach(), "logit_bias": model.logit_bias.detach(),
        "loss": out.loss.detach().reshape(1), "grad_image_embeds": model.vision_model.value.grad,
        "grad_text_embeds": model.text_model.value.grad, "grad_logit_scale": model.logit_scale.grad,
        "grad_logit_bias": model.logit_bias.grad},
        f"HF SiglipModel return_loss on {EMB_N} random (un-normalized) {EMB_E}-dim embedding pairs with logit_scale 0.8, "
        "logit_bias -1.3: the loss and its gradients for the embeddings, the scale and the bias")


README = """# SigLIP LoRA reference fixtures (HF SiglipModel + PEFT)

Written by `models/scripts/make_siglip_lora_fixtures.py` (run from the repository root:
`/tmp/venv/bin/python models/scripts/make_siglip_lora_fixtures.py`; it deletes and rewrites this folder). CI never runs
it. Read by `SiglipLoraPeftTest` and `SiglipLossTest`.

Versions (also in `versions.json`): {versions}. CPU, float32, `torch.set_num_threads(1)`, eager attention.

Tiny `SiglipModel` (seeded, weights at a larger scale than HF's init so activations are O(1)): vision width 48, 3 heads,
20 px images in patches of 5 (16 tokens), MLP 40, 2 layers; text vocab 50, width 36, 3 heads, MLP 40, 2 layers,
9 positions, `head` 36 → 48; `gelu_pytorch_tanh`, eps 1e-6; `logit_scale` ln 10, `logit_bias` −2. Inputs run as SigLIP
runs them: ids padded with eos = pad = 1, no attention mask.

The head's `nn.MultiheadAttention` never calls its `out_proj` module, so PEFT's unmerged forward ignores the adapter on
`vision_model.head.attention.out_proj` (here it changes the image embeddings by {out_proj:.2f} of their largest |value|), while
`merge_and_unload()` applies it. The references give that adapter its W + s·B·A meaning: the unmerged outputs and the
gradients come from PEFT's LoRA layers with the head attention computed by the script so that it calls `out_proj` (the
same math as nn.MultiheadAttention, checked to 1e-6 on the base model), and equal the merged PEFT model's outputs (max
|diff| {merged:.1e} of the largest |value|).

| file | shape | dtype | what |
|---|---|---|---|
{rows}
"""


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    out_proj, merged = make_model_fixture()
    make_loss_fixture()
    versions = dict(python=platform.python_version(), torch=torch.__version__, transformers=transformers.__version__,
                    peft=peft.__version__, safetensors=safetensors.__version__, numpy=np.__version__,
                    torchvision="stand-in (not installed or not importable)" if STAND_IN else __import__("torchvision").__version__)
    with open(os.path.join(OUT, "versions.json"), "w") as f:
        json.dump(versions, f, indent=2, sort_keys=True)
        f.write("\n")
    rows = "\n".join(f"| `{n}` | {s} | {d} | {w} |" for n, s, d, w in FILES)
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write(README.format(versions=", ".join(f"{k} {v}" for k, v in sorted(versions.items())), out_proj=out_proj,
                              merged=merged, rows=rows))
    print(json.dumps(versions))
    for n, s, d, _ in FILES:
        print(f"{n:28s} {d:8s} {s}")


if __name__ == "__main__":
    main()
